// RunTask benchmark on the real Docker Engine: a Berth server and one agent
// (child processes), against `docker run -d` of the same image and command
// measured in the same run.
//
//   node dist/bench/runtask.js [--samples 20] [--burst 50]
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateClusterCommand, DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { DEFAULT_COMMAND, DEFAULT_IMAGE, dockerRunBurst, dockerRunLatency } from './docker-baseline.js';
import { fmt, printRow, spawnUntil, stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000002', secretAccessKey: 'bench-secret-key-0000000000000000000002' };

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function untilAllRunning(ecs: ECSClient, arns: string[], timeoutMs = 120_000): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < arns.length) {
    if (Date.now() > deadline) throw new Error(`only ${done.size} of ${arns.length} tasks RUNNING after ${timeoutMs} ms`);
    const pending = arns.filter((a) => !done.has(a));
    for (let i = 0; i < pending.length; i += 100) {
      const d = await ecs.send(new DescribeTasksCommand({ cluster: 'bench', tasks: pending.slice(i, i + 100) }));
      for (const t of d.tasks ?? []) {
        if (t.lastStatus === 'RUNNING') done.set(t.taskArn!, performance.now());
        if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason ?? ''} ${t.containers?.[0]?.reason ?? ''}`);
      }
    }
    if (done.size < arns.length) await new Promise((r) => setTimeout(r, 10));
  }
  return done;
}

async function stopAll(ecs: ECSClient, arns: string[]): Promise<void> {
  for (const a of arns) await ecs.send(new StopTaskCommand({ cluster: 'bench', task: a })).catch(() => undefined);
}

export async function runRunTaskBench(opts: { samples: number; burst: number }) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-runtask-'));
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const server = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(dir, 'server')], /listening on (http:\/\/\S+)/, env);
  const url = server.match[1]!;
  const ecs = new ECSClient({ endpoint: url, region: 'us-east-1', credentials: CREDS });
  let agentPid = 0;
  let agentChild: { kill(s?: NodeJS.Signals): boolean } | undefined;
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'bench' }));
    const agent = await spawnUntil(
      process.execPath,
      [join(root, 'bin/berth.js'), 'agent', '--endpoint', url, '--cluster', 'bench', '--data-dir', join(dir, 'agent'), '--memory', '8192', '--cpu', '8192'],
      /registered as/,
      { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' },
    );
    agentPid = agent.child.pid ?? 0;
    agentChild = agent.child;
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'bench-sleep',
        containerDefinitions: [{ name: 'sleep', image: DEFAULT_IMAGE, command: [...DEFAULT_COMMAND], memory: 16, cpu: 10, stopTimeout: 1 }],
      }),
    );
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = rssMiB(agentPid);

    console.log(`Berth RunTask benchmark (${opts.samples} sequential tasks, burst of ${opts.burst}); peer: docker run -d of ${DEFAULT_IMAGE} ${DEFAULT_COMMAND.join(' ')}`);
    // Warm-up, both sides.
    {
      const r = await ecs.send(new RunTaskCommand({ cluster: 'bench', taskDefinition: 'bench-sleep' }));
      const arns = r.tasks!.map((t) => t.taskArn!);
      await untilAllRunning(ecs, arns);
      await stopAll(ecs, arns);
      await dockerRunLatency(DEFAULT_IMAGE, DEFAULT_COMMAND, 2);
    }

    const samples: number[] = [];
    const sequential: string[] = [];
    for (let i = 0; i < opts.samples; i++) {
      const t0 = performance.now();
      const r = await ecs.send(new RunTaskCommand({ cluster: 'bench', taskDefinition: 'bench-sleep' }));
      const arn = r.tasks![0]!.taskArn!;
      const done = await untilAllRunning(ecs, [arn]);
      samples.push(done.get(arn)! - t0);
      sequential.push(arn);
    }
    const peer = await dockerRunLatency(DEFAULT_IMAGE, DEFAULT_COMMAND, opts.samples);
    const ours = stats(samples);
    console.log('  figure                                        Berth             | peer                          | ratio');
    printRow('RunTask -> RUNNING p50', ours.p50, peer.p50Ms, 'ms', 'docker run -d');
    printRow('RunTask -> RUNNING p95', ours.p95, peer.p95Ms, 'ms', 'docker run -d');
    await stopAll(ecs, sequential);
    await new Promise((r) => setTimeout(r, 3000));

    const t0 = performance.now();
    const calls = Array.from({ length: Math.ceil(opts.burst / 10) }, (_, i) =>
      ecs.send(new RunTaskCommand({ cluster: 'bench', taskDefinition: 'bench-sleep', count: Math.min(10, opts.burst - i * 10) })),
    );
    const results = await Promise.all(calls);
    const burstArns = results.flatMap((r) => r.tasks!.map((t) => t.taskArn!));
    if (burstArns.length !== opts.burst) throw new Error(`burst placed ${burstArns.length} of ${opts.burst}: ${JSON.stringify(results.flatMap((r) => r.failures))}`);
    await untilAllRunning(ecs, burstArns);
    const burstMs = performance.now() - t0;
    const busyRss = rssMiB(agentPid);
    const peerBurst = await dockerRunBurst(opts.burst, DEFAULT_IMAGE, DEFAULT_COMMAND);
    printRow(`${opts.burst} tasks (RunTask x${calls.length}) all RUNNING`, burstMs, peerBurst.totalMs, 'ms', `${opts.burst} x docker run -d`);
    console.log(`  agent resident memory: idle ${fmt(idleRss, 1)} MiB, with ${opts.burst} running containers ${fmt(busyRss, 1)} MiB (target < 80 MB)`);
    console.log(`  target RunTask p50 ratio <= 1.15 -> ${ours.p50 / peer.p50Ms <= 1.15 ? 'met' : 'MISSED'} (${fmt(ours.p50 / peer.p50Ms)})`);
    await stopAll(ecs, burstArns);
    await new Promise((r) => setTimeout(r, 3000));
    return { p50: ours.p50, p95: ours.p95, dockerP50: peer.p50Ms, dockerP95: peer.p95Ms, burstMs, dockerBurstMs: peerBurst.totalMs, idleRss, busyRss };
  } finally {
    ecs.destroy();
    agentChild?.kill('SIGTERM');
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const { execFileSync } = await import('node:child_process');
    try {
      const ids = execFileSync('docker', ['ps', '-aq', '--filter', 'label=com.amazonaws.ecs.cluster=arn:aws:ecs:us-east-1:000000000000:cluster/bench']).toString().split('\n').filter(Boolean);
      if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    } catch {
      // best effort
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {
      // the agent may still be writing its state as it exits; leave the temp dir
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '20' }, burst: { type: 'string', default: '50' } } });
  await runRunTaskBench({ samples: Number(values.samples), burst: Number(values.burst) });
}

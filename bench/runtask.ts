// RunTask benchmark on the real Docker Engine: a Berth server and one agent
// (child processes), against `docker run -d` of the same image and command
// measured in the same run.
//
//   node dist/bench/runtask.js [--samples 20] [--burst 50]
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type RunTaskCommandOutput,
} from '@aws-sdk/client-ecs';
import { DEFAULT_COMMAND, DEFAULT_IMAGE, dockerRunBurst, dockerRunLatency } from './docker-baseline.js';
import { fmt, printRow, spawnUntil, stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000002', secretAccessKey: 'bench-secret-key-0000000000000000000002' };
/** The benchmark's cluster; the agent labels containers with this short name (`com.amazonaws.ecs.cluster`). */
const CLUSTER = 'bench';
/** The agent's resident memory must stay below this many bytes (80 MB). */
const AGENT_MEMORY_TARGET_BYTES = 80_000_000;

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
      const d = await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: pending.slice(i, i + 100) }));
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
  for (const a of arns) await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: a })).catch(() => undefined);
}

/** Every task the server knows in the benchmark's cluster, running or stopped; best effort. */
async function listAllTasks(ecs: ECSClient): Promise<string[]> {
  const arns: string[] = [];
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListTasksCommand({ cluster: CLUSTER, desiredStatus, ...(nextToken ? { nextToken } : {}) }));
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return arns;
}

/** Signals a child and resolves once it has exited, killing it outright after `graceMs`. */
async function stopChild(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Containers of the benchmark's cluster, as [container id, task ARN]. */
function clusterContainers(): [string, string][] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', `label=com.amazonaws.ecs.cluster=${CLUSTER}`, '--format', '{{.ID}} {{.Label "com.amazonaws.ecs.task-arn"}}']).toString();
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', arn = ''] = line.split(' ');
      return [id, arn];
    });
}

/** Removes every container of the given tasks; returns how many of them are left. */
function removeContainers(taskArns: ReadonlySet<string>): number {
  const ids = clusterContainers()
    .filter(([, arn]) => taskArns.has(arn))
    .map(([id]) => id);
  for (let i = 0; i < ids.length; i += 50) {
    try {
      execFileSync('docker', ['rm', '-f', ...ids.slice(i, i + 50)], { stdio: 'ignore' });
    } catch {
      // counted below
    }
  }
  return clusterContainers().filter(([, arn]) => taskArns.has(arn)).length;
}

export async function runRunTaskBench(opts: { samples: number; burst: number }) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-runtask-'));
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const server = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(dir, 'server')], /listening on (http:\/\/\S+)/, env);
  const url = server.match[1]!;
  const ecs = new ECSClient({ endpoint: url, region: 'us-east-1', credentials: CREDS });
  let agentPid = 0;
  let agentChild: ChildProcess | undefined;
  /** Every task this run created: their containers are removed at the end. */
  const made = new Set<string>();
  const runTask = async (count = 1): Promise<RunTaskCommandOutput> => {
    const r = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'bench-sleep', count }));
    for (const t of r.tasks ?? []) made.add(t.taskArn!);
    return r;
  };
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    const agent = await spawnUntil(
      process.execPath,
      [join(root, 'bin/berth.js'), 'agent', '--endpoint', url, '--cluster', CLUSTER, '--data-dir', join(dir, 'agent'), '--memory', '8192', '--cpu', '8192'],
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
      const r = await runTask();
      const arns = r.tasks!.map((t) => t.taskArn!);
      await untilAllRunning(ecs, arns);
      await stopAll(ecs, arns);
      await dockerRunLatency(DEFAULT_IMAGE, DEFAULT_COMMAND, 2);
    }

    const samples: number[] = [];
    const sequential: string[] = [];
    for (let i = 0; i < opts.samples; i++) {
      const t0 = performance.now();
      const r = await runTask();
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
    const calls = Array.from({ length: Math.ceil(opts.burst / 10) }, (_, i) => runTask(Math.min(10, opts.burst - i * 10)));
    const results = await Promise.all(calls);
    const burstArns = results.flatMap((r) => r.tasks!.map((t) => t.taskArn!));
    if (burstArns.length !== opts.burst) throw new Error(`burst placed ${burstArns.length} of ${opts.burst}: ${JSON.stringify(results.flatMap((r) => r.failures))}`);
    await untilAllRunning(ecs, burstArns);
    const burstMs = performance.now() - t0;
    const busyRss = rssMiB(agentPid);
    const peerBurst = await dockerRunBurst(opts.burst, DEFAULT_IMAGE, DEFAULT_COMMAND);
    printRow(`${opts.burst} tasks (RunTask x${calls.length}) all RUNNING`, burstMs, peerBurst.totalMs, 'ms', `${opts.burst} x docker run -d`);
    console.log(`  agent resident memory: idle ${fmt(idleRss, 1)} MiB, with ${opts.burst} running containers ${fmt(busyRss, 1)} MiB`);
    console.log(`  target RunTask p50 ratio <= 1.15 -> ${ours.p50 / peer.p50Ms <= 1.15 ? 'met' : 'MISSED'} (${fmt(ours.p50 / peer.p50Ms)})`);
    const peakRssBytes = Math.max(idleRss, busyRss) * 1024 * 1024;
    const memoryMet = peakRssBytes < AGENT_MEMORY_TARGET_BYTES;
    console.log(`  target agent resident memory < 80 MB -> ${memoryMet ? 'met' : 'MISSED'} (peak ${fmt(peakRssBytes / 1e6, 1)} MB)`);
    await stopAll(ecs, burstArns);
    await new Promise((r) => setTimeout(r, 3000));
    return { p50: ours.p50, p95: ours.p95, dockerP50: peer.p50Ms, dockerP95: peer.p95Ms, burstMs, dockerBurstMs: peerBurst.totalMs, idleRss, busyRss, memoryMet };
  } finally {
    // Tasks whose RunTask answer never arrived are still on the server's books.
    for (const arn of await listAllTasks(ecs).catch(() => [])) made.add(arn);
    ecs.destroy();
    // The agent must be gone before its containers are removed, or it could start them again.
    await stopChild(agentChild);
    await stopChild(server.child);
    try {
      const left = removeContainers(made);
      if (left > 0) console.error(`  warning: ${left} benchmark container(s) could not be removed; see docker ps -a --filter label=com.amazonaws.ecs.cluster=${CLUSTER}`);
    } catch (err) {
      console.error(`  warning: could not remove the benchmark's containers: ${err instanceof Error ? err.message : String(err)}`);
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

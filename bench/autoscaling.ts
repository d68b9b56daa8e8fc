// Target tracking benchmark on the real Docker Engine: how long from a load
// step (a service's task starts burning CPU) until the task target tracking
// adds is RUNNING. Peer in the same run: the same scale-out done by hand
// (UpdateService desiredCount + 1 until the new task is RUNNING), which is
// the floor any autoscaler adds its detection time to.
//
// Berth runs with high-resolution target tracking: agents sample every 2 s,
// alarms use 10-second periods and act on one breaching period, evaluated
// every second. (AWS's target tracking on ECS's one-minute metrics takes
// about 86 s from load step to a new task, by its own documentation of
// 3 one-minute datapoints plus task start.)
//
//   node dist/bench/autoscaling.js [--rounds 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { ApplicationAutoScalingClient, DeregisterScalableTargetCommand, PutScalingPolicyCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CreateClusterCommand, CreateServiceCommand, DeleteServiceCommand, DescribeTasksCommand, ECSClient, ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { fmt, printRow, spawnUntil, stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000003', secretAccessKey: 'bench-secret-key-0000000000000000000003' };
const TARGET_MS = 30_000;
const AWS_REFERENCE_MS = 86_000;

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function runAutoscalingBench(opts: { rounds: number }): Promise<{ autoscaledMs: number; manualMs: number }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-as-'));
  const cluster = `bench-as-${process.pid}`;
  const env = {
    ...process.env,
    BERTH_ACCESS_KEY_ID: CREDS.accessKeyId,
    BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    BERTH_LOG_LEVEL: 'warn',
    BERTH_ALARM_EVALUATION_INTERVAL_MS: '1000',
    BERTH_ECS_METRICS_INTERVAL_MS: '2000',
    BERTH_TARGET_TRACKING_PERIOD_SECONDS: '10',
    BERTH_TARGET_TRACKING_HIGH_PERIODS: '1',
    BERTH_TARGET_TRACKING_LOW_PERIODS: '3',
  };
  const server = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(dir, 'server')], /listening on (http:\/\/\S+)/, env);
  const url = server.match[1]!;
  let agent: ChildProcess | undefined;
  const client = { endpoint: url, region: 'us-east-1', credentials: CREDS, maxAttempts: 3 };
  const ecs = new ECSClient(client);
  const aas = new ApplicationAutoScalingClient(client);
  const taskArns = new Set<string>();
  const running = async (service: string): Promise<string[]> => {
    const arns = (await ecs.send(new ListTasksCommand({ cluster, serviceName: service, desiredStatus: 'RUNNING' }))).taskArns ?? [];
    if (arns.length === 0) return [];
    arns.forEach((a) => taskArns.add(a));
    const tasks = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? [];
    return tasks.filter((t) => t.lastStatus === 'RUNNING').map((t) => t.taskArn!);
  };
  const until = async (what: string, fn: () => Promise<boolean>, ms = 180_000) => {
    const deadline = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const autoscaled: number[] = [];
  const manual: number[] = [];
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    agent = (
      await spawnUntil(
        process.execPath,
        [join(root, 'bin/berth.js'), 'agent', '--endpoint', url, '--cluster', cluster, '--data-dir', join(dir, 'agent'), '--memory', '4096', '--cpu', '8192', '--task-cleanup-wait', '10s'],
        /registered as/,
        { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn', BERTH_AGENT_STATS_INTERVAL_MS: '2000' },
      )
    ).child;
    for (let round = 0; round < opts.rounds; round++) {
      // Autoscaled: idle until START, then burn CPU until END.
      const service = `burn-${round}`;
      const start = Math.floor(Date.now() / 1000) + 25;
      const end = start + 40;
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: service,
          containerDefinitions: [
            {
              name: 'burn',
              image: 'berth-test/busybox:latest',
              cpu: 256,
              memory: 32,
              stopTimeout: 1,
              environment: [{ name: 'START', value: String(start) }, { name: 'END', value: String(end) }],
              command: ['sh', '-c', 'while [ $(date +%s) -lt $START ]; do sleep 0.2; done; now=$(date +%s); while [ $now -lt $END ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; now=$(date +%s); done; exec sleep 3600'],
            },
          ],
        }),
      );
      await ecs.send(new CreateServiceCommand({ cluster, serviceName: service, taskDefinition: service, desiredCount: 1 }));
      await until('first task RUNNING', async () => (await running(service)).length === 1);
      const resourceId = `service/${cluster}/${service}`;
      await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: resourceId, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2 }));
      await aas.send(
        new PutScalingPolicyCommand({
          PolicyName: 'cpu',
          ServiceNamespace: 'ecs',
          ResourceId: resourceId,
          ScalableDimension: 'ecs:service:DesiredCount',
          PolicyType: 'TargetTrackingScaling',
          TargetTrackingScalingPolicyConfiguration: { TargetValue: 50, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, ScaleOutCooldown: 0, ScaleInCooldown: 0 },
        }),
      );
      if (Date.now() > start * 1000) throw new Error('setup took longer than the lead time before the load step; raise it');
      await until('second task RUNNING under target tracking', async () => (await running(service)).length >= 2, 180_000);
      autoscaled.push(Date.now() - start * 1000);
      await aas.send(new DeregisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: resourceId, ScalableDimension: 'ecs:service:DesiredCount' }));
      await ecs.send(new DeleteServiceCommand({ cluster, service, force: true }));

      // Peer: the same scale-out by hand.
      const idle = `idle-${round}`;
      await ecs.send(new RegisterTaskDefinitionCommand({ family: idle, containerDefinitions: [{ name: 'idle', image: 'berth-test/busybox:latest', cpu: 256, memory: 32, stopTimeout: 1, command: ['sleep', '3600'] }] }));
      await ecs.send(new CreateServiceCommand({ cluster, serviceName: idle, taskDefinition: idle, desiredCount: 1 }));
      await until('idle task RUNNING', async () => (await running(idle)).length === 1);
      const t0 = Date.now();
      await ecs.send(new UpdateServiceCommand({ cluster, service: idle, desiredCount: 2 }));
      await until('second idle task RUNNING', async () => (await running(idle)).length >= 2);
      manual.push(Date.now() - t0);
      await ecs.send(new DeleteServiceCommand({ cluster, service: idle, force: true }));
      console.log(`  round ${round + 1}: load step to new task RUNNING ${fmt(autoscaled[round]! / 1000, 1)} s; by hand ${fmt(manual[round]! / 1000, 1)} s`);
    }
  } finally {
    ecs.destroy();
    aas.destroy();
    await stopChild(agent);
    await stopChild(server.child);
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=com.amazonaws.ecs.cluster=${cluster}`]).toString().split('\n').filter(Boolean);
    if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  const a = stats(autoscaled);
  const m = stats(manual);
  printRow('load step -> new task RUNNING (p50, s)', a.p50 / 1000, m.p50 / 1000, 's', 'UpdateService by hand');
  console.log(`  target <= ${TARGET_MS / 1000} s: ${a.p50 <= TARGET_MS ? 'met' : 'MISSED'}; AWS reference (not measured here): about ${AWS_REFERENCE_MS / 1000} s`);
  return { autoscaledMs: a.p50, manualMs: m.p50 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  await runAutoscalingBench({ rounds: Number(values.rounds) });
}

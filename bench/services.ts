// Services benchmark: the service controller on the real Docker Engine and
// the reconciler alone, each figure beside a peer measured in the same run.
//
//   node dist/bench/services.js [--tasks 200] [--agents 4] [--rolling 50]
//        [--services 1000] [--tasks-per-service 10] [--idle-seconds 30]
//        [--only scale,rolling,reconcile,idle]
//
// 1. scale-out: a service scaled from 0 to 200 tasks on 4 `berth agent`
//    processes (each sized for 50 tasks) until the service reports them all
//    RUNNING; peer: the same 200 containers started with `docker run -d` in
//    4 parallel streams.
// 2. rolling update of 50 tasks (v1 -> v2, minimum 100% / maximum 200%):
//    time until the PRIMARY deployment's rolloutState is COMPLETED, and the
//    lowest number of tasks RUNNING and still wanted RUNNING seen while
//    polling; peer: `docker run -d` of 50 new containers, then `docker rm -f`
//    of the 50 old ones, in 4 parallel streams.
// 3. reconcile: CPU time of one pass of the pure reconciler over 1,000
//    services holding 10,000 tasks (simulated inputs); peer: a loop that only
//    counts the same tasks per service (the floor).
// 4. idle: the server's CPU over 30 s with 1,000 services (desiredCount 0)
//    steady, read from /proc/<pid>/stat; peer: the same server process with
//    no services, over the same 30 s, measured just before.
//
// Containers are those of this run only: the agents' tasks carry the run's
// own cluster name (label com.amazonaws.ecs.cluster), the peer's containers
// the label berth.bench=<run id>; both are removed at the end, also on
// failure. Every wait is bounded.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import { reconcile, type ReconcileInput, type ServiceDeployment, type ServiceTask } from '../src/controllers/services/reconcile.js';
import { DEFAULT_IMAGE, docker, dockerOk } from './docker-baseline.js';
import { fmt, printRow, spawnUntil, stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000004', secretAccessKey: 'bench-secret-key-0000000000000000000004' };
const REGION = 'us-east-1';
/** A container that stops at once on SIGTERM, as a well-behaved service does (Berth stops tasks with SIGTERM, the peer with rm -f). */
const command = (version: string): string[] => ['sh', '-c', `echo ${version} >/dev/null; trap 'exit 0' TERM; sleep 3600 & wait`];
/** Each task's reservation; an agent offers room for exactly `perAgent` of them (plus a little slack). */
const TASK_MEMORY = 16;
const TASK_CPU = 8;
const PEER_LABEL = 'berth.bench';
/** Parallel streams of the `docker` peers, the same for both docker figures. */
const STREAMS = 4;

const SCALE_TARGET_RATIO = 1.25;
const RECONCILE_TARGET_MS = 20;
const IDLE_TARGET_PERCENT = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

// ---------------------------------------------------------------- processes

/** Runs `jobs` in `streams` parallel streams, each job after the previous one of its stream. */
async function inStreams<T>(jobs: readonly (() => Promise<T>)[], streams: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/** Removes every container carrying `label=value`; returns how many are left. */
async function removeLabelled(label: string, value: string): Promise<number> {
  const list = async () => (await dockerOk(['ps', '-aq', '--filter', `label=${label}=${value}`])).split('\n').filter(Boolean);
  const ids = await list();
  for (let i = 0; i < ids.length; i += 50) await docker(['rm', '-f', ...ids.slice(i, i + 50)]);
  return (await list()).length;
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

/** user + system CPU of a process so far, in seconds. */
function cpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

interface Server {
  child: ChildProcess;
  url: string;
  ecs: ECSClient;
}

async function startServer(root: string, dataDir: string): Promise<Server> {
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const s = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir], /listening on (http:\/\/\S+)/, env);
  const url = s.match[1]!;
  return { child: s.child, url, ecs: new ECSClient({ endpoint: url, region: REGION, credentials: CREDS, maxAttempts: 5 }) };
}

async function describeService(ecs: ECSClient, cluster: string, name: string): Promise<Service> {
  const d = await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
  const s = d.services?.[0];
  if (!s) throw new Error(`service ${name} not found`);
  return s;
}

/** Tasks of a service still wanted RUNNING, with their last status. */
async function wantedTasks(ecs: ECSClient, cluster: string, serviceName: string): Promise<{ arn: string; lastStatus: string; taskDefinitionArn: string }[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListTasksCommand({ cluster, serviceName, desiredStatus: 'RUNNING', ...(nextToken ? { nextToken } : {}) }));
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const out: { arn: string; lastStatus: string; taskDefinitionArn: string }[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const d = await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + 100) }));
    for (const t of d.tasks ?? []) if (t.desiredStatus === 'RUNNING') out.push({ arn: t.taskArn!, lastStatus: t.lastStatus ?? '', taskDefinitionArn: t.taskDefinitionArn ?? '' });
  }
  return out;
}

async function until<T>(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------- 1 and 2: on Docker

export interface DockerFiguresResult {
  scaleMs: number;
  peerScaleMs: number;
  rollingMs: number;
  rollingLowestHealthy: number;
  peerRollingMs: number;
}

async function dockerFigures(root: string, opts: { tasks: number; agents: number; rolling: number; only: ReadonlySet<string> }): Promise<Partial<DockerFiguresResult>> {
  const runId = randomBytes(4).toString('hex');
  const cluster = `bench-svc-${runId}`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-services-'));
  const agents: ChildProcess[] = [];
  let server: Server | undefined;
  const result: Partial<DockerFiguresResult> = {};
  const perAgent = Math.ceil(opts.tasks / opts.agents);
  const peerRun = (version: string) => () => dockerOk(['run', '-d', '--label', `${PEER_LABEL}=${runId}`, '--memory', `${TASK_MEMORY}m`, DEFAULT_IMAGE, ...command(version)]).then((o) => o.trim());
  try {
    server = await startServer(root, join(dir, 'server'));
    const { ecs } = server;
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    for (let i = 0; i < opts.agents; i++) {
      const a = await spawnUntil(
        process.execPath,
        [
          join(root, 'bin/berth.js'), 'agent', '--endpoint', server.url, '--cluster', cluster, '--data-dir', join(dir, `agent-${i}`),
          // Room for perAgent tasks and not one more (a task needs TASK_MEMORY MiB and TASK_CPU units).
          '--memory', String(perAgent * TASK_MEMORY + TASK_MEMORY / 2), '--cpu', String(perAgent * TASK_CPU + TASK_CPU / 2),
          '--availability-zone', `us-east-1${'abcd'[i % 4]!}`, '--task-cleanup-wait', '10s',
        ],
        /registered as/,
        { ...process.env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_REGION: REGION, BERTH_LOG_LEVEL: 'warn' },
      );
      agents.push(a.child);
    }
    for (const version of ['v1', 'v2']) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'bench-svc',
          containerDefinitions: [{ name: 'app', image: DEFAULT_IMAGE, command: command(version), memory: TASK_MEMORY, cpu: TASK_CPU, stopTimeout: 2 }],
        }),
      );
    }
    console.log(`  ${opts.agents} agents with room for ${perAgent} tasks each (${TASK_MEMORY} MiB, ${TASK_CPU} CPU units per task); image ${DEFAULT_IMAGE}`);

    if (opts.only.has('scale')) {
      // Peer first, on an empty engine, and removed before Berth starts.
      const t0 = performance.now();
      await inStreams(Array.from({ length: opts.tasks }, () => peerRun('peer')), STREAMS);
      result.peerScaleMs = performance.now() - t0;
      if ((await removeLabelled(PEER_LABEL, runId)) > 0) throw new Error('peer containers could not be removed');

      await ecs.send(new CreateServiceCommand({ cluster, serviceName: 'scale', taskDefinition: 'bench-svc:1', desiredCount: 0 }));
      await until('the empty service to be steady', 30_000, 100, async () => ((await describeService(ecs, cluster, 'scale')).events?.some((e) => /steady state/.test(e.message ?? '')) ? true : undefined));
      const t1 = performance.now();
      await ecs.send(new UpdateServiceCommand({ cluster, service: 'scale', desiredCount: opts.tasks }));
      await until(`${opts.tasks} tasks RUNNING`, 300_000, 100, async () => ((await describeService(ecs, cluster, 'scale')).runningCount === opts.tasks ? true : undefined));
      result.scaleMs = performance.now() - t1;
      const confirmed = (await wantedTasks(ecs, cluster, 'scale')).filter((t) => t.lastStatus === 'RUNNING').length;
      if (confirmed !== opts.tasks) throw new Error(`the service reports ${opts.tasks} RUNNING but DescribeTasks shows ${confirmed}`);
      printRow(`service 0 -> ${opts.tasks} tasks all RUNNING`, result.scaleMs, result.peerScaleMs, 'ms', `${opts.tasks} x docker run -d`);
      console.log(`  target scale-out ratio <= ${fmt(SCALE_TARGET_RATIO)} -> ${verdict(result.scaleMs / result.peerScaleMs <= SCALE_TARGET_RATIO)} (${fmt(result.scaleMs / result.peerScaleMs)})`);
      await ecs.send(new UpdateServiceCommand({ cluster, service: 'scale', desiredCount: 0 }));
      await until('the scaled-out service to drain', 120_000, 250, async () => ((await describeService(ecs, cluster, 'scale')).runningCount === 0 ? true : undefined));
    }

    if (opts.only.has('rolling')) {
      const n = opts.rolling;
      // Peer: 50 old containers (untimed), then 50 new ones started and the old ones removed.
      const old = await inStreams(Array.from({ length: n }, () => peerRun('v1')), STREAMS);
      const t0 = performance.now();
      await inStreams(Array.from({ length: n }, () => peerRun('v2')), STREAMS);
      await inStreams(old.map((id) => () => dockerOk(['rm', '-f', id])), STREAMS);
      result.peerRollingMs = performance.now() - t0;
      if ((await removeLabelled(PEER_LABEL, runId)) > 0) throw new Error('peer containers could not be removed');

      await ecs.send(new CreateServiceCommand({ cluster, serviceName: 'rolling', taskDefinition: 'bench-svc:1', desiredCount: n }));
      await until(`${n} v1 tasks RUNNING and the deployment COMPLETED`, 180_000, 250, async () => {
        const s = await describeService(ecs, cluster, 'rolling');
        return s.runningCount === n && s.deployments?.[0]?.rolloutState === 'COMPLETED' ? true : undefined;
      });
      const t1 = performance.now();
      await ecs.send(new UpdateServiceCommand({ cluster, service: 'rolling', taskDefinition: 'bench-svc:2' }));
      let lowest = Number.POSITIVE_INFINITY;
      let polls = 0;
      await until('the v2 deployment to be COMPLETED', 300_000, 100, async () => {
        const healthy = (await wantedTasks(ecs, cluster, 'rolling')).filter((t) => t.lastStatus === 'RUNNING').length;
        lowest = Math.min(lowest, healthy);
        polls++;
        const s = await describeService(ecs, cluster, 'rolling');
        const primary = s.deployments?.find((d) => d.status === 'PRIMARY');
        return primary?.taskDefinition?.endsWith(':2') && primary.rolloutState === 'COMPLETED' ? true : undefined;
      });
      result.rollingMs = performance.now() - t1;
      result.rollingLowestHealthy = lowest;
      printRow(`rolling update of ${n} tasks to COMPLETED`, result.rollingMs, result.peerRollingMs, 'ms', `${n} docker run + rm -f`);
      console.log(`  lowest healthy (RUNNING, wanted RUNNING) while rolling: ${lowest} of ${n} (minimum 100% -> ${n}) over ${polls} polls -> ${verdict(lowest >= n)}`);
    }
    return result;
  } finally {
    server?.ecs.destroy();
    // The agents must be gone before their containers are removed, or they could start them again.
    for (const a of agents) await stopChild(a);
    await stopChild(server?.child);
    const left = (await removeLabelled('com.amazonaws.ecs.cluster', cluster).catch(() => -1)) + (await removeLabelled(PEER_LABEL, runId).catch(() => -1));
    if (left !== 0) console.error(`  warning: benchmark containers may be left; see docker ps -a --filter label=com.amazonaws.ecs.cluster=${cluster} and label=${PEER_LABEL}=${runId}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ 3: reconcile

/**
 * Simulated services: most steady, one in ten mid-rollout (new and old
 * deployments' tasks, some pending), one in twenty scaling in, a few tasks on
 * draining instances and failing health checks; `perService` tasks each.
 */
export function reconcileInputs(services: number, perService: number): ReconcileInput[] {
  const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  const inputs: ReconcileInput[] = [];
  for (let s = 0; s < services; s++) {
    const rolling = s % 10 === 0;
    const scalingIn = s % 20 === 5;
    const deployments: ServiceDeployment[] = rolling
      ? [
          { id: `ecs-svc/${s}-2`, status: 'PRIMARY', rolloutState: 'IN_PROGRESS', failedTasks: 0 },
          { id: `ecs-svc/${s}-1`, status: 'ACTIVE', rolloutState: 'COMPLETED', failedTasks: 0 },
        ]
      : [{ id: `ecs-svc/${s}-1`, status: 'PRIMARY', rolloutState: 'COMPLETED', failedTasks: 0 }];
    const tasks: ServiceTask[] = [];
    for (let t = 0; t < perService; t++) {
      const old = rolling && t >= perService / 2;
      const pending = rolling && !old && t % 3 === 0;
      const instance = (s * 7 + t) % 1000;
      tasks.push({
        arn: `arn:aws:ecs:us-east-1:000000000000:task/bench/${s.toString(16).padStart(8, '0')}${t.toString(16).padStart(8, '0')}`,
        deploymentId: old ? `ecs-svc/${s}-1` : deployments[0]!.id,
        instanceArn: `arn:aws:ecs:us-east-1:000000000000:container-instance/bench/${instance}`,
        onDrainingInstance: (s + t) % 97 === 0,
        availabilityZone: zones[instance % 3]!,
        running: !pending,
        healthy: !pending && (s + t) % 211 !== 0,
        failedHealthChecks: (s + t) % 211 === 0,
        protected: scalingIn && t === 0,
        createdAt: 1_700_000_000_000 + t * 1000,
      });
    }
    inputs.push({
      schedulingStrategy: 'REPLICA',
      desiredCount: scalingIn ? perService - 3 : perService,
      minimumHealthyPercent: 100,
      maximumPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      deployments,
      tasks,
      launchAllowed: true,
    });
  }
  return inputs;
}

function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
}

export function reconcileFigures(opts: { services: number; perService: number; passes?: number }): { p50: number; p95: number; floorP50: number; met: boolean } {
  const inputs = reconcileInputs(opts.services, opts.perService);
  const passes = opts.passes ?? 100;
  let sink = 0;
  const pass = () => {
    for (const input of inputs) {
      const plan = reconcile(input);
      sink += plan.start + plan.stop.length;
    }
  };
  const floor = () => {
    for (const input of inputs) {
      let running = 0;
      for (const t of input.tasks) if (t.running) running++;
      sink += running;
    }
  };
  for (let i = 0; i < 20; i++) {
    pass();
    floor();
  }
  const ours: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < passes; i++) {
    ours.push(cpuMs(pass));
    peer.push(cpuMs(floor));
  }
  if (sink < 0) console.log(sink); // keeps both loops' work observable
  const o = stats(ours);
  const p = stats(peer);
  const tasks = inputs.reduce((n, i) => n + i.tasks.length, 0);
  printRow(`reconcile ${opts.services} services / ${tasks} tasks, CPU p50`, o.p50, p.p50, 'ms', 'count loop');
  printRow(`reconcile ${opts.services} services / ${tasks} tasks, CPU p95`, o.p95, p.p95, 'ms', 'count loop');
  const met = o.p50 <= RECONCILE_TARGET_MS;
  console.log(`  target reconcile pass p50 <= ${RECONCILE_TARGET_MS} ms -> ${verdict(met)} (${fmt(o.p50)} ms over ${passes} passes)`);
  return { p50: o.p50, p95: o.p95, floorP50: p.p50, met };
}

// ----------------------------------------------------------------- 4: idle

async function idleFigures(root: string, opts: { services: number; seconds: number }): Promise<{ idlePercent: number; peerPercent: number; met: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-services-idle-'));
  const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  let server: Server | undefined;
  try {
    server = await startServer(root, join(dir, 'server'));
    const { ecs } = server;
    const pid = server.child.pid!;
    const cluster = 'bench-idle';
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'bench-idle', containerDefinitions: [{ name: 'app', image: DEFAULT_IMAGE, command: command('v1'), memory: TASK_MEMORY }] }));
    await sleep(2000);
    const measure = async () => {
      const c0 = cpuSeconds(pid, ticks);
      const t0 = performance.now();
      await sleep(opts.seconds * 1000);
      return ((cpuSeconds(pid, ticks) - c0) / ((performance.now() - t0) / 1000)) * 100;
    };
    const peerPercent = await measure();

    const t0 = performance.now();
    await inStreams(
      Array.from({ length: opts.services }, (_, i) => () => ecs.send(new CreateServiceCommand({ cluster, serviceName: `idle-${i}`, taskDefinition: 'bench-idle:1', desiredCount: 0 }))),
      4,
    );
    const createMs = performance.now() - t0;
    // Steady: every service has said so in its events (its first sync is done).
    const names = Array.from({ length: opts.services }, (_, i) => `idle-${i}`);
    await until(`${opts.services} services steady`, 300_000, 500, async () => {
      for (let i = 0; i < names.length; i += 10) {
        const d = await ecs.send(new DescribeServicesCommand({ cluster, services: names.slice(i, i + 10) }));
        if ((d.services ?? []).some((s) => !(s.events ?? []).some((e) => /steady state/.test(e.message ?? '')))) return undefined;
      }
      return true;
    });
    await sleep(2000);
    const idlePercent = await measure();
    console.log(`  (${opts.services} services created in ${fmt(createMs / 1000, 1)} s, 4 clients; each measured over ${opts.seconds} s from /proc/${pid}/stat)`);
    printRow(`server CPU, ${opts.services} services steady`, idlePercent, peerPercent, '% core', 'no services');
    const met = idlePercent <= IDLE_TARGET_PERCENT;
    console.log(`  target idle server CPU <= ${IDLE_TARGET_PERCENT}% of a core -> ${verdict(met)} (${fmt(idlePercent)}%)`);
    return { idlePercent, peerPercent, met };
  } finally {
    server?.ecs.destroy();
    await stopChild(server?.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------- entry

export interface ServicesBenchOptions {
  tasks: number;
  agents: number;
  rolling: number;
  services: number;
  perService: number;
  idleSeconds: number;
  only?: readonly string[];
}

export async function runServicesBench(opts: ServicesBenchOptions): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const only = new Set(opts.only ?? ['scale', 'rolling', 'reconcile', 'idle']);
  console.log('Berth services benchmark; each figure beside its peer from this run');
  console.log('  figure                                        Berth             | peer                          | ratio');
  if (only.has('scale') || only.has('rolling')) await dockerFigures(root, { tasks: opts.tasks, agents: opts.agents, rolling: opts.rolling, only });
  if (only.has('reconcile')) reconcileFigures({ services: opts.services, perService: opts.perService });
  if (only.has('idle')) await idleFigures(root, { services: opts.services, seconds: opts.idleSeconds });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '200' },
      agents: { type: 'string', default: '4' },
      rolling: { type: 'string', default: '50' },
      services: { type: 'string', default: '1000' },
      'tasks-per-service': { type: 'string', default: '10' },
      'idle-seconds': { type: 'string', default: '30' },
      only: { type: 'string', default: 'scale,rolling,reconcile,idle' },
    },
  });
  await runServicesBench({
    tasks: Number(values.tasks),
    agents: Number(values.agents),
    rolling: Number(values.rolling),
    services: Number(values.services),
    perService: Number(values['tasks-per-service']),
    idleSeconds: Number(values['idle-seconds']),
    only: values.only.split(','),
  });
}

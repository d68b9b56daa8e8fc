// Placement benchmark, end to end: tasks committed per second through signed
// RunTask calls (SigV4 verified in full, ECS model validation, placement,
// SQLite commit) on clusters of 1,000 / 5,000 / 10,000 container instances
// across 3 availability zones, each already holding 10 tasks. Every figure is
// printed beside the placement engine alone on the same cluster snapshot,
// measured in the same run, so the ratio is the cost of the API and store
// layers; the 10k/1k ratios show how cost grows with cluster size.
//
//   node dist/bench/placement-e2e.js [--sizes 1000,5000,10000] [--seconds 10]
//        [--concurrency 16] [--synchronous full|normal] [--repeats 3]
//
// Each size runs in a fresh server process (a child of this one; the load
// generator here replays one pre-signed RunTask request, valid 15 minutes,
// over keep-alive connections, so client-side signing does not compete for
// the machine's two cores). No agents run: the seeded instances are
// written to the store with their agents marked connected, as the dispatcher
// would mark them.
//
// Set-up writes the instances and their tasks straight into the store in
// batched transactions (documents cloned from ones made by
// RegisterContainerInstance and RunTask in a template cluster), because
// 100,000 tasks placed one RunTask at a time would dominate the run.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClusterStateCache } from '../src/state/clusterState.js';
import { arnPrefix, containerInstanceArn, newId, taskArn } from '../src/ecs/arns.js';
import { ACTIVE_TASK_STATES, createCluster } from '../src/ecs/clusters.js';
import { registerContainerInstance, type ContainerInstanceDoc } from '../src/ecs/containerInstances.js';
import { epochSeconds, type DomainContext } from '../src/ecs/context.js';
import { registerTaskDefinition, requireTaskDefinition } from '../src/ecs/taskDefinitions.js';
import { placementRequest, runTask, type StoredTask } from '../src/ecs/tasks.js';
import { taskKeys } from '../src/ecs/writers/tasks.js';
import { place } from '../src/scheduler/engine.js';
import type { ClusterSnapshot } from '../src/scheduler/snapshot.js';
import type { PlacementConstraint, PlacementRequest, PlacementStrategy } from '../src/scheduler/types.js';
import { startServer } from '../src/server/app.js';
import type { Row, Store } from '../src/store/store.js';
import { silentLogger } from '../src/core/log.js';
import { fmt, printRow, signEcs, stats, type Stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000003', secretAccessKey: 'bench-secret-key-0000000000000000000003' };
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CLUSTER = 'bench';
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const MEMBER_OF = 'attribute:ecs.instance-type == m5.4xlarge';
/** The RunTask call the clients replay. */
const RUN_TASK = {
  cluster: CLUSTER,
  taskDefinition: 'bench-web',
  count: 10,
  placementStrategy: [
    { type: 'spread', field: 'attribute:ecs.availability-zone' },
    { type: 'binpack', field: 'memory' },
  ],
  placementConstraints: [{ type: 'memberOf', expression: MEMBER_OF }],
};
/** Task definitions of the tasks already on the instances, and how many of each per instance (of 10). */
const FAMILIES = [
  { family: 'bench-web', cpu: 32, memory: 128, perInstance: 4 },
  { family: 'bench-api', cpu: 64, memory: 256, perInstance: 3 },
  { family: 'bench-worker', cpu: 32, memory: 128, perInstance: 3 },
];
const INSTANCE_RESOURCES = [
  // 16 vCPU / 64 GiB: room for ~500 more benchmark tasks each, so the load phases never fill the cluster.
  { name: 'CPU', type: 'INTEGER', integerValue: 16384 },
  { name: 'MEMORY', type: 'INTEGER', integerValue: 65536 },
  { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22', '2375', '2376', '51678', '51679'] },
  { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
];
const SEED_BATCH = 250;

export interface PlacementE2eOptions {
  sizes?: readonly number[];
  seconds?: number;
  concurrency?: number;
  synchronous?: 'full' | 'normal';
  tasksPerInstance?: number;
  /** Load phases per size; figures are medians over them (the engine-alone peer is measured after each). */
  repeats?: number;
}

export interface PlacementE2eSize {
  instances: number;
  tasksBefore: number;
  setupSeconds: number;
  /** Loading the cluster into a cluster state cache, and the heap it then holds. */
  cacheLoadMs: number;
  cacheHeapMiB: number;
  /** Reading every instance and active task from the store and building a snapshot: the per-RunTask cost without the cache. */
  fullReadMs: number;
  /** The placement engine alone on the same snapshot, same request. */
  engineTasksPerSecond: number;
  engineMsPerCall: number;
  /** Committed tasks per second through signed RunTask calls (counted in the store). */
  tasksPerSecond: number;
  callsPerSecond: number;
  latency: Stats;
  httpErrors: number;
  unplaced: number;
  /** Each load phase with the engine-alone peer measured right after it. */
  runs: { tasksPerSecond: number; engineTasksPerSecond: number }[];
}

export interface PlacementE2eResult {
  synchronous: 'full' | 'normal';
  concurrency: number;
  sizes: PlacementE2eSize[];
}

// ---------------------------------------------------------------------------
// Server side (child process)

interface ServeOptions {
  instances: number;
  tasksPerInstance: number;
  synchronous: 'full' | 'normal';
}

/** Task documents made by RunTask in a template cluster, one per family. */
async function taskTemplates(ctx: DomainContext): Promise<Map<string, StoredTask>> {
  await createCluster(ctx, { clusterName: 'bench-template' });
  const reg = await registerContainerInstance(ctx, { cluster: 'bench-template', totalResources: INSTANCE_RESOURCES, instanceIdentityDocument: JSON.stringify({ availabilityZone: AZS[0], instanceType: 'm5.4xlarge' }) });
  const arn = reg.containerInstance.containerInstanceArn;
  await ctx.store.transaction(async (tx) => {
    const row = (await tx.get<ContainerInstanceDoc>('containerInstance', arn))!;
    await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: true } });
  });
  const out = new Map<string, StoredTask>();
  for (const f of FAMILIES) {
    const r = await runTask(ctx, { cluster: 'bench-template', taskDefinition: f.family, count: 1 });
    const t = r.tasks[0];
    if (!t) throw new Error(`template RunTask placed nothing: ${JSON.stringify(r.failures)}`);
    out.set(f.family, (await ctx.store.get<StoredTask>('task', t.taskArn))!.doc);
  }
  return out;
}

/** Creates the benchmark cluster: `n` instances across 3 AZs (3 in 4 of them m5.4xlarge), each holding `perInstance` tasks. */
export async function seedCluster(ctx: DomainContext, n: number, perInstance: number): Promise<{ clusterArn: string }> {
  for (const f of FAMILIES) {
    await registerTaskDefinition(ctx, { family: f.family, containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', cpu: f.cpu, memory: f.memory, portMappings: [{ containerPort: 8080, hostPort: 0 }] }] });
  }
  const templates = await taskTemplates(ctx);
  const { cluster } = (await createCluster(ctx, { clusterName: CLUSTER })) as { cluster: { clusterArn: string } };
  const clusterArn = cluster.clusterArn;
  const first = await registerContainerInstance(ctx, {
    cluster: CLUSTER,
    instanceIdentityDocument: JSON.stringify({ instanceId: 'i-0000000000000000', availabilityZone: AZS[0], instanceType: 'm5.4xlarge', region: REGION }),
    totalResources: INSTANCE_RESOURCES,
    versionInfo: { agentVersion: '1.0.0', dockerVersion: '27.0.0' },
  });
  const template = first.containerInstance;
  const mix = FAMILIES.flatMap((f) => Array.from({ length: Math.round((f.perInstance * perInstance) / 10) }, () => f.family)).slice(0, perInstance);
  const now = ctx.now();
  for (let start = 0; start < n; start += SEED_BATCH) {
    await ctx.store.transaction(async (tx) => {
      for (let k = start; k < Math.min(n, start + SEED_BATCH); k++) {
        const az = AZS[k % AZS.length]!;
        let instanceArn: string;
        let doc: ContainerInstanceDoc;
        let existing: Row<ContainerInstanceDoc> | undefined;
        if (k === 0) {
          existing = (await tx.get<ContainerInstanceDoc>('containerInstance', template.containerInstanceArn))!;
          instanceArn = existing.arn;
          doc = existing.doc;
        } else {
          const id = newId();
          instanceArn = containerInstanceArn(ctx, CLUSTER, id);
          doc = {
            ...structuredClone(template),
            containerInstanceArn: instanceArn,
            ec2InstanceId: `i-${id.slice(0, 17)}`,
            registeredAt: epochSeconds(now + k),
            attributes: template.attributes.map((a) =>
              a.name === 'ecs.availability-zone' ? { ...a, value: az } : a.name === 'ecs.instance-type' ? { ...a, value: k % 4 === 3 ? 'c5.4xlarge' : 'm5.4xlarge' } : a,
            ),
          };
        }
        const tasks: StoredTask[] = mix.map((family, j) => {
          const tpl = templates.get(family)!;
          const id = newId();
          const arn = taskArn(ctx, CLUSTER, id);
          return {
            ...tpl,
            task: {
              ...tpl.task,
              taskArn: arn,
              clusterArn,
              containerInstanceArn: instanceArn,
              availabilityZone: az,
              createdAt: epochSeconds(now + k * perInstance + j),
              containers: tpl.task.containers.map((c) => ({ ...c, taskArn: arn, containerArn: `${arnPrefix(ctx)}:container/${CLUSTER}/${id}/${randomUUID()}` })),
            },
          };
        });
        // The templates reserve no host ports (hostPort 0), so CPU and memory are all there is to account.
        const cpu = tasks.reduce((sum, t) => sum + t.reservation.cpu, 0);
        const memory = tasks.reduce((sum, t) => sum + t.reservation.memory, 0);
        doc = {
          ...doc,
          remainingResources: doc.remainingResources.map((r) =>
            r.name === 'CPU' ? { ...r, integerValue: (r.integerValue ?? 0) - cpu } : r.name === 'MEMORY' ? { ...r, integerValue: (r.integerValue ?? 0) - memory } : r,
          ),
          pendingTasksCount: doc.pendingTasksCount + tasks.length,
          // No agent runs: every instance is stored as the dispatcher stores one whose agent is connected.
          agentConnected: true,
        };
        if (existing) await tx.update('containerInstance', { ...existing, doc });
        else await tx.insert<ContainerInstanceDoc>('containerInstance', { arn: instanceArn, cluster: clusterArn, name: doc.ec2InstanceId, status: 'ACTIVE', seq: now + k, doc });
        await tx.insertMany<StoredTask>(
          'task',
          tasks.map((t) => ({ arn: t.task.taskArn, cluster: clusterArn, name: '', keys: taskKeys(t.task), status: 'RUNNING', state: 'PROVISIONING', seq: Math.round(t.task.createdAt * 1000), doc: t })),
        );
      }
    });
  }
  return { clusterArn };
}

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function benchRequest(store: Store, ctx: DomainContext): Promise<PlacementRequest> {
  const td = await requireTaskDefinition(ctx, store, 'bench-web');
  return placementRequest(td, {
    group: 'family:bench-web',
    count: RUN_TASK.count,
    placementStrategy: RUN_TASK.placementStrategy as PlacementStrategy[],
    placementConstraints: RUN_TASK.placementConstraints as PlacementConstraint[],
    launchType: 'EC2',
  }).request;
}

/** The placement engine alone: `request` on `snapshot` for about `ms` milliseconds after a warm-up. */
function engineAlone(snapshot: ClusterSnapshot, request: PlacementRequest, ms = 2000): { tasksPerSecond: number; msPerCall: number } {
  for (let i = 0; i < 20; i++) place(snapshot, request, { seed: i });
  let calls = 0;
  let placed = 0;
  const t = performance.now();
  while (performance.now() - t < ms) placed += place(snapshot, request, { seed: calls++ }).placements.length;
  const elapsed = performance.now() - t;
  return { tasksPerSecond: (placed / elapsed) * 1000, msPerCall: elapsed / calls };
}

/** Measurements on the seeded cluster before any load: cache load and heap, the full read; keeps the snapshot for the engine-alone peer. */
async function probe(store: Store, clusterArn: string) {
  const h0 = heapMiB();
  const cache = new ClusterStateCache(store);
  let t = performance.now();
  const { snapshot } = await cache.snapshot(clusterArn);
  const cacheLoadMs = performance.now() - t;
  const cacheHeapMiB = heapMiB() - h0;
  // Snapshots are immutable: this one stays usable after its cache stops following the store.
  cache.close();
  // Without the cache, every RunTask reads the whole cluster (what tasks.ts readSnapshot does).
  t = performance.now();
  const [rows, tasks] = await Promise.all([
    store.find<ContainerInstanceDoc>('containerInstance', { cluster: clusterArn, status: ['ACTIVE', 'DRAINING'] }),
    store.find<StoredTask>('task', { cluster: clusterArn, state: [...ACTIVE_TASK_STATES] }),
  ]);
  const fullReadMs = performance.now() - t;
  return { snapshot, figures: { instances: rows.length, tasksBefore: tasks.length, cacheLoadMs, cacheHeapMiB, fullReadMs } };
}

type ChildRequest = { type: 'stats' } | { type: 'engine' } | { type: 'exit' };

async function serve(opts: ServeOptions): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-placement-'));
  process.env.BERTH_ACCESS_KEY_ID = CREDS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = CREDS.secretAccessKey;
  const served = await startServer({ host: '127.0.0.1', port: 0, dataDir, region: REGION, accountId: ACCOUNT, synchronous: opts.synchronous, log: silentLogger() });
  const t0 = performance.now();
  const { clusterArn } = await seedCluster(served.ctx, opts.instances, opts.tasksPerInstance);
  const setupSeconds = (performance.now() - t0) / 1000;
  const { snapshot, figures } = await probe(served.store, clusterArn);
  const request = await benchRequest(served.store, served.ctx);
  const countTasks = () => served.store.count('task', { cluster: clusterArn });
  process.send!({ type: 'ready', url: served.url, setupSeconds, ...figures, taskRows: await countTasks() });
  process.on('message', (msg: ChildRequest) => {
    void (async () => {
      if (msg.type === 'engine') {
        process.send!({ type: 'engine', ...engineAlone(snapshot, request) });
      } else if (msg.type === 'stats') {
        process.send!({ type: 'stats', taskRows: await countTasks() });
      } else {
        await served.close();
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      }
    })();
  });
}

// ---------------------------------------------------------------------------
// Load generator (parent process)

interface LoadResult {
  calls: number;
  tasks: number;
  unplaced: number;
  httpErrors: number;
  seconds: number;
  latencies: number[];
  firstError?: string;
}

function post(url: URL, agent: Agent, call: { headers: Record<string, string>; body: string }): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/', method: 'POST', agent, headers: { ...call.headers, 'content-length': Buffer.byteLength(call.body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(call.body);
  });
}

async function load(endpoint: string, call: { headers: Record<string, string>; body: string }, concurrency: number, seconds: number): Promise<LoadResult> {
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const out: LoadResult = { calls: 0, tasks: 0, unplaced: 0, httpErrors: 0, seconds: 0, latencies: [] };
  const started = performance.now();
  const deadline = started + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const r = await post(url, agent, call);
          out.calls++;
          out.latencies.push(r.ms);
          if (r.status !== 200) {
            out.httpErrors++;
            out.firstError ??= `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
            continue;
          }
          const placed = (JSON.parse(r.body) as { tasks?: unknown[] }).tasks?.length ?? 0;
          out.tasks += placed;
          out.unplaced += RUN_TASK.count - placed;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

function ask<T>(child: ChildProcess, msg: ChildRequest, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`benchmark server exited with ${code}`));
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(msg);
  });
}

type Ready = Pick<PlacementE2eSize, 'instances' | 'tasksBefore' | 'setupSeconds' | 'cacheLoadMs' | 'cacheHeapMiB' | 'fullReadMs'> & { url: string; taskRows: number };
type ChildStats = { taskRows: number };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measureSize(n: number, opts: Required<PlacementE2eOptions>): Promise<PlacementE2eSize> {
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['--serve', '--instances', String(n), '--tasks-per-instance', String(opts.tasksPerInstance), '--synchronous', opts.synchronous], {
    // BERTH_BENCH_CPU_PROF=<dir> writes a CPU profile of each benchmark server there.
    execArgv: ['--expose-gc', ...(process.env.BERTH_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BERTH_BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('message', (m: { type: string } & Ready) => (m.type === 'ready' ? resolve(m) : reject(new Error(`unexpected ${m.type}`))));
      child.once('exit', (code) => reject(new Error(`benchmark server exited with ${code} during set-up`)));
    });
    const call = await signEcs(ready.url, CREDS, 'RunTask', RUN_TASK);
    // Warm-up: the first call loads the cluster into the server's cache.
    const first = await post(new URL(ready.url), new Agent({ keepAlive: false }), call);
    const firstTasks = first.status === 200 ? ((JSON.parse(first.body) as { tasks?: unknown[] }).tasks?.length ?? 0) : 0;
    if (firstTasks === 0) {
      throw new Error(`the first RunTask placed nothing (HTTP ${first.status}: ${first.body.slice(0, 400)}).`);
    }
    await load(ready.url, call, opts.concurrency, Math.min(2, opts.seconds));
    await ask<ChildStats>(child, { type: 'stats' }, 'stats');
    const runs: PlacementE2eSize['runs'] = [];
    const phases: LoadResult[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      const before = await ask<ChildStats>(child, { type: 'stats' }, 'stats');
      const run = await load(ready.url, call, opts.concurrency, opts.seconds);
      const after = await ask<ChildStats>(child, { type: 'stats' }, 'stats');
      const engine = await ask<{ tasksPerSecond: number }>(child, { type: 'engine' }, 'engine');
      if (run.firstError) console.log(`  first error: ${run.firstError}`);
      runs.push({ tasksPerSecond: (after.taskRows - before.taskRows) / run.seconds, engineTasksPerSecond: engine.tasksPerSecond });
      phases.push(run);
    }
    // The phase with the median end-to-end rate speaks for the size.
    const mid = runs.map((r, i) => [r.tasksPerSecond, i] as const).sort((a, b) => a[0] - b[0])[Math.floor((runs.length - 1) / 2)]![1];
    const run = phases[mid]!;
    const engineRate = median(runs.map((r) => r.engineTasksPerSecond));
    return {
      instances: ready.instances,
      tasksBefore: ready.tasksBefore,
      setupSeconds: ready.setupSeconds,
      cacheLoadMs: ready.cacheLoadMs,
      cacheHeapMiB: ready.cacheHeapMiB,
      fullReadMs: ready.fullReadMs,
      engineTasksPerSecond: engineRate,
      engineMsPerCall: (RUN_TASK.count / engineRate) * 1000,
      tasksPerSecond: median(runs.map((r) => r.tasksPerSecond)),
      callsPerSecond: run.calls / run.seconds,
      latency: stats(run.latencies),
      httpErrors: phases.reduce((n, p) => n + p.httpErrors, 0),
      unplaced: phases.reduce((n, p) => n + p.unplaced, 0),
      runs,
    };
  } finally {
    child.send({ type: 'exit' });
    await new Promise((r) => {
      child.once('exit', r);
      setTimeout(r, 10_000).unref();
    });
  }
}

export async function runPlacementE2eBench(options: PlacementE2eOptions = {}): Promise<PlacementE2eResult> {
  const opts: Required<PlacementE2eOptions> = {
    sizes: options.sizes ?? [1000, 5000, 10000],
    seconds: options.seconds ?? 10,
    concurrency: options.concurrency ?? 16,
    synchronous: options.synchronous ?? 'full',
    tasksPerInstance: options.tasksPerInstance ?? 10,
    repeats: options.repeats ?? 3,
  };
  console.log(
    `Placement end to end: signed RunTask (count ${RUN_TASK.count}, spread(attribute:ecs.availability-zone), binpack(memory), memberOf(${MEMBER_OF})), ` +
      `${opts.concurrency} connections, ${opts.repeats} x ${opts.seconds}s per size (medians), SQLite synchronous=${opts.synchronous}`,
  );
  console.log('  BENCHMARK MODE: no agents run; the seeded container instances are stored with their agents marked connected.');
  if (opts.synchronous === 'normal') console.log('  synchronous=normal: commits survive a killed process but not a power loss (the server default is full).');
  const sizes: PlacementE2eSize[] = [];
  for (const n of opts.sizes) {
    const r = await measureSize(n, opts);
    sizes.push(r);
    console.log(
      `\n${r.instances} instances, ${r.tasksBefore} tasks already placed (set-up ${fmt(r.setupSeconds, 1)} s by direct store writes; ` +
        `cache load ${fmt(r.cacheLoadMs, 0)} ms, cache heap ${fmt(r.cacheHeapMiB, 1)} MiB)`,
    );
    printRow('tasks committed/s (signed RunTask, HTTP)', r.tasksPerSecond, r.engineTasksPerSecond, 'task/s', 'engine alone');
    console.log(`  each phase: ${r.runs.map((x) => `${fmt(x.tasksPerSecond, 0)} vs engine ${fmt(x.engineTasksPerSecond, 0)}`).join('; ')}`);
    printRow('ms per RunTask call, server side', 1000 / r.callsPerSecond, r.engineMsPerCall, 'ms', 'engine alone');
    printRow('full cluster read per RunTask without cache', r.fullReadMs, r.engineMsPerCall, 'ms', 'engine alone');
    console.log(`  latency per call p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms; ${r.httpErrors} HTTP errors; ${r.unplaced} tasks unplaced`);
    const target = r.tasksPerSecond >= 2000;
    console.log(`  target >= 2000 tasks/s -> ${target ? 'met' : 'MISSED'} (${fmt(r.tasksPerSecond, 0)})`);
  }
  const small = sizes.find((s) => s.instances === Math.min(...sizes.map((x) => x.instances)));
  const big = sizes.find((s) => s.instances === Math.max(...sizes.map((x) => x.instances)));
  if (small && big && small !== big) {
    console.log(`\nCost ratio ${big.instances}/${small.instances} instances (time per task, larger / smaller):`);
    console.log(`  end to end ${fmt(small.tasksPerSecond / big.tasksPerSecond)} | engine alone ${fmt(small.engineTasksPerSecond / big.engineTasksPerSecond)} | full read ${fmt(big.fullReadMs / small.fullReadMs)}`);
  }
  return { synchronous: opts.synchronous, concurrency: opts.concurrency, sizes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean', default: false },
      instances: { type: 'string', default: '1000' },
      'tasks-per-instance': { type: 'string', default: '10' },
      sizes: { type: 'string', default: '1000,5000,10000' },
      seconds: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '16' },
      synchronous: { type: 'string', default: 'full' },
      repeats: { type: 'string', default: '3' },
    },
  });
  const synchronous = values.synchronous === 'normal' ? 'normal' : 'full';
  if (values.serve) {
    await serve({ instances: Number(values.instances), tasksPerInstance: Number(values['tasks-per-instance']), synchronous });
  } else {
    try {
      await runPlacementE2eBench({
        sizes: values.sizes.split(',').map(Number),
        seconds: Number(values.seconds),
        concurrency: Number(values.concurrency),
        synchronous,
        tasksPerInstance: Number(values['tasks-per-instance']),
        repeats: Number(values.repeats),
      });
    } catch (err) {
      console.error(`placement-e2e: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}

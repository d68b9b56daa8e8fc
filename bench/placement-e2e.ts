// Placement benchmark, end to end: tasks committed per second through signed
// RunTask calls (SigV4 verified in full, ECS model validation, placement,
// SQLite commit) on clusters of 1,000 / 5,000 / 10,000 container instances
// across 3 availability zones, each already holding 10 tasks. Every figure is
// printed beside the placement engine alone on the same cluster snapshot,
// measured in the same run, so the ratio is the cost of the API and store
// layers; the 10k/1k ratios show how cost grows with cluster size.
//
//   node dist/bench/placement-e2e.js [--sizes 1000,5000,10000] [--seconds 10]
//        [--concurrency 16] [--synchronous full|normal] [--mode server|experiment]
//        [--repeats 3]
//
// Each size runs in a fresh server process (a child of this one; the load
// generator here replays one pre-signed RunTask request, valid 15 minutes,
// over keep-alive connections, so client-side signing does not compete for
// the machine's two cores). No agents run: the server is started with
// BERTH_BENCH_ASSUME_AGENTS_CONNECTED=1, which makes placement treat every
// instance as connected.
//
// Modes:
//   server      the real server (`startServer`).
//   experiment  the same HTTP stack and ECS operations, with RunTask replaced
//               by the cached-snapshot flow in this file (cluster state cache
//               + commit-time re-check), for measuring before it is wired in.
//
// Set-up writes the instances and their tasks straight into the store in
// batched transactions (documents cloned from ones made by
// RegisterContainerInstance and RunTask in a template cluster), because
// 100,000 tasks placed one RunTask at a time would dominate the run.
import { fork, type ChildProcess } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SigV4Verifier } from '../src/api/auth/sigv4.js';
import { coreOperations, ecsProtocol } from '../src/api/ecs/service.js';
import { InvalidParameterException } from '../src/api/errors.js';
import { ClusterStateCache, reservePlacements } from '../src/controllers/clusterState.js';
import { arnPrefix, containerInstanceArn, newId, taskArn } from '../src/domain/arns.js';
import { ACTIVE_TASK_STATES, createCluster, requireCluster } from '../src/domain/clusters.js';
import { registerContainerInstance, type ContainerInstanceDoc } from '../src/domain/containerInstances.js';
import { epochSeconds, type DomainContext } from '../src/domain/context.js';
import { registerTaskDefinition, requireTaskDefinition } from '../src/domain/taskDefinitions.js';
import { placementRequest, runTask, type Reservation, type RunTaskInput, type StoredTask, type TaskDoc } from '../src/domain/tasks.js';
import type { TaskDefinitionDoc } from '../src/domain/taskdef/types.js';
import { place } from '../src/scheduler/engine.js';
import type { ClusterSnapshot } from '../src/scheduler/snapshot.js';
import type { PlacementConstraint, PlacementRequest, PlacementStrategy } from '../src/scheduler/types.js';
import { startServer } from '../src/server/app.js';
import { CredentialRegistry } from '../src/server/credentials.js';
import { createHttpServer } from '../src/server/http.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { withRetry, type Row, type Store, type Transaction } from '../src/store/store.js';
import { silentLogger } from '../src/util/log.js';
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
  mode?: 'server' | 'experiment';
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
  /** Experiment mode: where a RunTask's server time goes (ms per call). */
  breakdown?: Record<string, number>;
  cache?: Record<string, number>;
}

export interface PlacementE2eResult {
  mode: 'server' | 'experiment';
  synchronous: 'full' | 'normal';
  concurrency: number;
  sizes: PlacementE2eSize[];
}

// ---------------------------------------------------------------------------
// The cached RunTask flow (experiment mode): what src/domain/tasks.ts does,
// with the cluster state cache and the commit-time re-check.

function adjustRemaining(doc: ContainerInstanceDoc, r: Reservation): ContainerInstanceDoc {
  const remainingResources = doc.remainingResources.map((res) => {
    if (res.name === 'CPU') return { ...res, integerValue: (res.integerValue ?? 0) - r.cpu };
    if (res.name === 'MEMORY') return { ...res, integerValue: (res.integerValue ?? 0) - r.memory };
    if (res.name === 'PORTS' || res.name === 'PORTS_UDP') {
      const set = new Set(res.stringSetValue ?? []);
      for (const p of res.name === 'PORTS' ? r.tcpPorts : r.udpPorts) set.add(String(p));
      return { ...res, stringSetValue: [...set] };
    }
    return res;
  });
  return { ...doc, remainingResources };
}

function newTaskDoc(ctx: DomainContext, clusterArn: string, clusterName: string, td: TaskDefinitionDoc, group: string, instance: Row<ContainerInstanceDoc>): TaskDoc {
  const id = newId();
  const arn = taskArn(ctx, clusterName, id);
  const az = instance.doc.attributes.find((a) => a.name === 'ecs.availability-zone')?.value;
  return {
    taskArn: arn,
    clusterArn,
    taskDefinitionArn: td.taskDefinitionArn,
    containerInstanceArn: instance.arn,
    ...(az ? { availabilityZone: az } : {}),
    overrides: { containerOverrides: [], inferenceAcceleratorOverrides: [] },
    lastStatus: 'PROVISIONING',
    desiredStatus: 'RUNNING',
    healthStatus: 'UNKNOWN',
    ...(td.cpu !== undefined ? { cpu: td.cpu } : {}),
    ...(td.memory !== undefined ? { memory: td.memory } : {}),
    containers: td.containerDefinitions.map((c) => ({
      containerArn: `${arnPrefix(ctx)}:container/${clusterName}/${id}/${randomUUID()}`,
      taskArn: arn,
      name: c.name ?? '',
      image: c.image ?? '',
      lastStatus: 'PENDING',
      networkBindings: [],
      networkInterfaces: [],
      healthStatus: 'UNKNOWN',
      cpu: String(c.cpu ?? 0),
      ...(c.memory !== undefined ? { memory: String(c.memory) } : {}),
      ...(c.memoryReservation !== undefined ? { memoryReservation: String(c.memoryReservation) } : {}),
    })),
    group,
    launchType: 'EC2',
    version: 1,
    createdAt: epochSeconds(ctx.now()),
    tags: [],
    attachments: [],
    attributes: [],
    enableExecuteCommand: false,
  };
}

interface Breakdown {
  calls: number;
  totalMs: number;
  snapshotMs: number;
  transactionMs: number;
  reserveMs: number;
  extraRounds: number;
}

/** RunTask over the cluster state cache (no clientToken or overrides: the benchmark sends neither). */
async function cachedRunTask(ctx: DomainContext, cache: ClusterStateCache, input: RunTaskInput, b: Breakdown) {
  const t0 = performance.now();
  const count = input.count ?? 1;
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const tdRow = await requireTaskDefinition(ctx, ctx.store, input.taskDefinition);
  const td = tdRow.doc.taskDefinition;
  const group = input.group ?? `family:${td.family}`;
  const { request, reservation } = placementRequest(td, {
    group,
    count,
    ...(input.placementConstraints ? { placementConstraints: input.placementConstraints } : {}),
    ...(input.placementStrategy ? { placementStrategy: input.placementStrategy } : {}),
    launchType: 'EC2',
  });
  const { snapshot } = await cache.snapshot(cluster.arn);
  const t1 = performance.now();
  if (snapshot.instances.length === 0) throw new InvalidParameterException('No Container Instances were found in your cluster.');
  let handOver: { instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] } = { instances: [], tasks: [] };
  let reserveMs = 0;
  let rounds = 1;
  const out = await withRetry(ctx.store, async (tx: Transaction) => {
    await requireCluster(ctx, tx, input.cluster);
    const r0 = performance.now();
    const reserved = await reservePlacements(tx, {
      clusterArn: cluster.arn,
      snapshot,
      refresh: () => cache.current(cluster.arn)?.snapshot,
      request,
      seed: randomInt(2 ** 31),
      assumeAgentsConnected: cache.assumeAgentsConnected,
    });
    reserveMs = performance.now() - r0;
    rounds = reserved.rounds;
    const rows = new Map(reserved.rows);
    const tasks: TaskDoc[] = [];
    const taskRows: Row<StoredTask>[] = [];
    for (const p of reserved.placements) {
      const instance = rows.get(p.instanceArn)!;
      const task = newTaskDoc(ctx, cluster.arn, cluster.doc.clusterName, td, group, instance);
      let doc = adjustRemaining(instance.doc, reservation);
      doc = { ...doc, pendingTasksCount: doc.pendingTasksCount + 1, version: doc.version + 1 };
      rows.set(instance.arn, await tx.update('containerInstance', { ...instance, doc }));
      taskRows.push(
        await tx.insert<StoredTask>('task', {
          arn: task.taskArn,
          cluster: cluster.arn,
          name: instance.arn,
          status: task.desiredStatus,
          state: task.lastStatus,
          seq: Math.round(task.createdAt * 1000),
          doc: { task, taskDefinition: td, reservation },
        }),
      );
      tasks.push(task);
    }
    handOver = { instances: [...rows.values()].filter((r) => r.version !== reserved.rows.get(r.arn)?.version), tasks: taskRows };
    const failures = reserved.unplaced > 0 ? reserved.failures.map((f) => ({ arn: f.arn, reason: f.reason })) : [];
    return { tasks, failures };
  });
  cache.noteCommitted(handOver);
  const t2 = performance.now();
  b.calls++;
  b.totalMs += t2 - t0;
  b.snapshotMs += t1 - t0;
  b.transactionMs += t2 - t1;
  b.reserveMs += reserveMs;
  b.extraRounds += rounds - 1;
  return out;
}

// ---------------------------------------------------------------------------
// Server side (child process)

interface ServeOptions {
  instances: number;
  tasksPerInstance: number;
  mode: 'server' | 'experiment';
  synchronous: 'full' | 'normal';
}

interface Served {
  url: string;
  store: Store;
  ctx: DomainContext;
  breakdown?: Breakdown;
  cache?: ClusterStateCache;
  close(): Promise<void>;
}

async function startExperimentServer(dataDir: string, synchronous: 'full' | 'normal'): Promise<Served> {
  const store = await openSqliteStore({ path: join(dataDir, 'berth.db'), synchronous });
  const ctx: DomainContext = { store, region: REGION, accountId: ACCOUNT, now: Date.now };
  const cache = new ClusterStateCache(store, { assumeAgentsConnected: true });
  const breakdown: Breakdown = { calls: 0, totalMs: 0, snapshotMs: 0, transactionMs: 0, reserveMs: 0, extraRounds: 0 };
  const registry = new CredentialRegistry();
  registry.add(CREDS);
  const server = createHttpServer({
    verifier: new SigV4Verifier(registry, REGION),
    protocols: [ecsProtocol({ ...coreOperations(ctx), RunTask: (input) => cachedRunTask(ctx, cache, input as unknown as RunTaskInput, breakdown) })],
    metrics: new ServerMetrics(),
    log: silentLogger(),
    health: () => Promise.resolve({}),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    store,
    ctx,
    breakdown,
    cache,
    async close() {
      cache.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
    },
  };
}

async function startRealServer(dataDir: string, synchronous: 'full' | 'normal'): Promise<Served> {
  const s = await startServer({ host: '127.0.0.1', port: 0, dataDir, region: REGION, accountId: ACCOUNT, synchronous, log: silentLogger() });
  return { url: s.url, store: s.store, ctx: s.ctx, close: () => s.close() };
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
        for (const t of tasks) doc = adjustRemaining(doc, t.reservation);
        doc = { ...doc, pendingTasksCount: doc.pendingTasksCount + tasks.length };
        if (existing) await tx.update('containerInstance', { ...existing, doc });
        else await tx.insert<ContainerInstanceDoc>('containerInstance', { arn: instanceArn, cluster: clusterArn, name: doc.ec2InstanceId, status: 'ACTIVE', seq: now + k, doc });
        for (const t of tasks) {
          await tx.insert<StoredTask>('task', { arn: t.task.taskArn, cluster: clusterArn, name: instanceArn, status: 'RUNNING', state: 'PROVISIONING', seq: Math.round(t.task.createdAt * 1000), doc: t });
        }
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
  const td = (await requireTaskDefinition(ctx, store, 'bench-web')).doc.taskDefinition;
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
  const cache = new ClusterStateCache(store, { assumeAgentsConnected: true });
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
  const served = opts.mode === 'server' ? await startRealServer(dataDir, opts.synchronous) : await startExperimentServer(dataDir, opts.synchronous);
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
        const b = served.breakdown ? { ...served.breakdown } : undefined;
        if (served.breakdown) Object.assign(served.breakdown, { calls: 0, totalMs: 0, snapshotMs: 0, transactionMs: 0, reserveMs: 0, extraRounds: 0 });
        process.send!({
          type: 'stats',
          taskRows: await countTasks(),
          ...(b && b.calls > 0
            ? {
                breakdown: {
                  calls: b.calls,
                  totalMs: b.totalMs / b.calls,
                  snapshotMs: b.snapshotMs / b.calls,
                  transactionMs: b.transactionMs / b.calls,
                  reserveMs: b.reserveMs / b.calls,
                  extraRoundsPerCall: b.extraRounds / b.calls,
                },
              }
            : {}),
          ...(served.cache ? { cache: { ...served.cache.stats() } } : {}),
        });
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
type ChildStats = { taskRows: number; breakdown?: Record<string, number>; cache?: Record<string, number> };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measureSize(n: number, opts: Required<PlacementE2eOptions>): Promise<PlacementE2eSize> {
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['--serve', '--instances', String(n), '--tasks-per-instance', String(opts.tasksPerInstance), '--mode', opts.mode, '--synchronous', opts.synchronous], {
    // BERTH_BENCH_CPU_PROF=<dir> writes a CPU profile of each benchmark server there.
    execArgv: ['--expose-gc', ...(process.env.BERTH_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BERTH_BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, BERTH_BENCH_ASSUME_AGENTS_CONNECTED: '1', BERTH_LOG_LEVEL: 'warn' },
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
      throw new Error(
        `the first RunTask placed nothing (HTTP ${first.status}: ${first.body.slice(0, 400)}). ` +
          (opts.mode === 'server' ? 'Does the server honour BERTH_BENCH_ASSUME_AGENTS_CONNECTED yet? Try --mode experiment.' : ''),
      );
    }
    await load(ready.url, call, opts.concurrency, Math.min(2, opts.seconds));
    await ask<ChildStats>(child, { type: 'stats' }, 'stats');
    const runs: PlacementE2eSize['runs'] = [];
    const phases: { run: LoadResult; stats: ChildStats }[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      const before = await ask<ChildStats>(child, { type: 'stats' }, 'stats');
      const run = await load(ready.url, call, opts.concurrency, opts.seconds);
      const after = await ask<ChildStats>(child, { type: 'stats' }, 'stats');
      const engine = await ask<{ tasksPerSecond: number }>(child, { type: 'engine' }, 'engine');
      if (run.firstError) console.log(`  first error: ${run.firstError}`);
      runs.push({ tasksPerSecond: (after.taskRows - before.taskRows) / run.seconds, engineTasksPerSecond: engine.tasksPerSecond });
      phases.push({ run, stats: after });
    }
    // The phase with the median end-to-end rate speaks for the size.
    const mid = runs.map((r, i) => [r.tasksPerSecond, i] as const).sort((a, b) => a[0] - b[0])[Math.floor((runs.length - 1) / 2)]![1];
    const { run, stats: after } = phases[mid]!;
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
      httpErrors: phases.reduce((n, p) => n + p.run.httpErrors, 0),
      unplaced: phases.reduce((n, p) => n + p.run.unplaced, 0),
      runs,
      ...(after.breakdown ? { breakdown: after.breakdown } : {}),
      ...(after.cache ? { cache: after.cache } : {}),
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
    mode: options.mode ?? 'server',
    tasksPerInstance: options.tasksPerInstance ?? 10,
    repeats: options.repeats ?? 3,
  };
  console.log(
    `Placement end to end: signed RunTask (count ${RUN_TASK.count}, spread(attribute:ecs.availability-zone), binpack(memory), memberOf(${MEMBER_OF})), ` +
      `${opts.concurrency} connections, ${opts.repeats} x ${opts.seconds}s per size (medians), SQLite synchronous=${opts.synchronous}, mode=${opts.mode}`,
  );
  console.log('  BENCHMARK MODE: no agents run; the server treats every container instance as connected (BERTH_BENCH_ASSUME_AGENTS_CONNECTED=1).');
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
    if (r.breakdown) {
      const b = r.breakdown;
      console.log(
        `  server time per call: ${fmt(b.totalMs ?? NaN)} ms = snapshot wait ${fmt(b.snapshotMs ?? NaN)} + transaction ${fmt(b.transactionMs ?? NaN)} ` +
          `(place + re-check ${fmt(b.reserveMs ?? NaN)}); extra placement rounds per call ${fmt(b.extraRoundsPerCall ?? NaN, 3)}`,
      );
    }
    if (r.cache) console.log(`  cache: ${JSON.stringify(r.cache)}`);
    const target = r.tasksPerSecond >= 2000;
    console.log(`  target >= 2000 tasks/s -> ${target ? 'met' : 'MISSED'} (${fmt(r.tasksPerSecond, 0)})`);
  }
  const small = sizes.find((s) => s.instances === Math.min(...sizes.map((x) => x.instances)));
  const big = sizes.find((s) => s.instances === Math.max(...sizes.map((x) => x.instances)));
  if (small && big && small !== big) {
    console.log(`\nCost ratio ${big.instances}/${small.instances} instances (time per task, larger / smaller):`);
    console.log(`  end to end ${fmt(small.tasksPerSecond / big.tasksPerSecond)} | engine alone ${fmt(small.engineTasksPerSecond / big.engineTasksPerSecond)} | full read ${fmt(big.fullReadMs / small.fullReadMs)}`);
  }
  return { mode: opts.mode, synchronous: opts.synchronous, concurrency: opts.concurrency, sizes };
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
      mode: { type: 'string', default: 'server' },
      repeats: { type: 'string', default: '3' },
    },
  });
  const synchronous = values.synchronous === 'normal' ? 'normal' : 'full';
  const mode = values.mode === 'experiment' ? 'experiment' : 'server';
  if (values.serve) {
    await serve({ instances: Number(values.instances), tasksPerInstance: Number(values['tasks-per-instance']), mode, synchronous });
  } else {
    try {
      await runPlacementE2eBench({
        sizes: values.sizes.split(',').map(Number),
        seconds: Number(values.seconds),
        concurrency: Number(values.concurrency),
        synchronous,
        mode,
        tasksPerInstance: Number(values['tasks-per-instance']),
        repeats: Number(values.repeats),
      });
    } catch (err) {
      console.error(`placement-e2e: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}

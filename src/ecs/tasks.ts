import { randomInt, randomUUID } from 'node:crypto';
import {
  ClientException,
  InvalidParameterException,
  UnsupportedFeatureException,
} from '../core/errors.js';
import { reservePlacements } from '../controllers/clusterState.js';
import { place } from '../scheduler/engine.js';
import { hashString } from '../scheduler/random.js';
import { buildSnapshot } from '../scheduler/snapshot.js';
import type { InstanceSnapshot, PlacementConstraint, PlacementRequest, PlacementStrategy } from '../scheduler/types.js';
import { withRetry, type Row, type StoreReader, type Transaction } from '../store/store.js';
import { arnPrefix, newId, parseArn, shortId, taskArn as makeTaskArn } from './arns.js';
import { ACTIVE_TASK_STATES, requireCluster, type ClusterDoc } from './clusters.js';
import { instanceRefToArn, type ContainerInstanceDoc, type Resource } from './containerInstances.js';
import { epochSeconds, type DomainContext } from './context.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { validateTags, type Tag } from './tags.js';
import { requireTaskDefinition, taskDefinitionByArn, type StoredTaskDefinition } from './taskDefinitions.js';
import { taskResourceNeeds } from './taskdef/resources.js';
import { effectiveNetworkMode, type TaskDefinitionDoc } from './taskdef/types.js';

/** The task lifecycle in order; a task only ever moves forward through it. */
export const TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

const stateIndex = (s: string): number => TASK_STATES.indexOf(s as TaskState);

export interface NetworkBinding {
  bindIP?: string;
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
}

export interface TaskContainerDoc {
  containerArn: string;
  taskArn: string;
  name: string;
  image: string;
  runtimeId?: string;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
  networkBindings: NetworkBinding[];
  networkInterfaces: unknown[];
  healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  cpu?: string;
  memory?: string;
  memoryReservation?: string;
}

/** A task as DescribeTasks returns it (timestamps in epoch seconds). */
export interface TaskDoc {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  containerInstanceArn?: string;
  availabilityZone?: string;
  overrides: Record<string, unknown>;
  lastStatus: TaskState;
  desiredStatus: 'RUNNING' | 'STOPPED';
  healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  cpu?: string;
  memory?: string;
  containers: TaskContainerDoc[];
  startedBy?: string;
  group: string;
  launchType: 'EC2' | 'EXTERNAL';
  version: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  executionStoppedAt?: number;
  connectivity?: string;
  connectivityAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  tags: Tag[];
  attachments: unknown[];
  attributes: unknown[];
  enableExecuteCommand: boolean;
}

/** What a task holds on its container instance until it stops. */
export interface Reservation {
  cpu: number;
  memory: number;
  tcpPorts: number[];
  udpPorts: number[];
}

/**
 * A stored task: the API document and what it reserved. The definition it
 * runs is the task definition row named by `task.taskDefinitionArn` (see
 * `taskDefinitionOf`); that row stays while a task that is not STOPPED runs it.
 */
export interface StoredTask {
  task: TaskDoc;
  reservation: Reservation;
  /** A copy of the definition, in rows written before tasks named theirs; read in preference to the row. */
  taskDefinition?: TaskDefinitionDoc;
}

/** A task with the definition it runs, as the agent on its instance needs it. */
export interface TaskWithDefinition {
  stored: StoredTask;
  taskDefinition: TaskDefinitionDoc;
}

/** The task definition a stored task runs. `reader` is the store or a transaction that has not written task definitions. */
export async function taskDefinitionOf(ctx: DomainContext, reader: StoreReader, stored: StoredTask): Promise<TaskDefinitionDoc> {
  if (stored.taskDefinition !== undefined) return stored.taskDefinition;
  const arn = stored.task.taskDefinitionArn;
  const td = await taskDefinitionByArn(ctx, reader, arn);
  if (td === undefined) throw new Error(`task ${stored.task.taskArn} runs task definition ${arn}, which is not stored`);
  return td;
}

// ---------------------------------------------------------------------------
// Instance accounting

function resource(doc: ContainerInstanceDoc, name: string): Resource | undefined {
  return doc.remainingResources.find((r) => r.name === name);
}

/** Subtracts (sign 1) or returns (sign -1) a reservation from an instance's remaining resources. */
function adjustRemaining(doc: ContainerInstanceDoc, r: Reservation, sign: 1 | -1): ContainerInstanceDoc {
  const remaining = doc.remainingResources.map((res) => {
    switch (res.name) {
      case 'CPU':
        return { ...res, integerValue: (res.integerValue ?? 0) - sign * r.cpu };
      case 'MEMORY':
        return { ...res, integerValue: (res.integerValue ?? 0) - sign * r.memory };
      case 'PORTS':
      case 'PORTS_UDP': {
        const ports = (res.name === 'PORTS' ? r.tcpPorts : r.udpPorts).map(String);
        const set = new Set(res.stringSetValue ?? []);
        for (const p of ports) {
          if (sign === 1) set.add(p);
          else set.delete(p);
        }
        // Ports the instance reserved at registration are never released.
        if (sign === -1) {
          const registered = doc.registeredResources.find((x) => x.name === res.name)?.stringSetValue ?? [];
          for (const p of registered) set.add(p);
        }
        return { ...res, stringSetValue: [...set] };
      }
      default:
        return res;
    }
  });
  return { ...doc, remainingResources: remaining };
}

type Phase = 'pending' | 'running' | 'stopped';

function phase(state: string): Phase {
  const i = stateIndex(state);
  if (i < stateIndex('RUNNING')) return 'pending';
  if (i < stateIndex('STOPPED')) return 'running';
  return 'stopped';
}

/** Moves the instance's task counters when a task changes phase. */
function adjustCounts(doc: ContainerInstanceDoc, from: Phase | undefined, to: Phase): ContainerInstanceDoc {
  let pending = doc.pendingTasksCount;
  let running = doc.runningTasksCount;
  if (from === 'pending') pending--;
  if (from === 'running') running--;
  if (to === 'pending') pending++;
  if (to === 'running') running++;
  return { ...doc, pendingTasksCount: Math.max(0, pending), runningTasksCount: Math.max(0, running) };
}

// ---------------------------------------------------------------------------
// Placement input

function toInstanceSnapshot(row: Row<ContainerInstanceDoc>, groups: Map<string, number>, tasks: number): InstanceSnapshot {
  const d = row.doc;
  const ports = (name: string) => (resource(d, name)?.stringSetValue ?? []).map(Number).filter(Number.isInteger);
  return {
    arn: row.arn,
    status: d.status,
    ec2InstanceId: d.ec2InstanceId,
    agentConnected: d.agentConnected,
    ...(d.versionInfo.agentVersion ? { agentVersion: d.versionInfo.agentVersion } : {}),
    registeredAt: d.registeredAt * 1000,
    attributes: new Map(d.attributes.map((a) => [a.name, a.value])),
    runningTasksCount: tasks,
    taskGroups: groups,
    remaining: {
      cpu: resource(d, 'CPU')?.integerValue ?? 0,
      memory: resource(d, 'MEMORY')?.integerValue ?? 0,
      gpus: [],
    },
    usedPorts: { tcp: ports('PORTS'), udp: ports('PORTS_UDP') },
    launchTypes: ['EC2', 'EXTERNAL'],
    networkModes: ['bridge', 'host', 'none'],
  };
}

/** Reads the cluster's instances and the task groups on them: the placement engine's input. */
/** Per instance: tasks not yet STOPPED by group, and their number. */
function taskLoad(tasks: readonly Row<StoredTask>[]): { groups: Map<string, Map<string, number>>; counts: Map<string, number> } {
  const groups = new Map<string, Map<string, number>>();
  const counts = new Map<string, number>();
  for (const t of tasks) {
    const inst = t.doc.task.containerInstanceArn;
    if (!inst) continue;
    let g = groups.get(inst);
    if (!g) groups.set(inst, (g = new Map()));
    g.set(t.doc.task.group, (g.get(t.doc.task.group) ?? 0) + 1);
    counts.set(inst, (counts.get(inst) ?? 0) + 1);
  }
  return { groups, counts };
}

const PLACEABLE_STATUSES = ['ACTIVE', 'DRAINING'];

async function readSnapshot(reader: StoreReader, clusterArn: string) {
  const [instances, tasks] = await Promise.all([
    reader.find<ContainerInstanceDoc>('containerInstance', { cluster: clusterArn, status: PLACEABLE_STATUSES }),
    reader.find<StoredTask>('task', { cluster: clusterArn, state: [...ACTIVE_TASK_STATES] }),
  ]);
  const { groups, counts } = taskLoad(tasks);
  return {
    rows: new Map(instances.map((r) => [r.arn, r])),
    snapshot: buildSnapshot(instances.map((r) => toInstanceSnapshot(r, groups.get(r.arn) ?? new Map(), counts.get(r.arn) ?? 0))),
  };
}

/** One ACTIVE or DRAINING instance of the cluster, as stored and as the engine sees it with its tasks; reads nothing else. */
async function readInstance(reader: StoreReader, clusterArn: string, arn: string): Promise<{ row: Row<ContainerInstanceDoc>; snapshot: InstanceSnapshot } | undefined> {
  const row = await reader.get<ContainerInstanceDoc>('containerInstance', arn);
  if (!row || row.cluster !== clusterArn || !PLACEABLE_STATUSES.includes(row.doc.status)) return undefined;
  const { groups, counts } = taskLoad(await reader.find<StoredTask>('task', { cluster: clusterArn, name: arn, state: [...ACTIVE_TASK_STATES] }));
  return { row, snapshot: toInstanceSnapshot(row, groups.get(arn) ?? new Map(), counts.get(arn) ?? 0) };
}

// ---------------------------------------------------------------------------
// Creating tasks

interface Overrides {
  cpu?: string;
  memory?: string;
  containerOverrides?: { name?: string; cpu?: number; memory?: number; memoryReservation?: number; command?: string[]; environment?: unknown[] }[];
  [k: string]: unknown;
}

/** The task definition with container-level cpu/memory overrides applied, for resource accounting. */
function effectiveDefinition(td: TaskDefinitionDoc, overrides: Overrides): TaskDefinitionDoc {
  const byName = new Map((overrides.containerOverrides ?? []).map((o) => [o.name, o]));
  for (const o of overrides.containerOverrides ?? []) {
    if (!o.name || !td.containerDefinitions.some((c) => c.name === o.name)) {
      throw new InvalidParameterException(`overrides.containerOverrides names container '${o.name ?? ''}', which is not in ${td.family}:${td.revision}.`);
    }
  }
  return {
    ...td,
    ...(overrides.cpu !== undefined ? { cpu: overrides.cpu } : {}),
    ...(overrides.memory !== undefined ? { memory: overrides.memory } : {}),
    containerDefinitions: td.containerDefinitions.map((c) => {
      const o = byName.get(c.name);
      if (!o) return c;
      return {
        ...c,
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
        ...(o.memory !== undefined ? { memory: o.memory } : {}),
        ...(o.memoryReservation !== undefined ? { memoryReservation: o.memoryReservation } : {}),
      };
    }),
  };
}

/**
 * The engine's seed for one placement. Ties between equally good instances
 * are broken by a hash of the instance seeded with it, so a fixed seed per
 * cluster makes that order deterministic across calls; only the `random`
 * strategy gets a fresh seed each time.
 */
function placementSeed(clusterArn: string, request: PlacementRequest): number {
  return (request.placementStrategy ?? []).some((s) => s.type === 'random') || (request.placementStrategy ?? []).length === 0
    ? randomInt(2 ** 31)
    : hashString(clusterArn);
}

/** A new task of `td` (the definition with the run's cpu and memory overrides applied) on `instance`. */
function newTaskDoc(
  ctx: DomainContext,
  cluster: Row<ClusterDoc>,
  td: TaskDefinitionDoc,
  input: { overrides?: Overrides; startedBy?: string; group: string; tags: Tag[]; launchType: 'EC2' | 'EXTERNAL'; enableExecuteCommand?: boolean },
  instance: Row<ContainerInstanceDoc>,
): TaskDoc {
  const id = newId();
  const arn = makeTaskArn(ctx, cluster.doc.clusterName, id);
  const now = epochSeconds(ctx.now());
  const az = instance.doc.attributes.find((a) => a.name === 'ecs.availability-zone')?.value;
  const overrides = input.overrides ?? {};
  return {
    taskArn: arn,
    clusterArn: cluster.arn,
    taskDefinitionArn: td.taskDefinitionArn,
    containerInstanceArn: instance.arn,
    ...(az ? { availabilityZone: az } : {}),
    overrides: { containerOverrides: [], inferenceAcceleratorOverrides: [], ...overrides },
    lastStatus: 'PROVISIONING',
    desiredStatus: 'RUNNING',
    healthStatus: 'UNKNOWN',
    ...(td.cpu !== undefined ? { cpu: td.cpu } : {}),
    ...(td.memory !== undefined ? { memory: td.memory } : {}),
    containers: td.containerDefinitions.map((c) => ({
      containerArn: `${arnPrefix(ctx)}:container/${cluster.doc.clusterName}/${id}/${randomUUID()}`,
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
    ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}),
    group: input.group,
    launchType: input.launchType,
    version: 1,
    createdAt: now,
    tags: input.tags,
    attachments: [],
    attributes: [],
    enableExecuteCommand: input.enableExecuteCommand ?? false,
  };
}

function checkLaunch(td: TaskDefinitionDoc, launchType: string | undefined): 'EC2' | 'EXTERNAL' {
  const lt = launchType ?? 'EC2';
  if (lt === 'FARGATE') {
    throw new InvalidParameterException('Berth runs tasks on container instances: use launchType EC2 (or EXTERNAL). FARGATE is not available yet.');
  }
  if (lt !== 'EC2' && lt !== 'EXTERNAL') throw new InvalidParameterException(`launchType ${lt} is not supported; use EC2.`);
  if (td.status !== 'ACTIVE') {
    throw new ClientException(`TaskDefinition is inactive: ${td.taskDefinitionArn} was deregistered. Run an ACTIVE revision.`);
  }
  if (!(td.compatibilities as string[]).includes(lt)) {
    throw new ClientException(`Task definition ${td.family}:${td.revision} does not support launch type ${lt}.`);
  }
  if (effectiveNetworkMode(td.networkMode) === 'awsvpc') {
    throw new UnsupportedFeatureException('Berth does not support the awsvpc network mode on container instances yet; use bridge or host.');
  }
  return lt;
}

export interface RunTaskInput {
  cluster?: string;
  taskDefinition: string;
  count?: number;
  startedBy?: string;
  group?: string;
  overrides?: Overrides;
  placementConstraints?: PlacementConstraint[];
  placementStrategy?: PlacementStrategy[];
  launchType?: string;
  capacityProviderStrategy?: unknown[];
  tags?: Tag[];
  clientToken?: string;
  enableExecuteCommand?: boolean;
  propagateTags?: string;
}

interface RunTaskOutput {
  tasks: TaskDoc[];
  failures: { arn?: string; reason: string; detail?: string }[];
}

/** Builds the engine request for a task definition and RunTask parameters. */
export function placementRequest(
  td: TaskDefinitionDoc,
  input: { group: string; count: number; placementConstraints?: PlacementConstraint[]; placementStrategy?: PlacementStrategy[]; launchType: 'EC2' | 'EXTERNAL' },
): { request: PlacementRequest; reservation: Reservation } {
  const needs = taskResourceNeeds(td);
  const constraints = [...(td.placementConstraints ?? []).map((c) => ({ type: c.type as 'memberOf', ...(c.expression ? { expression: c.expression } : {}) })), ...(input.placementConstraints ?? [])];
  return {
    request: {
      group: input.group,
      cpu: needs.cpu,
      memory: needs.memory,
      tcpPorts: needs.tcpPorts,
      udpPorts: needs.udpPorts,
      gpus: needs.gpus,
      requiresAttributes: (td.requiresAttributes ?? []).map((a) => ({ name: a.name ?? '', ...(a.value !== undefined ? { value: a.value } : {}) })),
      networkMode: effectiveNetworkMode(td.networkMode),
      launchType: input.launchType,
      placementConstraints: constraints,
      placementStrategy: input.placementStrategy ?? [],
      count: input.count,
    },
    reservation: { cpu: needs.cpu, memory: needs.memory, tcpPorts: [...needs.tcpPorts], udpPorts: [...needs.udpPorts] },
  };
}

/**
 * Reserves resources for new tasks on their instances and inserts the tasks:
 * one update per instance, one insert for all tasks. `instances` holds the
 * rows as read in `tx`. Returns the rows as written.
 */
async function commitTasks(
  tx: Transaction,
  instances: ReadonlyMap<string, Row<ContainerInstanceDoc>>,
  tasks: readonly StoredTask[],
): Promise<{ instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] }> {
  const docs = new Map<string, ContainerInstanceDoc>();
  for (const t of tasks) {
    const arn = t.task.containerInstanceArn!;
    const doc = docs.get(arn) ?? instances.get(arn)!.doc;
    docs.set(arn, adjustCounts(adjustRemaining(doc, t.reservation, 1), undefined, 'pending'));
  }
  const updated: Row<ContainerInstanceDoc>[] = [];
  for (const [arn, doc] of docs) updated.push(await tx.update('containerInstance', { ...instances.get(arn)!, doc: { ...doc, version: doc.version + 1 } }));
  const inserted = await tx.insertMany<StoredTask>(
    'task',
    tasks.map((t) => ({
      arn: t.task.taskArn,
      cluster: t.task.clusterArn,
      name: t.task.containerInstanceArn!,
      status: t.task.desiredStatus,
      state: t.task.lastStatus,
      seq: Math.round(t.task.createdAt * 1000),
      doc: t,
    })),
  );
  return { instances: updated, tasks: inserted };
}

export async function runTask(ctx: DomainContext, input: RunTaskInput): Promise<RunTaskOutput> {
  const count = input.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10) {
    throw new InvalidParameterException(`count must be between 1 and 10; got ${count}. Call RunTask again for more tasks.`);
  }
  const tags = validateTags(input.tags);
  if (input.clientToken !== undefined && (input.clientToken.length < 1 || input.clientToken.length > 64)) {
    throw new InvalidParameterException('clientToken must be 1 to 64 characters long.');
  }
  // The cached snapshot is taken outside the transaction (loading or catching up may read the store);
  // inside it, placement uses the freshest cached state and re-checks the chosen instances' rows.
  const cache = ctx.clusterState;
  const initial = cache ? (await cache.snapshot((await requireCluster(ctx, ctx.store, input.cluster)).arn)).snapshot : undefined;
  let handOver: { instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] } | undefined;
  const out = await withRetry(ctx.store, async (tx) => {
    handOver = undefined;
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const idemKey = input.clientToken !== undefined ? `RunTask:${cluster.arn}:${input.clientToken}` : undefined;
    if (idemKey) {
      const previous = await tx.getIdempotent<{ request: string; tasks: string[]; failures: RunTaskOutput['failures'] }>(idemKey);
      if (previous) {
        if (previous.request !== JSON.stringify({ ...input, clientToken: undefined })) {
          throw new InvalidParameterException('Arguments on this idempotent request are inconsistent with arguments used in previous request(s). Use a new clientToken.');
        }
        const tasks: TaskDoc[] = [];
        for (const arn of previous.tasks) {
          const row = await tx.get<StoredTask>('task', arn);
          if (row) tasks.push(row.doc.task);
        }
        return { tasks, failures: previous.failures };
      }
    }
    const registered = await requireTaskDefinition(ctx, tx, input.taskDefinition);
    const launchType = checkLaunch(registered, input.launchType);
    const overrides = input.overrides ?? {};
    const td = effectiveDefinition(registered, overrides);
    const group = input.group ?? `family:${td.family}`;
    const { request, reservation } = placementRequest(td, {
      group,
      count,
      ...(input.placementConstraints ? { placementConstraints: input.placementConstraints } : {}),
      ...(input.placementStrategy ? { placementStrategy: input.placementStrategy } : {}),
      launchType,
    });
    const seed = placementSeed(cluster.arn, request);
    let placed: { placements: readonly { instanceArn: string }[]; rows: ReadonlyMap<string, Row<ContainerInstanceDoc>>; unplaced: number; failures: readonly { arn: string; reason: string }[]; diagnosis: { message: string } };
    if (cache && initial && initial.instances.length > 0 && cache.current(cluster.arn) !== undefined) {
      placed = await reservePlacements(tx, {
        clusterArn: cluster.arn,
        snapshot: initial,
        refresh: () => cache.current(cluster.arn)?.snapshot,
        request,
        seed,
        assumeAgentsConnected: cache.assumeAgentsConnected,
      });
    } else {
      const { rows, snapshot } = await readSnapshot(tx, cluster.arn);
      if (rows.size === 0) throw new InvalidParameterException('No Container Instances were found in your cluster. Start a berth agent for this cluster first.');
      placed = { ...place(snapshot, request, { seed }), rows };
    }
    const tasks: TaskDoc[] = [];
    for (const p of placed.placements) {
      const instance = placed.rows.get(p.instanceArn);
      if (!instance) continue;
      tasks.push(newTaskDoc(ctx, cluster, td, { overrides, ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}), group, tags, launchType, ...(input.enableExecuteCommand !== undefined ? { enableExecuteCommand: input.enableExecuteCommand } : {}) }, instance));
    }
    const written = await commitTasks(tx, placed.rows, tasks.map((task) => ({ task, reservation })));
    const failures = placed.unplaced > 0 ? placed.failures.map((f) => ({ arn: f.arn, reason: f.reason })) : [];
    if (placed.unplaced > 0 && failures.length === 0) failures.push({ arn: cluster.arn, reason: placed.diagnosis.message } as never);
    if (idemKey) await tx.putIdempotent(idemKey, { request: JSON.stringify({ ...input, clientToken: undefined }), tasks: tasks.map((t) => t.taskArn), failures });
    handOver = written;
    return { tasks, failures };
  });
  // Only rows of the attempt that committed; saves the cache re-reading them.
  if (cache && handOver) cache.noteCommitted(handOver);
  return out;
}

export interface StartTaskInput {
  cluster?: string;
  taskDefinition: string;
  containerInstances: string[];
  startedBy?: string;
  group?: string;
  overrides?: Overrides;
  tags?: Tag[];
  enableExecuteCommand?: boolean;
}

export async function startTask(ctx: DomainContext, input: StartTaskInput): Promise<RunTaskOutput> {
  if (input.containerInstances.length < 1 || input.containerInstances.length > 10) {
    throw new InvalidParameterException('containerInstances must name 1 to 10 container instances.');
  }
  const tags = validateTags(input.tags);
  return withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const registered = await requireTaskDefinition(ctx, tx, input.taskDefinition);
    const launchType = checkLaunch(registered, 'EC2');
    const overrides = input.overrides ?? {};
    const td = effectiveDefinition(registered, overrides);
    const group = input.group ?? `family:${td.family}`;
    const tasks: TaskDoc[] = [];
    const failures: RunTaskOutput['failures'] = [];
    for (const ref of input.containerInstances) {
      let arn: string;
      try {
        arn = instanceRefToArn(ctx, cluster, ref);
      } catch {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      // Only the named instance is read (again for each task: an instance named twice sees the first task).
      const found = await readInstance(tx, cluster.arn, arn);
      if (!found) {
        failures.push({ arn, reason: 'MISSING' });
        continue;
      }
      // StartTask names the instance: only feasibility is checked, no strategy.
      const { request, reservation } = placementRequest(td, { group, count: 1, launchType });
      const plan = place(buildSnapshot([found.snapshot]), request, { seed: 1 });
      if (plan.placements.length === 0) {
        failures.push({ arn, reason: plan.failures[0]?.reason ?? 'RESOURCE' });
        continue;
      }
      const task = newTaskDoc(ctx, cluster, td, { overrides, ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}), group, tags, launchType, ...(input.enableExecuteCommand !== undefined ? { enableExecuteCommand: input.enableExecuteCommand } : {}) }, found.row);
      await commitTasks(tx, new Map([[arn, found.row]]), [{ task, reservation }]);
      tasks.push(task);
    }
    return { tasks, failures };
  });
}

// ---------------------------------------------------------------------------
// Reading tasks

function taskRefToArn(ctx: DomainContext, cluster: Row<ClusterDoc>, ref: string): string {
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.resourceType !== 'task') throw new InvalidParameterException(`Invalid task ARN '${ref}'.`);
    return ref;
  }
  return makeTaskArn(ctx, cluster.doc.clusterName, shortId(ref));
}

async function loadTask(ctx: DomainContext, reader: StoreReader, cluster: Row<ClusterDoc>, ref: string): Promise<Row<StoredTask> | undefined> {
  let arn: string;
  try {
    arn = taskRefToArn(ctx, cluster, ref);
  } catch {
    return undefined;
  }
  const row = await reader.get<StoredTask>('task', arn);
  return row && row.cluster === cluster.arn ? row : undefined;
}

export async function describeTasks(ctx: DomainContext, input: { cluster?: string; tasks: string[]; include?: string[] }) {
  if (input.tasks.length > 100) throw new InvalidParameterException('tasks can name at most 100 tasks per call.');
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const withTags = (input.include ?? []).includes('TAGS');
  const tasks: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const ref of input.tasks) {
    const row = await loadTask(ctx, ctx.store, cluster, ref);
    if (!row) {
      failures.push({ arn: ref, reason: 'MISSING' });
      continue;
    }
    const { tags, ...rest } = row.doc.task;
    tasks.push(withTags ? { ...rest, tags } : rest);
  }
  return { tasks, failures };
}

export async function listTasks(
  ctx: DomainContext,
  input: {
    cluster?: string;
    containerInstance?: string;
    family?: string;
    startedBy?: string;
    serviceName?: string;
    desiredStatus?: string;
    launchType?: string;
    nextToken?: string;
    maxResults?: number;
  },
) {
  const limit = pageSize(input.maxResults);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  if (input.startedBy !== undefined && input.serviceName !== undefined) {
    throw new InvalidParameterException('startedBy and serviceName cannot be used together.');
  }
  const desired = input.desiredStatus ?? 'RUNNING';
  const scope = `ListTasks:${JSON.stringify({ ...input, nextToken: undefined, maxResults: undefined })}`;
  const after = decodeToken<{ name: string; seq: number; arn: string }>(scope, input.nextToken);
  const instanceArn = input.containerInstance !== undefined ? instanceRefToArn(ctx, cluster, input.containerInstance) : undefined;
  const matches = (t: TaskDoc): boolean => {
    if (desired === 'PENDING' ? phase(t.lastStatus) !== 'pending' || t.desiredStatus !== 'RUNNING' : t.desiredStatus !== desired) return false;
    if (input.family !== undefined && !t.taskDefinitionArn.includes(`:task-definition/${input.family}:`)) return false;
    if (input.startedBy !== undefined && t.startedBy !== input.startedBy) return false;
    if (input.serviceName !== undefined && t.group !== `service:${input.serviceName}`) return false;
    if (input.launchType !== undefined && t.launchType !== input.launchType) return false;
    return true;
  };
  const out: Row<StoredTask>[] = [];
  let cursor = after;
  let more = false;
  for (;;) {
    const chunk = await ctx.store.find<StoredTask>('task', {
      cluster: cluster.arn,
      status: desired === 'PENDING' ? 'RUNNING' : desired,
      ...(instanceArn ? { name: instanceArn } : {}),
      limit: 500,
      ...(cursor ? { after: cursor } : {}),
    });
    for (const r of chunk) {
      cursor = { name: r.name, seq: r.seq, arn: r.arn };
      if (!matches(r.doc.task)) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(r);
    }
    if (more || chunk.length < 500) break;
  }
  const last = out[out.length - 1];
  return {
    taskArns: out.map((r) => r.arn),
    ...(more && last ? { nextToken: encodeToken(scope, { name: last.name, seq: last.seq, arn: last.arn }) } : {}),
  };
}

// ---------------------------------------------------------------------------
// Changing tasks

/**
 * Writes a new task document and keeps the instance's accounting in step:
 * task counters follow the phase; the reservation is returned when the task
 * reaches STOPPED. The task row's status column is the desired status, its
 * state column the last status.
 */
async function writeTask(tx: Transaction, row: Row<StoredTask>, task: TaskDoc): Promise<void> {
  const before = row.doc.task;
  const next: TaskDoc = { ...task, version: before.version + 1 };
  await tx.update<StoredTask>('task', { ...row, status: next.desiredStatus, state: next.lastStatus, doc: { ...row.doc, task: next } });
  const fromPhase = phase(before.lastStatus);
  const toPhase = phase(next.lastStatus);
  if (fromPhase === toPhase || !before.containerInstanceArn) return;
  const inst = await tx.get<ContainerInstanceDoc>('containerInstance', before.containerInstanceArn);
  if (!inst) return;
  let doc = adjustCounts(inst.doc, fromPhase, toPhase);
  if (toPhase === 'stopped') doc = adjustRemaining(doc, row.doc.reservation, -1);
  await tx.update('containerInstance', { ...inst, doc: { ...doc, version: doc.version + 1 } });
}

/** Marks a task to stop. Tasks never started by an agent stop at once. */
export async function stopTaskInTx(
  ctx: DomainContext,
  tx: Transaction,
  row: Row<StoredTask>,
  stopCode: string,
  reason: string,
): Promise<TaskDoc> {
  const t = row.doc.task;
  if (t.desiredStatus === 'STOPPED') return t;
  const now = epochSeconds(ctx.now());
  let next: TaskDoc = { ...t, desiredStatus: 'STOPPED', stopCode, stoppedReason: reason, stoppingAt: now };
  if (t.lastStatus === 'PROVISIONING') {
    // No agent has acted on it yet: nothing runs, so it is stopped now.
    next = {
      ...next,
      lastStatus: 'STOPPED',
      stoppedAt: now,
      executionStoppedAt: now,
      containers: t.containers.map((c) => ({ ...c, lastStatus: 'STOPPED' })),
    };
  }
  await writeTask(tx, row, next);
  return { ...next, version: t.version + 1 };
}

export async function stopTask(ctx: DomainContext, input: { cluster?: string; task: string; reason?: string }) {
  if (input.reason !== undefined && input.reason.length > 255) throw new InvalidParameterException('reason must be at most 255 characters.');
  const task = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const row = await loadTask(ctx, tx, cluster, input.task);
    if (!row) throw new InvalidParameterException(`The referenced task was not found: ${input.task}.`);
    return stopTaskInTx(ctx, tx, row, 'UserInitiated', input.reason ?? 'Task stopped by user');
  });
  const { tags: _tags, ...rest } = task;
  return { task: rest };
}

export interface ContainerStateChange {
  containerName?: string;
  imageDigest?: string;
  runtimeId?: string;
  exitCode?: number;
  networkBindings?: NetworkBinding[];
  reason?: string;
  status?: string;
}

function applyContainerChange(c: TaskContainerDoc, ch: ContainerStateChange): TaskContainerDoc {
  const order = ['PENDING', 'RUNNING', 'STOPPED'];
  const forward = ch.status === undefined || order.indexOf(ch.status) >= order.indexOf(c.lastStatus);
  if (!forward) return c;
  return {
    ...c,
    ...(ch.status !== undefined ? { lastStatus: ch.status } : {}),
    ...(ch.runtimeId !== undefined ? { runtimeId: ch.runtimeId } : {}),
    ...(ch.exitCode !== undefined ? { exitCode: ch.exitCode } : {}),
    ...(ch.reason !== undefined ? { reason: ch.reason } : {}),
    ...(ch.networkBindings !== undefined ? { networkBindings: ch.networkBindings } : {}),
    ...(ch.imageDigest !== undefined ? { imageDigest: ch.imageDigest } : {}),
  };
}

/** What agents report when an essential container of a running task exits. */
const ESSENTIAL_EXITED = 'Essential container in task exited';

/**
 * The stop code of a task its agent stopped on its own: an essential
 * container exited, or (any other reason the agent gives) the task could not
 * start.
 */
function stopCodeFor(reason: string | undefined): string {
  return reason === undefined || reason.startsWith(ESSENTIAL_EXITED) ? 'EssentialContainerExited' : 'TaskFailedToStart';
}

/** Reported by agents: observed task state. Idempotent; reports that go backwards are ignored. */
export async function submitTaskStateChange(
  ctx: DomainContext,
  input: {
    cluster?: string;
    task: string;
    status?: string;
    reason?: string;
    containers?: ContainerStateChange[];
    pullStartedAt?: number;
    pullStoppedAt?: number;
    executionStoppedAt?: number;
  },
) {
  if (input.status !== undefined && stateIndex(input.status) < 0) {
    throw new InvalidParameterException(`status must be one of ${TASK_STATES.join(', ')}.`);
  }
  await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const row = await loadTask(ctx, tx, cluster, input.task);
    if (!row) throw new InvalidParameterException(`The referenced task was not found: ${input.task}.`);
    const t = row.doc.task;
    if (t.lastStatus === 'STOPPED') return;
    const now = epochSeconds(ctx.now());
    const byName = new Map((input.containers ?? []).map((c) => [c.containerName, c]));
    let next: TaskDoc = { ...t, containers: t.containers.map((c) => (byName.has(c.name) ? applyContainerChange(c, byName.get(c.name)!) : c)) };
    if (input.pullStartedAt !== undefined && next.pullStartedAt === undefined) next.pullStartedAt = input.pullStartedAt;
    if (input.pullStoppedAt !== undefined && next.pullStoppedAt === undefined) next.pullStoppedAt = input.pullStoppedAt;
    if (input.status !== undefined && stateIndex(input.status) > stateIndex(t.lastStatus)) {
      next.lastStatus = input.status as TaskState;
      if (input.status === 'RUNNING' && next.startedAt === undefined) {
        next.startedAt = now;
        next.connectivity = 'CONNECTED';
        next.connectivityAt = now;
      }
      if (stateIndex(input.status) >= stateIndex('DEACTIVATING') && next.stoppingAt === undefined) next.stoppingAt = now;
      if (stateIndex(input.status) >= stateIndex('DEACTIVATING') && next.desiredStatus === 'RUNNING') {
        next.desiredStatus = 'STOPPED';
        next.stopCode = stopCodeFor(input.reason);
        next.stoppedReason = input.reason ?? ESSENTIAL_EXITED;
      }
      if (input.status === 'STOPPED') {
        next.stoppedAt = now;
        next.executionStoppedAt = input.executionStoppedAt ?? now;
        next.desiredStatus = 'STOPPED';
      }
    }
    await writeTask(tx, row, next);
  });
  return { acknowledgment: 'ACK' };
}

export async function submitContainerStateChange(
  ctx: DomainContext,
  input: { cluster?: string; task?: string } & ContainerStateChange,
) {
  if (!input.task || !input.containerName) throw new InvalidParameterException('task and containerName are required.');
  await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const row = await loadTask(ctx, tx, cluster, input.task!);
    if (!row) throw new InvalidParameterException(`The referenced task was not found: ${input.task}.`);
    const t = row.doc.task;
    if (!t.containers.some((c) => c.name === input.containerName)) {
      throw new InvalidParameterException(`Task ${t.taskArn} has no container named ${input.containerName}.`);
    }
    const containers = t.containers.map((c) => (c.name === input.containerName ? applyContainerChange(c, input) : c));
    await writeTask(tx, row, { ...t, containers });
  });
  return { acknowledgment: 'ACK' };
}

/** Container health reported by an agent over its channel (ECS has no API member for it). */
export async function recordTaskHealth(
  ctx: DomainContext,
  taskArn: string,
  containers: { name: string; healthStatus: TaskContainerDoc['healthStatus'] }[],
): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<StoredTask>('task', taskArn);
    if (!row || row.doc.task.lastStatus === 'STOPPED') return;
    const t = row.doc.task;
    const byName = new Map(containers.map((c) => [c.name, c.healthStatus]));
    const updated = t.containers.map((c) => (byName.has(c.name) ? { ...c, healthStatus: byName.get(c.name)! } : c));
    const td = await taskDefinitionOf(ctx, tx, row.doc);
    const essential = new Set(td.containerDefinitions.filter((c) => c.essential !== false && c.healthCheck).map((c) => c.name));
    const statuses = updated.filter((c) => essential.has(c.name)).map((c) => c.healthStatus);
    const health: TaskDoc['healthStatus'] =
      statuses.length === 0 ? 'UNKNOWN' : statuses.includes('UNHEALTHY') ? 'UNHEALTHY' : statuses.every((s) => s === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
    if (health === t.healthStatus && updated.every((c, i) => c.healthStatus === t.containers[i]?.healthStatus)) return;
    await writeTask(tx, row, { ...t, containers: updated, healthStatus: health });
  });
}

/** Tasks the server wants on an instance: every task not yet STOPPED, with the definition it runs. */
export async function tasksForInstance(ctx: DomainContext, clusterArn: string, instanceArn: string): Promise<TaskWithDefinition[]> {
  const rows = await ctx.store.find<StoredTask>('task', { cluster: clusterArn, name: instanceArn, state: [...ACTIVE_TASK_STATES] });
  const out: TaskWithDefinition[] = [];
  for (const r of rows) out.push({ stored: r.doc, taskDefinition: await taskDefinitionOf(ctx, ctx.store, r.doc) });
  return out;
}

/**
 * Stops the tasks of a container instance that is going away (forced
 * deregistration): they are marked STOPPED at once, since no agent will
 * report them.
 */
export async function stopTasksOnInstance(ctx: DomainContext, tx: Transaction, instanceArn: string, clusterArn: string): Promise<void> {
  const rows = await tx.find<StoredTask>('task', { cluster: clusterArn, name: instanceArn, state: [...ACTIVE_TASK_STATES] });
  const now = epochSeconds(ctx.now());
  for (const row of rows) {
    const t = row.doc.task;
    await writeTask(tx, row, {
      ...t,
      desiredStatus: 'STOPPED',
      lastStatus: 'STOPPED',
      stopCode: t.stopCode ?? 'TerminationNotice',
      stoppedReason: t.stoppedReason ?? 'Container instance deregistration forced by user',
      stoppingAt: t.stoppingAt ?? now,
      stoppedAt: now,
      executionStoppedAt: now,
      containers: t.containers.map((c) => ({ ...c, lastStatus: 'STOPPED' })),
    });
  }
}

/**
 * Deletes the task definition revisions marked DELETE_IN_PROGRESS before
 * `before` (epoch ms) that no task short of STOPPED runs; as in ECS, a
 * revision being deleted stays while tasks run it (they name it, see
 * `StoredTask`). No new task can start from such a revision. Returns how many
 * were deleted.
 */
export async function purgeDeletedTaskDefinitions(ctx: DomainContext, before: number): Promise<number> {
  const due = (await ctx.store.find<StoredTaskDefinition>('taskDefinition', { status: 'DELETE_IN_PROGRESS' })).filter(
    (r) => (r.doc.taskDefinition.deleteRequestedAt ?? 0) * 1000 < before,
  );
  if (due.length === 0) return 0;
  const running = await ctx.store.find<StoredTask>('task', { state: [...ACTIVE_TASK_STATES] });
  const inUse = new Set(running.map((r) => r.doc.task.taskDefinitionArn));
  const unused = due.filter((r) => !inUse.has(r.arn));
  await ctx.store.transaction(async (tx) => {
    for (const r of unused) await tx.remove('taskDefinition', r.arn, r.version);
  });
  return unused.length;
}

export { newId as newTaskId };

/**
 * The task writer: the only code that creates tasks, changes their desired
 * and observed fields, and keeps container instance accounting (remaining
 * resources, task counters) in step with them, always in the same
 * transaction. `model.ts` lists which function writes which field.
 *
 * Every function here runs inside the caller's transaction and only writes;
 * callers (the ECS operations, the dispatcher, and the controllers) decide
 * when. Placement goes through `placeTasks`, the one path from a placement
 * request to committed tasks: a plan made on the cluster state read model,
 * re-checked against the chosen instances as the transaction reads them.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { InvalidParameterException } from '../../core/errors.js';
import {
  ESSENTIAL_EXITED_REASON,
  REPORT_STOP_CODE_MEMBER,
  taskStateIndex,
  type HealthStatus,
  type StopCode,
  type TaskState,
} from '../../protocol/agent.js';
import { hashString } from '../../scheduler/random.js';
import type { PlacementConstraint, PlacementFailure, PlacementRequest, PlacementStrategy } from '../../scheduler/types.js';
import type { ClusterStateSnapshot } from '../../state/clusterState.js';
import type { Row, Transaction } from '../../store/store.js';
import { arnPrefix, newId, taskArn as makeTaskArn } from '../arns.js';
import type { ClusterDoc } from '../clusters.js';
import { epochSeconds, type DomainContext } from '../context.js';
import type { ContainerInstanceDoc, NetworkBinding, Reservation, StoredTask, TaskContainerDoc, TaskDoc, TaskProtection } from '../model.js';
import type { Tag } from '../tags.js';
import type { ServiceLoadBalancer } from '../loadBalancers.js';
import { taskResourceNeeds } from '../taskdef/resources.js';
import { effectiveNetworkMode, type TaskDefinitionDoc } from '../taskdef/types.js';
import { reservePlacements } from './placement.js';

const stateIndex = taskStateIndex;

/** A task row's named index values (see `INDEXES.task`). */
export function taskKeys(task: TaskDoc): { instance: string; service: string; startedBy: string } {
  return {
    instance: task.containerInstanceArn ?? '',
    service: task.group.startsWith('service:') ? task.group.slice('service:'.length) : '',
    startedBy: task.startedBy ?? '',
  };
}

// ---------------------------------------------------------------------------
// Instance accounting


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
// Creating tasks

export interface Overrides {
  cpu?: string;
  memory?: string;
  containerOverrides?: { name?: string; cpu?: number; memory?: number; memoryReservation?: number; command?: string[]; environment?: unknown[] }[];
  [k: string]: unknown;
}

/** The task definition with container-level cpu/memory overrides applied, for resource accounting. */
export function effectiveDefinition(td: TaskDefinitionDoc, overrides: Overrides): TaskDefinitionDoc {
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
  const arch = instance.doc.attributes.find((a) => a.name === 'ecs.cpu-architecture')?.value;
  const { containerOverrides = [], ...overrides } = input.overrides ?? {};
  // As ECS: one container override per container, `{name}` alone for a container not overridden.
  const byName = new Map(containerOverrides.map((o) => [o.name, o]));
  const needs = taskResourceNeeds(td);
  return {
    taskArn: arn,
    clusterArn: cluster.arn,
    taskDefinitionArn: td.taskDefinitionArn,
    containerInstanceArn: instance.arn,
    ...(az ? { availabilityZone: az } : {}),
    overrides: {
      inferenceAcceleratorOverrides: [],
      ...overrides,
      containerOverrides: td.containerDefinitions.map((c) => ({ ...byName.get(c.name), name: c.name ?? '' })),
    },
    lastStatus: 'PROVISIONING',
    desiredStatus: 'RUNNING',
    healthStatus: 'UNKNOWN',
    // ECS reports the task size always: the definition's, else what its containers add up to.
    cpu: td.cpu ?? String(needs.cpu),
    memory: td.memory ?? String(needs.memory),
    containers: td.containerDefinitions.map((c) => ({
      containerArn: `${arnPrefix(ctx)}:container/${cluster.doc.clusterName}/${id}/${randomUUID()}`,
      taskArn: arn,
      name: c.name ?? '',
      image: c.image ?? '',
      lastStatus: 'PENDING',
      networkBindings: [],
      networkInterfaces: [],
      healthStatus: 'UNKNOWN',
      gpuIds: [],
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
    attributes: arch !== undefined ? [{ name: 'ecs.cpu-architecture', value: arch }] : [],
    inferenceAccelerators: [],
    enableExecuteCommand: input.enableExecuteCommand ?? false,
  };
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
      name: '',
      keys: taskKeys(t.task),
      status: t.task.desiredStatus,
      state: t.task.lastStatus,
      seq: Math.round(t.task.createdAt * 1000),
      doc: t,
    })),
  );
  return { instances: updated, tasks: inserted };
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

/**
 * Records that a task has been sent to its instance's agent (the dispatcher
 * calls it, in the transaction that reads the set it is about to push): from
 * then on the agent may be creating the task's containers, so a stop waits
 * for the agent's STOPPED report before the task's resources are released.
 * Returns the row as written.
 */
export async function markSentToAgent(tx: Transaction, row: Row<StoredTask>): Promise<Row<StoredTask>> {
  if (row.doc.sentToAgent === true) return row;
  const task: TaskDoc = { ...row.doc.task, version: row.doc.task.version + 1 };
  return tx.update<StoredTask>('task', { ...row, doc: { ...row.doc, task, sentToAgent: true } });
}

/**
 * Marks a task to stop. A task no agent was ever sent (`sentToAgent`) stops
 * at once and returns its resources; any other waits for its agent to report
 * it STOPPED. With `drain` (a RUNNING service task registered with target
 * groups), the task first goes DEACTIVATING and is held running
 * (`drainHold`) until `releaseDrainedTask`: its targets drain before its
 * agent is told to stop it.
 */
export async function stopTaskInTx(
  ctx: DomainContext,
  tx: Transaction,
  row: Row<StoredTask>,
  stopCode: StopCode,
  reason: string,
  opts: { drain?: boolean } = {},
): Promise<TaskDoc> {
  const t = row.doc.task;
  if (t.desiredStatus === 'STOPPED') return t;
  const now = epochSeconds(ctx.now());
  let next: TaskDoc = { ...t, desiredStatus: 'STOPPED', stopCode, stoppedReason: reason, stoppingAt: now };
  if (opts.drain === true && t.lastStatus === 'RUNNING') {
    next = { ...next, lastStatus: 'DEACTIVATING' };
    await writeTask(tx, { ...row, doc: { ...row.doc, drainHold: true } }, next);
    return { ...next, version: t.version + 1 };
  }
  if (t.lastStatus === 'PROVISIONING' && row.doc.sentToAgent !== true) {
    // No agent has been sent it: nothing can run, so it is stopped now.
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

/**
 * Ends the hold `stopTaskInTx` put on a draining task once its targets have
 * drained: from now on its agent is told to stop it.
 */
export async function releaseDrainedTask(tx: Transaction, row: Row<StoredTask>): Promise<void> {
  if (row.doc.drainHold !== true) return;
  const { drainHold: _held, ...rest } = row.doc;
  await writeTask(tx, { ...row, doc: rest }, row.doc.task);
}

/** What the task's agent is told to want of it: RUNNING while its targets drain, else its desired status. */
export function agentDesiredStatus(stored: StoredTask): 'RUNNING' | 'STOPPED' {
  return stored.drainHold === true ? 'RUNNING' : stored.task.desiredStatus;
}

/**
 * Sets a task's scale-in protection (UpdateTaskProtection): the protection
 * alone changes; the task's document and version stay as they are, since
 * ECS's Task has no member for it. Returns the row as written.
 */
export function setTaskProtection(tx: Transaction, row: Row<StoredTask>, protection: TaskProtection): Promise<Row<StoredTask>> {
  return tx.update<StoredTask>('task', { ...row, doc: { ...row.doc, protection } });
}

/** Replaces a task's tags (TagResource, UntagResource). */
export async function setTaskTags(tx: Transaction, row: Row<StoredTask>, tags: Tag[]): Promise<void> {
  await writeTask(tx, row, { ...row.doc.task, tags });
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

/**
 * The stop code of a task its agent stopped on its own: the code the agent
 * sent (`REPORT_STOP_CODE_MEMBER`), or, from an agent that sends none, what
 * the containers say: an essential container that exited with a code means
 * EssentialContainerExited, anything else means the task failed to start.
 */
function stopCodeOf(report: AgentTaskReport, task: TaskDoc, td: TaskDefinitionDoc): StopCode {
  if (report.stopCode !== undefined) return report.stopCode;
  const essential = new Set(td.containerDefinitions.filter((c) => c.essential !== false).map((c) => c.name));
  const exited = task.containers.some((c) => essential.has(c.name) && c.exitCode !== undefined);
  return exited ? 'EssentialContainerExited' : 'TaskFailedToStart';
}

const STOP_CODES: ReadonlySet<string> = new Set<StopCode>([
  'TaskFailedToStart',
  'EssentialContainerExited',
  'UserInitiated',
  'ServiceSchedulerInitiated',
  'SpotInterruption',
  'TerminationNotice',
  'InfrastructureHealth',
]);

/** What an agent reports of a task (SubmitTaskStateChange, with Berth's stop code member read out). */
export interface AgentTaskReport {
  status?: string;
  reason?: string;
  stopCode?: StopCode;
  containers?: ContainerStateChange[];
  pullStartedAt?: number;
  pullStoppedAt?: number;
  executionStoppedAt?: number;
}

/** Reads Berth's stop code member of a SubmitTaskStateChange body; an unknown value counts as absent. */
export function reportedStopCode(input: Record<string, unknown>): StopCode | undefined {
  const v = input[REPORT_STOP_CODE_MEMBER];
  return typeof v === 'string' && STOP_CODES.has(v) ? (v as StopCode) : undefined;
}

/**
 * Applies an agent's task report: observed fields only, and forward only
 * (a report that goes backwards, or about a STOPPED task, changes nothing),
 * so retried reports are harmless. When the agent reports that it stopped a
 * task the control plane still wants running, the stop is the agent's
 * decision and its code and reason are recorded.
 */
export async function applyAgentReport(ctx: DomainContext, tx: Transaction, row: Row<StoredTask>, td: TaskDefinitionDoc, report: AgentTaskReport): Promise<void> {
  const t = row.doc.task;
  if (t.lastStatus === 'STOPPED') return;
  const now = epochSeconds(ctx.now());
  const byName = new Map((report.containers ?? []).map((c) => [c.containerName, c]));
  let next: TaskDoc = { ...t, containers: t.containers.map((c) => (byName.has(c.name) ? applyContainerChange(c, byName.get(c.name)!) : c)) };
  if (report.pullStartedAt !== undefined && next.pullStartedAt === undefined) next.pullStartedAt = report.pullStartedAt;
  if (report.pullStoppedAt !== undefined && next.pullStoppedAt === undefined) next.pullStoppedAt = report.pullStoppedAt;
  if (report.status !== undefined && stateIndex(report.status) > stateIndex(t.lastStatus)) {
    next.lastStatus = report.status as TaskState;
    if (report.status === 'RUNNING' && next.startedAt === undefined) {
      next.startedAt = now;
      next.connectivity = 'CONNECTED';
      next.connectivityAt = now;
    }
    if (stateIndex(report.status) >= stateIndex('DEACTIVATING') && next.stoppingAt === undefined) next.stoppingAt = now;
    if (stateIndex(report.status) >= stateIndex('DEACTIVATING') && next.desiredStatus === 'RUNNING') {
      next = { ...next, desiredStatus: 'STOPPED', stopCode: stopCodeOf(report, next, td), stoppedReason: report.reason ?? ESSENTIAL_EXITED_REASON };
    }
    if (report.status === 'STOPPED') {
      next.stoppedAt = now;
      next.executionStoppedAt = report.executionStoppedAt ?? now;
      next.desiredStatus = 'STOPPED';
    }
  }
  await writeTask(tx, row, next);
}

/** Applies an agent's report about one container (SubmitContainerStateChange). */
export async function applyContainerReport(tx: Transaction, row: Row<StoredTask>, change: ContainerStateChange): Promise<void> {
  const t = row.doc.task;
  const containers = t.containers.map((c) => (c.name === change.containerName ? applyContainerChange(c, change) : c));
  await writeTask(tx, row, { ...t, containers });
}

/**
 * Records container health an agent reports over its channel (ECS has no API
 * member for it) and the task's health derived from its essential containers
 * that have health checks.
 */
export async function recordHealth(
  tx: Transaction,
  row: Row<StoredTask>,
  td: TaskDefinitionDoc,
  containers: readonly { name: string; healthStatus: HealthStatus }[],
): Promise<void> {
  {
    if (row.doc.task.lastStatus === 'STOPPED') return;
    const t = row.doc.task;
    const byName = new Map(containers.map((c) => [c.name, c.healthStatus]));
    const updated = t.containers.map((c) => (byName.has(c.name) ? { ...c, healthStatus: byName.get(c.name)! } : c));
    const essential = new Set(td.containerDefinitions.filter((c) => c.essential !== false && c.healthCheck).map((c) => c.name));
    const statuses = updated.filter((c) => essential.has(c.name)).map((c) => c.healthStatus);
    const health: TaskDoc['healthStatus'] =
      statuses.length === 0 ? 'UNKNOWN' : statuses.includes('UNHEALTHY') ? 'UNHEALTHY' : statuses.every((s) => s === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
    if (health === t.healthStatus && updated.every((c, i) => c.healthStatus === t.containers[i]?.healthStatus)) return;
    await writeTask(tx, row, { ...t, containers: updated, healthStatus: health });
  }
}

// ---------------------------------------------------------------------------
// Placing new tasks

/** What to start: the tasks of one placement request. */
export interface TaskSpec {
  /** The definition with the run's overrides applied (`effectiveDefinition`). */
  readonly taskDefinition: TaskDefinitionDoc;
  readonly overrides: Overrides;
  readonly count: number;
  readonly group: string;
  readonly launchType: 'EC2' | 'EXTERNAL';
  readonly startedBy?: string;
  readonly tags: Tag[];
  readonly enableExecuteCommand?: boolean;
  readonly placementConstraints?: PlacementConstraint[];
  readonly placementStrategy?: PlacementStrategy[];
  /** Service tasks: the target groups the tasks are to be registered with. */
  readonly loadBalancers?: readonly ServiceLoadBalancer[];
}

/** The cluster as placement saw it before the transaction (`ClusterState.snapshot`), and how to refresh it inside. */
export interface PlacementView {
  readonly snapshot: ClusterStateSnapshot['snapshot'];
  readonly refresh?: () => ClusterStateSnapshot['snapshot'] | undefined;
}

export interface PlacedTasks {
  readonly tasks: TaskDoc[];
  /** One per instance that could not take the next task, when some were not placed (ECS `failures`). */
  readonly failures: PlacementFailure[];
  /** Why tasks were not placed, in a sentence (for service events and logs). */
  readonly unplacedReason?: string;
  readonly unplaced: number;
  /** The rows written, for `ClusterState.noteCommitted` once the transaction has committed. */
  readonly written: { instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] };
}

/**
 * Places `spec.count` tasks of `spec` in `cluster` and writes them: the plan
 * is made on `view` and re-checked against the chosen instances as `tx`
 * reads them (`reservePlacements`); only placements that still fit are
 * written, each task with its reservation taken from its instance.
 */
export async function placeTasks(ctx: DomainContext, tx: Transaction, cluster: Row<ClusterDoc>, spec: TaskSpec, view: PlacementView): Promise<PlacedTasks> {
  const { request, reservation } = placementRequest(spec.taskDefinition, {
    group: spec.group,
    count: spec.count,
    ...(spec.placementConstraints ? { placementConstraints: spec.placementConstraints } : {}),
    ...(spec.placementStrategy ? { placementStrategy: spec.placementStrategy } : {}),
    launchType: spec.launchType,
  });
  const placed = await reservePlacements(tx, {
    clusterArn: cluster.arn,
    snapshot: view.snapshot,
    ...(view.refresh ? { refresh: view.refresh } : {}),
    request,
    seed: placementSeed(cluster.arn, request),
  });
  const tasks: TaskDoc[] = [];
  for (const p of placed.placements) {
    const instance = placed.rows.get(p.instanceArn);
    if (!instance) continue;
    tasks.push(
      newTaskDoc(
        ctx,
        cluster,
        spec.taskDefinition,
        {
          overrides: spec.overrides,
          ...(spec.startedBy !== undefined ? { startedBy: spec.startedBy } : {}),
          group: spec.group,
          tags: spec.tags,
          launchType: spec.launchType,
          ...(spec.enableExecuteCommand !== undefined ? { enableExecuteCommand: spec.enableExecuteCommand } : {}),
        },
        instance,
      ),
    );
  }
  const lbs = spec.loadBalancers !== undefined ? { loadBalancers: [...spec.loadBalancers] } : {};
  const written = await commitTasks(tx, placed.rows, tasks.map((task) => ({ task, reservation, ...lbs })));
  return {
    tasks,
    failures: placed.unplaced > 0 ? [...placed.failures] : [],
    ...(placed.unplaced > 0 ? { unplacedReason: placed.diagnosis.message } : {}),
    unplaced: placed.unplaced,
    written,
  };
}

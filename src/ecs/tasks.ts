/**
 * The ECS task operations: RunTask, StartTask, StopTask, DescribeTasks,
 * ListTasks, and the agent's SubmitTaskStateChange and
 * SubmitContainerStateChange. They validate, resolve references and read;
 * every write goes through the task writer (`writers/tasks.ts`).
 */
import { ClientException, InvalidParameterException, UnsupportedFeatureException } from '../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { ACTIVE_TASK_STATES, ECS_TASKS_SERVICE, PENDING_TASK_STATES, TASK_STATES, taskRolesOf, taskStateIndex, type HealthStatus, type StopCode } from '../protocol/agent.js';
import { RoleNotAssumableError, serviceMayAssume, unassumableRoleMessage } from '../iam/sts.js';
import { buildSnapshot } from '../scheduler/snapshot.js';
import type { PlacementConstraint, PlacementStrategy } from '../scheduler/types.js';
import { instanceSnapshotOf, PLACEABLE_STATUSES } from '../state/instanceView.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { newId, parseArn, shortId, taskArn as makeTaskArn } from './arns.js';
import { requireCluster, type ClusterDoc } from './clusters.js';
import { instanceRefToArn } from './containerInstances.js';
import type { DomainContext } from './context.js';
import type { ContainerInstanceDoc, StoredTask, TaskDoc, TaskWithDefinition } from './model.js';
import { validateTags, type Tag } from './tags.js';
import { requireTaskDefinition, taskDefinitionByArn, type StoredTaskDefinition } from './taskDefinitions.js';
import { effectiveNetworkMode, type TaskDefinitionDoc } from './taskdef/types.js';
import {
  applyAgentReport,
  applyContainerReport,
  effectiveDefinition,
  markSentToAgent,
  placeTasks,
  recordHealth,
  reportedStopCode,
  stopTaskInTx,
  type ContainerStateChange,
  type Overrides,
  type TaskSpec,
} from './writers/tasks.js';

export type { NetworkBinding, Reservation, StoredTask, TaskContainerDoc, TaskDoc, TaskWithDefinition } from './model.js';
export { TASK_STATES, type TaskState } from '../protocol/agent.js';
export { placementRequest, type ContainerStateChange } from './writers/tasks.js';

const stateIndex = taskStateIndex;

/** The task definition a stored task runs. `reader` is the store or a transaction that has not written task definitions. */
export async function taskDefinitionOf(ctx: DomainContext, reader: StoreReader, stored: StoredTask): Promise<TaskDefinitionDoc> {
  if (stored.taskDefinition !== undefined) return stored.taskDefinition;
  const arn = stored.task.taskDefinitionArn;
  const td = await taskDefinitionByArn(ctx, reader, arn);
  if (td === undefined) throw new Error(`task ${stored.task.taskArn} runs task definition ${arn}, which is not stored`);
  return td;
}

function checkLaunch(td: TaskDefinitionDoc, launchType: string | undefined): 'EC2' | 'EXTERNAL' {
  const lt = launchType ?? 'EC2';
  if (lt === 'FARGATE') {
    throw new InvalidParameterException('Launch type FARGATE is not supported.', { hint: 'Berth runs tasks on container instances: use launchType EC2 (or EXTERNAL).' });
  }
  if (lt !== 'EC2' && lt !== 'EXTERNAL') throw new InvalidParameterException(`launchType ${lt} is not supported; use EC2.`);
  if (td.status !== 'ACTIVE') {
    throw new ClientException('TaskDefinition is inactive', { hint: `${td.taskDefinitionArn} was deregistered; run an ACTIVE revision.` });
  }
  if (!(td.compatibilities as string[]).includes(lt)) {
    throw new ClientException(`Task definition does not support launch_type ${lt}.`, { hint: `${td.family}:${td.revision} is compatible with ${td.compatibilities.join(', ')}.` });
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
  enableECSManagedTags?: boolean;
}

interface RunTaskOutput {
  tasks: TaskDoc[];
  failures: { arn?: string; reason: string; detail?: string }[];
}

/**
 * What RunTask and StartTask accept for `propagateTags`: a task outside a
 * service can take its definition's tags, never a service's.
 */
function checkPropagateTags(v: string | undefined): void {
  if (v === undefined || v === 'NONE' || v === 'TASK_DEFINITION') return;
  if (v === 'SERVICE') {
    throw new InvalidParameterException('The SERVICE value for propagateTags is only supported for tasks that belong to a service. Use TASK_DEFINITION or NONE.');
  }
  throw new InvalidParameterException(`Invalid propagateTags value '${v}'; expected TASK_DEFINITION or NONE.`);
}

/**
 * The tags a task started by RunTask or StartTask carries: the request's, then
 * its definition's when `propagateTags` is TASK_DEFINITION, then ECS's managed
 * `aws:ecs:clusterName` when `enableECSManagedTags` is set (as ECS does).
 */
async function standaloneTaskTags(
  reader: StoreReader,
  td: TaskDefinitionDoc,
  cluster: Row<ClusterDoc>,
  input: { propagateTags?: string; enableECSManagedTags?: boolean },
  tags: Tag[],
): Promise<Tag[]> {
  const out = [...tags];
  if (input.propagateTags === 'TASK_DEFINITION') {
    const row = await reader.get<StoredTaskDefinition>('taskDefinition', td.taskDefinitionArn);
    for (const t of row?.doc.tags ?? []) if (!out.some((x) => x.key === t.key)) out.push(t);
  }
  if (input.enableECSManagedTags === true) out.push({ key: 'aws:ecs:clusterName', value: cluster.doc.clusterName });
  return out;
}

function specOf(td: TaskDefinitionDoc, input: { overrides?: Overrides; startedBy?: string; group?: string; enableExecuteCommand?: boolean }, launchType: 'EC2' | 'EXTERNAL', count: number, tags: Tag[]): TaskSpec {
  const overrides = input.overrides ?? {};
  const effective = effectiveDefinition(td, overrides);
  return {
    taskDefinition: effective,
    overrides,
    count,
    group: input.group ?? `family:${effective.family}`,
    launchType,
    ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}),
    tags,
    ...(input.enableExecuteCommand !== undefined ? { enableExecuteCommand: input.enableExecuteCommand } : {}),
  };
}

/** ECS's ClientException when the task's task role or execution role cannot be assumed by ECS for the task. */
export async function checkTaskRoles(ctx: DomainContext, reader: StoreReader, td: TaskDefinitionDoc, overrides: Overrides | undefined): Promise<void> {
  const roles = taskRolesOf(td as unknown as Record<string, unknown>, (overrides ?? {}) as Record<string, unknown>);
  for (const arn of [roles.taskRoleArn, roles.executionRoleArn]) {
    if (!arn) continue;
    try {
      await serviceMayAssume(ctx, arn, ECS_TASKS_SERVICE, reader);
    } catch (err) {
      if (err instanceof RoleNotAssumableError) throw new ClientException(unassumableRoleMessage(arn), { hint: err.message });
      throw err;
    }
  }
}

export async function runTask(ctx: DomainContext, input: RunTaskInput): Promise<RunTaskOutput> {
  const count = input.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10) {
    throw new InvalidParameterException('count must be between 1 and 10.', { hint: `got ${count}; call RunTask again for more tasks.` });
  }
  if (input.capacityProviderStrategy !== undefined && input.capacityProviderStrategy.length > 0) {
    if (input.launchType !== undefined) {
      throw new InvalidParameterException('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.');
    }
    throw new InvalidParameterException('Capacity provider strategies are not supported yet.', {
      hint: 'Berth has no capacity providers yet: leave capacityProviderStrategy out (the task runs with launch type EC2).',
    });
  }
  const tags = validateTags(input.tags);
  checkPropagateTags(input.propagateTags);
  if (input.clientToken !== undefined && (input.clientToken.length < 1 || input.clientToken.length > 64)) {
    throw new InvalidParameterException('clientToken must be 1 to 64 characters long.');
  }
  // The snapshot is taken outside the transaction (a read model may read the store to catch up);
  // inside it, placement uses the freshest state known and re-checks the chosen instances' rows.
  const state = ctx.state.clusters;
  const clusterArn = (await requireCluster(ctx, ctx.store, input.cluster)).arn;
  const { snapshot } = await state.snapshot(clusterArn);
  let handOver: { instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] } | undefined;
  const out = await withRetry(ctx.store, async (tx) => {
    handOver = undefined;
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const idemKey = input.clientToken !== undefined ? `RunTask:${cluster.arn}:${input.clientToken}` : undefined;
    if (idemKey) {
      const previous = await tx.getIdempotent<{ request: string; tasks: string[]; failures: RunTaskOutput['failures'] }>(idemKey);
      if (previous) {
        if (previous.request !== JSON.stringify({ ...input, clientToken: undefined })) {
          throw new InvalidParameterException('Arguments on this idempotent request are inconsistent with arguments used in previous request(s).', { hint: 'Use a new clientToken.' });
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
    await checkTaskRoles(ctx, tx, registered, input.overrides);
    const current = state.current(cluster.arn)?.snapshot ?? snapshot;
    if (current.instances.length === 0) {
      throw new InvalidParameterException('No Container Instances were found in your cluster.', { hint: `Start \`berth agent --cluster ${cluster.doc.clusterName}\` on a Docker host.` });
    }
    const spec: TaskSpec = {
      ...specOf(registered, input, launchType, count, await standaloneTaskTags(tx, registered, cluster, input, tags)),
      ...(input.placementConstraints ? { placementConstraints: input.placementConstraints } : {}),
      ...(input.placementStrategy ? { placementStrategy: input.placementStrategy } : {}),
    };
    const placed = await placeTasks(ctx, tx, cluster, spec, { snapshot: current, refresh: () => state.current(cluster.arn)?.snapshot });
    const failures: RunTaskOutput['failures'] = placed.failures.map((f) => ({ arn: f.arn, reason: f.reason }));
    if (placed.unplaced > 0 && failures.length === 0) failures.push({ arn: cluster.arn, reason: placed.unplacedReason ?? 'RESOURCE' });
    if (idemKey) await tx.putIdempotent(idemKey, { request: JSON.stringify({ ...input, clientToken: undefined }), tasks: placed.tasks.map((t) => t.taskArn), failures });
    handOver = placed.written;
    return { tasks: placed.tasks, failures };
  });
  // Only rows of the attempt that committed; saves the read model re-reading them.
  if (handOver) state.noteCommitted(handOver);
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
  propagateTags?: string;
  enableECSManagedTags?: boolean;
}

export async function startTask(ctx: DomainContext, input: StartTaskInput): Promise<RunTaskOutput> {
  if (input.containerInstances.length < 1 || input.containerInstances.length > 10) {
    throw new InvalidParameterException('containerInstances must name 1 to 10 container instances.');
  }
  const tags = validateTags(input.tags);
  checkPropagateTags(input.propagateTags);
  let handOver: { instances: Row<ContainerInstanceDoc>[]; tasks: Row<StoredTask>[] }[] = [];
  const out = await withRetry(ctx.store, async (tx) => {
    handOver = [];
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const registered = await requireTaskDefinition(ctx, tx, input.taskDefinition);
    const launchType = checkLaunch(registered, 'EC2');
    await checkTaskRoles(ctx, tx, registered, input.overrides);
    const spec = specOf(registered, input, launchType, 1, await standaloneTaskTags(tx, registered, cluster, input, tags));
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
      // StartTask names the instance: only it is read (again for each task, so an instance named
      // twice sees the first task), and only feasibility is checked, no strategy.
      const row = await tx.get<ContainerInstanceDoc>('containerInstance', arn);
      if (!row || row.cluster !== cluster.arn || !PLACEABLE_STATUSES.includes(row.doc.status)) {
        failures.push({ arn, reason: 'MISSING' });
        continue;
      }
      const groups = new Map<string, number>();
      const onInstance = await tx.find<StoredTask>('task', { cluster: cluster.arn, where: { instance: arn }, state: [...ACTIVE_TASK_STATES] });
      for (const t of onInstance) groups.set(t.doc.task.group, (groups.get(t.doc.task.group) ?? 0) + 1);
      const snapshot = buildSnapshot([instanceSnapshotOf(row, { groups, count: onInstance.length })]);
      const placed = await placeTasks(ctx, tx, cluster, spec, { snapshot });
      if (placed.tasks.length === 0) {
        failures.push({ arn, reason: placed.failures[0]?.reason ?? 'RESOURCE' });
        continue;
      }
      tasks.push(...placed.tasks);
      handOver.push(placed.written);
    }
    return { tasks, failures };
  });
  for (const h of handOver) ctx.state.clusters.noteCommitted(h);
  return out;
}

// ---------------------------------------------------------------------------
// Reading tasks

export function taskRefToArn(ctx: DomainContext, cluster: Row<ClusterDoc>, ref: string): string {
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.resourceType !== 'task') throw new InvalidParameterException(`Invalid task ARN '${ref}'.`);
    return ref;
  }
  return makeTaskArn(ctx, cluster.doc.clusterName, shortId(ref));
}

export async function loadTask(ctx: DomainContext, reader: StoreReader, cluster: Row<ClusterDoc>, ref: string): Promise<Row<StoredTask> | undefined> {
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
  if (input.tasks.length === 0) throw new InvalidParameterException('Tasks cannot be empty.');
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
    // ECS always sends `tags`; they are filled in when asked for with `include: ['TAGS']`.
    const { tags, ...rest } = row.doc.task;
    tasks.push({ ...rest, tags: withTags ? tags : [] });
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
    if (desired === 'PENDING' ? !(PENDING_TASK_STATES as readonly string[]).includes(t.lastStatus) || t.desiredStatus !== 'RUNNING' : t.desiredStatus !== desired) return false;
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
      where: {
        ...(instanceArn !== undefined ? { instance: instanceArn } : {}),
        ...(input.serviceName !== undefined ? { service: input.serviceName } : {}),
        ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}),
      },
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

export async function stopTask(ctx: DomainContext, input: { cluster?: string; task: string; reason?: string }) {
  if (input.reason !== undefined && input.reason.length > 255) throw new InvalidParameterException('reason must be at most 255 characters.');
  const task = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const row = await loadTask(ctx, tx, cluster, input.task);
    if (!row) throw new InvalidParameterException('The referenced task was not found.', { hint: `no task ${input.task} in cluster ${cluster.doc.clusterName}` });
    // A service task registered with target groups drains first, as when the service scheduler stops it.
    const drain = (row.doc.loadBalancers ?? []).length > 0;
    return stopTaskInTx(ctx, tx, row, 'UserInitiated', input.reason ?? 'Task stopped by user', { drain });
  });
  return { task: { ...task, tags: [] } };
}

/** Stops a task for a failure the control plane found (a role that cannot be assumed), with ECS's stop code and reason. */
export async function stopTaskForFailure(ctx: DomainContext, taskArn: string, stopCode: StopCode, reason: string): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<StoredTask>('task', taskArn);
    if (row) await stopTaskInTx(ctx, tx, row, stopCode, reason);
  });
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
  const stopCode = reportedStopCode(input as Record<string, unknown>);
  await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const row = await loadTask(ctx, tx, cluster, input.task);
    if (!row) throw new InvalidParameterException(`The referenced task was not found: ${input.task}.`);
    const td = await taskDefinitionOf(ctx, tx, row.doc);
    await applyAgentReport(ctx, tx, row, td, {
      ...(input.status !== undefined ? { status: input.status } : {}),
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(stopCode !== undefined ? { stopCode } : {}),
      ...(input.containers !== undefined ? { containers: input.containers } : {}),
      ...(input.pullStartedAt !== undefined ? { pullStartedAt: input.pullStartedAt } : {}),
      ...(input.pullStoppedAt !== undefined ? { pullStoppedAt: input.pullStoppedAt } : {}),
      ...(input.executionStoppedAt !== undefined ? { executionStoppedAt: input.executionStoppedAt } : {}),
    });
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
    if (!row.doc.task.containers.some((c) => c.name === input.containerName)) {
      throw new InvalidParameterException(`Task ${row.doc.task.taskArn} has no container named ${input.containerName}.`);
    }
    await applyContainerReport(tx, row, input);
  });
  return { acknowledgment: 'ACK' };
}

/** Container health reported by an agent over its channel (ECS has no API member for it). */
export async function recordTaskHealth(ctx: DomainContext, taskArn: string, containers: { name: string; healthStatus: HealthStatus }[]): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<StoredTask>('task', taskArn);
    if (!row) return;
    await recordHealth(tx, row, await taskDefinitionOf(ctx, tx, row.doc), containers);
  });
}

/** Tasks the server wants on an instance: every task not yet STOPPED, with the definition it runs. */
export async function tasksForInstance(ctx: DomainContext, clusterArn: string, instanceArn: string): Promise<TaskWithDefinition[]> {
  const rows = await ctx.store.find<StoredTask>('task', { cluster: clusterArn, where: { instance: instanceArn }, state: [...ACTIVE_TASK_STATES] });
  const out: TaskWithDefinition[] = [];
  for (const r of rows) out.push({ stored: r.doc, taskDefinition: await taskDefinitionOf(ctx, ctx.store, r.doc) });
  return out;
}

const unsent = (r: Row<StoredTask>): boolean => r.doc.task.lastStatus === 'PROVISIONING' && r.doc.sentToAgent !== true;

/**
 * The set to push to an instance's agent (`tasksForInstance`), with every
 * task in it recorded as sent (`markSentToAgent`) in the transaction that
 * read it: a StopTask that commits after this sees the mark and waits for the
 * agent; one that commits before it is in the set read here.
 */
export async function tasksToSend(ctx: DomainContext, clusterArn: string, instanceArn: string): Promise<TaskWithDefinition[]> {
  const where = { cluster: clusterArn, where: { instance: instanceArn }, state: [...ACTIVE_TASK_STATES] };
  // Every task was sent before, or its agent has reported it: nothing to record.
  const read = await ctx.store.find<StoredTask>('task', where);
  if (!read.some(unsent)) {
    const out: TaskWithDefinition[] = [];
    for (const r of read) out.push({ stored: r.doc, taskDefinition: await taskDefinitionOf(ctx, ctx.store, r.doc) });
    return out;
  }
  return withRetry(ctx.store, async (tx) => {
    const out: TaskWithDefinition[] = [];
    for (let r of await tx.find<StoredTask>('task', where)) {
      if (unsent(r)) r = await markSentToAgent(tx, r);
      out.push({ stored: r.doc, taskDefinition: await taskDefinitionOf(ctx, tx, r.doc) });
    }
    return out;
  });
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


/**
 * The task reconciler: pure, level-triggered.
 *
 * One pass of the engine over a task is
 *   observe(record, runtime observations) → record
 *   reconcile(record, now)                → { record, effects, wakeAt }
 *   run effects (executor)                → outcomes
 *   applyOutcome(record, effect, outcome) → record
 * and repeats while there is something to do. Only the executor touches the
 * runtime; everything here is a function of its arguments, so a pass after
 * a crash or restart simply continues from what it observes.
 *
 * Contracts:
 * - The task status only moves forward through TASK_STATUSES, one step per
 *   pass, so every step is committed (and seen by the engine's listeners).
 * - Effects returned together are independent of each other and may run
 *   concurrently.
 * - A container is started only when its dependencies (dependsOn, links,
 *   volumesFrom) are met; containers stop in reverse dependsOn order.
 */
import { ESSENTIAL_EXITED_REASON, type StopCode } from '../../protocol/agent.js';
import type { ContainerState, TaskGroupResult } from '../runtime/runtime.js';
import {
  phaseIndex,
  statusIndex,
  stopWanted,
  type ContainerRecord,
  type HealthStatus,
  type NetworkBinding,
  type TaskRecord,
} from './model.js';
import { dependenciesOf, networkModeOf, startTimeoutSeconds, stopTimeoutSeconds, type Dependency } from './spec.js';

export type Effect =
  | { kind: 'pull'; container: string }
  | { kind: 'createVolume'; volume: string }
  | { kind: 'checkVolume'; volume: string }
  | { kind: 'createTaskGroup' }
  | { kind: 'removeTaskGroup' }
  | { kind: 'create'; container: string }
  | { kind: 'start'; container: string }
  | { kind: 'stop'; container: string; timeoutSeconds: number }
  | { kind: 'remove'; container: string }
  | { kind: 'removeVolume'; volume: string };

/**
 * What running an effect came to. `code` is the runtime error's ECS error
 * name. `state`: the container as the engine showed it right after a start
 * or stop (for `observe`; `gone` when it no longer exists).
 */
export type Outcome =
  | { ok: true; runtimeId?: string; imageId?: string; state?: ContainerState | 'gone'; taskGroup?: TaskGroupResult }
  | { ok: false; transient: boolean; code: string; message: string };

export interface Plan {
  record: TaskRecord;
  effects: Effect[];
  /** When to run another pass even if nothing happens (timeouts, cleanup, retries). */
  wakeAt?: number;
}

export interface ReconcileOptions {
  now: number;
  /** How long a stopped task's containers are kept before removal. */
  cleanupWaitMs: number;
}

/** Delay before retrying after the runtime was unreachable or refused transiently. */
export const RETRY_DELAY_MS = 2_000;

/** ECS `reason` strings are at most 255 characters. */
const MAX_REASON = 255;

export { ESSENTIAL_EXITED_REASON };
export const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';

function truncate(s: string): string {
  return s.length <= MAX_REASON ? s : `${s.slice(0, MAX_REASON - 3)}...`;
}

function containerNamed(r: TaskRecord, name: string): ContainerRecord | undefined {
  return r.containers.find((c) => c.name === name);
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

// ---------------------------------------------------------------------------
// Observation

function healthOf(state: ContainerState): HealthStatus {
  return state.health === 'healthy' ? 'HEALTHY' : state.health === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN';
}

function bindingsOf(state: ContainerState): NetworkBinding[] {
  return state.portBindings.map((b) => ({
    bindIP: b.hostIp || '0.0.0.0',
    containerPort: b.containerPort,
    hostPort: b.hostPort,
    protocol: b.protocol,
  }));
}

/**
 * Folds what the runtime reports about the task's containers into the
 * record. `observations` maps container names to their engine state, or
 * `gone` when the engine has no such container any more; containers absent
 * from the map are left as they are. Phases never move backwards.
 */
export function observe(r0: TaskRecord, observations: ReadonlyMap<string, ContainerState | 'gone'>, now: number): TaskRecord {
  const r = structuredClone(r0);
  const bridge = networkModeOf(r.task) === 'bridge';
  for (const c of r.containers) {
    const o = observations.get(c.name);
    if (o === undefined) continue;
    if (o === 'gone') {
      c.removed = true;
      if (c.phase === 'CREATED' || c.phase === 'RUNNING') {
        c.phase = 'STOPPED';
        c.reason ??= `Container ${c.dockerName} was removed from the host`;
        c.finishedAt ??= now;
      }
      continue;
    }
    c.runtimeId ??= o.id;
    c.imageId ??= o.imageId;
    if (o.running) {
      if (c.phase === 'STOPPED') continue;
      c.phase = 'RUNNING';
      c.startedAt = o.startedAt?.getTime() ?? c.startedAt ?? now;
      c.health = c.hasHealthCheck ? healthOf(o) : 'UNKNOWN';
      if (bridge) c.networkBindings = bindingsOf(o);
      c.ipv4Addresses = o.networks.map((n) => n.ipv4Address).filter((a) => a !== '');
    } else if (o.exitCode !== null && (o.startedAt !== null || c.phase === 'RUNNING')) {
      if (c.phase === 'STOPPED') {
        c.exitCode ??= o.exitCode;
        continue;
      }
      c.phase = 'STOPPED';
      c.exitCode = o.exitCode;
      c.startedAt ??= o.startedAt?.getTime() ?? now;
      c.finishedAt = o.finishedAt?.getTime() ?? now;
      if (o.oomKilled) c.reason ??= OOM_REASON;
    } else if (o.status === 'created' && phaseIndex(c.phase) < phaseIndex('CREATED')) {
      c.phase = 'CREATED';
      c.createdAt ??= now;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------
// Dependencies

type Verdict = { kind: 'ready' } | { kind: 'wait'; until?: number } | { kind: 'fail'; reason: string };

function hasStarted(c: ContainerRecord): boolean {
  return c.phase === 'RUNNING' || (c.phase === 'STOPPED' && c.startedAt !== undefined);
}

function dependencyVerdict(r: TaskRecord, target: ContainerRecord, dep: Dependency, now: number): Verdict {
  const d = containerNamed(r, dep.container);
  const fail = (why: string): Verdict => ({
    kind: 'fail',
    reason: truncate(`DependencyError: dependency of container '${target.name}' on '${dep.container}' (${dep.condition}) cannot be met: ${why}`),
  });
  if (!d) return fail('no such container in the task');
  if (d.phase === 'STOPPED' && d.startedAt === undefined) return fail(`'${d.name}' never started${d.reason ? ` (${d.reason})` : ''}`);

  switch (dep.condition) {
    case 'START':
      return hasStarted(d) ? { kind: 'ready' } : { kind: 'wait' };
    case 'COMPLETE':
      if (d.phase === 'STOPPED') return { kind: 'ready' };
      break;
    case 'SUCCESS':
      if (d.phase === 'STOPPED') return d.exitCode === 0 ? { kind: 'ready' } : fail(`'${d.name}' exited with code ${d.exitCode ?? 'unknown'}`);
      break;
    case 'HEALTHY':
      if (!d.hasHealthCheck) return fail(`'${d.name}' has no health check`);
      if (d.phase === 'STOPPED') return fail(`'${d.name}' stopped before it became healthy`);
      if (d.phase === 'RUNNING' && d.health === 'HEALTHY') return { kind: 'ready' };
      break;
  }
  // Not there yet: the dependency's startTimeout bounds the wait, counted from its start.
  const timeout = startTimeoutSeconds(r.task, d.name);
  if (timeout !== undefined && d.startedAt !== undefined) {
    const deadline = d.startedAt + timeout * 1000;
    if (now >= deadline) return fail(`'${d.name}' did not reach ${dep.condition} within its startTimeout of ${timeout}s`);
    return { kind: 'wait', until: deadline };
  }
  return { kind: 'wait' };
}

/** Whether `target` may be created/started now, and until when to wait otherwise. */
function verdictFor(r: TaskRecord, target: ContainerRecord, now: number): Verdict {
  let until: number | undefined;
  let waiting = false;
  for (const dep of dependenciesOf(r.task, target.name)) {
    const v = dependencyVerdict(r, target, dep, now);
    if (v.kind === 'fail') return v;
    if (v.kind === 'wait') {
      waiting = true;
      until = earliest(until, v.until);
    }
  }
  return waiting ? { kind: 'wait', ...(until !== undefined ? { until } : {}) } : { kind: 'ready' };
}

// ---------------------------------------------------------------------------
// Reconciliation

/** The agent's own reason to stop the task, if any: a start failure or an essential container that stopped. */
function agentStopReason(r: TaskRecord): { stopCode: StopCode; reason: string } | undefined {
  if (r.startFailure) return { stopCode: 'TaskFailedToStart', reason: truncate(r.startFailure) };
  const failed = r.containers.find((c) => c.essential && c.phase === 'STOPPED');
  if (!failed) return undefined;
  if (failed.startedAt === undefined) {
    return { stopCode: 'TaskFailedToStart', reason: truncate(failed.reason ?? `Essential container '${failed.name}' could not start`) };
  }
  return { stopCode: 'EssentialContainerExited', reason: ESSENTIAL_EXITED_REASON };
}

/** Containers (by name) that declare a dependsOn on `name` and still run: they must stop first. */
function runningDependents(r: TaskRecord, name: string): ContainerRecord[] {
  return r.containers.filter(
    (c) => c.phase === 'RUNNING' && dependenciesOf(r.task, c.name).some((d) => !d.implicit && d.container === name),
  );
}

function planCleanup(r: TaskRecord, now: number): Plan {
  if (r.cleanupAt !== undefined && now < r.cleanupAt) return { record: r, effects: [], wakeAt: r.cleanupAt };
  const containers = r.containers.filter((c) => c.runtimeId !== undefined && !c.removed);
  if (containers.length) return { record: r, effects: containers.map((c) => ({ kind: 'remove', container: c.name })) };
  const volumes = r.volumes.filter((v) => v.scope === 'task' && v.created && !v.removed);
  if (volumes.length) return { record: r, effects: volumes.map((v) => ({ kind: 'removeVolume', volume: v.name })) };
  r.cleaned = true;
  return { record: r, effects: [] };
}

function planStop(r: TaskRecord, opts: ReconcileOptions): Plan {
  const { now } = opts;
  // Containers that never ran have nothing to stop.
  for (const c of r.containers) {
    if (phaseIndex(c.phase) < phaseIndex('RUNNING')) c.phase = 'STOPPED';
  }
  if (statusIndex(r.status) < statusIndex('DEACTIVATING')) {
    r.status = 'DEACTIVATING';
    return { record: r, effects: [] };
  }
  if (r.status === 'DEACTIVATING') r.status = 'STOPPING';
  if (r.status === 'STOPPING') {
    const running = r.containers.filter((c) => c.phase === 'RUNNING');
    if (running.length === 0) {
      r.status = 'DEPROVISIONING';
      r.executionStoppedAt = now;
      return { record: r, effects: [] };
    }
    const effects: Effect[] = running
      .filter((c) => runningDependents(r, c.name).length === 0)
      .map((c) => ({ kind: 'stop', container: c.name, timeoutSeconds: stopTimeoutSeconds(r.task, c.name) }));
    return { record: r, effects };
  }
  if (r.status === 'DEPROVISIONING') {
    if (r.taskGroup?.state === 'created') return { record: r, effects: [{ kind: 'removeTaskGroup' }] };
    r.status = 'STOPPED';
    r.stoppedAt = now;
    r.cleanupAt = now + opts.cleanupWaitMs;
    return { record: r, effects: [], wakeAt: r.cleanupAt };
  }
  return { record: r, effects: [] };
}

function planStart(r: TaskRecord, verdicts: Map<string, Verdict>, now: number): Plan {
  const pending = r.containers.filter((c) => c.phase === 'PENDING');
  if (pending.length) {
    r.pullStartedAt ??= now;
    return { record: r, effects: pending.map((c) => ({ kind: 'pull', container: c.name })) };
  }
  if (r.pullStartedAt !== undefined) r.pullStoppedAt ??= now;
  // Images are there: the task is ACTIVATING, and its start begins in the same pass.
  const wasActivating = r.status === 'ACTIVATING';
  if (r.status === 'PENDING') r.status = 'ACTIVATING';
  const prepare: Effect[] = r.volumes
    .filter((v) => v.kind === 'docker' && !v.created)
    .map((v) => ({ kind: v.provision ? 'createVolume' : 'checkVolume', volume: v.name }));
  if (r.taskGroup?.state === 'pending') prepare.push({ kind: 'createTaskGroup' });
  if (prepare.length) return { record: r, effects: prepare };

  const effects: Effect[] = [];
  let wakeAt: number | undefined;
  for (const c of r.containers) {
    if (c.phase !== 'PULLED' && c.phase !== 'CREATED') continue;
    const v = verdicts.get(c.name) ?? { kind: 'wait' };
    if (v.kind === 'ready') effects.push({ kind: c.phase === 'PULLED' ? 'create' : 'start', container: c.name });
    else if (v.kind === 'wait') wakeAt = earliest(wakeAt, v.until);
  }
  if (wasActivating && r.containers.every(hasStarted)) {
    r.status = 'RUNNING';
    r.startedAt = now;
  }
  return { record: r, effects, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/**
 * Decides the next step for a task from its record alone. The returned
 * record carries the decisions (status steps, stop decision, containers
 * given up on); the effects are what the runtime must do next.
 */
export function reconcile(r0: TaskRecord, opts: ReconcileOptions): Plan {
  const r = structuredClone(r0);
  const { now } = opts;
  if (r.cleaned) return { record: r, effects: [] };
  if (r.retryAt !== undefined) {
    if (now < r.retryAt) return { record: r, effects: [], wakeAt: r.retryAt };
    delete r.retryAt;
  }
  if (r.status === 'STOPPED') return planCleanup(r, now);

  const verdicts = new Map<string, Verdict>();
  if (!stopWanted(r)) {
    // Containers whose dependencies can never be met are given up on.
    for (const c of r.containers) {
      if (c.phase !== 'PULLED' && c.phase !== 'CREATED') continue;
      const v = verdictFor(r, c, now);
      verdicts.set(c.name, v);
      if (v.kind === 'fail') {
        c.phase = 'STOPPED';
        c.reason = v.reason;
      }
    }
    const own = agentStopReason(r);
    if (own) r.stop = { by: 'agent', ...own, at: now };
  }
  if (stopWanted(r)) {
    r.stop ??= {
      by: 'server',
      ...(r.task.stopCode !== undefined ? { stopCode: r.task.stopCode } : {}),
      ...(r.task.stoppedReason !== undefined ? { reason: r.task.stoppedReason } : {}),
      at: now,
    };
    return planStop(r, opts);
  }
  return planStart(r, verdicts, now);
}

// ---------------------------------------------------------------------------
// Outcomes

/** Folds the outcome of one effect into the record. */
export function applyOutcome(r0: TaskRecord, effect: Effect, outcome: Outcome, now: number): TaskRecord {
  const r = structuredClone(r0);
  if (!outcome.ok && outcome.transient) {
    r.retryAt = Math.max(r.retryAt ?? 0, now + RETRY_DELAY_MS);
    return r;
  }
  const reason = outcome.ok ? undefined : truncate(`${outcome.code}: ${outcome.message}`);
  const failToStart = (why: string): void => {
    r.stop ??= { by: 'agent', stopCode: 'TaskFailedToStart', reason: truncate(`ResourceInitializationError: ${why}`), at: now };
  };
  switch (effect.kind) {
    case 'createVolume':
    case 'checkVolume':
    case 'removeVolume': {
      const v = r.volumes.find((x) => x.name === effect.volume);
      if (!v) return r;
      if (effect.kind === 'removeVolume') v.removed = true;
      else if (outcome.ok) v.created = true;
      else if (effect.kind === 'checkVolume') failToStart(outcome.message);
      else failToStart(`failed to create volume '${v.name}': ${outcome.message}`);
      return r;
    }
    case 'createTaskGroup': {
      const g = r.taskGroup;
      if (!g) return r;
      if (!outcome.ok) failToStart(`failed to create the task cgroup: ${outcome.message}`);
      else if (outcome.taskGroup && 'cgroupParent' in outcome.taskGroup) {
        g.state = 'created';
        g.cgroupParent = outcome.taskGroup.cgroupParent;
      } else {
        g.state = 'unsupported';
        if (outcome.taskGroup) g.reason = outcome.taskGroup.unsupported;
      }
      return r;
    }
    case 'removeTaskGroup':
      // A group that cannot be removed (a process still in it) is left to the host; the task is stopped either way.
      if (r.taskGroup) r.taskGroup.state = 'removed';
      return r;
    default:
      break;
  }
  const c = containerNamed(r, effect.container);
  if (!c) return r;
  switch (effect.kind) {
    case 'pull':
      if (outcome.ok) {
        if (c.phase === 'PENDING') c.phase = 'PULLED';
        if (outcome.imageId) c.imageId = outcome.imageId;
      } else if (c.phase === 'PENDING') {
        c.phase = 'STOPPED';
        c.reason = reason;
      }
      break;
    case 'create':
      if (outcome.ok) {
        if (outcome.runtimeId) c.runtimeId = outcome.runtimeId;
        if (phaseIndex(c.phase) < phaseIndex('CREATED')) c.phase = 'CREATED';
        c.createdAt ??= now;
      } else if (phaseIndex(c.phase) < phaseIndex('RUNNING')) {
        c.phase = 'STOPPED';
        c.reason = reason;
      }
      break;
    case 'start':
      if (outcome.ok) {
        if (phaseIndex(c.phase) < phaseIndex('RUNNING')) c.phase = 'RUNNING';
        c.startedAt ??= now;
      } else if (phaseIndex(c.phase) < phaseIndex('RUNNING')) {
        c.phase = 'STOPPED';
        c.reason = reason;
      }
      break;
    case 'stop':
      // The next observation shows the container's exit; a vanished container is `gone` there.
      break;
    case 'remove':
      c.removed = true;
      break;
  }
  return r;
}

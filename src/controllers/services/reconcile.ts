/**
 * The service reconciler: from one service's desired state and the actual
 * state of its tasks, what to start and what to stop now, and what the
 * deployments' counts and rollout states are. Pure (Nomad's
 * `reconciler.Compute`): no store, no clock, no Docker; the controller reads
 * a snapshot, calls `reconcile`, and applies the plan through the task
 * writer, which re-checks placement at commit.
 *
 * Invariants (property-tested in reconcile.test.ts), for a REPLICA service:
 * - never plans to stop a healthy task if that would leave fewer healthy
 *   tasks than ⌈desired × minimumHealthyPercent / 100⌉ (tasks that are not
 *   healthy may always be stopped: stopping them loses no capacity);
 * - never plans to start a task if that would make running plus pending
 *   more than ⌊desired × maximumPercent / 100⌋ (and at least desired, so a
 *   service can always reach its count);
 * - applied repeatedly, with started tasks becoming healthy, it converges:
 *   desired tasks of the newest deployment, nothing else, and no plan.
 *
 * Scale-in protection (`ServiceTask.protected`) holds against scale-in and
 * deployments alike, as on ECS: a protected task is never planned to stop
 * for `scale-in` or `deployment`; a rolling deployment then waits, and the
 * plan counts the tasks it holds (`heldByProtection`) so the service can say so.
 *
 * With task sets (the EXTERNAL deployment controller, `ReconcileInput.taskSets`)
 * there is no rolling deployment: each task set is kept at its computed desired
 * count, ⌈desired × scale / 100⌉ (0 once DRAINING), independently of the others;
 * moving traffic between them is the external controller's business.
 *
 * "Healthy" is the deployment notion of ECS: RUNNING, and HEALTHY when the
 * task has container health checks. A task whose health is UNHEALTHY after
 * `healthCheckGracePeriodSeconds` from its start is replaced. Health can come
 * from more sources later (load balancer targets): `ServiceTask.healthy` is
 * the caller's verdict and the reconciler only consumes it.
 */

import { computedDesiredCount } from '../../ecs/model.js';

export interface ServiceTask {
  readonly arn: string;
  /** The deployment that started it (its `startedBy`). */
  readonly deploymentId: string;
  readonly instanceArn: string;
  /** The instance is DRAINING (or gone): the task is replaced elsewhere. */
  readonly onDrainingInstance: boolean;
  readonly availabilityZone?: string;
  /** RUNNING (as opposed to PROVISIONING..ACTIVATING). */
  readonly running: boolean;
  /** Counts as healthy for deployments (see above). */
  readonly healthy: boolean;
  /** Reported UNHEALTHY and past its grace period: replace it. */
  readonly failedHealthChecks: boolean;
  /** Scale-in protection is on and not expired. */
  readonly protected: boolean;
  /** Epoch ms the task was created (older tasks go first on scale-in ties). */
  readonly createdAt: number;
}

export interface ServiceDeployment {
  readonly id: string;
  readonly status: 'PRIMARY' | 'ACTIVE';
  readonly rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  /** Tasks of this deployment that failed to start or failed health checks, cumulative. */
  readonly failedTasks: number;
}

/** A task set of a service with the EXTERNAL deployment controller. */
export interface ServiceTaskSet {
  readonly id: string;
  readonly status: 'PRIMARY' | 'ACTIVE' | 'DRAINING';
  /** `scale.value`, a percentage of the service's desired count (0 to 100). */
  readonly scalePercent: number;
}

export interface ReconcileInput {
  readonly schedulingStrategy: 'REPLICA' | 'DAEMON';
  /** 0 for a service being deleted. */
  readonly desiredCount: number;
  readonly minimumHealthyPercent: number;
  readonly maximumPercent: number;
  readonly circuitBreaker: { readonly enable: boolean; readonly rollback: boolean };
  /** Newest first; exactly one PRIMARY (unless `taskSets` is given, when it is ignored). */
  readonly deployments: readonly ServiceDeployment[];
  /** EXTERNAL deployment controller: the service's task sets, which replace deployments. */
  readonly taskSets?: readonly ServiceTaskSet[];
  /** Tasks of the service that are not STOPPED and still wanted RUNNING. */
  readonly tasks: readonly ServiceTask[];
  /** Whether new tasks may be launched now (false while launches are throttled). */
  readonly launchAllowed: boolean;
  /** DAEMON: the ACTIVE instances the service's tasks belong on. */
  readonly daemonInstances?: readonly string[];
}

export type StopReason = 'scale-in' | 'deployment' | 'draining' | 'unhealthy' | 'daemon';

export interface DeploymentVerdict {
  readonly id: string;
  readonly runningCount: number;
  readonly pendingCount: number;
  /** The deployment has no tasks left and is not PRIMARY: drop it from the list. */
  readonly drained: boolean;
}

export interface TaskSetVerdict {
  readonly id: string;
  /** ⌈desired × scale / 100⌉, 0 once DRAINING. */
  readonly computedDesiredCount: number;
  /** Tasks of the task set to start now; placed by the placement engine. */
  readonly start: number;
  readonly runningCount: number;
  readonly pendingCount: number;
  /** DRAINING with no tasks left: drop it from the service. */
  readonly drained: boolean;
  /**
   * ECS's STEADY_STATE: running = computed desired count, nothing pending, no task on a
   * draining instance, every task healthy, and nothing to start or stop.
   */
  readonly steady: boolean;
}

export interface ServicePlan {
  /** Tasks of the PRIMARY deployment to start (REPLICA); placed by the placement engine. */
  readonly start: number;
  /** EXTERNAL: one verdict per task set, in input order, with the tasks to start for it. */
  readonly taskSets: readonly TaskSetVerdict[];
  /** Tasks kept running only because of their scale-in protection (a scale-in or a deployment waits for them). */
  readonly heldByProtection: number;
  /** DAEMON: instances that get one task of the PRIMARY deployment each. */
  readonly startOn: readonly string[];
  readonly stop: readonly { readonly arn: string; readonly reason: StopReason }[];
  readonly deployments: readonly DeploymentVerdict[];
  readonly runningCount: number;
  readonly pendingCount: number;
  /** The PRIMARY deployment just reached its goal. */
  readonly completed: boolean;
  /** The circuit breaker just tripped on the PRIMARY deployment. */
  readonly failed: boolean;
  /** Nothing to do and every count is where it should be. */
  readonly steady: boolean;
}

/** ECS's circuit-breaker threshold: half the desired count, at least 3, at most 200. */
export function failureThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

/** ⌈desired × minimumHealthyPercent / 100⌉ */
export function minimumHealthy(desired: number, minimumHealthyPercent: number): number {
  return Math.ceil((desired * minimumHealthyPercent) / 100 - 1e-9);
}

/** ⌊desired × maximumPercent / 100⌋, never below desired. */
export function maximumTotal(desired: number, maximumPercent: number): number {
  return Math.max(desired, Math.floor((desired * maximumPercent) / 100 + 1e-9));
}

/**
 * The order in which excess tasks go: not yet running first, then the
 * availability zone and instance holding the most of the service's tasks
 * (so what remains stays spread, counting every task of `all`), then the
 * oldest.
 */
function scaleInOrder(tasks: readonly ServiceTask[], all: readonly ServiceTask[]): ServiceTask[] {
  const byZone = new Map<string, number>();
  const byInstance = new Map<string, number>();
  for (const t of all) {
    byZone.set(t.availabilityZone ?? '', (byZone.get(t.availabilityZone ?? '') ?? 0) + 1);
    byInstance.set(t.instanceArn, (byInstance.get(t.instanceArn) ?? 0) + 1);
  }
  const out: ServiceTask[] = [];
  const left = [...tasks];
  while (left.length > 0) {
    left.sort(
      (a, b) =>
        Number(a.running) - Number(b.running) ||
        (byZone.get(b.availabilityZone ?? '') ?? 0) - (byZone.get(a.availabilityZone ?? '') ?? 0) ||
        (byInstance.get(b.instanceArn) ?? 0) - (byInstance.get(a.instanceArn) ?? 0) ||
        a.createdAt - b.createdAt ||
        (a.arn < b.arn ? -1 : 1),
    );
    const t = left.shift()!;
    out.push(t);
    byZone.set(t.availabilityZone ?? '', (byZone.get(t.availabilityZone ?? '') ?? 1) - 1);
    byInstance.set(t.instanceArn, (byInstance.get(t.instanceArn) ?? 1) - 1);
  }
  return out;
}

export { computedDesiredCount };

/** The stop list a reconcile builds, and the tasks already in it. */
function stopList() {
  const stop: { arn: string; reason: StopReason }[] = [];
  const stopping = new Set<string>();
  const drop = (t: ServiceTask, reason: StopReason) => {
    if (stopping.has(t.arn)) return;
    stopping.add(t.arn);
    stop.push({ arn: t.arn, reason });
  };
  return { stop, stopping, drop };
}

/** Tasks that are lost capacity already: failing health checks, or pending on a draining instance. */
function dropLostCapacity(tasks: readonly ServiceTask[], drop: (t: ServiceTask, reason: StopReason) => void): void {
  for (const t of tasks) {
    if (t.failedHealthChecks) drop(t, 'unhealthy');
    else if (t.onDrainingInstance && !t.running) drop(t, 'draining');
  }
}

export function reconcile(input: ReconcileInput): ServicePlan {
  if (input.taskSets !== undefined) return reconcileTaskSets(input, input.taskSets);
  const primary = input.deployments.find((d) => d.status === 'PRIMARY');
  if (primary === undefined) throw new Error('a service always has a PRIMARY deployment');
  const desired = Math.max(0, input.desiredCount);
  const { stop, stopping, drop } = stopList();
  let heldByProtection = 0;
  dropLostCapacity(input.tasks, drop);

  const failedThreshold = failureThreshold(desired);
  const tripped = input.circuitBreaker.enable && primary.rolloutState === 'IN_PROGRESS' && primary.failedTasks >= failedThreshold;
  const primaryLaunches = primary.rolloutState !== 'FAILED' && !tripped && input.launchAllowed;

  const remaining = input.tasks.filter((t) => !stopping.has(t.arn));
  let start = 0;
  let startOn: string[] = [];

  if (input.schedulingStrategy === 'DAEMON') {
    const wanted = new Set(input.daemonInstances ?? []);
    const covered = new Set<string>();
    for (const t of remaining) {
      if (!wanted.has(t.instanceArn) || t.onDrainingInstance) drop(t, 'daemon');
      else if (t.deploymentId !== primary.id) drop(t, 'deployment');
      else if (covered.has(t.instanceArn)) drop(t, 'daemon');
      else covered.add(t.instanceArn);
    }
    // A new revision replaces the old task on an instance once that one is gone (stopped above, started next round).
    const busy = new Set(input.tasks.filter((t) => t.deploymentId !== primary.id).map((t) => t.instanceArn));
    if (primaryLaunches) startOn = [...wanted].filter((i) => !covered.has(i) && !busy.has(i)).sort();
  } else {
    const maxTotal = maximumTotal(desired, input.maximumPercent);
    const minHealthy = minimumHealthy(desired, input.minimumHealthyPercent);
    const keep = (t: ServiceTask) => t.deploymentId === primary.id && !t.onDrainingInstance;
    const good = remaining.filter(keep);
    const others = remaining.filter((t) => !keep(t));

    // Start what the newest deployment lacks, within the maximum.
    if (primaryLaunches) start = Math.max(0, Math.min(desired - good.length, maxTotal - remaining.length));

    // Stop: old deployments' tasks and those on draining instances, then the newest deployment's excess.
    // A protected task of an old deployment stays until its protection ends (the deployment waits for it).
    let healthy = remaining.filter((t) => t.healthy).length;
    const excess = Math.max(0, good.length - desired);
    const unprotected = good.filter((t) => !t.protected);
    const replaceable = others.filter((t) => t.onDrainingInstance || !t.protected);
    heldByProtection = others.length - replaceable.length + Math.max(0, excess - unprotected.length);
    const victims: { t: ServiceTask; reason: StopReason }[] = [
      ...replaceable.map((t) => ({ t, reason: (t.onDrainingInstance ? 'draining' : 'deployment') as StopReason })),
      ...scaleInOrder(unprotected, good)
        .slice(0, excess)
        .map((t) => ({ t, reason: 'scale-in' as StopReason })),
    ];
    // Victims that are not healthy cost no capacity: they go first and always.
    victims.sort((a, b) => Number(a.t.healthy) - Number(b.t.healthy));
    for (const { t, reason } of victims) {
      if (t.healthy) {
        if (healthy - 1 < minHealthy) continue;
        // Replacing a healthy task of an old deployment (or a draining instance) waits until a
        // new task is on its way, unless there is more than enough healthy capacity already.
        healthy--;
      }
      drop(t, reason);
    }
  }

  const verdicts: DeploymentVerdict[] = input.deployments.map((d) => {
    const mine = input.tasks.filter((t) => t.deploymentId === d.id);
    return {
      id: d.id,
      runningCount: mine.filter((t) => t.running).length,
      pendingCount: mine.filter((t) => !t.running).length,
      drained: d.status !== 'PRIMARY' && mine.every((t) => stopping.has(t.arn)),
    };
  });
  const runningCount = input.tasks.filter((t) => t.running).length;
  const pendingCount = input.tasks.length - runningCount;
  const primaryTasks = input.tasks.filter((t) => t.deploymentId === primary.id && !stopping.has(t.arn));
  const target = input.schedulingStrategy === 'DAEMON' ? (input.daemonInstances ?? []).length : desired;
  const atGoal =
    primaryTasks.length === target &&
    primaryTasks.every((t) => t.healthy && !t.onDrainingInstance) &&
    input.tasks.every((t) => t.deploymentId === primary.id) &&
    stop.length === 0 &&
    start === 0 &&
    startOn.length === 0;
  const completed = atGoal && primary.rolloutState === 'IN_PROGRESS';
  const steady = atGoal && input.deployments.length === 1 && (primary.rolloutState === 'COMPLETED' || completed);
  return { start, startOn, taskSets: [], heldByProtection, stop, deployments: verdicts, runningCount, pendingCount, completed, failed: tripped, steady };
}

/**
 * Task sets: each kept at its computed desired count. Its missing tasks are
 * started; its excess goes in scale-in order, protected tasks never; its
 * running tasks on draining instances go once as many healthy tasks run
 * elsewhere; tasks of no task set go (unless protected).
 */
function reconcileTaskSets(input: ReconcileInput, taskSets: readonly ServiceTaskSet[]): ServicePlan {
  const desired = Math.max(0, input.desiredCount);
  const { stop, stopping, drop } = stopList();
  let heldByProtection = 0;
  dropLostCapacity(input.tasks, drop);
  const ids = new Set(taskSets.map((ts) => ts.id));
  for (const t of input.tasks) {
    if (ids.has(t.deploymentId) || stopping.has(t.arn)) continue;
    if (t.protected && !t.onDrainingInstance) heldByProtection++;
    else drop(t, t.onDrainingInstance ? 'draining' : 'deployment');
  }
  const plans = taskSets.map((ts) => {
    const target = ts.status === 'DRAINING' ? 0 : computedDesiredCount(desired, ts.scalePercent);
    const remaining = input.tasks.filter((t) => t.deploymentId === ts.id && !stopping.has(t.arn));
    const good = remaining.filter((t) => !t.onDrainingInstance);
    const start = input.launchAllowed ? Math.max(0, target - good.length) : 0;
    if (good.filter((t) => t.healthy).length >= target) {
      for (const t of remaining) if (t.onDrainingInstance) drop(t, 'draining');
    }
    const excess = Math.max(0, good.length - target);
    const unprotected = good.filter((t) => !t.protected);
    heldByProtection += Math.max(0, excess - unprotected.length);
    for (const t of scaleInOrder(unprotected, good).slice(0, excess)) drop(t, 'scale-in');
    return { ts, target, start };
  });
  const verdicts: TaskSetVerdict[] = plans.map(({ ts, target, start }) => {
    const mine = input.tasks.filter((t) => t.deploymentId === ts.id);
    const kept = mine.filter((t) => !stopping.has(t.arn));
    return {
      id: ts.id,
      computedDesiredCount: target,
      start,
      runningCount: mine.filter((t) => t.running).length,
      pendingCount: mine.filter((t) => !t.running).length,
      drained: ts.status === 'DRAINING' && kept.length === 0,
      steady: start === 0 && kept.length === mine.length && kept.length === target && kept.every((t) => t.healthy && !t.onDrainingInstance),
    };
  });
  const runningCount = input.tasks.filter((t) => t.running).length;
  const steady = verdicts.every((v) => v.steady) && input.tasks.every((t) => ids.has(t.deploymentId));
  return {
    start: 0,
    startOn: [],
    taskSets: verdicts,
    heldByProtection,
    stop,
    deployments: [],
    runningCount,
    pendingCount: input.tasks.length - runningCount,
    completed: false,
    failed: false,
    steady,
  };
}

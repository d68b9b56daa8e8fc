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
 * "Healthy" is the deployment notion of ECS: RUNNING, and HEALTHY when the
 * task has container health checks. A task whose health is UNHEALTHY after
 * `healthCheckGracePeriodSeconds` from its start is replaced. Health can come
 * from more sources later (load balancer targets): `ServiceTask.healthy` is
 * the caller's verdict and the reconciler only consumes it.
 */

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

export interface ReconcileInput {
  readonly schedulingStrategy: 'REPLICA' | 'DAEMON';
  /** 0 for a service being deleted. */
  readonly desiredCount: number;
  readonly minimumHealthyPercent: number;
  readonly maximumPercent: number;
  readonly circuitBreaker: { readonly enable: boolean; readonly rollback: boolean };
  /** Newest first; exactly one PRIMARY. */
  readonly deployments: readonly ServiceDeployment[];
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

export interface ServicePlan {
  /** Tasks of the PRIMARY deployment to start (REPLICA); placed by the placement engine. */
  readonly start: number;
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

export function reconcile(input: ReconcileInput): ServicePlan {
  const primary = input.deployments.find((d) => d.status === 'PRIMARY');
  if (primary === undefined) throw new Error('a service always has a PRIMARY deployment');
  const desired = Math.max(0, input.desiredCount);
  const stop: { arn: string; reason: StopReason }[] = [];
  const stopping = new Set<string>();
  const drop = (t: ServiceTask, reason: StopReason) => {
    if (stopping.has(t.arn)) return;
    stopping.add(t.arn);
    stop.push({ arn: t.arn, reason });
  };

  // Tasks that are lost capacity already: pending on a draining instance, or failing health checks.
  for (const t of input.tasks) {
    if (t.failedHealthChecks) drop(t, 'unhealthy');
    else if (t.onDrainingInstance && !t.running) drop(t, 'draining');
  }

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
    let healthy = remaining.filter((t) => t.healthy).length;
    const excess = Math.max(0, good.length - desired);
    const victims: { t: ServiceTask; reason: StopReason }[] = [
      ...others.map((t) => ({ t, reason: (t.onDrainingInstance ? 'draining' : 'deployment') as StopReason })),
      ...scaleInOrder(good.filter((t) => !t.protected), good)
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
  return { start, startOn, stop, deployments: verdicts, runningCount, pendingCount, completed, failed: tripped, steady };
}

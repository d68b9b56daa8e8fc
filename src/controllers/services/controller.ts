/**
 * The service controller: keeps every service's tasks at its desired state.
 *
 * Level-triggered (Kubernetes' replica-set controller, swarmkit's
 * orchestrator): a change to a service, to one of its tasks, or to a
 * container instance of its cluster enqueues the service; a periodic resync
 * catches anything missed. One sync reads the service and its tasks, asks
 * the pure reconciler (`reconcile.ts`) what to do, and applies the plan —
 * tasks placed through the task writer's `placeTasks` (the placement engine
 * with its commit-time re-check), tasks stopped through `stopTaskInTx`, the
 * service's observed fields and events written — all in ONE transaction.
 * A sync therefore acts on what it read and nothing else: killed at any
 * point, it has done all of its plan or none of it, and the next sync reads
 * the result, so no intent is acted on twice.
 */
import type { Logger } from '../../core/log.js';
import { epochSeconds, type DomainContext } from '../../ecs/context.js';
import { isTaskProtected, type ContainerInstanceDoc, type DeploymentDoc, type ServiceDoc, type StoredService, type StoredTask, type TaskDoc, type TaskSetDoc } from '../../ecs/model.js';
import type { ClusterDoc } from '../../ecs/clusters.js';
import { taskDefinitionByArn, type StoredTaskDefinition } from '../../ecs/taskDefinitions.js';
import type { TaskDefinitionDoc } from '../../ecs/taskdef/types.js';
import type { Tag } from '../../ecs/tags.js';
import { newDeployment, recordOf, updateRecord, withEvents, writeService } from '../../ecs/writers/services.js';
import { placeTasks, stopTaskInTx, type PlacedTasks, type TaskSpec } from '../../ecs/writers/tasks.js';
import { buildSnapshot, type ClusterSnapshot } from '../../scheduler/snapshot.js';
import type { PlacementConstraint, PlacementStrategy } from '../../scheduler/types.js';
import { memberLoadBalancers, taskLoadBalancers, taskTargets, targetVerdict } from '../../ecs/loadBalancers.js';
import { withRetry, type Change, type Row, type Transaction } from '../../store/store.js';
import { Controller } from '../runtime.js';
import { heldDeployments, type BlueGreenState } from '../../ecs/deployments/blueGreen.js';
import { reconcileHolding } from './blueGreenHold.js';
import { type ServiceTask, type StopReason, type TaskSetVerdict } from './reconcile.js';

export interface ServiceControllerOptions {
  readonly log?: Logger;
  /**
   * Every service is synced at least this often (ms; default 5 min). Only a
   * safety net: changes enqueue a service at once, and a sync that waits for
   * time (a grace period, a throttle, room to place) asks to be requeued.
   */
  readonly resyncEveryMs?: number;
  /** Syncs of different services at once (default 4). */
  readonly concurrency?: number;
}

/** Consecutive failed tasks after which launches are throttled, and the throttle's first and longest wait. */
const THROTTLE_AFTER = 3;
const THROTTLE_BASE_MS = 10_000;
const THROTTLE_MAX_MS = 15 * 60_000;
/** How often an unchanged "unable to place" event may be said again. */
const UNPLACED_EVENT_INTERVAL_S = 15 * 60;

const FAILED_STOP_CODES: ReadonlySet<string> = new Set(['TaskFailedToStart', 'EssentialContainerExited']);
const HEALTH_FAILED_REASON = 'Task failed container health checks';

/** Why a task did not fit, in ECS's event wording, by placement failure reason. */
const UNPLACED_WORDING: Readonly<Record<string, string>> = {
  'RESOURCE:CPU': 'has insufficient CPU units available',
  'RESOURCE:MEMORY': 'has insufficient memory available',
  'RESOURCE:GPU': 'has insufficient GPU available',
  'RESOURCE:PORTS': 'is already using a port required by your task',
  'RESOURCE:PORTS_UDP': 'is already using a port required by your task',
  ATTRIBUTE: 'is missing an attribute required by your task',
  AGENT: 'encountered error "AGENT"',
  'MemberOf placement constraint unsatisfied': 'does not satisfy a placement constraint of your task',
  'DistinctInstance placement constraint unsatisfied': 'already has a task of this service and your task requires distinct instances',
};

const shortId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
const TROUBLESHOOTING = 'For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.';

function taskList(arns: readonly string[]): string {
  return arns.map((a) => `(task ${shortId(a)})`).join(' ');
}

function failedTask(t: TaskDoc): boolean {
  return (
    t.lastStatus === 'STOPPED' &&
    ((t.stopCode !== undefined && FAILED_STOP_CODES.has(t.stopCode)) || t.stoppedReason === HEALTH_FAILED_REASON || (t.stoppedReason ?? '').startsWith(ELB_FAILED_PREFIX))
  );
}

const ELB_FAILED_PREFIX = 'Task failed ELB health checks in ';

/** ECS's stopped reason for a task replaced because its target failed the load balancer's health checks. */
function elbFailedReason(targetGroupArn: string): string {
  return `${ELB_FAILED_PREFIX}(target-group ${targetGroupArn})`;
}

/** A RUNNING task behind target groups is drained before its agent stops it. */
function drainsOnStop(row: Row<StoredTask>, serviceLoadBalancers: readonly unknown[]): boolean {
  return row.doc.task.lastStatus === 'RUNNING' && taskLoadBalancers(row.doc, serviceLoadBalancers).length > 0;
}

/** What the load balancer says of one service task, as deployments read it. */
interface ElbHealth {
  /** Every target of the task is healthy in its target group. */
  readonly healthy: boolean;
  /** Past the grace period, a target failed its health checks: where. */
  readonly failedIn?: { readonly targetGroupArn: string; readonly where: string };
  /** A target is unhealthy within the grace period, which ends then (epoch ms). */
  readonly graceEndsAt?: number;
}

function hasHealthChecks(td: TaskDefinitionDoc | undefined): boolean {
  return (td?.containerDefinitions ?? []).some((c) => c.essential !== false && c.healthCheck !== undefined);
}

/** The service ARN a task of `group` in `clusterArn` belongs to, if any. */
function serviceArnOf(clusterArn: string, serviceName: string): string {
  const i = clusterArn.indexOf(':cluster/');
  return `${clusterArn.slice(0, i)}:service/${clusterArn.slice(i + ':cluster/'.length)}/${serviceName}`;
}

export class ServiceController {
  private readonly runtime: Controller;
  /** What services care about of each container instance seen: status, agent connection, attributes. */
  private readonly instanceFacts = new Map<string, string>();

  constructor(
    private readonly ctx: DomainContext,
    private readonly opts: ServiceControllerOptions = {},
  ) {
    this.runtime = new Controller({
      name: 'services',
      watch: { feed: ctx.store, onChanges: (changes) => this.onChanges(changes) },
      // Picks up what changed while the server was down.
      resyncOnStart: true,
      concurrency: opts.concurrency ?? 4,
      sync: (arn) => this.sync(arn),
      keys: async () => (await ctx.store.find('service', { status: ['ACTIVE', 'DRAINING'] })).map((r) => r.arn),
      resyncEveryMs: opts.resyncEveryMs ?? 5 * 60_000,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  start(): void {
    this.runtime.start();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }

  /** Waits until no sync is queued or running (tests). */
  idle(): Promise<void> {
    return this.runtime.idle();
  }

  enqueue(serviceArn: string): void {
    this.runtime.enqueue(serviceArn);
  }

  private onChanges(changes: readonly Change[]): void {
    const instances: Change[] = [];
    const targetGroups = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'service') this.runtime.enqueue(c.arn);
      else if (c.kind === 'task') {
        const service = c.keys['service'];
        if (service) this.runtime.enqueue(serviceArnOf(c.cluster, service));
      } else if (c.kind === 'containerInstance') instances.push(c);
      else if (c.kind === 'target' && c.keys['targetGroup']) targetGroups.add(c.keys['targetGroup']);
    }
    if (instances.length > 0) void this.onInstanceChanges(instances);
    if (targetGroups.size > 0) void this.onTargetChanges(targetGroups);
  }

  /** A target's health or registration decides deployments of the services whose tasks it serves. */
  private async onTargetChanges(targetGroups: ReadonlySet<string>): Promise<void> {
    try {
      for (const r of await this.ctx.store.find<StoredService>('service', { status: ['ACTIVE', 'DRAINING'] })) {
        const s = r.doc.service;
        const lbs = [...s.loadBalancers, ...(s.taskSets ?? []).flatMap((ts) => ts.loadBalancers)] as { targetGroupArn?: string }[];
        if (s.deployments.length > 1 || lbs.some((lb) => lb.targetGroupArn !== undefined && targetGroups.has(lb.targetGroupArn))) this.runtime.enqueue(r.arn);
      }
    } catch (err) {
      this.opts.log?.warn({ err }, 'could not list the services behind changed target groups');
    }
  }

  /**
   * An instance that joins, leaves, drains, connects or changes attributes may
   * change where a cluster's service tasks belong: its services are synced.
   * Accounting alone (a task placed or stopped there) changes nothing for
   * services that are not waiting for room, and those look again on their own.
   */
  private async onInstanceChanges(changes: readonly Change[]): Promise<void> {
    const clusters = new Set<string>();
    for (const c of changes) {
      try {
        const row = c.op === 'delete' ? undefined : await this.ctx.store.get<ContainerInstanceDoc>('containerInstance', c.arn);
        const facts = row ? JSON.stringify([row.doc.status, row.doc.agentConnected, row.doc.attributes]) : '';
        if (this.instanceFacts.get(c.arn) === facts) continue;
        if (facts === '') this.instanceFacts.delete(c.arn);
        else this.instanceFacts.set(c.arn, facts);
        clusters.add(c.cluster);
      } catch (err) {
        this.opts.log?.warn({ err, instance: c.arn }, 'could not read a changed container instance; its cluster is synced');
        clusters.add(c.cluster);
      }
    }
    for (const cluster of clusters) {
      try {
        for (const r of await this.ctx.store.find('service', { cluster, status: ['ACTIVE', 'DRAINING'] })) this.runtime.enqueue(r.arn);
      } catch (err) {
        this.opts.log?.warn({ err, cluster }, 'could not list the services of a cluster');
      }
    }
  }

  /** One sync of one service. */
  async sync(serviceArn: string): Promise<{ requeueAfterMs?: number }> {
    const first = await this.ctx.store.get<StoredService>('service', serviceArn);
    if (!first || first.doc.service.status === 'INACTIVE') {
      this.runtime.forget(serviceArn);
      return {};
    }
    const state = this.ctx.state.clusters;
    const { snapshot } = await state.snapshot(first.cluster);
    let written: PlacedTasks['written'][] = [];
    const out = await withRetry(this.ctx.store, async (tx) => {
      written = [];
      return this.syncIn(tx, serviceArn, snapshot, (w) => written.push(w));
    });
    for (const w of written) state.noteCommitted(w);
    return out;
  }

  private async syncIn(tx: Transaction, serviceArn: string, snapshot: ClusterSnapshot, onWritten: (w: PlacedTasks['written']) => void): Promise<{ requeueAfterMs?: number }> {
    const ctx = this.ctx;
    const row = await tx.get<StoredService>('service', serviceArn);
    if (!row || row.doc.service.status === 'INACTIVE') return {};
    const cluster = await tx.get<ClusterDoc>('cluster', row.cluster);
    if (!cluster) return {};
    const s = row.doc.service;
    const now = ctx.now();
    const nowS = epochSeconds(now);
    const all = await tx.find<StoredTask>('task', { cluster: row.cluster, where: { service: s.serviceName } });
    // EXTERNAL services hold task sets instead of deployments; their tasks carry the task set id as startedBy.
    const external = s.deploymentController.type === 'EXTERNAL';
    const taskSets = s.taskSets ?? [];
    const deploymentIds = new Set(external ? taskSets.map((t) => t.id) : s.deployments.map((d) => d.id));
    const live = all.filter((r) => r.state !== 'STOPPED' && r.doc.task.desiredStatus === 'RUNNING');
    const definitions = new Map<string, TaskDefinitionDoc | undefined>();
    for (const d of [...s.deployments, ...taskSets]) {
      if (!definitions.has(d.taskDefinition)) definitions.set(d.taskDefinition, await taskDefinitionByArn(ctx, tx, d.taskDefinition));
    }
    for (const r of live) {
      const arn = r.doc.task.taskDefinitionArn;
      if (!definitions.has(arn)) definitions.set(arn, await taskDefinitionByArn(ctx, tx, arn));
    }
    const instances = new Map<string, { status: string; az?: string }>();
    for (const inst of snapshot.instances) instances.set(inst.arn, { status: inst.status, ...(inst.attributes.get('ecs.availability-zone') ? { az: inst.attributes.get('ecs.availability-zone')! } : {}) });

    // Failures per deployment, cumulative over the tasks the store still holds (and never below what was recorded).
    const failed = new Map<string, number>();
    for (const r of all) {
      const t = r.doc.task;
      if (failedTask(t) && t.startedBy !== undefined) failed.set(t.startedBy, (failed.get(t.startedBy) ?? 0) + 1);
    }
    const deployments = s.deployments.map((d) => ({ ...d, failedTasks: Math.max(d.failedTasks, failed.get(d.id) ?? 0) }));

    // Launch throttle: after consecutive failed tasks, wait longer before each new launch.
    const stopped = all
      .filter((r) => r.doc.task.lastStatus === 'STOPPED' && r.doc.task.stopCode !== 'ServiceSchedulerInitiated' && r.doc.task.stopCode !== 'UserInitiated')
      .sort((a, b) => (b.doc.task.stoppedAt ?? 0) - (a.doc.task.stoppedAt ?? 0));
    let streak = 0;
    while (streak < stopped.length && failedTask(stopped[streak]!.doc.task)) streak++;
    const lastFailureAt = streak > 0 ? (stopped[0]!.doc.task.stoppedAt ?? 0) * 1000 : 0;
    const throttleMs = streak >= THROTTLE_AFTER ? Math.min(THROTTLE_MAX_MS, THROTTLE_BASE_MS * 2 ** (streak - THROTTLE_AFTER)) : 0;
    const launchAllowed = now >= lastFailureAt + throttleMs;

    const grace = (s.healthCheckGracePeriodSeconds ?? 0) * 1000;
    const elb = await this.elbHealthOf(tx, live, s, row.doc.blueGreen, taskSets, grace, now);
    const tasks: ServiceTask[] = live.map((r) => {
      const t = r.doc.task;
      const inst = instances.get(t.containerInstanceArn ?? '');
      const checks = hasHealthChecks(definitions.get(t.taskDefinitionArn));
      const running = t.lastStatus === 'RUNNING';
      const startedAt = (t.startedAt ?? t.createdAt) * 1000;
      return {
        arn: t.taskArn,
        deploymentId: t.startedBy !== undefined && deploymentIds.has(t.startedBy) ? t.startedBy : 'unknown',
        instanceArn: t.containerInstanceArn ?? '',
        onDrainingInstance: inst === undefined || inst.status !== 'ACTIVE',
        ...(t.availabilityZone !== undefined ? { availabilityZone: t.availabilityZone } : inst?.az !== undefined ? { availabilityZone: inst.az } : {}),
        running,
        healthy: running && (!checks || t.healthStatus === 'HEALTHY') && (elb.get(t.taskArn)?.healthy ?? true),
        failedHealthChecks: (running && checks && t.healthStatus === 'UNHEALTHY' && now >= startedAt + grace) || elb.get(t.taskArn)?.failedIn !== undefined,
        protected: isTaskProtected(r.doc, now),
        createdAt: t.createdAt * 1000,
      };
    });
    const reconcileDeployments = deployments.map((d) => ({
      id: d.id,
      status: d.status === 'PRIMARY' ? ('PRIMARY' as const) : ('ACTIVE' as const),
      rolloutState: d.rolloutState,
      failedTasks: d.failedTasks,
    }));
    // Live tasks of a deployment the service no longer lists (an earlier service of the same name) go.
    if (tasks.some((t) => t.deploymentId === 'unknown')) reconcileDeployments.push({ id: 'unknown', status: 'ACTIVE', rolloutState: 'COMPLETED', failedTasks: 0 });
    const daemonInstances =
      s.schedulingStrategy === 'DAEMON' && s.status === 'ACTIVE'
        ? snapshot.instances.filter((i) => i.status === 'ACTIVE' && i.agentConnected).map((i) => i.arn)
        : undefined;
    // Traffic-shifting deployments hold the tasks serving production until their CLEAN_UP stage.
    const held = heldDeployments(row.doc.blueGreen);
    const plan = reconcileHolding(held, {
      schedulingStrategy: s.schedulingStrategy,
      desiredCount: s.status === 'ACTIVE' ? s.desiredCount : 0,
      minimumHealthyPercent: s.status === 'ACTIVE' ? s.deploymentConfiguration.minimumHealthyPercent : 0,
      maximumPercent: s.deploymentConfiguration.maximumPercent,
      circuitBreaker: s.deploymentConfiguration.deploymentCircuitBreaker,
      deployments: reconcileDeployments,
      tasks,
      launchAllowed,
      ...(daemonInstances !== undefined ? { daemonInstances } : {}),
      ...(external ? { taskSets: taskSets.map((t) => ({ id: t.id, status: t.status, scalePercent: t.scale.value })) } : {}),
    });

    const events: string[] = [];
    const name = s.serviceName;
    const primary = deployments.find((d) => d.status === 'PRIMARY');
    /** Who an event about tasks started by `startedBy` speaks of: on ECS, a task set's tasks are named with their task set. */
    const subject = (startedBy: string | undefined) =>
      external && startedBy !== undefined && taskSets.some((t) => t.id === startedBy) ? `(service ${name}, taskSet ${startedBy})` : `(service ${name})`;
    /** Events for tasks grouped by subject, in the order subjects first appear. */
    const perSubject = (items: readonly { arn: string; startedBy: string | undefined }[], say: (who: string, arns: string[]) => string) => {
      const groups = new Map<string, string[]>();
      for (const i of items) groups.set(subject(i.startedBy), [...(groups.get(subject(i.startedBy)) ?? []), i.arn]);
      for (const [who, arns] of groups) events.push(say(who, arns));
    };

    // Stops.
    const byArn = new Map(live.map((r) => [r.arn, r]));
    const stoppedArns: { arn: string; startedBy: string | undefined }[] = [];
    /** Tasks this sync stopped outright (no agent had been sent them). */
    const endedNow = new Set<string>();
    const drainingArns: { arn: string; startedBy: string | undefined }[] = [];
    for (const st of plan.stop) {
      const taskRow = byArn.get(st.arn);
      if (!taskRow) continue;
      const failedIn = st.reason === 'unhealthy' ? elb.get(st.arn)?.failedIn : undefined;
      const reason = failedIn !== undefined ? elbFailedReason(failedIn.targetGroupArn) : stopReasonText(st.reason, taskRow.doc.task.startedBy ?? primary?.id ?? '');
      const drain = drainsOnStop(taskRow, s.loadBalancers);
      const after = await stopTaskInTx(ctx, tx, taskRow, 'ServiceSchedulerInitiated', reason, { drain });
      if (after.lastStatus === 'STOPPED') endedNow.add(st.arn);
      if (after.lastStatus === 'DEACTIVATING') drainingArns.push({ arn: st.arn, startedBy: taskRow.doc.task.startedBy });
      stoppedArns.push({ arn: st.arn, startedBy: taskRow.doc.task.startedBy });
      if (failedIn !== undefined) events.push(`${subject(taskRow.doc.task.startedBy)} (task ${shortId(st.arn)}) ${failedIn.where} is unhealthy in (target-group ${failedIn.targetGroupArn}) due to (reason Health checks failed).`);
      else if (st.reason === 'unhealthy') events.push(`${subject(taskRow.doc.task.startedBy)} (task ${shortId(st.arn)}) failed container health checks.`);
    }
    perSubject(drainingArns, (who, arns) => `${who} has begun draining connections on ${arns.length} tasks.`);
    perSubject(stoppedArns, (who, arns) => `${who} has stopped ${arns.length} running tasks: ${taskList(arns)}.`);

    // Starts.
    const started: string[] = [];
    let unplaced: { reason: string; arn?: string } | undefined;
    const definitionTags = async (td: TaskDefinitionDoc) =>
      s.propagateTags === 'TASK_DEFINITION' ? ((await tx.get<StoredTaskDefinition>('taskDefinition', td.taskDefinitionArn))?.doc.tags ?? []) : [];
    // REPLICA deployments start tasks of the PRIMARY deployment; EXTERNAL services, of each task set that lacks some.
    const launches: { startedBy: string; launchType: 'EC2' | 'EXTERNAL'; taskDefinition: string; count: number; loadBalancers: readonly unknown[] }[] = [];
    if (primary !== undefined && plan.start > 0) launches.push({ startedBy: primary.id, launchType: primary.launchType, taskDefinition: primary.taskDefinition, count: plan.start, loadBalancers: s.loadBalancers });
    for (const v of plan.taskSets) {
      const ts = taskSets.find((t) => t.id === v.id);
      if (ts !== undefined && v.start > 0) launches.push({ startedBy: ts.id, launchType: ts.launchType, taskDefinition: ts.taskDefinition, count: v.start, loadBalancers: ts.loadBalancers });
    }
    const startedFor = new Map<string, number>();
    const startedWho: { arn: string; startedBy: string | undefined }[] = [];
    for (const launch of launches) {
      const td = definitions.get(launch.taskDefinition);
      if (td === undefined) continue;
      const spec = { ...this.taskSpec(s, launch.startedBy, launch.launchType, td, cluster.doc, launch.count, await definitionTags(td)), loadBalancers: taskLoadBalancers({}, launch.loadBalancers) };
      const placed = await placeTasks(ctx, tx, cluster, spec, { snapshot, refresh: () => ctx.state.clusters.current(cluster.arn)?.snapshot });
      onWritten(placed.written);
      started.push(...placed.tasks.map((t) => t.taskArn));
      startedWho.push(...placed.tasks.map((t) => ({ arn: t.taskArn, startedBy: launch.startedBy })));
      startedFor.set(launch.startedBy, (startedFor.get(launch.startedBy) ?? 0) + placed.tasks.length);
      if (placed.unplaced > 0 && unplaced === undefined) unplaced = placed.failures[0] ? { reason: placed.failures[0].reason, arn: placed.failures[0].arn } : { reason: placed.unplacedReason ?? 'RESOURCE' };
    }
    const td = primary !== undefined ? definitions.get(primary.taskDefinition) : undefined;
    if (primary !== undefined && td !== undefined && plan.startOn.length > 0) {
      const spec = { ...this.taskSpec(s, primary.id, primary.launchType, td, cluster.doc, 1, await definitionTags(td)), loadBalancers: taskLoadBalancers({}, s.loadBalancers) };
      for (const instanceArn of plan.startOn) {
        const inst = snapshot.instances.find((i) => i.arn === instanceArn);
        if (!inst) continue;
        const placed = await placeTasks(ctx, tx, cluster, { ...spec, count: 1, placementStrategy: [] }, { snapshot: buildSnapshot([inst]) });
        onWritten(placed.written);
        started.push(...placed.tasks.map((t) => t.taskArn));
        startedWho.push(...placed.tasks.map((t) => ({ arn: t.taskArn, startedBy: primary.id })));
      }
    }
    perSubject(startedWho, (who, arns) => `${who} has started ${arns.length} tasks: ${taskList(arns)}.`);
    if (unplaced !== undefined) {
      const message =
        snapshot.instances.length === 0
          ? `(service ${name}) was unable to place a task because no container instance met all of its requirements. Reason: No Container Instances were found in your cluster. ${TROUBLESHOOTING}`
          : `(service ${name}) was unable to place a task because no container instance met all of its requirements.${
              unplaced.arn !== undefined ? ` The closest matching (container-instance ${shortId(unplaced.arn)}) ${UNPLACED_WORDING[unplaced.reason] ?? `was rejected: ${unplaced.reason}`}.` : ''
            } ${TROUBLESHOOTING}`;
      const recent = s.events.find((e) => e.message === message);
      if (recent === undefined || nowS - recent.createdAt >= UNPLACED_EVENT_INTERVAL_S) events.push(message);
    }
    if (plan.heldByProtection > 0) {
      // A scale-in or a deployment waits for protected tasks: said again at most every UNPLACED_EVENT_INTERVAL_S while unchanged.
      const message = `(service ${name}) was unable to scale in due to (reason: ${plan.heldByProtection} tasks under protection).`;
      const recent = s.events.find((e) => e.message === message);
      if (recent === undefined || nowS - recent.createdAt >= UNPLACED_EVENT_INTERVAL_S) events.push(message);
    }
    let throttled = row.doc.throttled ?? false;
    if (!launchAllowed && !throttled) {
      events.push(`(service ${name}) is unable to consistently start tasks successfully. ${TROUBLESHOOTING}`);
      throttled = true;
    } else if (streak < THROTTLE_AFTER) throttled = false;

    // Deployments: counts, completion, circuit breaker.
    let next: ServiceDoc = { ...s };
    let lastCompleted = row.doc.lastCompleted;
    let nextDeployments: DeploymentDoc[] = deployments
      .filter((d) => !plan.deployments.find((v) => v.id === d.id)?.drained || d.status === 'PRIMARY')
      .map((d) => {
        const v = plan.deployments.find((x) => x.id === d.id);
        return v ? { ...d, runningCount: v.runningCount, pendingCount: v.pendingCount } : d;
      });
    const p = nextDeployments.find((d) => d.status === 'PRIMARY');
    if (p !== undefined && plan.completed) {
      Object.assign(p, { rolloutState: 'COMPLETED', rolloutStateReason: `ECS deployment ${p.id} completed.`, updatedAt: nowS });
      lastCompleted = { id: p.id, taskDefinition: p.taskDefinition };
      events.push(`(service ${name}) (deployment ${p.id}) deployment completed.`);
    }
    let rollbackTo: { deploymentId: string; revisionId: string } | undefined;
    if (p !== undefined && plan.failed) {
      Object.assign(p, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: task failed to start.', updatedAt: nowS });
      events.push(`(service ${name}) (deployment ${p.id}) deployment failed: tasks failed to start.`);
      // A traffic-shifting deployment rolls back to the blue tasks it holds instead (the blue/green controller).
      const back = s.deploymentConfiguration.deploymentCircuitBreaker.rollback && held.size === 0 ? lastCompleted : undefined;
      if (back !== undefined && back.id !== p.id) {
        const rollback = newDeployment(ctx, { desiredCount: s.desiredCount, launchType: s.launchType ?? 'EC2' }, back.taskDefinition, `ECS deployment circuit breaker: rolling back to deploymentId ${back.id}.`);
        nextDeployments = [rollback, ...nextDeployments.map((d) => ({ ...d, status: 'ACTIVE' as const, desiredCount: 0 }))];
        rollbackTo = { deploymentId: rollback.id, revisionId: back.id.slice(back.id.indexOf('/') + 1) };
        next = { ...next, taskDefinition: back.taskDefinition };
        events.push(`(service ${name}) (deployment ${p.id}) rolling back to deployment ${back.id}.`);
      }
    }
    // Counts from task states: RUNNING tasks whatever is wanted of them, and pending ones still wanted.
    const notStopped = all.filter((r) => r.state !== 'STOPPED' && !endedNow.has(r.arn));
    const runningCount = notStopped.filter((r) => r.state === 'RUNNING').length;
    const pendingCount = notStopped.filter((r) => r.state !== 'RUNNING' && r.doc.task.desiredStatus === 'RUNNING' && (r.state === 'PROVISIONING' || r.state === 'PENDING' || r.state === 'ACTIVATING')).length + started.length;
    next = { ...next, deployments: nextDeployments, runningCount, pendingCount };
    if (external) next = { ...next, taskSets: this.observedTaskSets(taskSets, plan.taskSets, startedFor, nowS) };
    const steady = plan.steady && notStopped.length === runningCount && (external || runningCount === (daemonInstances?.length ?? s.desiredCount));
    if (steady && !(row.doc.steady ?? false)) events.push(`(service ${name}) has reached a steady state.`);
    if (s.status === 'DRAINING' && notStopped.length === 0 && started.length === 0) next = { ...next, status: 'INACTIVE' };
    next = { ...next, events: withEvents(ctx, s.events, events) };
    let stored: StoredService = {
      ...row.doc,
      service: next,
      ...(lastCompleted !== undefined ? { lastCompleted } : {}),
      throttled,
      steady,
    };
    if (p !== undefined) stored = this.recordOutcome(stored, p, plan, rollbackTo, nowS);
    if (JSON.stringify(stored) !== JSON.stringify(row.doc)) await writeService(tx, row, stored);

    if (!launchAllowed) return { requeueAfterMs: lastFailureAt + throttleMs - now + 10 };
    // Tasks in their grace period with UNHEALTHY status, and protected tasks kept from a scale-in:
    // look again when the grace period or the protection ends.
    const graceEnds = live
      .filter((r) => r.doc.task.healthStatus === 'UNHEALTHY' && r.doc.task.startedAt !== undefined && r.doc.task.startedAt * 1000 + grace > now)
      .map((r) => r.doc.task.startedAt! * 1000 + grace - now)
      .concat([...elb.values()].flatMap((h) => (h.graceEndsAt !== undefined ? [h.graceEndsAt - now] : [])));
    const protectionEnds = plan.steady ? [] : live.filter((r) => isTaskProtected(r.doc, now)).map((r) => r.doc.protection!.expiresAt! * 1000 - now);
    const wakeUps = [...graceEnds, ...protectionEnds];
    if (wakeUps.length > 0) return { requeueAfterMs: Math.min(...wakeUps, ...(unplaced !== undefined ? [10_000] : [])) + 10 };
    if (unplaced !== undefined) return { requeueAfterMs: 10_000 };
    return {};
  }

  /**
   * ELB health of the live tasks that have load balancers (their own, their
   * task set's or their service's): healthy only once every target passed
   * its checks; an unhealthy target replaces its task only after the
   * service's health check grace period from the task's start, as ECS
   * ignores ELB health checks until then.
   */
  private async elbHealthOf(tx: Transaction, live: readonly Row<StoredTask>[], s: ServiceDoc, blueGreen: BlueGreenState | undefined, taskSets: readonly TaskSetDoc[], grace: number, now: number): Promise<Map<string, ElbHealth>> {
    const out = new Map<string, ElbHealth>();
    for (const r of live) {
      const t = r.doc.task;
      if (t.lastStatus !== 'RUNNING') continue;
      const fallback = taskSets.find((ts) => ts.id === t.startedBy)?.loadBalancers ?? s.loadBalancers;
      const lbs = memberLoadBalancers(taskLoadBalancers(r.doc, fallback), blueGreen, t.startedBy);
      if (lbs.length === 0) continue;
      const targets = await taskTargets(tx, r.doc, lbs);
      const verdicts = targets.map((x) => ({ x, v: targetVerdict(x) }));
      const healthy = targets.length === lbs.length && verdicts.every((v) => v.v === 'healthy');
      const bad = verdicts.find((v) => v.v === 'unhealthy');
      const graceEnd = (t.startedAt ?? t.createdAt) * 1000 + grace;
      if (bad === undefined) out.set(t.taskArn, { healthy });
      else if (now < graceEnd) out.set(t.taskArn, { healthy, graceEndsAt: graceEnd });
      else {
        const where = bad.x.targetGroup.TargetType === 'instance' ? `(instance ${bad.x.id}) (port ${bad.x.port})` : `(port ${bad.x.port})`;
        out.set(t.taskArn, { healthy, failedIn: { targetGroupArn: bad.x.targetGroupArn, where } });
      }
    }
    return out;
  }

  /**
   * The task sets with what this sync observed: running and pending counts
   * (tasks started now are pending), ECS's stability status (its time moves
   * only when the status changes), and DRAINING task sets whose tasks are all
   * gone removed.
   */
  private observedTaskSets(taskSets: readonly TaskSetDoc[], verdicts: readonly TaskSetVerdict[], startedFor: ReadonlyMap<string, number>, nowS: number): TaskSetDoc[] {
    const out: TaskSetDoc[] = [];
    for (const ts of taskSets) {
      const v = verdicts.find((x) => x.id === ts.id);
      if (v === undefined) {
        out.push(ts);
        continue;
      }
      if (v.drained) continue;
      const pending = v.pendingCount + (startedFor.get(ts.id) ?? 0);
      const stabilityStatus = v.steady ? 'STEADY_STATE' : 'STABILIZING';
      out.push({
        ...ts,
        runningCount: v.runningCount,
        pendingCount: pending,
        stabilityStatus,
        stabilityStatusAt: stabilityStatus === ts.stabilityStatus ? ts.stabilityStatusAt : nowS,
      });
    }
    return out;
  }

  /** The service deployment record of the PRIMARY deployment, after this sync's outcome. */
  private recordOutcome(stored: StoredService, p: DeploymentDoc, plan: { completed: boolean; failed: boolean }, rollbackTo: { deploymentId: string; revisionId: string } | undefined, nowS: number): StoredService {
    const ctx = this.ctx;
    const record = recordOf(stored, p.id);
    if (record === undefined) return stored;
    const isRollback = record.rollbackDeploymentId === p.id;
    if (plan.completed) {
      return updateRecord(ctx, stored, p.id, isRollback ? { status: 'ROLLBACK_SUCCESSFUL', finishedAt: nowS } : { status: 'SUCCESSFUL', finishedAt: nowS, failureCount: p.failedTasks });
    }
    if (plan.failed) {
      if (rollbackTo !== undefined) {
        return updateRecord(ctx, stored, p.id, {
          status: 'ROLLBACK_IN_PROGRESS',
          statusReason: 'ECS deployment circuit breaker: task failed to start.',
          rollback: { reason: 'ECS deployment circuit breaker: task failed to start.', startedAt: nowS, revisionId: rollbackTo.revisionId },
          rollbackDeploymentId: rollbackTo.deploymentId,
          failureCount: p.failedTasks,
        });
      }
      return updateRecord(ctx, stored, p.id, { status: isRollback ? 'ROLLBACK_FAILED' : 'STOPPED', statusReason: 'ECS deployment circuit breaker: task failed to start.', stoppedAt: nowS, ...(isRollback ? {} : { failureCount: p.failedTasks }) });
    }
    if (!isRollback && record.failureCount !== p.failedTasks && record.status === 'IN_PROGRESS') return updateRecord(ctx, stored, p.id, { failureCount: p.failedTasks });
    return stored;
  }

  private taskSpec(s: ServiceDoc, startedBy: string, launchType: 'EC2' | 'EXTERNAL', td: TaskDefinitionDoc, cluster: ClusterDoc, count: number, definitionTags: readonly Tag[]): TaskSpec {
    const tags: Tag[] = [];
    if (s.propagateTags === 'SERVICE') tags.push(...s.tags);
    if (s.enableECSManagedTags) {
      tags.push({ key: 'aws:ecs:serviceName', value: s.serviceName }, { key: 'aws:ecs:clusterName', value: cluster.clusterName });
    }
    return {
      taskDefinition: td,
      overrides: {},
      count,
      group: `service:${s.serviceName}`,
      launchType,
      startedBy,
      tags: tags.concat(definitionTags),
      enableExecuteCommand: s.enableExecuteCommand,
      placementConstraints: s.placementConstraints as PlacementConstraint[],
      placementStrategy: s.placementStrategy as PlacementStrategy[],
    };
  }
}

function stopReasonText(reason: StopReason, deploymentId: string): string {
  switch (reason) {
    case 'unhealthy':
      return HEALTH_FAILED_REASON;
    case 'draining':
      return 'Container instance is being drained';
    default:
      return `Scaling activity initiated by (deployment ${deploymentId})`;
  }
}


/**
 * Service load balancing: registers a service's running tasks with the
 * target groups of its `loadBalancers`, and deregisters them once they are
 * to stop (the target group's deregistration delay then drains them). A
 * task the service scheduler stopped with a drain (DEACTIVATING, held
 * running) is released to its agent only once every target of it has
 * drained; the hold is stored, so a restarted server resumes where it was.
 *
 * Keyed by task: a change to a task enqueues it; a sync compares the task's
 * state with its targets' rows and registers or deregisters through the
 * ELBv2 operations, saying so in the service's events as ECS does
 * ("(service web) registered 1 targets in (target-group arn:...)").
 *
 * A task's target is its container instance (`instance` target groups, by
 * EC2 instance id) or this host's address (`ip` target groups), on the host
 * port Docker bound for the container port.
 */
import type { Logger } from '../core/log.js';
import { serviceArn } from '../ecs/arns.js';
import type { DomainContext } from '../ecs/context.js';
import type { BlueGreenState } from '../ecs/deployments/blueGreen.js';
import { isRegistered, taskGroupEntries, taskLoadBalancers, taskTargets } from '../ecs/loadBalancers.js';
import type { StoredService, StoredTask } from '../ecs/model.js';
import { withEvents, writeService } from '../ecs/writers/services.js';
import { releaseDrainedTask } from '../ecs/writers/tasks.js';
import { deregisterTargets, registerTargets } from '../elbv2/targets.js';
import { withRetry, type Change, type Row } from '../store/store.js';
import { Controller } from './runtime.js';

export class ServiceTargetsController {
  private readonly runtime: Controller;

  constructor(
    private readonly ctx: DomainContext,
    private readonly opts: { log?: Logger; resyncEveryMs?: number } = {},
  ) {
    this.runtime = new Controller({
      name: 'service-targets',
      watch: { feed: ctx.store, onChanges: (changes) => this.onChanges(changes) },
      // Picks up what changed while the server was down.
      resyncOnStart: true,
      concurrency: 2,
      sync: (arn) => this.sync(arn),
      // Only the tasks of services behind a load balancer, found by the task index: an idle server with many services stays idle.
      // Tasks held while their targets drain, whatever their service has become.
      keys: async () => {
        const services = (await ctx.store.find<StoredService>('service')).filter((s) => (s.doc.service.loadBalancers ?? []).length > 0 || (s.doc.service.taskSets ?? []).some((ts) => ts.loadBalancers.length > 0));
        const arns: string[] = (await ctx.store.find<StoredTask>('task', { state: 'DEACTIVATING' })).filter((t) => t.doc.drainHold === true).map((t) => t.arn);
        for (const s of services) {
          for (const t of await ctx.store.find<StoredTask>('task', { cluster: s.cluster, where: { service: s.doc.service.serviceName } })) arns.push(t.arn);
        }
        return arns;
      },
      resyncEveryMs: opts.resyncEveryMs ?? 60_000,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  start(): void {
    this.runtime.start();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) if (c.kind === 'task' && c.op !== 'delete' && c.keys.service) this.runtime.enqueue(c.arn);
  }

  private async sync(taskArn: string): Promise<{ requeueAfterMs?: number }> {
    const row = await this.ctx.store.get<StoredTask>('task', taskArn);
    const task = row?.doc.task;
    if (!row || !task || !task.group.startsWith('service:') || task.containerInstanceArn === undefined) return {};
    const serviceName = task.group.slice('service:'.length);
    const clusterName = task.clusterArn.slice(task.clusterArn.indexOf('cluster/') + 'cluster/'.length);
    const svcArn = serviceArn(this.ctx, clusterName, serviceName);
    const stored = (await this.ctx.store.get<StoredService>('service', svcArn))?.doc;
    const service = stored?.service;
    const entries = taskGroupEntries(taskLoadBalancers(row.doc, service?.loadBalancers), stored?.blueGreen, task.startedBy);
    const members = new Set(entries.filter((e) => e.member).map((e) => e.lb.targetGroupArn));
    const targets = await taskTargets(this.ctx.store, row.doc, entries.map((e) => e.lb));
    const serving = task.desiredStatus === 'RUNNING' && task.lastStatus === 'RUNNING';
    // As ECS names them in events: a task set's tasks with their task set.
    const taskSet = service?.taskSets?.find((ts) => ts.id === task.startedBy);
    const who = taskSet !== undefined ? `(service ${serviceName}, taskSet ${taskSet.id})` : `(service ${serviceName})`;
    const events: string[] = [];
    for (const t of targets) {
      const registered = isRegistered(t);
      // Blue/green: a task belongs in one of an entry's two target groups, by its deployment's role.
      const member = members.has(t.targetGroupArn);
      if (serving && member && !registered) {
        await registerTargets(this.ctx, { TargetGroupArn: t.targetGroupArn, Targets: [{ Id: t.id, Port: t.port }] });
        events.push(`${who} registered 1 targets in (target-group ${t.targetGroupArn})`);
      } else if (registered && (!member || (!serving && task.desiredStatus === 'STOPPED'))) {
        await deregisterTargets(this.ctx, { TargetGroupArn: t.targetGroupArn, Targets: [{ Id: t.id, Port: t.port }] });
        events.push(`${who} deregistered 1 targets in (target-group ${t.targetGroupArn})`);
      }
    }
    if (events.length > 0) await this.say(svcArn, taskArn, events);
    return row.doc.drainHold === true ? this.releaseWhenDrained(row, stored?.blueGreen) : {};
  }

  /**
   * A task held for draining is released (its agent then stops it) once none
   * of its targets is registered or draining any more; until then it is
   * looked at again when the last deregistration delay ends.
   */
  private async releaseWhenDrained(row: Row<StoredTask>, blueGreen: BlueGreenState | undefined): Promise<{ requeueAfterMs?: number }> {
    const now = this.ctx.now();
    const targets = await taskTargets(this.ctx.store, row.doc, taskGroupEntries(taskLoadBalancers(row.doc, undefined), blueGreen, row.doc.task.startedBy).map((e) => e.lb));
    const until = targets.map((t) => (t.target === undefined ? 0 : (t.target.drainingUntil ?? Number.POSITIVE_INFINITY)));
    const last = Math.max(0, ...until);
    if (last === Number.POSITIVE_INFINITY) return { requeueAfterMs: 1_000 };
    if (last > now) return { requeueAfterMs: last - now + 10 };
    await withRetry(this.ctx.store, async (tx) => {
      const current = await tx.get<StoredTask>('task', row.arn);
      if (current) await releaseDrainedTask(tx, current);
    });
    this.opts.log?.info({ task: row.arn }, 'task targets drained; the task stops');
    return {};
  }

  private async say(svcArn: string, taskArn: string, events: string[]): Promise<void> {
    this.opts.log?.info({ service: svcArn, task: taskArn, events }, 'service targets changed');
    await withRetry(this.ctx.store, async (tx) => {
      const row = await tx.get<StoredService>('service', svcArn);
      if (!row) return;
      await writeService(tx, row, { ...row.doc, service: { ...row.doc.service, events: withEvents(this.ctx, row.doc.service.events, events) } });
    });
  }
}

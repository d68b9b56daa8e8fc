/**
 * Service load balancing: registers a service's running tasks with the
 * target groups of its `loadBalancers`, and deregisters them once they are
 * to stop (the target group's deregistration delay then drains them).
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
import { taskTargetGroups } from '../ecs/deployments/blueGreen.js';
import type { ServiceLoadBalancer } from '../ecs/loadBalancers.js';
import type { ContainerInstanceDoc, StoredService, StoredTask } from '../ecs/model.js';
import { withEvents, writeService } from '../ecs/writers/services.js';
import type { TargetDoc, TargetGroupDoc } from '../elbv2/model.js';
import { deregisterTargets, registerTargets, targetArn } from '../elbv2/targets.js';
import { withRetry, type Change } from '../store/store.js';
import { Controller } from './runtime.js';

/** The address of `ip` targets: tasks run on this host's agents. */
const TASK_HOST = '127.0.0.1';

export class ServiceTargetsController {
  private readonly runtime: Controller;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly ctx: DomainContext,
    private readonly opts: { log?: Logger; resyncEveryMs?: number } = {},
  ) {
    this.runtime = new Controller({
      name: 'service-targets',
      concurrency: 2,
      sync: (arn) => this.sync(arn),
      // Only the tasks of services behind a load balancer, found by the task index: an idle server with many services stays idle.
      keys: async () => {
        const services = (await ctx.store.find<StoredService>('service')).filter((s) => (s.doc.service.loadBalancers ?? []).length > 0);
        const arns: string[] = [];
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
    this.unwatch = this.ctx.store.watch((changes) => this.onChanges(changes));
    this.runtime.start();
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    await this.runtime.stop();
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) if (c.kind === 'task' && c.op !== 'delete' && c.keys.service) this.runtime.enqueue(c.arn);
  }

  private async sync(taskArn: string): Promise<void> {
    const task = (await this.ctx.store.get<StoredTask>('task', taskArn))?.doc.task;
    if (!task || !task.group.startsWith('service:') || task.containerInstanceArn === undefined) return;
    const serviceName = task.group.slice('service:'.length);
    const clusterName = task.clusterArn.slice(task.clusterArn.indexOf('cluster/') + 'cluster/'.length);
    const svcArn = serviceArn(this.ctx, clusterName, serviceName);
    const stored = (await this.ctx.store.get<StoredService>('service', svcArn))?.doc;
    const lbs = (stored?.service.loadBalancers ?? []) as ServiceLoadBalancer[];
    if (lbs.length === 0) return;
    const instance = (await this.ctx.store.get<ContainerInstanceDoc>('containerInstance', task.containerInstanceArn))?.doc;
    const serving = task.desiredStatus === 'RUNNING' && task.lastStatus === 'RUNNING';
    const events: string[] = [];
    for (const lb of lbs) {
      // Blue/green: a task belongs in one of the entry's two target groups, by its deployment's role.
      const groups = taskTargetGroups(stored?.blueGreen, lb, task.startedBy);
      for (const tgArn of groups.all) {
        const tg = (await this.ctx.store.get<TargetGroupDoc>('targetGroup', tgArn))?.doc;
        if (!tg) continue;
        const container = task.containers.find((c) => c.name === lb.containerName);
        const hostPort = container?.networkBindings.find((b) => b.containerPort === lb.containerPort && b.hostPort !== undefined)?.hostPort;
        const id = tg.TargetType === 'instance' ? instance?.ec2InstanceId : TASK_HOST;
        if (hostPort === undefined || id === undefined) continue;
        const target = (await this.ctx.store.get<TargetDoc>('target', targetArn(tgArn, id, hostPort)))?.doc;
        const registered = target !== undefined && target.drainingUntil === undefined;
        const member = groups.member === tgArn;
        if (serving && member && !registered) {
          await registerTargets(this.ctx, { TargetGroupArn: tgArn, Targets: [{ Id: id, Port: hostPort }] });
          events.push(`(service ${serviceName}) registered 1 targets in (target-group ${tgArn})`);
        } else if (registered && (!member || (!serving && task.desiredStatus === 'STOPPED'))) {
          await deregisterTargets(this.ctx, { TargetGroupArn: tgArn, Targets: [{ Id: id, Port: hostPort }] });
          events.push(`(service ${serviceName}) deregistered 1 targets in (target-group ${tgArn})`);
        }
      }
    }
    if (events.length === 0) return;
    this.opts.log?.info({ service: svcArn, task: taskArn, events }, 'service targets changed');
    await withRetry(this.ctx.store, async (tx) => {
      const row = await tx.get<StoredService>('service', svcArn);
      if (!row) return;
      await writeService(tx, row, { ...row.doc, service: { ...row.doc.service, events: withEvents(this.ctx, row.doc.service.events, events) } });
    });
  }
}

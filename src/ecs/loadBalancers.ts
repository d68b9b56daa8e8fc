/**
 * A service's `loadBalancers`: the target groups its tasks are registered
 * with, checked as ECS checks them when the service is created.
 */
import { InvalidParameterException } from '../core/errors.js';
import { targetGroupUsage } from '../elbv2/common.js';
import type { TargetDoc, TargetGroupDoc } from '../elbv2/model.js';
import { targetArn } from '../elbv2/targets.js';
import type { StoreReader } from '../store/store.js';
import type { ContainerInstanceDoc, StoredTask } from './model.js';
import type { TaskDefinitionDoc } from './taskdef/types.js';
import { taskTargetGroups, type AdvancedConfiguration, type BlueGreenState } from './deployments/blueGreen.js';
import { advancedConfigurationOf } from './deployments/validation.js';

/** One entry of a service's `loadBalancers`, as stored and described. */
export interface ServiceLoadBalancer {
  targetGroupArn: string;
  containerName: string;
  containerPort: number;
  /** Blue/green settings: the alternate target group and the listener rules traffic shifts on. */
  advancedConfiguration?: AdvancedConfiguration;
}

/**
 * The service's load balancers once checked: each names an existing target
 * group that a load balancer uses, and a container of the task definition
 * with that container port mapped.
 */
export async function checkServiceLoadBalancers(reader: StoreReader, input: readonly unknown[] | undefined, td: TaskDefinitionDoc): Promise<ServiceLoadBalancer[]> {
  const out: ServiceLoadBalancer[] = [];
  if (!input || input.length === 0) return out;
  const usage = await targetGroupUsage(reader);
  for (const raw of input) {
    const lb = raw as { targetGroupArn?: string; loadBalancerName?: string; containerName?: string; containerPort?: number; advancedConfiguration?: unknown };
    if (lb.loadBalancerName !== undefined) throw new InvalidParameterException('Classic Load Balancers are not supported by Berth; use targetGroupArn.');
    if (lb.targetGroupArn === undefined) throw new InvalidParameterException('targetGroupArn must be specified.');
    if (lb.containerName === undefined || lb.containerPort === undefined) throw new InvalidParameterException('containerName and containerPort must be specified.');
    const tg = await reader.get<TargetGroupDoc>('targetGroup', lb.targetGroupArn);
    if (!tg || !usage.has(lb.targetGroupArn)) {
      throw new InvalidParameterException(`The target group with targetGroupArn ${lb.targetGroupArn} does not have an associated load balancer.`);
    }
    const container = td.containerDefinitions.find((c) => c.name === lb.containerName);
    if (!container || !(container.portMappings ?? []).some((p) => p.containerPort === lb.containerPort)) {
      throw new InvalidParameterException(`The container ${lb.containerName} did not have a container port ${lb.containerPort} defined.`);
    }
    const advancedConfiguration = advancedConfigurationOf(lb.advancedConfiguration);
    out.push({ targetGroupArn: lb.targetGroupArn, containerName: lb.containerName, containerPort: lb.containerPort, ...(advancedConfiguration ? { advancedConfiguration } : {}) });
  }
  return out;
}

/** The address of `ip` targets: tasks run on this host's agents. */
export const TASK_HOST = '127.0.0.1';

/** The load balancers a service task is registered with: its own, else (older rows) its service's. */
export function taskLoadBalancers(stored: Pick<StoredTask, 'loadBalancers'>, serviceLoadBalancers: readonly unknown[] | undefined): ServiceLoadBalancer[] {
  return stored.loadBalancers ?? ((serviceLoadBalancers ?? []) as ServiceLoadBalancer[]);
}

/**
 * Every target group a task's load balancer entries may hold it in, one
 * entry each, and whether the task belongs in it now: an entry's own group,
 * or for a blue/green entry the one of its deployment's role (both are
 * listed so that the task leaves the other).
 */
export function taskGroupEntries(lbs: readonly ServiceLoadBalancer[], blueGreen: BlueGreenState | undefined, startedBy: string | undefined): { lb: ServiceLoadBalancer; member: boolean }[] {
  return lbs.flatMap((lb) => {
    const groups = taskTargetGroups(blueGreen, lb, startedBy);
    return groups.all.map((arn) => ({ lb: { ...lb, targetGroupArn: arn }, member: groups.member === arn }));
  });
}

/** The entries of `taskGroupEntries` the task belongs in now. */
export function memberLoadBalancers(lbs: readonly ServiceLoadBalancer[], blueGreen: BlueGreenState | undefined, startedBy: string | undefined): ServiceLoadBalancer[] {
  return taskGroupEntries(lbs, blueGreen, startedBy).filter((e) => e.member).map((e) => e.lb);
}

/** One target a task is (to be) registered as, with its row when the target group holds it. */
export interface TaskTarget {
  readonly targetGroupArn: string;
  readonly targetGroup: TargetGroupDoc;
  /** The container instance's EC2 instance id (`instance` target groups) or `TASK_HOST` (`ip`). */
  readonly id: string;
  /** The host port Docker bound for the container port. */
  readonly port: number;
  readonly target: TargetDoc | undefined;
}

/**
 * The targets a task is in its target groups: one per load balancer whose
 * target group exists and whose container port has a host port bound (none
 * before the task runs).
 */
export async function taskTargets(reader: StoreReader, stored: StoredTask, lbs: readonly ServiceLoadBalancer[]): Promise<TaskTarget[]> {
  const task = stored.task;
  if (lbs.length === 0 || task.containerInstanceArn === undefined) return [];
  const instance = (await reader.get<ContainerInstanceDoc>('containerInstance', task.containerInstanceArn))?.doc;
  const out: TaskTarget[] = [];
  for (const lb of lbs) {
    const tg = (await reader.get<TargetGroupDoc>('targetGroup', lb.targetGroupArn))?.doc;
    if (!tg) continue;
    const container = task.containers.find((c) => c.name === lb.containerName);
    const port = container?.networkBindings.find((b) => b.containerPort === lb.containerPort && b.hostPort !== undefined)?.hostPort;
    const id = tg.TargetType === 'instance' ? instance?.ec2InstanceId : TASK_HOST;
    if (port === undefined || id === undefined) continue;
    const target = (await reader.get<TargetDoc>('target', targetArn(lb.targetGroupArn, id, port)))?.doc;
    out.push({ targetGroupArn: lb.targetGroupArn, targetGroup: tg, id, port, target });
  }
  return out;
}

/** The target is registered (not draining). */
export function isRegistered(t: TaskTarget): boolean {
  return t.target !== undefined && t.target.drainingUntil === undefined;
}

/**
 * What the load balancer says of a task's target, as the service scheduler
 * reads it: `healthy` once it passed its checks (or its group checks no
 * health), `unhealthy` once it failed them, else `unknown` (not registered
 * yet, or no check since it was registered).
 */
export function targetVerdict(t: TaskTarget): 'healthy' | 'unhealthy' | 'unknown' {
  if (!isRegistered(t)) return 'unknown';
  if (!t.targetGroup.HealthCheckEnabled) return 'healthy';
  const h = t.target!.health;
  if (h === undefined || h.at < t.target!.registeredAt) return 'unknown';
  return h.State === 'healthy' ? 'healthy' : h.State === 'unhealthy' ? 'unhealthy' : 'unknown';
}

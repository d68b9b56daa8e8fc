/**
 * A service's `loadBalancers`: the target groups its tasks are registered
 * with, checked as ECS checks them when the service is created.
 */
import { InvalidParameterException } from '../core/errors.js';
import { targetGroupUsage } from '../elbv2/common.js';
import type { TargetGroupDoc } from '../elbv2/model.js';
import type { StoreReader } from '../store/store.js';
import type { TaskDefinitionDoc } from './taskdef/types.js';
import type { AdvancedConfiguration } from './deployments/blueGreen.js';
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

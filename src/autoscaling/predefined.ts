/**
 * Target tracking's predefined metrics for ECS services, as Application
 * Auto Scaling defines them, and the checks it makes on them:
 * - ECSServiceAverageCPUUtilization / ECSServiceAverageMemoryUtilization:
 *   `AWS/ECS` CPUUtilization / MemoryUtilization of the service (ClusterName,
 *   ServiceName), Average;
 * - ALBRequestCountPerTarget: `AWS/ApplicationELB` RequestCountPerTarget of
 *   the target group the ResourceLabel names (dimension TargetGroup), Sum.
 *   The ResourceLabel is required for it and refused for the others; it
 *   reads `app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>`.
 */
import { ValidationException } from '../core/errors.js';

export interface PredefinedMetricSpecification {
  PredefinedMetricType: string;
  ResourceLabel?: string;
}

export interface TrackedMetric {
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
  Statistic: string;
}

export const PREDEFINED_METRIC_TYPES = ['ECSServiceAverageCPUUtilization', 'ECSServiceAverageMemoryUtilization', 'ALBRequestCountPerTarget'] as const;

const NAME = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?';
const RESOURCE_LABEL = new RegExp(`^app/(${NAME})/([0-9a-f]{16})/targetgroup/(${NAME})/([0-9a-f]{16})$`);

/** Throws ValidationException as Application Auto Scaling does when the specification cannot be used for an ECS service. */
export function checkPredefinedMetric(spec: PredefinedMetricSpecification): void {
  const type = spec.PredefinedMetricType;
  if (!(PREDEFINED_METRIC_TYPES as readonly string[]).includes(type)) {
    throw new ValidationException(`Unsupported predefined metric type '${type}' for service namespace 'ecs'. Supported: ${PREDEFINED_METRIC_TYPES.join(', ')}.`);
  }
  if (type !== 'ALBRequestCountPerTarget') {
    if (spec.ResourceLabel !== undefined) throw new ValidationException(`ResourceLabel is not supported for predefined metric type ${type}; only ALBRequestCountPerTarget takes one`);
    return;
  }
  if (spec.ResourceLabel === undefined || spec.ResourceLabel === '') throw new ValidationException('ResourceLabel is required for predefined metric type ALBRequestCountPerTarget');
  if (!RESOURCE_LABEL.test(spec.ResourceLabel)) {
    throw new ValidationException(
      `Invalid ResourceLabel '${spec.ResourceLabel}' for predefined metric type ALBRequestCountPerTarget. Expected format: app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>`,
    );
  }
}

/** The metric a checked specification tracks for the ECS service `resourceId` (`service/<cluster>/<service>`). */
export function predefinedMetric(spec: PredefinedMetricSpecification, resourceId: string): TrackedMetric {
  if (spec.PredefinedMetricType === 'ALBRequestCountPerTarget') {
    const label = spec.ResourceLabel ?? '';
    const targetGroup = label.slice(label.indexOf('/targetgroup/') + 1);
    return { Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCountPerTarget', Dimensions: [{ Name: 'TargetGroup', Value: targetGroup }], Statistic: 'Sum' };
  }
  const [, clusterName = '', serviceName = ''] = resourceId.split('/');
  return {
    Namespace: 'AWS/ECS',
    MetricName: spec.PredefinedMetricType === 'ECSServiceAverageMemoryUtilization' ? 'MemoryUtilization' : 'CPUUtilization',
    Dimensions: [
      { Name: 'ClusterName', Value: clusterName },
      { Name: 'ServiceName', Value: serviceName },
    ],
    Statistic: 'Average',
  };
}

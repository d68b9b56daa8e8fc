import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { ValidationException } from '../errors.js';
import { AUTOSCALING_MODEL } from '../models/autoscaling.generated.js';
import type { ServiceProtocol } from '../protocol.js';
import type { AutoScalingContext } from '../../autoscaling/model.js';
import type { MetricsContext } from '../../metrics/context.js';
import * as ops from '../../autoscaling/ops.js';

/** The Application Auto Scaling operations Berth serves. */
const OPERATIONS: ContextOperations<'autoscaling', AutoScalingContext & MetricsContext> = {
  RegisterScalableTarget: ops.registerScalableTarget,
  DeregisterScalableTarget: ops.deregisterScalableTarget,
  DescribeScalableTargets: ops.describeScalableTargets,
  DescribeScalingActivities: ops.describeScalingActivities,
  PutScalingPolicy: ops.putScalingPolicy,
  DescribeScalingPolicies: ops.describeScalingPolicies,
  DeleteScalingPolicy: ops.deleteScalingPolicy,
  PutScheduledAction: ops.putScheduledAction,
  DescribeScheduledActions: ops.describeScheduledActions,
  DeleteScheduledAction: ops.deleteScheduledAction,
};

/** Application Auto Scaling over AWS JSON 1.1 (signing name `application-autoscaling`). */
export function autoScalingProtocol(ctx: AutoScalingContext & MetricsContext): ServiceProtocol {
  return awsJsonServiceOf('autoscaling', AUTOSCALING_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Application Auto Scaling operations that work today.`),
  });
}

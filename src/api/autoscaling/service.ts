import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { ValidationException } from '../errors.js';
import { AUTOSCALING_MODEL, type AutoscalingOperationName } from '../models/autoscaling.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import type { ServiceProtocol } from '../protocol.js';
import type { AutoScalingContext } from '../../autoscaling/model.js';
import type { MetricsContext } from '../../metrics/context.js';
import * as ops from '../../autoscaling/ops.js';

export const AUTOSCALING_TARGET_PREFIX = jsonProtocolOf(AUTOSCALING_MODEL).targetPrefix;

export type AutoScalingInput<Op extends AutoscalingOperationName> = OperationInput<'autoscaling', Op>;
export type AutoScalingHandler<Op extends AutoscalingOperationName> = Handler<'autoscaling', Op>;
export type AutoScalingOperations = Operations<'autoscaling'>;

/** The Application Auto Scaling operations Berth serves. */
export function autoScalingOperations(ctx: AutoScalingContext & MetricsContext): AutoScalingOperations {
  return {
    RegisterScalableTarget: (input) => ops.registerScalableTarget(ctx, input),
    DeregisterScalableTarget: (input) => ops.deregisterScalableTarget(ctx, input),
    DescribeScalableTargets: (input) => ops.describeScalableTargets(ctx, input),
    DescribeScalingActivities: (input) => ops.describeScalingActivities(ctx, input),
    PutScalingPolicy: (input) => ops.putScalingPolicy(ctx, input),
    DescribeScalingPolicies: (input) => ops.describeScalingPolicies(ctx, input),
    DeleteScalingPolicy: (input) => ops.deleteScalingPolicy(ctx, input),
    PutScheduledAction: (input) => ops.putScheduledAction(ctx, input),
    DescribeScheduledActions: (input) => ops.describeScheduledActions(ctx, input),
    DeleteScheduledAction: (input) => ops.deleteScheduledAction(ctx, input),
  };
}

/** Application Auto Scaling over AWS JSON 1.1 (signing name `application-autoscaling`). */
export function autoScalingProtocol(ctx: AutoScalingContext & MetricsContext): ServiceProtocol {
  return awsJsonServiceOf('autoscaling', AUTOSCALING_MODEL, {
    operations: autoScalingOperations(ctx),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Application Auto Scaling operations that work today.`),
  });
}

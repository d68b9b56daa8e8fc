import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { SerializationException, UnknownOperationException, ValidationException } from '../errors.js';
import { AUTOSCALING_MODEL, type AutoscalingOperationName } from '../models/autoscaling.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { createValidator } from '../validate.js';
import type { AutoScalingContext } from '../../autoscaling/model.js';
import type { MetricsContext } from '../../metrics/context.js';
import * as ops from '../../autoscaling/ops.js';

export const AUTOSCALING_TARGET_PREFIX = 'AnyScaleFrontendService';

export type AutoScalingInput<Op extends AutoscalingOperationName> = OperationInput<'autoscaling', Op>;
export type AutoScalingHandler<Op extends AutoscalingOperationName> = (input: AutoScalingInput<Op>, req: ApiRequest) => Promise<unknown>;
export type AutoScalingOperations = { readonly [Op in AutoscalingOperationName]?: AutoScalingHandler<Op> };

const validateInput = createValidator(AUTOSCALING_MODEL, {
  errors: {
    validation: (message) => new ValidationException(message),
    serialization: (message) => new SerializationException(message),
    unknownOperation: (message) => new UnknownOperationException(message),
  },
});

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
  const handlers = autoScalingOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'autoscaling',
    targetPrefix: AUTOSCALING_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(AUTOSCALING_MODEL, name),
    validate: validateInput,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Application Auto Scaling operations that work today.`),
  });
}

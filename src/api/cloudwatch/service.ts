import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { handlerTable } from '../bind.js';
import { awsQueryServiceOf } from '../awsQuery.js';
import { ValidationException } from '../errors.js';
import { CLOUDWATCH_MODEL } from '../models/cloudwatch.generated.js';
import type { Operations } from '../models/index.js';
import { shapeOf } from '../models/model.js';
import type { ServiceProtocol } from '../protocol.js';
import { rpcV2CborService } from '../rpcv2Cbor.js';
import { createValidator, jsonValidatorErrors, type ValidatorErrors } from '../validate.js';
import type { MetricsContext } from '../../metrics/context.js';
import * as metrics from '../../metrics/metrics.js';
import * as alarms from '../../metrics/alarms.js';

export const CLOUDWATCH_TARGET_PREFIX = jsonProtocolOf(CLOUDWATCH_MODEL).targetPrefix;
export const CLOUDWATCH_ERROR_NAMESPACE = 'com.amazonaws.cloudwatch';

/** CloudWatch names a request that breaks the model ValidationError (ValidationException on the JSON and CBOR wires). */
export const CLOUDWATCH_VALIDATOR_ERRORS: ValidatorErrors = jsonValidatorErrors(ValidationException);

/** The CloudWatch operations Berth serves: one table for every wire protocol CloudWatch speaks. */
export function cloudWatchOperations(ctx: MetricsContext): Operations<'cloudwatch'> {
  const sync =
    <I>(fn: (input: I) => unknown) =>
    (input: I) =>
      Promise.resolve().then(() => fn(input));
  return {
    // Answered once the data is journaled (and on disk, when the server syncs every write).
    PutMetricData: async (input) => {
      const out = metrics.putMetricData(ctx, input);
      await ctx.storage.durable();
      return out;
    },
    GetMetricStatistics: sync((input) => metrics.getMetricStatistics(ctx, input)),
    GetMetricData: sync((input) => metrics.getMetricData(ctx, input)),
    ListMetrics: sync((input) => metrics.listMetrics(ctx, input)),
    PutMetricAlarm: (input) => alarms.putMetricAlarm(ctx, input),
    DescribeAlarms: (input) => alarms.describeAlarms(ctx, input),
    DescribeAlarmsForMetric: (input) => alarms.describeAlarmsForMetric(ctx, input),
    DescribeAlarmHistory: (input) => alarms.describeAlarmHistory(ctx, input),
    SetAlarmState: (input) => alarms.setAlarmState(ctx, input),
    EnableAlarmActions: (input) => alarms.setActionsEnabled(ctx, input.AlarmNames, true),
    DisableAlarmActions: (input) => alarms.setActionsEnabled(ctx, input.AlarmNames, false),
    DeleteAlarms: (input) => alarms.deleteAlarms(ctx, input),
  };
}

/**
 * CloudWatch is awsQuery-compatible: JSON and CBOR error responses also
 * carry the awsQuery error code and fault in `x-amzn-query-error`, which
 * the SDKs use to name the error.
 */
export function queryErrorHeader(type: string): Record<string, string> {
  const shape = shapeOf(CLOUDWATCH_MODEL, type);
  const error = shape && shape.type === 'structure' ? shape.error : undefined;
  if (!error?.queryCode) return {};
  return { 'x-amzn-query-error': `${error.queryCode};${error.fault === 'server' ? 'Receiver' : 'Sender'}` };
}

const unsupported = (name: string) => new ValidationException(`Berth does not implement ${name} yet. The README lists the CloudWatch operations that work today.`);

/**
 * CloudWatch over AWS JSON 1.0, Smithy RPC v2 CBOR and the AWS query protocol
 * (all signed for `monitoring`): one operations table, one model. The query
 * front end answers what the AWS CLI v2 and older SDKs send (form parameters
 * such as `Dimensions.member.1.Name`, XML answers and `<ErrorResponse>` with
 * the model's query codes: `InvalidParameterValue`, `ResourceNotFound`...).
 */
export function cloudWatchProtocols(ctx: MetricsContext): ServiceProtocol[] {
  const operations = cloudWatchOperations(ctx);
  const json = awsJsonServiceOf('cloudwatch', CLOUDWATCH_MODEL, { operations, validationError: ValidationException, unsupported });
  const jsonWithQueryErrors: ServiceProtocol = {
    service: json.service,
    matches: (req) => json.matches(req),
    async handle(req) {
      const out = await json.handle(req);
      if (out.outcome !== 'ok') Object.assign(out.headers, queryErrorHeader(out.outcome));
      return out;
    },
  };
  const cbor = rpcV2CborService({
    service: 'cloudwatch',
    serviceName: CLOUDWATCH_TARGET_PREFIX,
    errorNamespace: CLOUDWATCH_ERROR_NAMESPACE,
    model: CLOUDWATCH_MODEL,
    operations: handlerTable(operations),
    validate: createValidator(CLOUDWATCH_MODEL, { errors: CLOUDWATCH_VALIDATOR_ERRORS }),
    unsupported,
    errorHeaders: queryErrorHeader,
  });
  const query = awsQueryServiceOf('cloudwatch', CLOUDWATCH_MODEL, { operations, unsupported });
  return [jsonWithQueryErrors, cbor, query];
}

import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { InvalidParameterException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { LOGS_MODEL, type LogsOperationName } from '../models/logs.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import * as ops from '../../logs/ops.js';
import type { LogsContext } from '../../logs/ops.js';

export const LOGS_TARGET_PREFIX = 'Logs_20140328';

/** The input of CloudWatch Logs operation `Op` once the model has accepted it. */
export type LogsInput<Op extends LogsOperationName> = OperationInput<'logs', Op>;

/** A handler of operation `Op`; one whose input type does not accept the operation's input does not compile. */
export type LogsHandler<Op extends LogsOperationName> = (input: LogsInput<Op>) => Promise<unknown>;

export type LogsOperations = { readonly [Op in LogsOperationName]?: LogsHandler<Op> };

const validateLogsInput = createValidator(LOGS_MODEL);

/** The CloudWatch Logs operations Berth serves. */
export function logsOperations(ctx: LogsContext): LogsOperations {
  const op = bindContext(ctx);
  return {
    CreateLogGroup: op(ops.createLogGroup),
    DescribeLogGroups: op(ops.describeLogGroups),
    DeleteLogGroup: op(ops.deleteLogGroup),
    PutRetentionPolicy: op(ops.putRetentionPolicy),
    DeleteRetentionPolicy: op(ops.deleteRetentionPolicy),
    CreateLogStream: op(ops.createLogStream),
    DescribeLogStreams: op(ops.describeLogStreams),
    DeleteLogStream: op(ops.deleteLogStream),
    TagResource: op(ops.tagResource),
    UntagResource: op(ops.untagResource),
    ListTagsForResource: op(ops.listTagsForResource),
    TagLogGroup: op(ops.tagLogGroup),
    UntagLogGroup: op(ops.untagLogGroup),
    ListTagsLogGroup: op(ops.listTagsLogGroup),
    PutLogEvents: op(ops.putLogEvents),
    GetLogEvents: op(ops.getLogEvents),
    FilterLogEvents: op((c, input: LogsInput<'FilterLogEvents'>) => ops.filterLogEvents(c, input)),
  };
}

/** CloudWatch Logs over AWS JSON 1.1 (signing name `logs`). */
export function logsProtocol(ctx: LogsContext): ServiceProtocol {
  // awsJsonService calls a handler only after validateLogsInput accepted the
  // input for that handler's operation.
  const handlers = logsOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'logs',
    targetPrefix: LOGS_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(LOGS_MODEL, name),
    validate: validateLogsInput,
    unsupported: (name) => new InvalidParameterException(`Berth does not implement ${name} yet. The README lists the CloudWatch Logs operations that work today.`),
  });
}

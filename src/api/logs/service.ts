import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { InvalidParameterException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { LOGS_MODEL, type LogsOperationName } from '../models/logs.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import * as ops from '../../logs/ops.js';
import type { LogsContext } from '../../logs/ops.js';

export const LOGS_TARGET_PREFIX = jsonProtocolOf(LOGS_MODEL).targetPrefix;

export type LogsInput<Op extends LogsOperationName> = OperationInput<'logs', Op>;
export type LogsHandler<Op extends LogsOperationName> = Handler<'logs', Op>;
export type LogsOperations = Operations<'logs'>;

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
  // Constraint violations are InvalidParameterException, as CloudWatch Logs answers them.
  return awsJsonServiceOf('logs', LOGS_MODEL, {
    operations: logsOperations(ctx),
    unsupported: (name) => new InvalidParameterException(`Berth does not implement ${name} yet. The README lists the CloudWatch Logs operations that work today.`),
  });
}

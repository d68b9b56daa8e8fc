import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { InvalidParameterException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { LOGS_MODEL } from '../models/logs.generated.js';
import * as ops from '../../logs/ops.js';
import type { LogsContext } from '../../logs/ops.js';

/** The CloudWatch Logs operations Berth serves. */
const OPERATIONS: ContextOperations<'logs', LogsContext> = {
  CreateLogGroup: ops.createLogGroup,
  DescribeLogGroups: ops.describeLogGroups,
  DeleteLogGroup: ops.deleteLogGroup,
  PutRetentionPolicy: ops.putRetentionPolicy,
  DeleteRetentionPolicy: ops.deleteRetentionPolicy,
  CreateLogStream: ops.createLogStream,
  DescribeLogStreams: ops.describeLogStreams,
  DeleteLogStream: ops.deleteLogStream,
  TagResource: ops.tagResource,
  UntagResource: ops.untagResource,
  ListTagsForResource: ops.listTagsForResource,
  TagLogGroup: ops.tagLogGroup,
  UntagLogGroup: ops.untagLogGroup,
  ListTagsLogGroup: ops.listTagsLogGroup,
  PutLogEvents: ops.putLogEvents,
  GetLogEvents: ops.getLogEvents,
  // Served with the default scan budget.
  FilterLogEvents: (c, input) => ops.filterLogEvents(c, input),
};

/** CloudWatch Logs over AWS JSON 1.1 (signing name `logs`). */
export function logsProtocol(ctx: LogsContext): ServiceProtocol {
  // Constraint violations are InvalidParameterException, as CloudWatch Logs answers them.
  return awsJsonServiceOf('logs', LOGS_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    unsupported: (name) => new InvalidParameterException(`Berth does not implement ${name} yet. The README lists the CloudWatch Logs operations that work today.`),
  });
}

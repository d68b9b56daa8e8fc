import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { SSM_MODEL, type SsmOperationName } from '../models/ssm.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import type { SsmContext } from '../../ssm/context.js';
import * as parameters from '../../ssm/parameters.js';

export const SSM_TARGET_PREFIX = jsonProtocolOf(SSM_MODEL).targetPrefix;

export type SsmInput<Op extends SsmOperationName> = OperationInput<'ssm', Op>;
export type SsmHandler<Op extends SsmOperationName> = Handler<'ssm', Op>;
export type SsmOperations = Operations<'ssm'>;

/** The Parameter Store operations Berth serves. */
export function ssmOperations(ctx: SsmContext): SsmOperations {
  const op = bindContext(ctx);
  return {
    PutParameter: op(parameters.putParameter),
    GetParameter: op(parameters.getParameter),
    GetParameters: op(parameters.getParameters),
    GetParametersByPath: op(parameters.getParametersByPath),
    DeleteParameter: op(parameters.deleteParameter),
    DeleteParameters: op(parameters.deleteParameters),
    DescribeParameters: op(parameters.describeParameters),
    GetParameterHistory: op(parameters.getParameterHistory),
    LabelParameterVersion: op(parameters.labelParameterVersion),
    AddTagsToResource: op(parameters.addTagsToResource),
    RemoveTagsFromResource: op(parameters.removeTagsFromResource),
    ListTagsForResource: op(parameters.listTagsForResource),
  };
}

/** SSM (Parameter Store) over AWS JSON 1.1 (signing name `ssm`). */
export function ssmProtocol(ctx: SsmContext): ServiceProtocol {
  // SSM answers constraint violations with ValidationException.
  return awsJsonServiceOf('ssm', SSM_MODEL, {
    operations: ssmOperations(ctx),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Systems Manager operations that work today.`),
  });
}

import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { SSM_MODEL } from '../models/ssm.generated.js';
import type { SsmContext } from '../../ssm/context.js';
import * as parameters from '../../ssm/parameters.js';

/** The Parameter Store operations Berth serves. */
const OPERATIONS: ContextOperations<'ssm', SsmContext> = {
  PutParameter: parameters.putParameter,
  GetParameter: parameters.getParameter,
  GetParameters: parameters.getParameters,
  GetParametersByPath: parameters.getParametersByPath,
  DeleteParameter: parameters.deleteParameter,
  DeleteParameters: parameters.deleteParameters,
  DescribeParameters: parameters.describeParameters,
  GetParameterHistory: parameters.getParameterHistory,
  LabelParameterVersion: parameters.labelParameterVersion,
  AddTagsToResource: parameters.addTagsToResource,
  RemoveTagsFromResource: parameters.removeTagsFromResource,
  ListTagsForResource: parameters.listTagsForResource,
};

/** SSM (Parameter Store) over AWS JSON 1.1 (signing name `ssm`). */
export function ssmProtocol(ctx: SsmContext): ServiceProtocol {
  // SSM answers constraint violations with ValidationException.
  return awsJsonServiceOf('ssm', SSM_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Systems Manager operations that work today.`),
  });
}

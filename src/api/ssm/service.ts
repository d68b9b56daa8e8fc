import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { SerializationException, UnknownOperationException, ValidationException } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { SSM_MODEL, type SsmOperationName } from '../models/ssm.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import type { SsmContext } from '../../ssm/context.js';
import * as parameters from '../../ssm/parameters.js';

export const SSM_TARGET_PREFIX = 'AmazonSSM';

/** The input of SSM operation `Op` once the model has accepted it. */
export type SsmInput<Op extends SsmOperationName> = OperationInput<'ssm', Op>;

/** A handler of SSM operation `Op`. */
export type SsmHandler<Op extends SsmOperationName> = (input: SsmInput<Op>, req: ApiRequest) => Promise<unknown>;

/** Handlers by operation name; a handler whose input type does not accept its operation's input does not compile. */
export type SsmOperations = { readonly [Op in SsmOperationName]?: SsmHandler<Op> };

// SSM answers constraint violations with ValidationException.
const validateInput = createValidator(SSM_MODEL, {
  errors: {
    validation: (message) => new ValidationException(message),
    serialization: (message) => new SerializationException(message),
    unknownOperation: (message) => new UnknownOperationException(message),
  },
});

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
  // awsJsonService calls a handler only after validateInput accepted the input for that handler's operation.
  const handlers = ssmOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'ssm',
    targetPrefix: SSM_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(SSM_MODEL, name),
    validate: validateInput,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the Systems Manager operations that work today.`),
  });
}

import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { ValidationException } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { ECR_MODEL, type EcrOperationName } from '../models/ecr.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import type { EcrContext } from '../../ecr/context.js';
import * as policy from '../../ecr/policy.js';
import * as repositories from '../../ecr/repositories.js';
import * as images from '../../ecr/images.js';

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';

/** The input of ECR operation `Op` once the ECR model has accepted it. */
export type EcrInput<Op extends EcrOperationName> = OperationInput<'ecr', Op>;

/** A handler of ECR operation `Op`. */
export type EcrHandler<Op extends EcrOperationName> = (input: EcrInput<Op>, req: ApiRequest) => Promise<unknown>;

/** Handlers by ECR operation name; a handler whose input type does not accept its operation's input does not compile. */
export type EcrOperations = { readonly [Op in EcrOperationName]?: EcrHandler<Op> };

const validateEcrInput = createValidator(ECR_MODEL);

/** The ECR operations Berth serves. */
export function ecrOperations(ctx: EcrContext): EcrOperations {
  const op =
    <I>(fn: (ctx: EcrContext, input: I) => Promise<unknown>): ((input: I) => Promise<unknown>) =>
    (input) =>
      fn(ctx, input);
  return {
    GetAuthorizationToken: (_input, req) => {
      const issued = ctx.tokens.issue(req.principal.accessKeyId);
      return Promise.resolve({
        authorizationData: [
          {
            authorizationToken: issued.authorizationToken,
            expiresAt: issued.expiresAt / 1000,
            proxyEndpoint: `${ctx.registryScheme}://${ctx.registryHost}`,
          },
        ],
      });
    },
    CreateRepository: op(repositories.createRepository),
    DescribeRepositories: op(repositories.describeRepositories),
    DeleteRepository: op(repositories.deleteRepository),
    PutImageTagMutability: op(repositories.putImageTagMutability),
    DescribeImages: op(images.describeImages),
    ListImages: op(images.listImages),
    BatchGetImage: op(images.batchGetImage),
    BatchDeleteImage: op(images.batchDeleteImage),
    PutImage: op(images.putImage),
    BatchCheckLayerAvailability: op(images.batchCheckLayerAvailability),
    SetRepositoryPolicy: op(policy.setRepositoryPolicy),
    GetRepositoryPolicy: op(policy.getRepositoryPolicy),
    DeleteRepositoryPolicy: op(policy.deleteRepositoryPolicy),
  };
}

/** ECR over AWS JSON 1.1 (signing name `ecr`). */
export function ecrProtocol(ctx: EcrContext): ServiceProtocol {
  // awsJsonService calls a handler only after validateEcrInput accepted the
  // input for that handler's operation: the one place where validated JSON
  // becomes EcrInput<Op>.
  const handlers = ecrOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'ecr',
    targetPrefix: ECR_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(ECR_MODEL, name),
    validate: validateEcrInput,
    // ECR models no "unsupported" error; ValidationException is the one it has for requests it cannot serve.
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the ECR operations that work today.`),
  });
}

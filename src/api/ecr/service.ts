import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { ValidationException } from '../errors.js';
import { ECR_MODEL } from '../models/ecr.generated.js';
import { isOperationOf } from '../models/model.js';
import type { ServiceProtocol } from '../protocol.js';
import type { EcrContext } from '../../ecr/context.js';
import * as repositories from '../../ecr/repositories.js';
import * as images from '../../ecr/images.js';

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';

// Inputs reach handlers only after validation against the ECR model, so the
// casts below narrow already-checked JSON to the operations' input types.
type AnyInput = any;

/** The ECR operations Berth serves, by operation name. */
export function ecrOperations(ctx: EcrContext): Record<string, OperationHandler> {
  const op =
    <I>(fn: (ctx: EcrContext, input: I) => Promise<unknown>): OperationHandler =>
    (input) =>
      fn(ctx, input as AnyInput as I);
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
  };
}

/** ECR over AWS JSON 1.1. */
export function ecrProtocol(ctx: EcrContext): ServiceProtocol {
  return awsJsonService({
    service: 'ecr',
    targetPrefix: ECR_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: ecrOperations(ctx),
    isKnownOperation: (name) => isOperationOf(ECR_MODEL, name),
    validate: () => undefined,
    // ECR models no "unsupported" error; ValidationException is the one it uses for requests it cannot serve.
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the ECR operations that work today.`),
  });
}

import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { ECR_MODEL, type EcrOperationName } from '../models/ecr.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import type { EcrContext } from '../../ecr/context.js';
import * as repositories from '../../ecr/repositories.js';
import * as images from '../../ecr/images.js';
import * as layers from '../../ecr/layers.js';
import * as policies from '../../ecr/policies.js';
import * as lifecycle from '../../ecr/lifecycle/operations.js';
import * as pullThrough from '../../ecr/pullThrough.js';

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
  const op = bindContext(ctx);
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
    InitiateLayerUpload: op(layers.initiateLayerUpload),
    UploadLayerPart: op(layers.uploadLayerPart),
    CompleteLayerUpload: op(layers.completeLayerUpload),
    GetDownloadUrlForLayer: op(layers.getDownloadUrlForLayer),
    SetRepositoryPolicy: op(policies.setRepositoryPolicy),
    GetRepositoryPolicy: op(policies.getRepositoryPolicy),
    DeleteRepositoryPolicy: op(policies.deleteRepositoryPolicy),
    PutLifecyclePolicy: op(lifecycle.putLifecyclePolicy),
    GetLifecyclePolicy: op(lifecycle.getLifecyclePolicy),
    DeleteLifecyclePolicy: op(lifecycle.deleteLifecyclePolicy),
    StartLifecyclePolicyPreview: op(lifecycle.startLifecyclePolicyPreview),
    GetLifecyclePolicyPreview: op(lifecycle.getLifecyclePolicyPreview),
    CreatePullThroughCacheRule: op(pullThrough.createPullThroughCacheRule),
    DescribePullThroughCacheRules: op(pullThrough.describePullThroughCacheRules),
    DeletePullThroughCacheRule: op(pullThrough.deletePullThroughCacheRule),
    UpdatePullThroughCacheRule: op(pullThrough.updatePullThroughCacheRule),
    ValidatePullThroughCacheRule: op(pullThrough.validatePullThroughCacheRule),
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

import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ECR_MODEL, type EcrOperationName } from '../models/ecr.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import type { EcrContext } from '../../ecr/context.js';
import * as repositories from '../../ecr/repositories.js';
import * as images from '../../ecr/images.js';
import * as layers from '../../ecr/layers.js';
import * as policies from '../../ecr/policies.js';
import * as lifecycle from '../../ecr/lifecycle/operations.js';
import * as pullThrough from '../../ecr/pullThrough.js';

export const ECR_TARGET_PREFIX = jsonProtocolOf(ECR_MODEL).targetPrefix;

export type EcrInput<Op extends EcrOperationName> = OperationInput<'ecr', Op>;
export type EcrHandler<Op extends EcrOperationName> = Handler<'ecr', Op>;
export type EcrOperations = Operations<'ecr'>;

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
  // Constraint violations are InvalidParameterException, as ECR answers them.
  return awsJsonServiceOf('ecr', ECR_MODEL, {
    operations: ecrOperations(ctx),
    // ECR models no "unsupported" error; ValidationException is the one it has for requests it cannot serve.
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the ECR operations that work today.`),
  });
}

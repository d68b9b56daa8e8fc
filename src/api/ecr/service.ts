import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ECR_MODEL } from '../models/ecr.generated.js';
import type { EcrContext } from '../../ecr/context.js';
import * as repositories from '../../ecr/repositories.js';
import * as images from '../../ecr/images.js';
import * as layers from '../../ecr/layers.js';
import * as policies from '../../ecr/policies.js';
import * as lifecycle from '../../ecr/lifecycle/operations.js';
import * as pullThrough from '../../ecr/pullThrough.js';

/** The ECR operations Berth serves. */
const OPERATIONS: ContextOperations<'ecr', EcrContext> = {
  CreateRepository: repositories.createRepository,
  DescribeRepositories: repositories.describeRepositories,
  DeleteRepository: repositories.deleteRepository,
  PutImageTagMutability: repositories.putImageTagMutability,
  DescribeImages: images.describeImages,
  ListImages: images.listImages,
  BatchGetImage: images.batchGetImage,
  BatchDeleteImage: images.batchDeleteImage,
  PutImage: images.putImage,
  BatchCheckLayerAvailability: images.batchCheckLayerAvailability,
  InitiateLayerUpload: layers.initiateLayerUpload,
  UploadLayerPart: layers.uploadLayerPart,
  CompleteLayerUpload: layers.completeLayerUpload,
  GetDownloadUrlForLayer: layers.getDownloadUrlForLayer,
  SetRepositoryPolicy: policies.setRepositoryPolicy,
  GetRepositoryPolicy: policies.getRepositoryPolicy,
  DeleteRepositoryPolicy: policies.deleteRepositoryPolicy,
  PutLifecyclePolicy: lifecycle.putLifecyclePolicy,
  GetLifecyclePolicy: lifecycle.getLifecyclePolicy,
  DeleteLifecyclePolicy: lifecycle.deleteLifecyclePolicy,
  StartLifecyclePolicyPreview: lifecycle.startLifecyclePolicyPreview,
  GetLifecyclePolicyPreview: lifecycle.getLifecyclePolicyPreview,
  CreatePullThroughCacheRule: pullThrough.createPullThroughCacheRule,
  DescribePullThroughCacheRules: pullThrough.describePullThroughCacheRules,
  DeletePullThroughCacheRule: pullThrough.deletePullThroughCacheRule,
  UpdatePullThroughCacheRule: pullThrough.updatePullThroughCacheRule,
  ValidatePullThroughCacheRule: pullThrough.validatePullThroughCacheRule,
};

/** ECR over AWS JSON 1.1 (signing name `ecr`). */
export function ecrProtocol(ctx: EcrContext): ServiceProtocol {
  // Constraint violations are InvalidParameterException, as ECR answers them.
  return awsJsonServiceOf('ecr', ECR_MODEL, {
    operations: {
      ...bindOperations(ctx, OPERATIONS),
      // The token is issued to the caller's access key.
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
    },
    // ECR models no "unsupported" error; ValidationException is the one it has for requests it cannot serve.
    unsupported: (name) => new ValidationException(`Berth does not implement ${name} yet. The README lists the ECR operations that work today.`),
  });
}

/**
 * Typed errors, named exactly like the AWS exceptions they become on the wire.
 *
 * Every service's code throws these; each wire protocol turns them into its
 * own error shape at its edge (AWS JSON: `toWireError` in the api layer). Nothing here knows
 * a wire format. Anything thrown that is not an `AwsError` is unexpected and
 * becomes a `ServerException` with no internals.
 */

export type Fault = 'client' | 'server';

export abstract class AwsError extends Error {
  /** The `__type` sent to clients; equal to the class name of the AWS exception. */
  abstract readonly type: string;
  readonly fault: Fault = 'client';
  readonly status: number = 400;
  /** Extra members serialised next to `message` (for example `resourceIds`). */
  readonly extra: Record<string, unknown> = {};
  /**
   * Berth's advice for the operator, logged with the failed request and never
   * sent: `message` stays the sentence AWS sends, which clients match on.
   */
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string } = {}) {
    super(message);
    this.hint = options.hint;
  }
}

function define<T extends string>(type: T, status = 400, fault: Fault = 'client') {
  const cls = class extends AwsError {
    override readonly type = type;
    override readonly status = status;
    override readonly fault = fault;
  };
  Object.defineProperty(cls, 'name', { value: type });
  return cls;
}

// ---- ECS modelled exceptions (aws-sdk-js-v3 client-ecs models/errors.ts) ----
export const AccessDeniedException = define('AccessDeniedException');
export const ClientException = define('ClientException');
export const ClusterNotFoundException = define('ClusterNotFoundException');
export const InvalidParameterException = define('InvalidParameterException');
export const LimitExceededException = define('LimitExceededException');
export const ServerException = define('ServerException', 500, 'server');
export const UnsupportedFeatureException = define('UnsupportedFeatureException');
export const UpdateInProgressException = define('UpdateInProgressException');
export const NamespaceNotFoundException = define('NamespaceNotFoundException');
export const ClusterContainsCapacityProviderException = define('ClusterContainsCapacityProviderException');
export const ClusterContainsContainerInstancesException = define('ClusterContainsContainerInstancesException');
export const ClusterContainsServicesException = define('ClusterContainsServicesException');
export const ClusterContainsTasksException = define('ClusterContainsTasksException');
export const TargetNotConnectedException = define('TargetNotConnectedException');
export const ResourceInUseException = define('ResourceInUseException');
export const TargetNotFoundException = define('TargetNotFoundException');
export const ServiceNotFoundException = define('ServiceNotFoundException');
export const ServiceNotActiveException = define('ServiceNotActiveException');
export const AttributeLimitExceededException = define('AttributeLimitExceededException');
export const MissingVersionException = define('MissingVersionException');
export const NoUpdateAvailableException = define('NoUpdateAvailableException');
export const PlatformUnknownException = define('PlatformUnknownException');
export const PlatformTaskDefinitionIncompatibilityException = define('PlatformTaskDefinitionIncompatibilityException');
export const ResourceNotFoundException = define('ResourceNotFoundException');
export const ConflictException = define('ConflictException');
export const ServiceDeploymentNotFoundException = define('ServiceDeploymentNotFoundException');
export const TaskSetNotFoundException = define('TaskSetNotFoundException');
export const BlockedException = define('BlockedException');

// ---- Protocol and authentication errors common to AWS JSON services ----
export const SerializationException = define('SerializationException');
export const UnknownOperationException = define('UnknownOperationException');
export const MissingAuthenticationTokenException = define('MissingAuthenticationTokenException', 403);
export const InvalidSignatureException = define('InvalidSignatureException', 403);
export const UnrecognizedClientException = define('UnrecognizedClientException', 403);
export const IncompleteSignatureException = define('IncompleteSignatureException', 403);
export const ThrottlingException = define('ThrottlingException');
export const RequestEntityTooLargeException = define('RequestEntityTooLargeException', 413);

// ---- ECR modelled exceptions (aws-sdk-js-v3 client-ecr models/errors.ts) ----
export const RepositoryNotFoundException = define('RepositoryNotFoundException');
export const RepositoryAlreadyExistsException = define('RepositoryAlreadyExistsException');
export const RepositoryNotEmptyException = define('RepositoryNotEmptyException');
export const RepositoryPolicyNotFoundException = define('RepositoryPolicyNotFoundException');
export const ImageNotFoundException = define('ImageNotFoundException');
export const ImageAlreadyExistsException = define('ImageAlreadyExistsException');
export const ImageTagAlreadyExistsException = define('ImageTagAlreadyExistsException');
export const ImageDigestDoesNotMatchException = define('ImageDigestDoesNotMatchException');
export const LayersNotFoundException = define('LayersNotFoundException');
export const ReferencedImagesNotFoundException = define('ReferencedImagesNotFoundException');
export const UnsupportedImageTypeException = define('UnsupportedImageTypeException');
export const InvalidTagParameterException = define('InvalidTagParameterException');
export const TooManyTagsException = define('TooManyTagsException');
export const ValidationException = define('ValidationException');

// ---- Errors common to AWS query protocol services (ELBv2, IAM, STS, CloudWatch) ----
export const ValidationError = define('ValidationError');
export const InvalidAction = define('InvalidAction');
export const MissingAction = define('MissingAction');

// ---- IAM and STS modelled exceptions (aws-sdk-js-v3 client-iam / client-sts models/errors.ts) ----
export const NoSuchEntityException = define('NoSuchEntityException', 404);
export const EntityAlreadyExistsException = define('EntityAlreadyExistsException', 409);
export const DeleteConflictException = define('DeleteConflictException', 409);
export const InvalidInputException = define('InvalidInputException');
export const PackedPolicyTooLargeException = define('PackedPolicyTooLargeException');
/** Requests signed with session credentials past their expiration (`ExpiredToken` on the query wire). */
export const ExpiredTokenException = define('ExpiredTokenException', 403);

// ---- ELBv2 modelled exceptions (aws-sdk-js-v3 client-elastic-load-balancing-v2 models/errors.ts) ----
export const CertificateNotFoundException = define('CertificateNotFoundException');
export const DuplicateListenerException = define('DuplicateListenerException');
export const DuplicateLoadBalancerNameException = define('DuplicateLoadBalancerNameException');
export const DuplicateTagKeysException = define('DuplicateTagKeysException');
export const DuplicateTargetGroupNameException = define('DuplicateTargetGroupNameException');
export const IncompatibleProtocolsException = define('IncompatibleProtocolsException');
export const InvalidConfigurationRequestException = define('InvalidConfigurationRequestException');
export const InvalidLoadBalancerActionException = define('InvalidLoadBalancerActionException');
export const InvalidSchemeException = define('InvalidSchemeException');
export const InvalidTargetException = define('InvalidTargetException');
export const ListenerNotFoundException = define('ListenerNotFoundException');
export const LoadBalancerNotFoundException = define('LoadBalancerNotFoundException');
export const OperationNotPermittedException = define('OperationNotPermittedException');
export const PriorityInUseException = define('PriorityInUseException');
export const RuleNotFoundException = define('RuleNotFoundException');
export const SSLPolicyNotFoundException = define('SSLPolicyNotFoundException');
export const TargetGroupAssociationLimitException = define('TargetGroupAssociationLimitException');
export const TargetGroupNotFoundException = define('TargetGroupNotFoundException');
export const TooManyActionsException = define('TooManyActionsException');
export const TooManyCertificatesException = define('TooManyCertificatesException');
export const TooManyListenersException = define('TooManyListenersException');
export const TooManyLoadBalancersException = define('TooManyLoadBalancersException');
export const TooManyRulesException = define('TooManyRulesException');
export const TooManyTargetGroupsException = define('TooManyTargetGroupsException');
export const TooManyTargetsException = define('TooManyTargetsException');
export const UnsupportedProtocolException = define('UnsupportedProtocolException');

// ---- ACM modelled exceptions (aws-sdk-js-v3 client-acm models/errors.ts) ----
export const InvalidArnException = define('InvalidArnException');
export const InvalidTagException = define('InvalidTagException');
export const RequestInProgressException = define('RequestInProgressException');
export const InvalidArgsException = define('InvalidArgsException');

// ---- Secrets Manager modelled exceptions (aws-sdk-js-v3 client-secrets-manager models/errors.ts) ----
export const InvalidRequestException = define('InvalidRequestException');
export const ResourceExistsException = define('ResourceExistsException');
export const MalformedPolicyDocumentException = define('MalformedPolicyDocumentException');
export const PublicPolicyException = define('PublicPolicyException');
export const InvalidNextTokenException = define('InvalidNextTokenException');
export const DecryptionFailure = define('DecryptionFailure');
export const EncryptionFailure = define('EncryptionFailure');
export const PreconditionNotMetException = define('PreconditionNotMetException');
export const InternalServiceError = define('InternalServiceError', 500, 'server');

// ---- SSM (Parameter Store) modelled exceptions (aws-sdk-js-v3 client-ssm models/errors.ts) ----
export const ParameterNotFound = define('ParameterNotFound');
export const ParameterAlreadyExists = define('ParameterAlreadyExists');
export const ParameterVersionNotFound = define('ParameterVersionNotFound');
export const ParameterLimitExceeded = define('ParameterLimitExceeded');
export const ParameterMaxVersionLimitExceeded = define('ParameterMaxVersionLimitExceeded');
export const ParameterPatternMismatchException = define('ParameterPatternMismatchException');
export const ParameterVersionLabelLimitExceeded = define('ParameterVersionLabelLimitExceeded');
export const HierarchyLevelLimitExceededException = define('HierarchyLevelLimitExceededException');
export const HierarchyTypeMismatchException = define('HierarchyTypeMismatchException');
export const UnsupportedParameterType = define('UnsupportedParameterType');
export const InvalidAllowedPatternException = define('InvalidAllowedPatternException');
export const InvalidKeyId = define('InvalidKeyId');
export const InvalidFilterKey = define('InvalidFilterKey');
export const InvalidFilterOption = define('InvalidFilterOption');
export const InvalidFilterValue = define('InvalidFilterValue');
export const InvalidNextToken = define('InvalidNextToken');
export const InvalidResourceId = define('InvalidResourceId');
export const InvalidResourceType = define('InvalidResourceType');
export const TooManyTagsError = define('TooManyTagsError');
export const InternalServerError = define('InternalServerError', 500, 'server');
export const EmptyUploadException = define('EmptyUploadException');
export const InvalidLayerException = define('InvalidLayerException');
export const InvalidLayerPartException = define('InvalidLayerPartException');
export const LayerAlreadyExistsException = define('LayerAlreadyExistsException');
export const LayerInaccessibleException = define('LayerInaccessibleException');
export const LayerPartTooSmallException = define('LayerPartTooSmallException');
export const UploadNotFoundException = define('UploadNotFoundException');
export const LifecyclePolicyNotFoundException = define('LifecyclePolicyNotFoundException');
export const LifecyclePolicyPreviewNotFoundException = define('LifecyclePolicyPreviewNotFoundException');
export const LifecyclePolicyPreviewInProgressException = define('LifecyclePolicyPreviewInProgressException');
export const PullThroughCacheRuleAlreadyExistsException = define('PullThroughCacheRuleAlreadyExistsException');
export const PullThroughCacheRuleNotFoundException = define('PullThroughCacheRuleNotFoundException');
export const UnsupportedUpstreamRegistryException = define('UnsupportedUpstreamRegistryException');
export const UnableToGetUpstreamImageException = define('UnableToGetUpstreamImageException');
export const UnableToGetUpstreamLayerException = define('UnableToGetUpstreamLayerException');
export const SecretNotFoundException = define('SecretNotFoundException');
export const UnableToAccessSecretException = define('UnableToAccessSecretException');
export const UnableToDecryptSecretValueException = define('UnableToDecryptSecretValueException');

// ---- CloudWatch modelled exceptions (aws-sdk-js-v3 client-cloudwatch models/errors.ts) ----
export const InvalidParameterValueException = define('InvalidParameterValueException');
export const InvalidParameterCombinationException = define('InvalidParameterCombinationException');
export const MissingRequiredParameterException = define('MissingRequiredParameterException');
export const ResourceNotFound = define('ResourceNotFound', 404);
export const LimitExceededFault = define('LimitExceededFault');
export const InvalidFormatFault = define('InvalidFormatFault');

// ---- Application Auto Scaling modelled exceptions (client-application-auto-scaling models/errors.ts) ----
export const ObjectNotFoundException = define('ObjectNotFoundException');
export const ConcurrentUpdateException = define('ConcurrentUpdateException', 500, 'server');
export const FailedResourceAccessException = define('FailedResourceAccessException');

// ---- CloudWatch Logs modelled exceptions (aws-sdk-js-v3 client-cloudwatch-logs models/errors.ts) ----
export const ResourceAlreadyExistsException = define('ResourceAlreadyExistsException');
export const DataAlreadyAcceptedException = define('DataAlreadyAcceptedException');
export const InvalidSequenceTokenException = define('InvalidSequenceTokenException');
export const OperationAbortedException = define('OperationAbortedException');
export const ServiceUnavailableException = define('ServiceUnavailableException', 500, 'server');

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

// ---- CloudWatch Logs modelled exceptions (aws-sdk-js-v3 client-cloudwatch-logs models/errors.ts) ----
export const ResourceAlreadyExistsException = define('ResourceAlreadyExistsException');
export const DataAlreadyAcceptedException = define('DataAlreadyAcceptedException');
export const InvalidSequenceTokenException = define('InvalidSequenceTokenException');
export const OperationAbortedException = define('OperationAbortedException');
export const ServiceUnavailableException = define('ServiceUnavailableException', 500, 'server');

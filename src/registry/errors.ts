import { AwsError } from '../core/errors.js';
import { BlobNotFoundError } from './storage/blobStore.js';

/** The error codes of the OCI Distribution Specification v1.1 (plus TAG_INVALID, which docker and ECR use). */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'RANGE_INVALID'
  | 'UNKNOWN';

/** A registry protocol error: its code, HTTP status and the spec's `{"errors":[...]}` body. */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    readonly status: number,
    message: string,
    readonly detail?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): string {
    return JSON.stringify({ errors: [{ code: this.code, message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) }] });
  }
}

/**
 * The one mapping from ECR's errors (thrown by the shared image logic) to the
 * registry protocol; ECR's message is kept, as ECR does on `/v2/`.
 */
const FROM_ECR: Record<string, [RegistryErrorCode, number]> = {
  RepositoryNotFoundException: ['NAME_UNKNOWN', 404],
  ImageNotFoundException: ['MANIFEST_UNKNOWN', 404],
  LayersNotFoundException: ['MANIFEST_BLOB_UNKNOWN', 400],
  ReferencedImagesNotFoundException: ['MANIFEST_UNKNOWN', 400],
  ImageDigestDoesNotMatchException: ['DIGEST_INVALID', 400],
  ImageTagAlreadyExistsException: ['TAG_INVALID', 400],
  UnsupportedImageTypeException: ['MANIFEST_INVALID', 400],
  InvalidParameterException: ['MANIFEST_INVALID', 400],
  UnableToGetUpstreamImageException: ['MANIFEST_UNKNOWN', 404],
  UnableToGetUpstreamLayerException: ['BLOB_UNKNOWN', 404],
  AccessDeniedException: ['DENIED', 403],
};

/** The registry error for a thrown value, or undefined when it is unexpected (a fault to log). */
export function toRegistryError(err: unknown): RegistryError | undefined {
  if (err instanceof RegistryError) return err;
  if (err instanceof BlobNotFoundError) return new RegistryError('BLOB_UNKNOWN', 404, 'blob unknown to registry', { digest: err.digest });
  if (err instanceof AwsError) {
    const m = FROM_ECR[err.type];
    if (m) return new RegistryError(m[0], m[1], err.message);
    return new RegistryError('DENIED', err.status >= 400 && err.status < 500 ? err.status : 400, err.message);
  }
  return undefined;
}

import { Readable } from 'node:stream';
import {
  EmptyUploadException,
  InvalidLayerException,
  InvalidLayerPartException,
  InvalidParameterException,
  LayerAlreadyExistsException,
  LayerInaccessibleException,
  LayerPartTooSmallException,
  LayersNotFoundException,
  UploadNotFoundException,
} from '../core/errors.js';
import { DigestMismatchError, RangeNotSatisfiableError, UploadNotFoundError } from '../registry/storage/blobStore.js';
import type { EcrContext } from './context.js';
import { DIGEST_RE, layerArn, linkLayer, type LayerDoc } from './images.js';
import { getRepository } from './repositories.js';

/**
 * ECR's layer upload API (InitiateLayerUpload, UploadLayerPart,
 * CompleteLayerUpload) and GetDownloadUrlForLayer. Uploads are sessions of
 * the registry's blob store, the same ones `/v2/` uploads use: a layer
 * uploaded here is linked to the repository exactly like a pushed blob, so
 * PutImage and `/v2/` pulls see it.
 */

/**
 * The part size InitiateLayerUpload suggests. Parts travel base64-encoded
 * in a JSON body that the API takes up to 10 MiB, so a part is at most
 * about 7.5 MiB; 5 MiB leaves room.
 */
export const LAYER_PART_SIZE = 5 * 1024 * 1024;

/** ECR's smallest layer part, except the last of an upload. */
export const MIN_LAYER_PART = 5 * 1024 * 1024;

/**
 * Per upload, the size of its latest part and whether an earlier part was
 * under MIN_LAYER_PART (which CompleteLayerUpload refuses). Kept in memory: an
 * upload resumed after a restart is not held to the minimum for parts sent
 * before it.
 */
const partSizes = new WeakMap<EcrContext, Map<string, { last: number; tooSmall: boolean }>>();

function partsOf(ctx: EcrContext): Map<string, { last: number; tooSmall: boolean }> {
  let m = partSizes.get(ctx);
  if (!m) partSizes.set(ctx, (m = new Map()));
  return m;
}

/** How long a GetDownloadUrlForLayer URL works (ECR's are valid for an hour). */
export const DOWNLOAD_URL_LIFETIME_MS = 60 * 60 * 1000;

function uploadNotFound(ctx: EcrContext, repositoryName: string, uploadId: string): Error {
  return new UploadNotFoundException(
    `The upload with id '${uploadId}' does not exist in the repository with name '${repositoryName}' in the registry with id '${ctx.accountId}'`,
  );
}

/** The session if it exists and belongs to the repository. */
async function session(ctx: EcrContext, repositoryName: string, uploadId: string): Promise<{ size: number }> {
  const status = await ctx.blobs.uploadStatus(uploadId);
  if (!status || status.meta.repository !== repositoryName) throw uploadNotFound(ctx, repositoryName, uploadId);
  return status;
}

export async function initiateLayerUpload(ctx: EcrContext, input: { registryId?: string; repositoryName: string }): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const uploadId = await ctx.blobs.createUpload({ repository: repo.name, startedAt: ctx.now() });
  return { uploadId, partSize: LAYER_PART_SIZE };
}

export async function uploadLayerPart(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; uploadId: string; partFirstByte: number; partLastByte: number; layerPartBlob: string | Uint8Array },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const status = await session(ctx, repo.name, input.uploadId);
  const part = typeof input.layerPartBlob === 'string' ? Buffer.from(input.layerPartBlob, 'base64') : Buffer.from(input.layerPartBlob);
  const invalid = (size: number, why: string): Error => {
    const err = new InvalidLayerPartException(why);
    Object.assign(err.extra, { registryId: ctx.accountId, repositoryName: repo.name, uploadId: input.uploadId, lastValidByteReceived: size - 1 });
    return err;
  };
  const { partFirstByte: first, partLastByte: last } = input;
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first) {
    throw invalid(status.size, `The layer part's byte range ${first}-${last} is not valid.`);
  }
  if (last - first + 1 !== part.length) {
    throw invalid(status.size, `The layer part's byte range ${first}-${last} is ${last - first + 1} bytes but the part has ${part.length} bytes.`);
  }
  if (first !== status.size) {
    throw invalid(status.size, `The layer part's first byte ${first} does not follow the last byte received, ${status.size - 1}.`);
  }
  try {
    const size = await ctx.blobs.append(input.uploadId, Readable.from([part]), first);
    const parts = partsOf(ctx);
    const previous = parts.get(input.uploadId);
    parts.set(input.uploadId, { last: part.length, tooSmall: (previous?.tooSmall ?? false) || (previous !== undefined && previous.last < MIN_LAYER_PART) });
    return { registryId: ctx.accountId, repositoryName: repo.name, uploadId: input.uploadId, lastByteReceived: size - 1 };
  } catch (err) {
    if (err instanceof RangeNotSatisfiableError) throw invalid(err.size, `The layer part's first byte ${first} does not follow the last byte received, ${err.size - 1}.`);
    if (err instanceof UploadNotFoundError) throw uploadNotFound(ctx, repo.name, input.uploadId);
    throw err;
  }
}

export async function completeLayerUpload(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; uploadId: string; layerDigests: string[] },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const status = await session(ctx, repo.name, input.uploadId);
  if (input.layerDigests.length !== 1) {
    throw new InvalidParameterException("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must have length equal to 1'");
  }
  const digest = input.layerDigests[0]!;
  if (!DIGEST_RE.test(digest)) throw new InvalidLayerException(`The layer digest '${digest}' is not a valid sha256 digest.`);
  if (status.size === 0) {
    throw new EmptyUploadException(`The upload with id '${input.uploadId}' in the repository with name '${repo.name}' in the registry with id '${ctx.accountId}' has no layer parts`);
  }
  if (partsOf(ctx).get(input.uploadId)?.tooSmall) {
    throw new LayerPartTooSmallException(`Layer parts must be at least ${MIN_LAYER_PART / 1024 / 1024} MiB in size, except the last part of the upload with id '${input.uploadId}'`);
  }
  if (await ctx.store.get('layer', layerArn(repo.arn, digest))) {
    throw new LayerAlreadyExistsException(
      `The layer with digest '${digest}' already exists in the repository with name '${repo.name}' in the registry with id '${ctx.accountId}'`,
    );
  }
  try {
    const { size } = await ctx.blobs.completeUpload(input.uploadId, digest);
    partsOf(ctx).delete(input.uploadId);
    await linkLayer(ctx, repo.name, digest, size);
  } catch (err) {
    if (err instanceof DigestMismatchError) {
      throw new InvalidLayerException(`The calculated digest '${err.actual}' of the uploaded layer does not match the layer digest '${digest}' given`);
    }
    if (err instanceof UploadNotFoundError) throw uploadNotFound(ctx, repo.name, input.uploadId);
    throw err;
  }
  return { registryId: ctx.accountId, repositoryName: repo.name, uploadId: input.uploadId, layerDigest: digest };
}

export async function getDownloadUrlForLayer(ctx: EcrContext, input: { registryId?: string; repositoryName: string; layerDigest: string }): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const digest = input.layerDigest;
  const link = DIGEST_RE.test(digest) ? await ctx.store.get<LayerDoc>('layer', layerArn(repo.arn, digest)) : undefined;
  if (!link) {
    throw new LayersNotFoundException(`The image layer '${digest}' does not exist in the repository with name '${repo.name}' in the registry with id '${ctx.accountId}'`);
  }
  if (!(await ctx.blobs.stat(digest))) {
    throw new LayerInaccessibleException(`The image layer '${digest}' of the repository with name '${repo.name}' in the registry with id '${ctx.accountId}' is not accessible`);
  }
  const query = ctx.tokens.signDownload(repo.name, digest, ctx.now() + DOWNLOAD_URL_LIFETIME_MS);
  return { downloadUrl: `${ctx.registryScheme}://${ctx.registryHost}/v2/${repo.name}/blobs/${digest}?${query}`, layerDigest: digest };
}

import { createHash } from 'node:crypto';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import {
  ImageAlreadyExistsException,
  ImageDigestDoesNotMatchException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  InvalidParameterException,
  LayersNotFoundException,
  ReferencedImagesNotFoundException,
  UnsupportedImageTypeException,
} from '../core/errors.js';
import { BlobNotFoundError } from '../registry/storage/blobStore.js';
import { withRetry, type Row, type StoreReader, type Transaction } from '../store/store.js';
import type { EcrContext } from './context.js';
import { getRepository, tagIsImmutable, type RepositoryDoc } from './repositories.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);
/** Layers the registry is not expected to hold (their content lives at `urls`). */
const FOREIGN_LAYERS = new Set<string>([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
/** ECR's (and the distribution spec's) tag rule. */
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** The registry accepts manifests up to 4 MiB, as the distribution spec suggests. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** An image (one manifest) in one repository. Timestamps are epoch milliseconds. */
export interface ImageDoc {
  imageDigest: string;
  mediaType: string;
  artifactType?: string;
  /** The manifest exactly as pushed. */
  manifest: string;
  /** Sum of the layers' sizes (what ECR reports as imageSizeInBytes). */
  size: number;
  tags: string[];
  pushedAt: number;
  subject?: string;
  annotations?: Record<string, string>;
  lastRecordedPullTime?: number;
}

export interface TagDoc {
  digest: string;
  /** A tag cached through a pull-through cache rule: when the upstream was last asked where it points (epoch ms). */
  upstreamCheckedAt?: number;
}

export interface LayerDoc {
  digest: string;
  size: number;
}

export function imageArn(repoArn: string, digest: string): string {
  return `${repoArn}@${digest}`;
}
export function tagArn(repoArn: string, tag: string): string {
  return `${repoArn}:tag/${tag}`;
}
export function layerArn(repoArn: string, digest: string): string {
  return `${repoArn}/blob/${digest}`;
}

export function digestOf(content: Buffer): string {
  return 'sha256:' + createHash('sha256').update(content).digest('hex');
}

function invalidManifest(why: string): Error {
  return new InvalidParameterException(`Invalid parameter at 'ImageManifest' failed to satisfy constraint: '${why}'`);
}

interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  blobs: Descriptor[];
  children: Descriptor[];
  layersSize: number;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest) || typeof d.size !== 'number' || d.size < 0) {
    throw invalidManifest(`${where} must be a descriptor with a sha256 digest and a size`);
  }
  return d as Descriptor;
}

/** Parses and checks a manifest's shape; `declared` is the media type the client names (Content-Type or imageManifestMediaType). */
export function parseManifest(content: Buffer, declared: string | undefined): ParsedManifest {
  let m: Record<string, unknown>;
  try {
    const text = content.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(content)) throw new Error('not UTF-8');
    m = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalidManifest('Invalid JSON syntax');
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw invalidManifest('Invalid JSON syntax');
  if (m.schemaVersion !== 2) {
    throw new UnsupportedImageTypeException(`Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'schemaVersion must be 2'`);
  }
  const inBody = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const declaredType = declared?.split(';')[0]?.trim() || undefined;
  if (inBody !== undefined && declaredType !== undefined && inBody !== declaredType) {
    throw invalidManifest(`the manifest's mediaType '${inBody}' does not match the media type given, '${declaredType}'`);
  }
  const mediaType = inBody ?? declaredType ?? (Array.isArray(m.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (!MANIFEST_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) {
    throw new UnsupportedImageTypeException(`The manifest media type '${mediaType}' is not supported.`);
  }
  const isIndex = INDEX_TYPES.has(mediaType);
  const out: ParsedManifest = { mediaType, isIndex, blobs: [], children: [], layersSize: 0 };
  if (isIndex) {
    if (!Array.isArray(m.manifests)) throw invalidManifest('an index must have a manifests array');
    out.children = m.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
  } else {
    const config = descriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalidManifest('an image manifest must have a layers array');
    const layers = m.layers.map((d, i) => descriptor(d, `layers[${i}]`));
    out.blobs = [config, ...layers.filter((l) => !FOREIGN_LAYERS.has(l.mediaType ?? ''))];
    out.layersSize = layers.reduce((n, l) => n + l.size, 0);
    if (typeof config.mediaType === 'string' && mediaType === MEDIA_TYPES.ociManifest && config.mediaType !== 'application/vnd.oci.image.config.v1+json') {
      out.artifactType = config.mediaType;
    }
  }
  if (typeof m.artifactType === 'string') out.artifactType = m.artifactType;
  if (m.subject !== undefined) out.subject = descriptor(m.subject, 'subject');
  if (m.annotations && typeof m.annotations === 'object') out.annotations = m.annotations as Record<string, string>;
  return out;
}

export interface PutManifestInput {
  repositoryName: string;
  manifest: Buffer;
  mediaType?: string;
  tag?: string;
  /** The digest the client says the manifest has (a digest reference on /v2/, imageDigest in PutImage). */
  digest?: string;
  /** PutImage refuses an image and tag already there; the registry protocol accepts the same push again. */
  refuseExisting?: boolean;
  /**
   * The pull-through cache stores an upstream manifest before its blobs,
   * which are fetched from the upstream when first read: the manifest's
   * blobs need not be linked yet.
   */
  blobsFromUpstream?: boolean;
  /** The pull-through cache: when the upstream was asked where `tag` points (kept with the tag). */
  upstreamCheckedAt?: number;
}

export interface PutManifestResult {
  digest: string;
  mediaType: string;
  subject?: string;
  repository: RepositoryDoc;
  image: ImageDoc;
}

/** Stores a manifest (an image) in a repository, optionally tagging it; the one path for `/v2/` pushes and PutImage. */
export async function putManifest(ctx: EcrContext, input: PutManifestInput): Promise<PutManifestResult> {
  if (input.tag !== undefined && !TAG_RE.test(input.tag)) {
    throw new InvalidParameterException(`Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}''`);
  }
  const parsed = parseManifest(input.manifest, input.mediaType);
  const digest = digestOf(input.manifest);
  if (input.digest !== undefined && input.digest !== digest) {
    throw new ImageDigestDoesNotMatchException(`Invalid parameter at 'imageDigest' failed to satisfy constraint: 'the manifest's digest is ${digest}, not ${input.digest}'`);
  }
  return withRetry(ctx.store, async (tx) => {
    const repo = await getRepository(ctx, tx, input.repositoryName);
    const missing: string[] = [];
    if (!input.blobsFromUpstream) for (const b of parsed.blobs) if (!(await tx.get('layer', layerArn(repo.arn, b.digest)))) missing.push(b.digest);
    if (missing.length > 0) {
      throw new LayersNotFoundException(`Layers with digests '[${missing.join(', ')}]' required for pushing image into repository with name '${repo.name}' in the registry with id '${ctx.accountId}' do not exist`);
    }
    let size = parsed.layersSize;
    for (const c of parsed.children) {
      const child = await tx.get<ImageDoc>('image', imageArn(repo.arn, c.digest));
      if (!child) {
        throw new ReferencedImagesNotFoundException(`Manifest references image '${c.digest}' which does not exist in the repository with name '${repo.name}' in the registry with id '${ctx.accountId}'`);
      }
      size += child.doc.size;
    }
    const now = ctx.now();
    const arn = imageArn(repo.arn, digest);
    let image = await tx.get<ImageDoc>('image', arn);
    if (input.refuseExisting && image && (input.tag === undefined || image.doc.tags.includes(input.tag))) {
      throw new ImageAlreadyExistsException(
        `Image with digest '${digest}'${input.tag !== undefined ? ` and tag '${input.tag}'` : ''} already exists in the repository with name '${repo.name}' in registry with id '${ctx.accountId}'`,
      );
    }
    if (!image) {
      const doc: ImageDoc = {
        imageDigest: digest,
        mediaType: parsed.mediaType,
        manifest: input.manifest.toString('utf8'),
        size,
        tags: [],
        pushedAt: now,
        ...(parsed.artifactType !== undefined ? { artifactType: parsed.artifactType } : {}),
        ...(parsed.subject !== undefined ? { subject: parsed.subject.digest } : {}),
        ...(parsed.annotations !== undefined ? { annotations: parsed.annotations } : {}),
      };
      image = await tx.insert<ImageDoc>('image', { arn, cluster: repo.arn, name: digest, status: 'ACTIVE', state: doc.subject ?? '', seq: now, doc });
    }
    if (input.tag !== undefined) image = await tagImage(ctx, tx, repo, image, input.tag, input.upstreamCheckedAt);
    return { digest, mediaType: parsed.mediaType, repository: repo.doc, image: image.doc, ...(parsed.subject ? { subject: parsed.subject.digest } : {}) };
  });
}

/** Points `tag` at `image`, moving it from another image unless the repository's tags are immutable. */
async function tagImage(ctx: EcrContext, tx: Transaction, repo: Row<RepositoryDoc>, image: Row<ImageDoc>, tag: string, upstreamCheckedAt?: number): Promise<Row<ImageDoc>> {
  const arn = tagArn(repo.arn, tag);
  const existing = await tx.get<TagDoc>('imageTag', arn);
  const doc: TagDoc = { digest: image.doc.imageDigest, ...(upstreamCheckedAt !== undefined ? { upstreamCheckedAt } : {}) };
  if (existing?.doc.digest === image.doc.imageDigest) {
    if (upstreamCheckedAt !== undefined) await tx.update<TagDoc>('imageTag', { ...existing, doc });
    return image;
  }
  if (existing) {
    if (tagIsImmutable(repo.doc, tag)) {
      throw new ImageTagAlreadyExistsException(
        `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.`,
      );
    }
    const previous = await tx.get<ImageDoc>('image', imageArn(repo.arn, existing.doc.digest));
    if (previous) await tx.update('image', { ...previous, doc: { ...previous.doc, tags: previous.doc.tags.filter((t) => t !== tag) } });
    await tx.update<TagDoc>('imageTag', { ...existing, doc });
  } else {
    await tx.insert<TagDoc>('imageTag', { arn, cluster: repo.arn, name: tag, status: 'ACTIVE', seq: 0, doc });
  }
  return tx.update('image', { ...image, doc: { ...image.doc, tags: [...image.doc.tags, tag].sort() } });
}

/** Resolves a tag or digest in a repository; undefined when there is no such image. */
export async function findImage(reader: StoreReader, repoArn: string, ref: { imageTag?: string; imageDigest?: string }): Promise<Row<ImageDoc> | undefined> {
  let digest = ref.imageDigest;
  if (ref.imageTag !== undefined) {
    const tag = await reader.get<TagDoc>('imageTag', tagArn(repoArn, ref.imageTag));
    if (!tag || (digest !== undefined && tag.doc.digest !== digest)) return undefined;
    digest = tag.doc.digest;
  }
  return digest === undefined ? undefined : reader.get<ImageDoc>('image', imageArn(repoArn, digest));
}

/**
 * Links a stored blob to a repository (after an upload or a mount);
 * idempotent. Fails with `BlobNotFoundError` when the blob is not stored (a
 * garbage collection removed it first): a link always names a stored blob.
 */
export async function linkLayer(ctx: EcrContext, repositoryName: string, digest: string, size: number): Promise<void> {
  await ctx.blobLocks.run(digest, async () => {
    if (!(await ctx.blobs.stat(digest))) throw new BlobNotFoundError(digest);
    await ctx.store.transaction(async (tx) => {
      const repo = await getRepository(ctx, tx, repositoryName);
      const arn = layerArn(repo.arn, digest);
      const existing = await tx.get<LayerDoc>('layer', arn);
      // A link made again starts its grace period again (garbage collection spares recent links).
      if (existing) await tx.update<LayerDoc>('layer', { ...existing, seq: ctx.now() });
      else await tx.insert<LayerDoc>('layer', { arn, cluster: repo.arn, name: digest, status: 'ACTIVE', seq: ctx.now(), doc: { digest, size } });
    });
  });
}

/** Removes an image (by digest: with all its tags) or one tag (by tag: the image goes with its last tag). */
export async function deleteImage(ctx: EcrContext, repositoryName: string, ref: { imageTag?: string; imageDigest?: string }): Promise<{ imageDigest: string; imageTag?: string }[]> {
  return withRetry(ctx.store, async (tx) => {
    const repo = await getRepository(ctx, tx, repositoryName);
    const image = await findImage(tx, repo.arn, ref);
    if (!image) return [];
    const dropTags = ref.imageTag !== undefined ? [ref.imageTag] : image.doc.tags;
    for (const t of dropTags) {
      const row = await tx.get('imageTag', tagArn(repo.arn, t));
      if (row) await tx.remove('imageTag', row.arn, row.version);
    }
    const left = image.doc.tags.filter((t) => !dropTags.includes(t));
    if (left.length === 0) await tx.remove('image', image.arn, image.version);
    else await tx.update('image', { ...image, doc: { ...image.doc, tags: left } });
    const digest = image.doc.imageDigest;
    return dropTags.length > 0 ? dropTags.map((t) => ({ imageDigest: digest, imageTag: t })) : [{ imageDigest: digest }];
  });
}

// ---- ECR operations ----

interface ImageIdentifier {
  imageDigest?: string;
  imageTag?: string;
}

type TagStatus = 'TAGGED' | 'UNTAGGED' | 'ANY';

function identifierFailure(id: ImageIdentifier): { failureCode: string; failureReason: string } | undefined {
  if (id.imageDigest === undefined && id.imageTag === undefined) return { failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' };
  if (id.imageDigest !== undefined && !DIGEST_RE.test(id.imageDigest)) return { failureCode: 'InvalidImageDigest', failureReason: 'Invalid request parameters: image digest should satisfy the regex \'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+\'' };
  if (id.imageTag !== undefined && !TAG_RE.test(id.imageTag)) return { failureCode: 'InvalidImageTag', failureReason: 'Invalid request parameters: image tag should satisfy the regex \'[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\'' };
  return undefined;
}

export async function listImages(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; filter?: { tagStatus?: TagStatus }; nextToken?: string; maxResults?: number },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const status = input.filter?.tagStatus ?? 'ANY';
  const limit = pageSize(input.maxResults, 1000, 1000);
  const after = decodeToken<[string, string]>(`ecr:ListImages:${repo.name}:${status}`, input.nextToken);
  const ids: ImageIdentifier[] = [];
  for (const row of await ctx.store.find<ImageDoc>('image', { cluster: repo.arn })) {
    const d = row.doc;
    if (d.tags.length === 0 && status !== 'TAGGED') ids.push({ imageDigest: d.imageDigest });
    if (status !== 'UNTAGGED') for (const t of d.tags) ids.push({ imageDigest: d.imageDigest, imageTag: t });
  }
  const key = (i: ImageIdentifier): [string, string] => [i.imageDigest ?? '', i.imageTag ?? ''];
  ids.sort((a, b) => (key(a).join(' ') < key(b).join(' ') ? -1 : 1));
  const rest = after ? ids.filter((i) => key(i).join(' ') > after.join(' ')) : ids;
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  return { imageIds: page, ...(rest.length > limit && last ? { nextToken: encodeToken(`ecr:ListImages:${repo.name}:${status}`, key(last)) } : {}) };
}

function imageDetail(ctx: EcrContext, repo: RepositoryDoc, d: ImageDoc): Record<string, unknown> {
  return {
    registryId: ctx.accountId,
    repositoryName: repo.repositoryName,
    imageDigest: d.imageDigest,
    ...(d.tags.length > 0 ? { imageTags: d.tags } : {}),
    imageSizeInBytes: d.size,
    imagePushedAt: d.pushedAt / 1000,
    imageManifestMediaType: d.mediaType,
    ...(d.artifactType !== undefined ? { artifactMediaType: d.artifactType } : {}),
    ...(d.lastRecordedPullTime !== undefined ? { lastRecordedPullTime: d.lastRecordedPullTime / 1000 } : {}),
  };
}

function imageNotFound(ctx: EcrContext, repoName: string, id: ImageIdentifier): Error {
  return new ImageNotFoundException(
    `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repoName}' in the registry with id '${ctx.accountId}'`,
  );
}

export async function describeImages(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; imageIds?: ImageIdentifier[]; filter?: { tagStatus?: TagStatus }; nextToken?: string; maxResults?: number },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  if (input.imageIds !== undefined) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw new InvalidParameterException('Invalid parameter: nextToken and maxResults cannot be used with imageIds.');
    }
    const out: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    for (const id of input.imageIds) {
      const bad = identifierFailure(id);
      if (bad) throw new InvalidParameterException(bad.failureReason);
      const image = await findImage(ctx.store, repo.arn, id);
      if (!image) throw imageNotFound(ctx, repo.name, id);
      if (seen.has(image.doc.imageDigest)) continue;
      seen.add(image.doc.imageDigest);
      out.push(imageDetail(ctx, repo.doc, image.doc));
    }
    return { imageDetails: out };
  }
  const status = input.filter?.tagStatus ?? 'ANY';
  const limit = pageSize(input.maxResults, 1000, 100);
  const scope = `ecr:DescribeImages:${repo.name}:${status}`;
  const after = decodeToken<{ name: string; seq: number; arn: string }>(scope, input.nextToken);
  const out: Record<string, unknown>[] = [];
  let cursor = after;
  let more = false;
  // Pages of rows until the page of matching images is full (filtered rows are skipped).
  for (let guard = 0; guard < 10_000; guard++) {
    const rows = await ctx.store.find<ImageDoc>('image', { cluster: repo.arn, limit: 200, ...(cursor ? { after: cursor } : {}) });
    for (const r of rows) {
      if (out.length === limit) {
        more = true;
        break;
      }
      cursor = { name: r.name, seq: r.seq, arn: r.arn };
      const tagged = r.doc.tags.length > 0;
      if (status === 'TAGGED' && !tagged) continue;
      if (status === 'UNTAGGED' && tagged) continue;
      out.push(imageDetail(ctx, repo.doc, r.doc));
    }
    if (more || rows.length < 200) break;
  }
  return { imageDetails: out, ...(more && cursor ? { nextToken: encodeToken(scope, cursor) } : {}) };
}

export async function batchGetImage(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; imageIds: ImageIdentifier[]; acceptedMediaTypes?: string[] },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const images: Record<string, unknown>[] = [];
  const failures: Record<string, unknown>[] = [];
  for (const id of input.imageIds) {
    const bad = identifierFailure(id);
    if (bad) {
      failures.push({ imageId: id, ...bad });
      continue;
    }
    const image = await findImage(ctx.store, repo.arn, id);
    if (!image) {
      const tagOnly = id.imageTag !== undefined && id.imageDigest !== undefined && (await findImage(ctx.store, repo.arn, { imageTag: id.imageTag }));
      failures.push({
        imageId: id,
        ...(tagOnly ? { failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Image tag does not match digest' } : { failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }),
      });
      continue;
    }
    if (input.acceptedMediaTypes !== undefined && !input.acceptedMediaTypes.includes(image.doc.mediaType)) {
      failures.push({ imageId: id, failureCode: 'UnsupportedImageType', failureReason: `The image's manifest media type ${image.doc.mediaType} is not among the accepted media types` });
      continue;
    }
    images.push({
      registryId: ctx.accountId,
      repositoryName: repo.name,
      imageId: { imageDigest: image.doc.imageDigest, ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}) },
      imageManifest: image.doc.manifest,
      imageManifestMediaType: image.doc.mediaType,
    });
  }
  return { images, failures };
}

export async function batchDeleteImage(ctx: EcrContext, input: { registryId?: string; repositoryName: string; imageIds: ImageIdentifier[] }): Promise<unknown> {
  await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const imageIds: Record<string, unknown>[] = [];
  const failures: Record<string, unknown>[] = [];
  for (const id of input.imageIds) {
    const bad = identifierFailure(id);
    if (bad) {
      failures.push({ imageId: id, ...bad });
      continue;
    }
    const deleted = await deleteImage(ctx, input.repositoryName, id);
    if (deleted.length === 0) failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
    else imageIds.push(...deleted);
  }
  return { imageIds, failures };
}

export async function putImage(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; imageManifest: string; imageManifestMediaType?: string; imageTag?: string; imageDigest?: string },
): Promise<unknown> {
  await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  if (typeof input.imageManifest !== 'string') throw invalidManifest('must not be null');
  const r = await putManifest(ctx, {
    repositoryName: input.repositoryName,
    manifest: Buffer.from(input.imageManifest, 'utf8'),
    refuseExisting: true,
    ...(input.imageManifestMediaType !== undefined ? { mediaType: input.imageManifestMediaType } : {}),
    ...(input.imageTag !== undefined ? { tag: input.imageTag } : {}),
    ...(input.imageDigest !== undefined ? { digest: input.imageDigest } : {}),
  });
  return {
    image: {
      registryId: ctx.accountId,
      repositoryName: input.repositoryName,
      imageId: { imageDigest: r.digest, ...(input.imageTag !== undefined ? { imageTag: input.imageTag } : {}) },
      imageManifest: input.imageManifest,
      imageManifestMediaType: r.mediaType,
    },
  };
}

export async function batchCheckLayerAvailability(ctx: EcrContext, input: { registryId?: string; repositoryName: string; layerDigests: string[] }): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const layers: Record<string, unknown>[] = [];
  const failures: Record<string, unknown>[] = [];
  for (const digest of input.layerDigests) {
    if (!DIGEST_RE.test(digest)) {
      failures.push({ layerDigest: digest, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid layer digest' });
      continue;
    }
    const row = await ctx.store.get<LayerDoc>('layer', layerArn(repo.arn, digest));
    if (!row) failures.push({ layerDigest: digest, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' });
    else layers.push({ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: row.doc.size });
  }
  return { layers, failures };
}

/** Images in a repository whose manifest names `subject`, optionally of one artifact type. */
export async function referrers(ctx: EcrContext, repositoryName: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
  const repo = await getRepository(ctx, ctx.store, repositoryName);
  const rows = await ctx.store.find<ImageDoc>('image', { cluster: repo.arn, state: subject });
  return rows
    .filter((r) => artifactType === undefined || r.doc.artifactType === artifactType)
    .map((r) => ({
      mediaType: r.doc.mediaType,
      digest: r.doc.imageDigest,
      size: Buffer.byteLength(r.doc.manifest),
      ...(r.doc.artifactType !== undefined ? { artifactType: r.doc.artifactType } : {}),
      ...(r.doc.annotations !== undefined ? { annotations: r.doc.annotations } : {}),
    }));
}

import {
  InvalidParameterException,
  LifecyclePolicyNotFoundException,
  LifecyclePolicyPreviewInProgressException,
  LifecyclePolicyPreviewNotFoundException,
} from '../../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../../core/pagination.js';
import { withRetry, type Row, type StoreReader, type Transaction } from '../../store/store.js';
import type { EcrContext } from '../context.js';
import { tagArn, type ImageDoc } from '../images.js';
import { getRepository, type RepositoryDoc } from '../repositories.js';
import { evaluateLifecyclePolicy, type Expiry } from './evaluate.js';
import { parseLifecyclePolicy } from './policy.js';

/**
 * Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy,
 * DeleteLifecyclePolicy, StartLifecyclePolicyPreview and
 * GetLifecyclePolicyPreview, and the two passes the lifecycle controller
 * runs: `completePreview` (a preview's dry run) and `applyLifecyclePolicy`
 * (expiring images for real).
 */

export type PreviewStatus = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface PreviewResult {
  imageDigest: string;
  imageTags: string[];
  /** Epoch milliseconds. */
  imagePushedAt: number;
  appliedRulePriority: number;
}

/** A repository's latest lifecycle policy preview (one per repository); `status` mirrors the row's status. */
export interface LifecyclePreviewDoc {
  lifecyclePolicyText: string;
  status: PreviewStatus;
  startedAt: number;
  results?: PreviewResult[];
}

export type StoredLifecyclePolicy = NonNullable<RepositoryDoc['lifecyclePolicy']>;

export function previewArn(repoArn: string): string {
  return `${repoArn}/lifecycle-preview`;
}

function policyNotFound(ctx: EcrContext, name: string): Error {
  return new LifecyclePolicyNotFoundException(`Lifecycle policy does not exist for the repository with name '${name}' in the registry with id '${ctx.accountId}'`);
}

function stored(repo: RepositoryDoc): StoredLifecyclePolicy | undefined {
  return repo.lifecyclePolicy;
}

export async function putLifecyclePolicy(ctx: EcrContext, input: { registryId?: string; repositoryName: string; lifecyclePolicyText: string }): Promise<unknown> {
  parseLifecyclePolicy(input.lifecyclePolicyText);
  const repo = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const policy: StoredLifecyclePolicy = { text: input.lifecyclePolicyText, setAt: ctx.now() };
    return tx.update<RepositoryDoc>('repository', { ...row, doc: { ...row.doc, lifecyclePolicy: policy } });
  });
  return { registryId: ctx.accountId, repositoryName: repo.name, lifecyclePolicyText: input.lifecyclePolicyText };
}

export async function getLifecyclePolicy(ctx: EcrContext, input: { registryId?: string; repositoryName: string }): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const policy = stored(repo.doc);
  if (!policy) throw policyNotFound(ctx, repo.name);
  return {
    registryId: ctx.accountId,
    repositoryName: repo.name,
    lifecyclePolicyText: policy.text,
    ...(policy.lastEvaluatedAt !== undefined ? { lastEvaluatedAt: policy.lastEvaluatedAt / 1000 } : {}),
  };
}

export async function deleteLifecyclePolicy(ctx: EcrContext, input: { registryId?: string; repositoryName: string }): Promise<unknown> {
  const policy = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const { lifecyclePolicy, ...rest } = row.doc;
    if (!lifecyclePolicy) throw policyNotFound(ctx, row.name);
    await tx.update('repository', { ...row, doc: rest });
    return lifecyclePolicy;
  });
  return {
    registryId: ctx.accountId,
    repositoryName: input.repositoryName,
    lifecyclePolicyText: policy.text,
    ...(policy.lastEvaluatedAt !== undefined ? { lastEvaluatedAt: policy.lastEvaluatedAt / 1000 } : {}),
  };
}

export async function startLifecyclePolicyPreview(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; lifecyclePolicyText?: string },
): Promise<unknown> {
  if (input.lifecyclePolicyText !== undefined) parseLifecyclePolicy(input.lifecyclePolicyText);
  const doc = await withRetry(ctx.store, async (tx) => {
    const repo = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const text = input.lifecyclePolicyText ?? stored(repo.doc)?.text;
    if (text === undefined) throw policyNotFound(ctx, repo.name);
    const existing = await tx.get<LifecyclePreviewDoc>('lifecyclePreview', previewArn(repo.arn));
    if (existing?.doc.status === 'IN_PROGRESS') {
      throw new LifecyclePolicyPreviewInProgressException(
        `Lifecycle policy preview for the repository with name '${repo.name}' in the registry with id '${ctx.accountId}' is already in progress`,
      );
    }
    const preview: LifecyclePreviewDoc = { lifecyclePolicyText: text, status: 'IN_PROGRESS', startedAt: ctx.now() };
    if (existing) await tx.update('lifecyclePreview', { ...existing, status: 'IN_PROGRESS', doc: preview });
    else await tx.insert('lifecyclePreview', { arn: previewArn(repo.arn), cluster: repo.arn, name: repo.name, status: 'IN_PROGRESS', seq: preview.startedAt, doc: preview });
    return preview;
  });
  return { registryId: ctx.accountId, repositoryName: input.repositoryName, lifecyclePolicyText: doc.lifecyclePolicyText, status: doc.status };
}

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

export async function getLifecyclePolicyPreview(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; imageIds?: ImageId[]; nextToken?: string; maxResults?: number; filter?: { tagStatus?: 'TAGGED' | 'UNTAGGED' | 'ANY' } },
): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  const row = await ctx.store.get<LifecyclePreviewDoc>('lifecyclePreview', previewArn(repo.arn));
  if (!row) {
    throw new LifecyclePolicyPreviewNotFoundException(
      `There is no dry run for the repository with name '${repo.name}' in the registry with id '${ctx.accountId}'`,
    );
  }
  if (input.imageIds !== undefined && (input.nextToken !== undefined || input.maxResults !== undefined)) {
    throw new InvalidParameterException('Invalid parameter: nextToken and maxResults cannot be used with imageIds.');
  }
  const preview = row.doc;
  const base = { registryId: ctx.accountId, repositoryName: repo.name, lifecyclePolicyText: preview.lifecyclePolicyText, status: preview.status };
  if (preview.status !== 'COMPLETE') return { ...base, previewResults: [] };
  const all = preview.results ?? [];
  const status = input.filter?.tagStatus ?? 'ANY';
  let results = all.filter((r) => status === 'ANY' || (status === 'TAGGED') === r.imageTags.length > 0);
  if (input.imageIds !== undefined) {
    const ids = input.imageIds;
    results = results.filter((r) => ids.some((id) => (id.imageDigest === undefined || id.imageDigest === r.imageDigest) && (id.imageTag === undefined || r.imageTags.includes(id.imageTag))));
  }
  const limit = pageSize(input.maxResults, 100, 100);
  const scope = `ecr:GetLifecyclePolicyPreview:${repo.name}:${status}:${row.version}`;
  const after = decodeToken<string>(scope, input.nextToken);
  const rest = after === undefined ? results : results.filter((r) => r.imageDigest > after);
  const page = input.imageIds !== undefined ? rest : rest.slice(0, limit);
  const last = page[page.length - 1];
  return {
    ...base,
    previewResults: page.map((r) => ({
      imageDigest: r.imageDigest,
      ...(r.imageTags.length > 0 ? { imageTags: r.imageTags } : {}),
      imagePushedAt: r.imagePushedAt / 1000,
      action: { type: 'EXPIRE' },
      appliedRulePriority: r.appliedRulePriority,
      storageClass: 'STANDARD',
    })),
    summary: { expiringImageTotalCount: all.length },
    ...(page.length < rest.length && last ? { nextToken: encodeToken(scope, last.imageDigest) } : {}),
  };
}

async function imagesOf(reader: StoreReader, repoArn: string): Promise<Row<ImageDoc>[]> {
  return reader.find<ImageDoc>('image', { cluster: repoArn });
}

function evaluate(text: string, images: Row<ImageDoc>[], now: number): Expiry[] {
  const policy = parseLifecyclePolicy(text);
  return evaluateLifecyclePolicy(policy, images.map((r) => ({ digest: r.doc.imageDigest, tags: r.doc.tags, pushedAt: r.doc.pushedAt })), now);
}

/** Runs a repository's IN_PROGRESS preview (a dry run over its images as they are now) and marks it COMPLETE. */
export async function completePreview(ctx: EcrContext, repoArn: string): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<LifecyclePreviewDoc>('lifecyclePreview', previewArn(repoArn));
    if (!row || row.doc.status !== 'IN_PROGRESS') return;
    let doc: LifecyclePreviewDoc;
    try {
      const expiries = evaluate(row.doc.lifecyclePolicyText, await imagesOf(tx, repoArn), ctx.now());
      const results = expiries.map((e) => ({ imageDigest: e.image.digest, imageTags: [...e.image.tags], imagePushedAt: e.image.pushedAt, appliedRulePriority: e.rulePriority }));
      doc = { ...row.doc, status: 'COMPLETE', results };
    } catch (err) {
      if (!(err instanceof InvalidParameterException)) throw err;
      doc = { ...row.doc, status: 'FAILED' };
    }
    await tx.update('lifecyclePreview', { ...row, status: doc.status, doc });
  });
}

/** When the next scheduled pass over a repository is due (epoch ms), or undefined when it has no lifecycle policy. */
export function nextLifecyclePass(repo: RepositoryDoc, intervalMs: number): number | undefined {
  const policy = stored(repo);
  if (!policy) return undefined;
  return (policy.lastEvaluatedAt ?? policy.setAt ?? 0) + intervalMs;
}

async function expire(tx: Transaction, repoArn: string, image: Row<ImageDoc>): Promise<void> {
  for (const t of image.doc.tags) {
    const tag = await tx.get('imageTag', tagArn(repoArn, t));
    if (tag) await tx.remove('imageTag', tag.arn, tag.version);
  }
  await tx.remove('image', image.arn, image.version);
}

export interface LifecyclePass {
  /** The images the policy expired. */
  expired: Expiry[];
  /** Digests of reference artifacts (signatures, SBOMs...) removed because their subject image was expired. */
  referrers: string[];
}

/**
 * Applies a repository's lifecycle policy: removes the images it expires
 * now (with their tags), then, as ECR does, the reference artifacts whose
 * subject image is gone, and records `lastEvaluatedAt`, in one transaction,
 * so that an image pushed or tagged meanwhile is judged again. Nothing
 * happens when the repository or its policy is gone.
 */
export async function applyLifecyclePolicy(ctx: EcrContext, repoArn: string): Promise<LifecyclePass> {
  return withRetry(ctx.store, async (tx) => {
    const repo = await tx.get<RepositoryDoc>('repository', repoArn);
    const policy = repo ? stored(repo.doc) : undefined;
    if (!repo || !policy) return { expired: [], referrers: [] };
    const images = await imagesOf(tx, repoArn);
    const now = ctx.now();
    const expired = evaluate(policy.text, images, now);
    const gone = new Set(expired.map((e) => e.image.digest));
    for (const row of images) if (gone.has(row.doc.imageDigest)) await expire(tx, repoArn, row);
    // Referrers of expired images, and referrers of those, until none is left.
    const referrers: string[] = [];
    for (let more = true; more; ) {
      more = false;
      for (const row of images) {
        if (row.doc.subject === undefined || gone.has(row.doc.imageDigest) || !gone.has(row.doc.subject)) continue;
        await expire(tx, repoArn, row);
        gone.add(row.doc.imageDigest);
        referrers.push(row.doc.imageDigest);
        more = true;
      }
    }
    await tx.update<RepositoryDoc>('repository', { ...repo, doc: { ...repo.doc, lifecyclePolicy: { ...policy, lastEvaluatedAt: now } } });
    return { expired, referrers };
  });
}

/** Repository ARNs with a lifecycle policy, and those with a preview waiting to run. */
export async function lifecycleWork(ctx: EcrContext): Promise<{ policies: Row<RepositoryDoc>[]; previews: string[] }> {
  const repos = await ctx.store.find<RepositoryDoc>('repository', {});
  const previews = await ctx.store.find<LifecyclePreviewDoc>('lifecyclePreview', { status: 'IN_PROGRESS' });
  return { policies: repos.filter((r) => r.doc.lifecyclePolicy !== undefined), previews: previews.map((p) => p.cluster) };
}


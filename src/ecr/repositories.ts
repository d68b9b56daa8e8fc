import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import {
  InvalidParameterException,
  InvalidTagParameterException,
  RepositoryAlreadyExistsException,
  RepositoryNotEmptyException,
  RepositoryNotFoundException,
  TooManyTagsException,
} from '../core/errors.js';
import { AlreadyExistsError, withRetry, type Row, type StoreReader } from '../store/store.js';
import type { EcrContext } from './context.js';

export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'MUTABLE_WITH_EXCLUSION' | 'IMMUTABLE_WITH_EXCLUSION';

/** A tag pattern exempted from the repository's mutability; `*` matches any run of characters. */
export interface ExclusionFilter {
  filterType: 'WILDCARD';
  filter: string;
}

export interface Tag {
  Key: string;
  Value: string;
}

/** A repository as stored. Timestamps are epoch milliseconds. */
export interface RepositoryDoc {
  repositoryArn: string;
  registryId: string;
  repositoryName: string;
  createdAt: number;
  imageTagMutability: TagMutability;
  imageTagMutabilityExclusionFilters?: ExclusionFilter[];
  imageScanningConfiguration: { scanOnPush: boolean };
  encryptionConfiguration: { encryptionType: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
  tags: Tag[];
  /** The repository policy (SetRepositoryPolicy), as the caller wrote it; evaluated by IAM authorization. */
  policyText?: string;
  /**
   * The lifecycle policy (PutLifecyclePolicy) as given, when it was put and
   * when it was last applied (epoch ms); the lifecycle controller's passes
   * come an interval after the later of the two.
   */
  lifecyclePolicy?: { text: string; setAt: number; lastEvaluatedAt?: number };
}

/** ECR's repository name rule (also the registry's `<name>`), 2 to 256 characters. */
export const REPOSITORY_NAME_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function repositoryArn(ctx: EcrContext, name: string): string {
  return `arn:aws:ecr:${ctx.region}:${ctx.accountId}:repository/${name}`;
}

export function repositoryUri(ctx: EcrContext, name: string): string {
  return `${ctx.registryHost}/${name}`;
}

function notFound(ctx: EcrContext, name: string): Error {
  return new RepositoryNotFoundException(`The repository with name '${name}' does not exist in the registry with id '${ctx.accountId}'`);
}

function checkRegistryId(ctx: EcrContext, registryId: string | undefined): void {
  if (registryId !== undefined && registryId !== ctx.accountId) {
    throw new InvalidParameterException(`Invalid parameter at 'registryId' failed to satisfy constraint: 'registry ${registryId} is not served here; this registry's id is ${ctx.accountId}'`);
  }
}

/** The repository row, or RepositoryNotFoundException. */
export async function getRepository(ctx: EcrContext, reader: StoreReader, name: string | undefined, registryId?: string): Promise<Row<RepositoryDoc>> {
  checkRegistryId(ctx, registryId);
  if (typeof name !== 'string') throw new InvalidParameterException("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must not be null'");
  const row = await reader.get<RepositoryDoc>('repository', repositoryArn(ctx, name));
  if (!row) throw notFound(ctx, name);
  return row;
}

/** The wire form (AWS JSON timestamps are epoch seconds). */
export function describeRepository(ctx: EcrContext, r: RepositoryDoc): Record<string, unknown> {
  return {
    repositoryArn: r.repositoryArn,
    registryId: r.registryId,
    repositoryName: r.repositoryName,
    repositoryUri: repositoryUri(ctx, r.repositoryName),
    createdAt: r.createdAt / 1000,
    imageTagMutability: r.imageTagMutability,
    ...(r.imageTagMutabilityExclusionFilters ? { imageTagMutabilityExclusionFilters: r.imageTagMutabilityExclusionFilters } : {}),
    imageScanningConfiguration: r.imageScanningConfiguration,
    encryptionConfiguration: r.encryptionConfiguration,
  };
}

const FILTER_RE = /^[0-9a-zA-Z._*-]{1,128}$/;

/** Checks a mutability and its exclusion filters together, as ECR does; returns the filters to store. */
function checkMutability(mutability: TagMutability, filters: ExclusionFilter[] | undefined): ExclusionFilter[] | undefined {
  const withExclusion = mutability.endsWith('_WITH_EXCLUSION');
  if (withExclusion && (filters === undefined || filters.length === 0)) {
    throw new InvalidParameterException(`Invalid parameter: imageTagMutabilityExclusionFilters must be provided when imageTagMutability is ${mutability}.`);
  }
  if (!withExclusion && filters !== undefined && filters.length > 0) {
    throw new InvalidParameterException(`Invalid parameter: imageTagMutabilityExclusionFilters can only be used with MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION, not ${mutability}.`);
  }
  if (filters && filters.length > 5) throw new InvalidParameterException('Invalid parameter: at most 5 imageTagMutabilityExclusionFilters are allowed.');
  for (const f of filters ?? []) {
    if (!FILTER_RE.test(f.filter)) {
      throw new InvalidParameterException(`Invalid parameter at 'imageTagMutabilityExclusionFilters.filter' failed to satisfy constraint: 'must satisfy regular expression '^[0-9a-zA-Z._*-]{1,128}''`);
    }
  }
  return withExclusion ? filters : undefined;
}

function wildcard(pattern: string): RegExp {
  return new RegExp('^' + pattern.replace(/[.\-]/g, (c) => '\\' + c).replace(/\*/g, '.*') + '$');
}

/** Whether `tag`, once pointing at an image, may not be moved to another in this repository. */
export function tagIsImmutable(repo: RepositoryDoc, tag: string): boolean {
  const excluded = (repo.imageTagMutabilityExclusionFilters ?? []).some((f) => wildcard(f.filter).test(tag));
  switch (repo.imageTagMutability) {
    case 'IMMUTABLE':
      return true;
    case 'MUTABLE':
      return false;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded;
  }
}

function checkTags(tags: Tag[] | undefined): Tag[] {
  const list = tags ?? [];
  if (list.length > 50) throw new TooManyTagsException('A repository can have at most 50 tags.');
  const keys = new Set<string>();
  for (const t of list) {
    if (keys.has(t.Key)) throw new InvalidTagParameterException(`The tag key '${t.Key}' appears more than once.`);
    if (t.Key.toLowerCase().startsWith('aws:')) throw new InvalidTagParameterException(`The tag key '${t.Key}' uses the reserved prefix 'aws:'.`);
    keys.add(t.Key);
  }
  return list;
}

export interface CreateRepositoryInput {
  registryId?: string;
  repositoryName: string;
  tags?: Tag[];
  imageTagMutability?: TagMutability;
  imageTagMutabilityExclusionFilters?: ExclusionFilter[];
  imageScanningConfiguration?: { scanOnPush?: boolean };
  encryptionConfiguration?: { encryptionType?: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
}

export async function createRepository(ctx: EcrContext, input: CreateRepositoryInput): Promise<unknown> {
  checkRegistryId(ctx, input.registryId);
  const name = input.repositoryName;
  if (typeof name !== 'string' || name.length < 2 || name.length > 256 || !REPOSITORY_NAME_RE.test(name)) {
    throw new InvalidParameterException(
      `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''`,
    );
  }
  const encryptionType = input.encryptionConfiguration?.encryptionType ?? 'AES256';
  if (encryptionType === 'AES256' && input.encryptionConfiguration?.kmsKey !== undefined) {
    throw new InvalidParameterException('Invalid parameter: a KMS key can only be given with encryption type KMS or KMS_DSSE.');
  }
  const mutability = input.imageTagMutability ?? 'MUTABLE';
  const filters = checkMutability(mutability, input.imageTagMutabilityExclusionFilters);
  const doc: RepositoryDoc = {
    repositoryArn: repositoryArn(ctx, name),
    registryId: ctx.accountId,
    repositoryName: name,
    createdAt: ctx.now(),
    imageTagMutability: mutability,
    ...(filters ? { imageTagMutabilityExclusionFilters: filters } : {}),
    imageScanningConfiguration: { scanOnPush: input.imageScanningConfiguration?.scanOnPush ?? false },
    encryptionConfiguration: {
      encryptionType,
      ...(input.encryptionConfiguration?.kmsKey !== undefined ? { kmsKey: input.encryptionConfiguration.kmsKey } : {}),
    },
    tags: checkTags(input.tags),
  };
  try {
    await ctx.store.transaction((tx) =>
      tx.insert('repository', { arn: doc.repositoryArn, cluster: '', name, status: 'ACTIVE', seq: doc.createdAt, doc }),
    );
  } catch (err) {
    if (err instanceof AlreadyExistsError) {
      throw new RepositoryAlreadyExistsException(`The repository with name '${name}' already exists in the registry with id '${ctx.accountId}'`);
    }
    throw err;
  }
  return { repository: describeRepository(ctx, doc) };
}

export async function describeRepositories(
  ctx: EcrContext,
  input: { registryId?: string; repositoryNames?: string[]; nextToken?: string; maxResults?: number },
): Promise<unknown> {
  checkRegistryId(ctx, input.registryId);
  if (input.repositoryNames !== undefined) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw new InvalidParameterException('Invalid parameter: nextToken and maxResults cannot be used with repositoryNames.');
    }
    const out: Record<string, unknown>[] = [];
    for (const name of input.repositoryNames) out.push(describeRepository(ctx, (await getRepository(ctx, ctx.store, name)).doc));
    return { repositories: out };
  }
  const limit = pageSize(input.maxResults, 1000, 100);
  const after = decodeToken<string>('ecr:DescribeRepositories', input.nextToken);
  const rows = await ctx.store.find<RepositoryDoc>('repository', {
    status: 'ACTIVE',
    limit: limit + 1,
    ...(after !== undefined ? { after: { name: after, seq: Number.MAX_SAFE_INTEGER, arn: '\uffff' } } : {}),
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    repositories: page.map((r) => describeRepository(ctx, r.doc)),
    ...(rows.length > limit && last ? { nextToken: encodeToken('ecr:DescribeRepositories', last.name) } : {}),
  };
}

export async function deleteRepository(ctx: EcrContext, input: { registryId?: string; repositoryName: string; force?: boolean }): Promise<unknown> {
  const repo = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const images = await tx.find('image', { cluster: row.arn });
    if (images.length > 0 && input.force !== true) {
      throw new RepositoryNotEmptyException(
        `The repository with name '${row.name}' in registry with id '${ctx.accountId}' cannot be deleted because it still contains images`,
      );
    }
    for (const kind of ['image', 'imageTag', 'layer', 'lifecyclePreview'] as const) {
      for (const r of await tx.find(kind, { cluster: row.arn })) await tx.remove(kind, r.arn, r.version);
    }
    await tx.remove('repository', row.arn, row.version);
    return row.doc;
  });
  return { repository: describeRepository(ctx, repo) };
}

export async function putImageTagMutability(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; imageTagMutability: TagMutability; imageTagMutabilityExclusionFilters?: ExclusionFilter[] },
): Promise<unknown> {
  const filters = checkMutability(input.imageTagMutability, input.imageTagMutabilityExclusionFilters);
  await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const { imageTagMutabilityExclusionFilters: _old, ...rest } = row.doc;
    await tx.update('repository', { ...row, doc: { ...rest, imageTagMutability: input.imageTagMutability, ...(filters ? { imageTagMutabilityExclusionFilters: filters } : {}) } });
  });
  return {
    registryId: ctx.accountId,
    repositoryName: input.repositoryName,
    imageTagMutability: input.imageTagMutability,
    ...(filters ? { imageTagMutabilityExclusionFilters: filters } : {}),
  };
}

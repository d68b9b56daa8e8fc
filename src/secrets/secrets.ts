/**
 * Secrets Manager semantics: secrets, their versions and staging labels,
 * scheduled deletion, tags and resource policies.
 *
 * A secret is one row of kind `secret`; its versions live in the row's
 * document with their values sealed (`core/envelope.ts`): a value is never
 * stored, returned by DescribeSecret/ListSecrets, nor logged in clear.
 *
 * Staging labels follow AWS: a label is on at most one version; a new value
 * takes AWSCURRENT (unless other stages are asked for) and the version that
 * had it becomes AWSPREVIOUS; a version with no label is deprecated and only
 * listed with IncludeDeprecated; at most 100 versions are kept, the oldest
 * deprecated ones dropped first.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DecryptionError, type SealedValue } from '../core/envelope.js';
import {
  DecryptionFailure,
  InvalidNextTokenException,
  InvalidParameterException,
  InvalidRequestException,
  LimitExceededException,
  MalformedPolicyDocumentException,
  ResourceExistsException,
  ResourceNotFoundException,
} from '../core/errors.js';
import { compilePolicy, PolicySyntaxError } from '../iam/policy/index.js';
import { AlreadyExistsError, withRetry, type Row, type StoreReader, type Transaction } from '../store/store.js';
import type { SecretsContext } from './context.js';

export const CURRENT = 'AWSCURRENT';
export const PREVIOUS = 'AWSPREVIOUS';
const MAX_VERSIONS = 100;
const MAX_STAGES_PER_VERSION = 20;
const MAX_TAGS = 50;
/** AWS's limit on a secret value (SecretString or SecretBinary). */
export const MAX_SECRET_BYTES = 65536;

export interface Tag {
  Key?: string;
  Value?: string;
}

export interface SecretVersion {
  versionId: string;
  stages: string[];
  /** Epoch milliseconds. */
  createdDate: number;
  lastAccessedDate?: number;
  type: 'string' | 'binary';
  value: SealedValue;
}

/** A secret as stored. Timestamps are epoch milliseconds. */
export interface SecretDoc {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  /** When DeleteSecret was called; the secret is gone for good at `deletionDate`. */
  deletedDate?: number;
  deletionDate?: number;
  tags: Tag[];
  versions: SecretVersion[];
  /** The resource policy, as the caller wrote it. */
  policy?: string;
}

const NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const notFound = (): Error => new ResourceNotFoundException("Secrets Manager can't find the specified secret.");
const markedForDeletion = (): Error =>
  new InvalidRequestException("You can't perform this operation on the secret because it was marked for deletion.");

/** ARNs end with `-` and six random characters, so a secret deleted and created again gets a new ARN. */
function newArn(ctx: SecretsContext, name: string): string {
  const bytes = randomBytes(6);
  let suffix = '';
  for (const b of bytes) suffix += SUFFIX_CHARS[b % SUFFIX_CHARS.length];
  return `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${name}-${suffix}`;
}

const sealContext = (arn: string, versionId: string): string => `secretsmanager:${arn}:${versionId}`;

/** Whether a secret scheduled for deletion has passed its deletion date (it is then gone). */
function expired(ctx: SecretsContext, doc: SecretDoc): boolean {
  return doc.deletionDate !== undefined && doc.deletionDate <= ctx.now();
}

/**
 * Finds a secret by name, full ARN, or partial ARN (without the random
 * suffix), as every operation's SecretId accepts. Secrets past their
 * deletion date do not exist.
 */
export async function findSecret(ctx: SecretsContext, reader: StoreReader, secretId: string): Promise<Row<SecretDoc> | undefined> {
  let row: Row<SecretDoc> | undefined;
  if (secretId.startsWith('arn:')) {
    row = await reader.get<SecretDoc>('secret', secretId);
    if (!row) {
      const m = /^arn:[^:]+:secretsmanager:([^:]+):(\d{12}):secret:(.+)$/.exec(secretId);
      if (m && m[1] === ctx.region && m[2] === ctx.accountId) {
        row = (await reader.find<SecretDoc>('secret', { name: m[3]! })).find((r) => !expired(ctx, r.doc));
      }
    }
  } else {
    row = (await reader.find<SecretDoc>('secret', { name: secretId })).find((r) => !expired(ctx, r.doc));
  }
  if (row && expired(ctx, row.doc)) return undefined;
  return row;
}

async function mustFind(ctx: SecretsContext, reader: StoreReader, secretId: string, allowDeleted = false): Promise<Row<SecretDoc>> {
  const row = await findSecret(ctx, reader, secretId);
  if (!row) throw notFound();
  if (!allowDeleted && row.doc.deletedDate !== undefined) throw markedForDeletion();
  return row;
}

function valueOf(input: { SecretString?: string; SecretBinary?: string | Uint8Array }): { type: 'string' | 'binary'; bytes: Buffer } | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw new InvalidParameterException("You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  let out: { type: 'string' | 'binary'; bytes: Buffer } | undefined;
  if (input.SecretString !== undefined) out = { type: 'string', bytes: Buffer.from(input.SecretString, 'utf8') };
  else if (input.SecretBinary !== undefined) {
    out = { type: 'binary', bytes: typeof input.SecretBinary === 'string' ? Buffer.from(input.SecretBinary, 'base64') : Buffer.from(input.SecretBinary) };
  }
  if (out && out.bytes.length > MAX_SECRET_BYTES) {
    throw new InvalidParameterException(`Secret value exceeds the maximum size of ${MAX_SECRET_BYTES} bytes.`);
  }
  return out;
}

function checkToken(token: string | undefined): string {
  if (token === undefined) return randomUUID();
  if (token.length < 32 || token.length > 64) {
    throw new InvalidParameterException('ClientRequestToken must be 32-64 characters long.');
  }
  return token;
}

function checkTags(tags: Tag[]): Tag[] {
  if (tags.length > MAX_TAGS) throw new InvalidParameterException(`Number of tags exceeds the limit of ${MAX_TAGS}.`);
  for (const t of tags) {
    if (t.Key === undefined || t.Key.length < 1 || t.Key.length > 128) throw new InvalidParameterException('Tag keys must be 1 to 128 characters long.');
    if (t.Key.toLowerCase().startsWith('aws:')) throw new InvalidParameterException('Tag keys starting with aws: are reserved for AWS use.');
    if ((t.Value ?? '').length > 256) throw new InvalidParameterException('Tag values must be at most 256 characters long.');
  }
  return tags;
}

function mergeTags(existing: Tag[], added: Tag[]): Tag[] {
  const out = existing.filter((t) => !added.some((a) => a.Key === t.Key));
  return [...out, ...added.map((t) => ({ Key: t.Key, Value: t.Value ?? '' }))];
}

/**
 * Adds a version carrying `stages` to `doc` (mutated): each label moves to
 * the new version; AWSCURRENT's previous holder becomes AWSPREVIOUS.
 * Returns false when the version already exists with the same value
 * (an idempotent retry); throws when it exists with another value.
 */
function addVersion(ctx: SecretsContext, doc: SecretDoc, versionId: string, value: { type: 'string' | 'binary'; bytes: Buffer }, stages: string[]): boolean {
  const existing = doc.versions.find((v) => v.versionId === versionId);
  if (existing) {
    const same = existing.type === value.type && ctx.keyring.open(existing.value, sealContext(doc.arn, versionId)).equals(value.bytes);
    if (same) return false;
    throw new ResourceExistsException(`A version with the ClientRequestToken ${versionId} already exists with a different value. You can't modify an existing version; use a new ClientRequestToken to create a new version.`);
  }
  if (stages.length > MAX_STAGES_PER_VERSION) throw new LimitExceededException(`A version can have at most ${MAX_STAGES_PER_VERSION} staging labels.`);
  for (const stage of stages) moveStage(doc, stage, versionId);
  doc.versions.push({ versionId, stages: [...stages], createdDate: ctx.now(), type: value.type, value: ctx.keyring.seal(value.bytes, sealContext(doc.arn, versionId)) });
  // Keep the newest MAX_VERSIONS; deprecated (unlabelled) versions go first.
  while (doc.versions.length > MAX_VERSIONS) {
    const oldest = doc.versions.findIndex((v) => v.stages.length === 0);
    if (oldest < 0) break;
    doc.versions.splice(oldest, 1);
  }
  doc.lastChangedDate = ctx.now();
  return true;
}

/** Moves `stage` to `versionId` (which may not be in `doc.versions` yet). AWSCURRENT leaves AWSPREVIOUS behind. */
function moveStage(doc: SecretDoc, stage: string, versionId: string): void {
  const from = doc.versions.find((v) => v.stages.includes(stage));
  if (from?.versionId === versionId) return;
  if (from) from.stages = from.stages.filter((s) => s !== stage);
  if (stage === CURRENT && from) {
    for (const v of doc.versions) v.stages = v.stages.filter((s) => s !== PREVIOUS);
    from.stages.push(PREVIOUS);
  }
  const to = doc.versions.find((v) => v.versionId === versionId);
  if (to && !to.stages.includes(stage)) to.stages.push(stage);
}

async function insertSecret(tx: Transaction, doc: SecretDoc): Promise<void> {
  await tx.insert<SecretDoc>('secret', { arn: doc.arn, cluster: '', name: doc.name, status: 'ACTIVE', seq: doc.createdDate, doc });
}

async function save(tx: Transaction, row: Row<SecretDoc>): Promise<Row<SecretDoc>> {
  return tx.update<SecretDoc>('secret', { ...row, status: row.doc.deletedDate !== undefined ? 'DELETING' : 'ACTIVE' });
}

const epoch = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);
/** AWS reports the last access as a date (midnight UTC). */
const day = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.floor(ms / 86_400_000) * 86_400);

// ---------------------------------------------------------------------------

export interface CreateSecretInput {
  Name: string;
  ClientRequestToken?: string;
  Description?: string;
  KmsKeyId?: string;
  SecretBinary?: string | Uint8Array;
  SecretString?: string;
  Tags?: Tag[];
  AddReplicaRegions?: unknown[];
  ForceOverwriteReplicaSecret?: boolean;
}

export async function createSecret(ctx: SecretsContext, input: CreateSecretInput): Promise<Record<string, unknown>> {
  if (!NAME_RE.test(input.Name)) {
    throw new InvalidParameterException('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
  }
  if (input.AddReplicaRegions?.length) throw new InvalidRequestException('Berth does not replicate secrets to other regions.');
  const value = valueOf(input);
  const versionId = checkToken(input.ClientRequestToken);
  const tags = checkTags(input.Tags ?? []);
  return withRetry(ctx.store, async (tx) => {
    const rows = await tx.find<SecretDoc>('secret', { name: input.Name });
    for (const r of rows) {
      if (expired(ctx, r.doc)) {
        await tx.remove('secret', r.arn, r.version);
        continue;
      }
      if (r.doc.deletedDate !== undefined) {
        throw new InvalidRequestException("You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      // A retry of the same CreateSecret (same token, same value) answers as the first call did.
      const v = r.doc.versions.find((x) => x.versionId === versionId);
      if (v && value && v.type === value.type && ctx.keyring.open(v.value, sealContext(r.arn, versionId)).equals(value.bytes)) {
        return { ARN: r.arn, Name: r.doc.name, VersionId: versionId, ReplicationStatus: [] };
      }
      throw new ResourceExistsException(`The operation failed because the secret ${input.Name} already exists.`);
    }
    const now = ctx.now();
    const doc: SecretDoc = {
      arn: newArn(ctx, input.Name),
      name: input.Name,
      ...(input.Description !== undefined ? { description: input.Description } : {}),
      ...(input.KmsKeyId !== undefined ? { kmsKeyId: input.KmsKeyId } : {}),
      createdDate: now,
      lastChangedDate: now,
      tags: tags.map((t) => ({ Key: t.Key, Value: t.Value ?? '' })),
      versions: [],
    };
    if (value) addVersion(ctx, doc, versionId, value, [CURRENT]);
    try {
      await insertSecret(tx, doc);
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw new ResourceExistsException(`The operation failed because the secret ${input.Name} already exists.`);
      throw err;
    }
    return { ARN: doc.arn, Name: doc.name, ...(value ? { VersionId: versionId } : {}), ReplicationStatus: [] };
  });
}

function pickVersion(doc: SecretDoc, versionId: string | undefined, stage: string | undefined): SecretVersion {
  if (versionId !== undefined) {
    const v = doc.versions.find((x) => x.versionId === versionId);
    if (!v || (stage !== undefined && !v.stages.includes(stage))) {
      throw new ResourceNotFoundException(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
    }
    return v;
  }
  const label = stage ?? CURRENT;
  const v = doc.versions.find((x) => x.stages.includes(label));
  if (!v) throw new ResourceNotFoundException(`Secrets Manager can't find the specified secret value for staging label: ${label}`);
  return v;
}

/** The plaintext of one version (the only place values are opened). */
export function openVersion(ctx: SecretsContext, doc: SecretDoc, v: SecretVersion): Buffer {
  try {
    return ctx.keyring.open(v.value, sealContext(doc.arn, v.versionId));
  } catch (err) {
    if (err instanceof DecryptionError) {
      throw new DecryptionFailure("Secrets Manager can't decrypt the protected secret text using the provided KMS key.", { hint: err.message });
    }
    throw err;
  }
}

function secretValueOutput(ctx: SecretsContext, doc: SecretDoc, v: SecretVersion): Record<string, unknown> {
  const plain = openVersion(ctx, doc, v);
  return {
    ARN: doc.arn,
    Name: doc.name,
    VersionId: v.versionId,
    ...(v.type === 'string' ? { SecretString: plain.toString('utf8') } : { SecretBinary: plain.toString('base64') }),
    VersionStages: v.stages,
    CreatedDate: epoch(v.createdDate),
  };
}

/** Records the access date, at most once a day per secret (AWS reports it to the day). */
async function touch(ctx: SecretsContext, row: Row<SecretDoc>, versionId: string): Promise<void> {
  const today = day(ctx.now());
  if (day(row.doc.lastAccessedDate) === today) return;
  await withRetry(ctx.store, async (tx) => {
    const fresh = await tx.get<SecretDoc>('secret', row.arn);
    if (!fresh) return;
    fresh.doc.lastAccessedDate = ctx.now();
    const v = fresh.doc.versions.find((x) => x.versionId === versionId);
    if (v) v.lastAccessedDate = ctx.now();
    await save(tx, fresh);
  });
}

/**
 * The current (`AWSCURRENT`) string value of a secret, for services that read
 * secrets on a user's behalf (ECR's pull-through cache credentials):
 * undefined when there is no such secret, it is scheduled for deletion, or it
 * holds a binary value.
 */
export async function currentSecretString(ctx: SecretsContext, secretId: string): Promise<string | undefined> {
  const row = await findSecret(ctx, ctx.store, secretId);
  if (!row || row.doc.deletedDate !== undefined) return undefined;
  const v = row.doc.versions.find((x) => x.stages.includes(CURRENT));
  if (!v || v.type !== 'string') return undefined;
  const value = openVersion(ctx, row.doc, v).toString('utf8');
  await touch(ctx, row, v.versionId);
  return value;
}

export async function getSecretValue(
  ctx: SecretsContext,
  input: { SecretId: string; VersionId?: string; VersionStage?: string },
): Promise<Record<string, unknown>> {
  const row = await mustFind(ctx, ctx.store, input.SecretId);
  const v = pickVersion(row.doc, input.VersionId, input.VersionStage);
  const out = secretValueOutput(ctx, row.doc, v);
  await touch(ctx, row, v.versionId);
  return out;
}

export async function putSecretValue(
  ctx: SecretsContext,
  input: { SecretId: string; ClientRequestToken?: string; SecretString?: string; SecretBinary?: string | Uint8Array; VersionStages?: string[]; RotationToken?: string },
): Promise<Record<string, unknown>> {
  const value = valueOf(input);
  if (!value) throw new InvalidParameterException('You must provide either SecretString or SecretBinary.');
  const versionId = checkToken(input.ClientRequestToken);
  const stages = input.VersionStages ?? [CURRENT];
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    if (addVersion(ctx, row.doc, versionId, value, stages)) await save(tx, row);
    const v = row.doc.versions.find((x) => x.versionId === versionId)!;
    return { ARN: row.doc.arn, Name: row.doc.name, VersionId: versionId, VersionStages: v.stages };
  });
}

export async function updateSecret(
  ctx: SecretsContext,
  input: { SecretId: string; ClientRequestToken?: string; Description?: string; KmsKeyId?: string; SecretBinary?: string | Uint8Array; SecretString?: string },
): Promise<Record<string, unknown>> {
  const value = valueOf(input);
  const versionId = value ? checkToken(input.ClientRequestToken) : undefined;
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    if (input.Description !== undefined) row.doc.description = input.Description;
    if (input.KmsKeyId !== undefined) row.doc.kmsKeyId = input.KmsKeyId;
    row.doc.lastChangedDate = ctx.now();
    if (value && versionId) addVersion(ctx, row.doc, versionId, value, [CURRENT]);
    await save(tx, row);
    return { ARN: row.doc.arn, Name: row.doc.name, ...(versionId ? { VersionId: versionId } : {}) };
  });
}

function versionIdsToStages(doc: SecretDoc): Record<string, string[]> {
  return Object.fromEntries(doc.versions.filter((v) => v.stages.length > 0).map((v) => [v.versionId, v.stages]));
}

function describe(doc: SecretDoc): Record<string, unknown> {
  return {
    ARN: doc.arn,
    Name: doc.name,
    ...(doc.description !== undefined ? { Description: doc.description } : {}),
    ...(doc.kmsKeyId !== undefined ? { KmsKeyId: doc.kmsKeyId } : {}),
    RotationEnabled: false,
    LastChangedDate: epoch(doc.lastChangedDate),
    ...(doc.lastAccessedDate !== undefined ? { LastAccessedDate: day(doc.lastAccessedDate) } : {}),
    ...(doc.deletedDate !== undefined ? { DeletedDate: epoch(doc.deletedDate) } : {}),
    ...(doc.tags.length ? { Tags: doc.tags } : {}),
    CreatedDate: epoch(doc.createdDate),
  };
}

export async function describeSecret(ctx: SecretsContext, input: { SecretId: string }): Promise<Record<string, unknown>> {
  const row = await mustFind(ctx, ctx.store, input.SecretId, true);
  return { ...describe(row.doc), VersionIdsToStages: versionIdsToStages(row.doc) };
}

export interface ListSecretsInput {
  IncludePlannedDeletion?: boolean;
  MaxResults?: number;
  NextToken?: string;
  Filters?: { Key?: string; Values?: string[] }[];
  SortOrder?: string;
  SortBy?: string;
}

/** ListSecrets filters: each value is a prefix, `!` negates it; keys AND, a key's values OR. */
function filterMatches(doc: SecretDoc, filters: NonNullable<ListSecretsInput['Filters']>): boolean {
  return filters.every((f) => {
    const fields = (): string[] => {
      switch (f.Key) {
        case 'name':
          return [doc.name];
        case 'description':
          return [doc.description ?? ''];
        case 'tag-key':
          return doc.tags.map((t) => t.Key ?? '');
        case 'tag-value':
          return doc.tags.map((t) => t.Value ?? '');
        case 'primary-region':
          return [];
        case 'owning-service':
          return [];
        case 'all':
        default:
          return [doc.name, doc.description ?? '', ...doc.tags.flatMap((t) => [t.Key ?? '', t.Value ?? ''])];
      }
    };
    const values = f.Values ?? [];
    const positive = values.filter((v) => !v.startsWith('!'));
    const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const got = fields();
    const prefix = (p: string): boolean => got.some((g) => g.startsWith(p));
    if (negative.some(prefix)) return false;
    return positive.length === 0 || positive.some(prefix);
  });
}

export async function listSecrets(ctx: SecretsContext, input: ListSecretsInput): Promise<Record<string, unknown>> {
  const limit = input.MaxResults ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidParameterException('MaxResults must be between 1 and 100.');
  for (const f of input.Filters ?? []) {
    if (!f.Values || f.Values.length === 0) throw new InvalidParameterException(`Filter ${f.Key ?? ''} must have at least one value.`);
  }
  const after = decodeListToken(input.NextToken, 'secretsmanager:ListSecrets');
  const rows = await ctx.store.find<SecretDoc>('secret', {});
  const desc = input.SortOrder === 'desc';
  const matching = rows
    .map((r) => r.doc)
    .filter((d) => !expired(ctx, d))
    .filter((d) => input.IncludePlannedDeletion || d.deletedDate === undefined)
    .filter((d) => filterMatches(d, input.Filters ?? []))
    .sort((a, b) => (a.createdDate - b.createdDate || a.arn.localeCompare(b.arn)) * (desc ? -1 : 1));
  const start = after === undefined ? 0 : matching.findIndex((d) => (desc ? cmpKey(d) < after : cmpKey(d) > after));
  const page = start < 0 ? [] : matching.slice(start, start + limit);
  const more = start >= 0 && start + limit < matching.length;
  return {
    SecretList: page.map((d) => ({ ...describe(d), SecretVersionsToStages: versionIdsToStages(d) })),
    ...(more ? { NextToken: encodeListToken('secretsmanager:ListSecrets', cmpKey(page[page.length - 1]!)) } : {}),
  };
}

const cmpKey = (d: SecretDoc): string => `${String(d.createdDate).padStart(16, '0')}|${d.arn}`;

function encodeListToken(scope: string, position: string): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
}

function decodeListToken(token: string | undefined, scope: string): string | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; p?: unknown };
    if (parsed.s === scope && typeof parsed.p === 'string') return parsed.p;
  } catch {
    // refused below
  }
  throw new InvalidNextTokenException('The NextToken value is invalid.');
}

export async function deleteSecret(
  ctx: SecretsContext,
  input: { SecretId: string; RecoveryWindowInDays?: number; ForceDeleteWithoutRecovery?: boolean },
): Promise<Record<string, unknown>> {
  if (input.ForceDeleteWithoutRecovery && input.RecoveryWindowInDays !== undefined) {
    throw new InvalidParameterException("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  }
  const days = input.RecoveryWindowInDays ?? 30;
  if (!input.ForceDeleteWithoutRecovery && (!Number.isInteger(days) || days < 7 || days > 30)) {
    throw new InvalidParameterException('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
  }
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId, true);
    const now = ctx.now();
    if (input.ForceDeleteWithoutRecovery) {
      await tx.remove('secret', row.arn, row.version);
      return { ARN: row.doc.arn, Name: row.doc.name, DeletionDate: epoch(now) };
    }
    if (row.doc.deletedDate !== undefined) throw markedForDeletion();
    row.doc.deletedDate = now;
    row.doc.deletionDate = now + days * 86_400_000;
    await save(tx, row);
    return { ARN: row.doc.arn, Name: row.doc.name, DeletionDate: epoch(row.doc.deletionDate) };
  });
}

export async function restoreSecret(ctx: SecretsContext, input: { SecretId: string }): Promise<Record<string, unknown>> {
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId, true);
    if (row.doc.deletedDate !== undefined) {
      delete row.doc.deletedDate;
      delete row.doc.deletionDate;
      await save(tx, row);
    }
    return { ARN: row.doc.arn, Name: row.doc.name };
  });
}

export async function listSecretVersionIds(
  ctx: SecretsContext,
  input: { SecretId: string; MaxResults?: number; NextToken?: string; IncludeDeprecated?: boolean },
): Promise<Record<string, unknown>> {
  const limit = input.MaxResults ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidParameterException('MaxResults must be between 1 and 100.');
  const row = await mustFind(ctx, ctx.store, input.SecretId, true);
  const versions = row.doc.versions.filter((v) => input.IncludeDeprecated || v.stages.length > 0);
  const after = decodeListToken(input.NextToken, `secretsmanager:ListSecretVersionIds:${row.arn}`);
  const start = after === undefined ? 0 : versions.findIndex((v) => v.versionId === after) + 1;
  const page = versions.slice(start, start + limit);
  const more = start + limit < versions.length;
  return {
    ARN: row.doc.arn,
    Name: row.doc.name,
    Versions: page.map((v) => ({
      VersionId: v.versionId,
      VersionStages: v.stages,
      CreatedDate: epoch(v.createdDate),
      ...(v.lastAccessedDate !== undefined ? { LastAccessedDate: day(v.lastAccessedDate) } : {}),
    })),
    ...(more ? { NextToken: encodeListToken(`secretsmanager:ListSecretVersionIds:${row.arn}`, page[page.length - 1]!.versionId) } : {}),
  };
}

export async function updateSecretVersionStage(
  ctx: SecretsContext,
  input: { SecretId: string; VersionStage: string; RemoveFromVersionId?: string; MoveToVersionId?: string },
): Promise<Record<string, unknown>> {
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    const doc = row.doc;
    const holder = doc.versions.find((v) => v.stages.includes(input.VersionStage));
    if (input.MoveToVersionId !== undefined && !doc.versions.some((v) => v.versionId === input.MoveToVersionId)) {
      throw new ResourceNotFoundException(`Secrets Manager can't find the specified secret value for VersionId: ${input.MoveToVersionId}`);
    }
    if (holder && holder.versionId !== input.MoveToVersionId && holder.versionId !== input.RemoveFromVersionId) {
      throw new InvalidParameterException(
        `The parameter RemoveFromVersionId can't be empty. Staging label ${input.VersionStage} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    if (input.RemoveFromVersionId !== undefined && holder?.versionId !== input.RemoveFromVersionId) {
      throw new InvalidParameterException(`The staging label ${input.VersionStage} is not attached to version ${input.RemoveFromVersionId}.`);
    }
    if (input.MoveToVersionId !== undefined) {
      const target = doc.versions.find((v) => v.versionId === input.MoveToVersionId)!;
      if (!target.stages.includes(input.VersionStage) && target.stages.length >= MAX_STAGES_PER_VERSION) {
        throw new LimitExceededException(`A version can have at most ${MAX_STAGES_PER_VERSION} staging labels.`);
      }
      moveStage(doc, input.VersionStage, input.MoveToVersionId);
    } else if (holder) {
      if (input.VersionStage === CURRENT) throw new InvalidParameterException('You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.');
      holder.stages = holder.stages.filter((s) => s !== input.VersionStage);
    }
    doc.lastChangedDate = ctx.now();
    await save(tx, row);
    return { ARN: doc.arn, Name: doc.name };
  });
}

export async function batchGetSecretValue(
  ctx: SecretsContext,
  input: { SecretIdList?: string[]; Filters?: { Key?: string; Values?: string[] }[]; MaxResults?: number; NextToken?: string },
): Promise<Record<string, unknown>> {
  if ((input.SecretIdList === undefined) === (input.Filters === undefined)) {
    throw new InvalidParameterException('Either SecretIdList or Filters must be provided, but not both.');
  }
  const values: Record<string, unknown>[] = [];
  const errors: Record<string, unknown>[] = [];
  if (input.SecretIdList) {
    if (input.MaxResults !== undefined) throw new InvalidParameterException('MaxResults can be used only with Filters.');
    if (input.SecretIdList.length > 20) throw new InvalidParameterException('SecretIdList can name at most 20 secrets.');
    for (const id of input.SecretIdList) {
      try {
        values.push(await getSecretValue(ctx, { SecretId: id }));
      } catch (err) {
        const e = err as { type?: string; message?: string };
        if (!e.type) throw err;
        errors.push({ SecretId: id, ErrorCode: e.type, Message: e.message });
      }
    }
    return { SecretValues: values, Errors: errors };
  }
  const limit = input.MaxResults ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 20) throw new InvalidParameterException('MaxResults must be between 1 and 20.');
  const page = await listSecrets(ctx, { Filters: input.Filters ?? [], MaxResults: limit, ...(input.NextToken !== undefined ? { NextToken: input.NextToken } : {}) });
  for (const s of page.SecretList as { ARN: string }[]) {
    try {
      values.push(await getSecretValue(ctx, { SecretId: s.ARN }));
    } catch (err) {
      const e = err as { type?: string; message?: string };
      if (!e.type) throw err;
      errors.push({ SecretId: s.ARN, ErrorCode: e.type, Message: e.message });
    }
  }
  return { SecretValues: values, Errors: errors, ...(page.NextToken !== undefined ? { NextToken: page.NextToken } : {}) };
}

export async function tagResource(ctx: SecretsContext, input: { SecretId: string; Tags: Tag[] }): Promise<Record<string, unknown>> {
  checkTags(input.Tags);
  await withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    row.doc.tags = checkTags(mergeTags(row.doc.tags, input.Tags));
    await save(tx, row);
  });
  return {};
}

export async function untagResource(ctx: SecretsContext, input: { SecretId: string; TagKeys: string[] }): Promise<Record<string, unknown>> {
  await withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    row.doc.tags = row.doc.tags.filter((t) => !input.TagKeys.includes(t.Key ?? ''));
    await save(tx, row);
  });
  return {};
}

/** Validates a secret's resource policy as IAM does; throws MalformedPolicyDocumentException naming the problem. */
export function checkResourcePolicy(policy: string): void {
  try {
    compilePolicy(policy, 'resource');
  } catch (err) {
    if (err instanceof PolicySyntaxError) throw new MalformedPolicyDocumentException(err.message);
    throw err;
  }
}

export async function putResourcePolicy(
  ctx: SecretsContext,
  input: { SecretId: string; ResourcePolicy: string; BlockPublicPolicy?: boolean },
): Promise<Record<string, unknown>> {
  checkResourcePolicy(input.ResourcePolicy);
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    row.doc.policy = input.ResourcePolicy;
    await save(tx, row);
    return { ARN: row.doc.arn, Name: row.doc.name };
  });
}

export async function getResourcePolicy(ctx: SecretsContext, input: { SecretId: string }): Promise<Record<string, unknown>> {
  const row = await mustFind(ctx, ctx.store, input.SecretId, true);
  return { ARN: row.doc.arn, Name: row.doc.name, ...(row.doc.policy !== undefined ? { ResourcePolicy: row.doc.policy } : {}) };
}

export async function deleteResourcePolicy(ctx: SecretsContext, input: { SecretId: string }): Promise<Record<string, unknown>> {
  return withRetry(ctx.store, async (tx) => {
    const row = await mustFind(ctx, tx, input.SecretId);
    delete row.doc.policy;
    await save(tx, row);
    return { ARN: row.doc.arn, Name: row.doc.name };
  });
}

export async function validateResourcePolicy(_ctx: SecretsContext, input: { ResourcePolicy: string; SecretId?: string }): Promise<Record<string, unknown>> {
  try {
    checkResourcePolicy(input.ResourcePolicy);
    return { PolicyValidationPassed: true, ValidationErrors: [] };
  } catch (err) {
    if (!(err instanceof MalformedPolicyDocumentException)) throw err;
    return { PolicyValidationPassed: false, ValidationErrors: [{ CheckName: 'POLICY_SYNTAX', ErrorMessage: err.message }] };
  }
}

/** Removes the secrets whose scheduled deletion date has passed; returns how many. */
export async function purgeExpiredSecrets(ctx: SecretsContext): Promise<number> {
  let n = 0;
  for (const r of await ctx.store.find<SecretDoc>('secret', { status: 'DELETING' })) {
    if (!expired(ctx, r.doc)) continue;
    n += await withRetry(ctx.store, async (tx) => {
      const row = await tx.get<SecretDoc>('secret', r.arn);
      if (!row || !expired(ctx, row.doc)) return 0;
      await tx.remove('secret', row.arn, row.version);
      return 1;
    });
  }
  return n;
}

/**
 * Re-wraps every version's data key under the current master key (after a
 * new key was added to the key file). Values themselves are not re-encrypted.
 * Returns the number of versions re-wrapped.
 */
export async function rewrapSecrets(ctx: SecretsContext): Promise<number> {
  let n = 0;
  for (const r of await ctx.store.find<SecretDoc>('secret', {})) {
    if (!r.doc.versions.some((v) => ctx.keyring.needsRewrap(v.value))) continue;
    n += await withRetry(ctx.store, async (tx) => {
      const row = await tx.get<SecretDoc>('secret', r.arn);
      if (!row) return 0;
      let k = 0;
      for (const v of row.doc.versions) {
        if (!ctx.keyring.needsRewrap(v.value)) continue;
        v.value = ctx.keyring.rewrap(v.value);
        k++;
      }
      await tx.update<SecretDoc>('secret', row);
      return k;
    });
  }
  return n;
}

/**
 * A secret's value for a container's `secrets` entry: `valueFrom` is the
 * secret's ARN (full or partial) or name, optionally followed by
 * `:json-key:version-stage:version-id` as ECS accepts it. Throws the AWS
 * error for a missing secret, version or JSON key.
 */
export async function resolveSecretReference(ctx: SecretsContext, valueFrom: string): Promise<string> {
  let id = valueFrom;
  let jsonKey = '';
  let stage = '';
  let versionId = '';
  const m = /^(arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:[^:]+)(?::([^:]*):([^:]*):([^:]*))?$/.exec(valueFrom);
  if (m) {
    id = m[1]!;
    jsonKey = m[2] ?? '';
    stage = m[3] ?? '';
    versionId = m[4] ?? '';
  }
  const row = await mustFind(ctx, ctx.store, id);
  const v = pickVersion(row.doc, versionId || undefined, stage || undefined);
  if (v.type !== 'string') throw new InvalidRequestException(`The secret ${row.doc.name} holds a binary value; containers take only SecretString values.`);
  const text = openVersion(ctx, row.doc, v).toString('utf8');
  await touch(ctx, row, v.versionId);
  if (!jsonKey) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidRequestException(`The secret ${row.doc.name} is not JSON, so its key ${jsonKey} cannot be read.`);
  }
  const field = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[jsonKey] : undefined;
  if (field === undefined) throw new ResourceNotFoundException(`The secret ${row.doc.name} has no JSON key ${jsonKey}.`);
  return typeof field === 'string' ? field : JSON.stringify(field);
}

/**
 * Parameter Store semantics: parameters (String, StringList, SecureString),
 * their version history and labels, hierarchies, tiers and tags.
 *
 * A parameter is one row of kind `parameter` keyed by its ARN; its versions
 * live in the row's document, oldest first. SecureString values are sealed
 * (`core/envelope.ts`) and opened only for callers that ask WithDecryption.
 */
import { DecryptionError, type SealedValue } from '../core/envelope.js';
import {
  HierarchyLevelLimitExceededException,
  HierarchyTypeMismatchException,
  InvalidAllowedPatternException,
  InvalidFilterKey,
  InvalidFilterOption,
  InvalidFilterValue,
  InvalidKeyId,
  InvalidNextToken,
  InvalidResourceId,
  InvalidResourceType,
  ParameterAlreadyExists,
  ParameterMaxVersionLimitExceeded,
  ParameterNotFound,
  ParameterPatternMismatchException,
  ParameterVersionLabelLimitExceeded,
  ParameterVersionNotFound,
  TooManyTagsError,
  ValidationException,
} from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import type { SsmContext } from './context.js';

export type ParameterType = 'String' | 'StringList' | 'SecureString';
export type Tier = 'Standard' | 'Advanced';

export interface Tag {
  Key: string;
  Value: string;
}

export interface ParameterVersion {
  version: number;
  type: ParameterType;
  /** The value of String and StringList parameters. */
  value?: string;
  /** The value of SecureString parameters. */
  sealed?: SealedValue;
  keyId?: string;
  description?: string;
  allowedPattern?: string;
  tier: Tier;
  dataType: string;
  labels: string[];
  /** Epoch milliseconds. */
  lastModifiedDate: number;
  lastModifiedUser: string;
}

export interface ParameterDoc {
  name: string;
  arn: string;
  tags: Tag[];
  /** Oldest first; the last is the parameter's current version. */
  versions: ParameterVersion[];
}

const MAX_VERSIONS = 100;
const MAX_LABELS = 10;
const MAX_LEVELS = 15;
const MAX_TAGS = 50;
const STANDARD_MAX = 4096;
const ADVANCED_MAX = 8192;
const DEFAULT_KEY = 'alias/aws/ssm';

const NAME_MESSAGE =
  'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';

export function parameterArn(ctx: SsmContext, name: string): string {
  return `arn:aws:ssm:${ctx.region}:${ctx.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
}

const notFound = (name: string): Error => new ParameterNotFound(`Parameter ${name} not found.`);

/** Checks a name as PutParameter does; returns it. */
function checkName(name: string): string {
  if (name.length > 2048) throw new ValidationException('Parameter name must be at most 2048 characters.');
  if (/^\/?(aws|ssm)/i.test(name)) throw new ValidationException(NAME_MESSAGE);
  if (name.includes('/') && !name.startsWith('/')) throw new ValidationException('Parameter name must be a fully qualified name.');
  const parts = name.startsWith('/') ? name.slice(1).split('/') : [name];
  if (parts.some((p) => !/^[A-Za-z0-9._-]+$/.test(p))) throw new ValidationException(NAME_MESSAGE);
  if (parts.length > MAX_LEVELS) {
    throw new HierarchyLevelLimitExceededException(`Parameter name hierarchy depth exceeds limit of ${MAX_LEVELS} levels.`);
  }
  return name;
}

/** A request's Name: a name or an ARN, optionally with a `:version` or `:label` selector. */
function parseName(_ctx: SsmContext, raw: string, selectors: boolean): { name: string; selector?: string } {
  let rest = raw;
  let name: string;
  const arn = /^arn:[^:]+:ssm:([^:]*):(\d{12}):parameter(\/[^:]*)(.*)$/.exec(raw);
  if (arn) {
    // `parameter/a` names `/a` or `a`; `load` tries both.
    name = arn[3]!;
    rest = arn[4]!;
  } else {
    const c = raw.indexOf(':');
    name = c < 0 ? raw : raw.slice(0, c);
    rest = c < 0 ? '' : raw.slice(c);
  }
  if (rest === '') return { name };
  if (!selectors) throw new ValidationException(`Invalid parameter name ${raw}.`);
  return { name, selector: rest.slice(1) };
}

async function load(ctx: SsmContext, reader: StoreReader, name: string): Promise<Row<ParameterDoc> | undefined> {
  const row = await reader.get<ParameterDoc>('parameter', parameterArn(ctx, name));
  if (row) return row;
  // An ARN names `a` and `/a` alike; try the other spelling.
  if (!name.startsWith('/') || name.indexOf('/', 1) >= 0) return undefined;
  return reader.get<ParameterDoc>('parameter', parameterArn(ctx, name.slice(1)));
}

function selectVersion(doc: ParameterDoc, selector: string | undefined): ParameterVersion {
  const latest = doc.versions[doc.versions.length - 1]!;
  if (selector === undefined) return latest;
  if (/^\d+$/.test(selector)) {
    const v = doc.versions.find((x) => x.version === Number(selector));
    if (!v) throw new ParameterVersionNotFound(`Systems Manager could not find version ${selector} of ${doc.name}. Verify the version and try again.`);
    return v;
  }
  const v = doc.versions.find((x) => x.labels.includes(selector));
  if (!v) throw new ParameterVersionNotFound(`Systems Manager could not find label ${selector} of ${doc.name}. Verify the label and try again.`);
  return v;
}

function sealContext(arn: string, version: number): string {
  return `ssm:${arn}:${version}`;
}

/** The value as returned: SecureStrings opened only WithDecryption (else their sealed form, opaque). */
function valueFor(ctx: SsmContext, doc: ParameterDoc, v: ParameterVersion, decrypt: boolean): string {
  if (v.type !== 'SecureString') return v.value ?? '';
  if (!decrypt) return Buffer.from(v.sealed!.ct, 'base64').toString('base64');
  try {
    return ctx.keyring.open(v.sealed!, sealContext(doc.arn, v.version)).toString('utf8');
  } catch (err) {
    if (err instanceof DecryptionError) throw new InvalidKeyId(`The SecureString value of ${doc.name} could not be decrypted.`, { hint: err.message });
    throw err;
  }
}

const epoch = (ms: number): number => ms / 1000;

function parameterOutput(ctx: SsmContext, doc: ParameterDoc, v: ParameterVersion, decrypt: boolean, selector?: string): Record<string, unknown> {
  return {
    Name: doc.name,
    Type: v.type,
    Value: valueFor(ctx, doc, v, decrypt),
    Version: v.version,
    ...(selector !== undefined ? { Selector: `:${selector}` } : {}),
    LastModifiedDate: epoch(v.lastModifiedDate),
    ARN: doc.arn,
    DataType: v.dataType,
  };
}

// ---------------------------------------------------------------------------

export interface PutParameterInput {
  Name: string;
  Value?: string;
  Type?: string;
  Description?: string;
  KeyId?: string;
  Overwrite?: boolean;
  AllowedPattern?: string;
  Tags?: { Key: string; Value: string }[];
  Tier?: string;
  Policies?: string;
  DataType?: string;
}

export async function putParameter(ctx: SsmContext, input: PutParameterInput): Promise<Record<string, unknown>> {
  const name = checkName(input.Name);
  const value = input.Value;
  if (value === undefined) throw new ValidationException('1 validation error detected: Value at \'value\' failed to satisfy constraint: Member must not be null');
  if (value.length === 0) throw new ValidationException("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1");
  if (input.Tags && input.Overwrite) {
    throw new ValidationException(
      "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
    );
  }
  if (input.Policies !== undefined) throw new ValidationException('Berth does not support parameter policies yet.');
  if (input.Type !== undefined && !['String', 'StringList', 'SecureString'].includes(input.Type)) {
    throw new ValidationException(`1 validation error detected: Value '${input.Type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`);
  }
  if (input.KeyId !== undefined && input.Type !== 'SecureString') {
    throw new ValidationException('KeyId is required for SecureString type parameter only.');
  }
  const dataType = input.DataType ?? 'text';
  if (!['text', 'aws:ec2:image', 'aws:ssm:integration'].includes(dataType)) {
    throw new ValidationException(`The following data type is not supported: ${dataType} (Data type names are all lowercase.)`);
  }
  if (input.AllowedPattern !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(input.AllowedPattern);
    } catch {
      throw new InvalidAllowedPatternException(`The allowed pattern ${input.AllowedPattern} is not a valid regular expression.`);
    }
    if (!re.test(value)) throw new ParameterPatternMismatchException(`Parameter value, cannot be validated against allowedPattern: ${input.AllowedPattern}`);
  }
  const tags = input.Tags ?? [];
  if (tags.length > MAX_TAGS) throw new TooManyTagsError(`The number of tags exceeds the limit of ${MAX_TAGS}.`);
  const bytes = Buffer.byteLength(value, 'utf8');
  const arn = parameterArn(ctx, name);
  return withRetry(ctx.store, async (tx) => {
    const row = await tx.get<ParameterDoc>('parameter', arn);
    const prev = row?.doc.versions[row.doc.versions.length - 1];
    if (row && !input.Overwrite) {
      throw new ParameterAlreadyExists('The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
    }
    if (!row) await checkHierarchy(ctx, tx, name);
    const type = (input.Type ?? prev?.type ?? 'String') as ParameterType;
    let tier: Tier = input.Tier === 'Advanced' ? 'Advanced' : input.Tier === 'Standard' ? 'Standard' : (prev?.tier ?? 'Standard');
    if (input.Tier === 'Intelligent-Tiering') tier = bytes > STANDARD_MAX || prev?.tier === 'Advanced' ? 'Advanced' : 'Standard';
    if (prev?.tier === 'Advanced' && tier === 'Standard') {
      throw new ValidationException(
        "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
      );
    }
    if (tier === 'Standard' && bytes > STANDARD_MAX) {
      throw new ValidationException(
        `Standard tier parameters support a maximum parameter value of ${STANDARD_MAX} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html`,
      );
    }
    if (bytes > ADVANCED_MAX) throw new ValidationException(`Advanced tier parameters support a maximum parameter value of ${ADVANCED_MAX} characters.`);
    const version = (prev?.version ?? 0) + 1;
    const v: ParameterVersion = {
      version,
      type,
      ...(type === 'SecureString'
        ? { sealed: ctx.keyring.seal(Buffer.from(value, 'utf8'), sealContext(arn, version)), keyId: input.KeyId ?? (prev?.type === 'SecureString' ? prev.keyId : undefined) ?? DEFAULT_KEY }
        : { value }),
      ...((input.Description ?? prev?.description) !== undefined ? { description: input.Description ?? prev?.description } : {}),
      ...((input.AllowedPattern ?? prev?.allowedPattern) !== undefined ? { allowedPattern: input.AllowedPattern ?? prev?.allowedPattern } : {}),
      tier,
      dataType,
      labels: [],
      lastModifiedDate: ctx.now(),
      lastModifiedUser: `arn:aws:iam::${ctx.accountId}:root`,
    };
    if (row) {
      const doc = row.doc;
      if (doc.versions.length >= MAX_VERSIONS) {
        const oldest = doc.versions[0]!;
        if (oldest.labels.length > 0) {
          throw new ParameterMaxVersionLimitExceeded(
            `You attempted to create a new version of ${name} by calling the PutParameter API with the overwrite flag. Version ${oldest.version}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.`,
          );
        }
        doc.versions.shift();
      }
      doc.versions.push(v);
      await tx.update<ParameterDoc>('parameter', row);
    } else {
      const doc: ParameterDoc = { name, arn, tags: tags.map((t) => ({ Key: t.Key, Value: t.Value })), versions: [v] };
      await tx.insert<ParameterDoc>('parameter', { arn, cluster: '', name, status: 'ACTIVE', seq: ctx.now(), doc });
    }
    return { Version: version, Tier: tier };
  });
}

/**
 * A name cannot be both a parameter and a path that holds parameters
 * (`/a/b` as a parameter and `/a/b/c` as another), as Parameter Store refuses.
 */
async function checkHierarchy(ctx: SsmContext, reader: StoreReader, name: string): Promise<void> {
  if (!name.startsWith('/')) return;
  const parts = name.split('/');
  for (let i = 2; i < parts.length; i++) {
    const ancestor = parts.slice(0, i).join('/');
    if (await reader.get('parameter', parameterArn(ctx, ancestor))) {
      throw new HierarchyTypeMismatchException(`The parameter ${ancestor} is a parameter, so it can't also be a path of ${name}.`);
    }
  }
  const all = await reader.find<ParameterDoc>('parameter', {});
  if (all.some((r) => r.name.startsWith(`${name}/`))) {
    throw new HierarchyTypeMismatchException(`The name ${name} is already a path that holds parameters, so it can't also be a parameter.`);
  }
}

export async function getParameter(ctx: SsmContext, input: { Name: string; WithDecryption?: boolean }): Promise<Record<string, unknown>> {
  const { name, selector } = parseName(ctx, input.Name, true);
  const row = await load(ctx, ctx.store, name);
  if (!row) throw notFound(input.Name);
  const v = selectVersion(row.doc, selector);
  return { Parameter: parameterOutput(ctx, row.doc, v, input.WithDecryption === true, selector) };
}

export async function getParameters(ctx: SsmContext, input: { Names: string[]; WithDecryption?: boolean }): Promise<Record<string, unknown>> {
  if (input.Names.length > 10) {
    throw new ValidationException(`1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`);
  }
  const parameters: Record<string, unknown>[] = [];
  const invalid: string[] = [];
  for (const raw of [...new Set(input.Names)]) {
    const { name, selector } = parseName(ctx, raw, true);
    const row = await load(ctx, ctx.store, name);
    if (!row) {
      invalid.push(raw);
      continue;
    }
    try {
      parameters.push(parameterOutput(ctx, row.doc, selectVersion(row.doc, selector), input.WithDecryption === true, selector));
    } catch (err) {
      if (!(err instanceof ParameterVersionNotFound)) throw err;
      invalid.push(raw);
    }
  }
  return { Parameters: parameters, InvalidParameters: invalid };
}

interface ParameterFilter {
  Key: string;
  Option?: string;
  Values?: string[];
}

function encodeToken(scope: string, position: string): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
}

function decodeToken(scope: string, token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; p?: unknown };
    if (parsed.s === scope && typeof parsed.p === 'string') return parsed.p;
  } catch {
    // refused below
  }
  throw new InvalidNextToken('The specified token is not valid.');
}

/** Rows of the kind ordered by name, from after `after`, that pass `keep`; at most `limit`, and whether more exist. */
async function scan(ctx: SsmContext, keep: (doc: ParameterDoc) => boolean, after: string | undefined, limit: number): Promise<{ page: ParameterDoc[]; more: boolean }> {
  const rows = await ctx.store.find<ParameterDoc>('parameter', {});
  const docs = rows
    .map((r) => r.doc)
    .filter((d) => after === undefined || d.name > after)
    .filter(keep)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { page: docs.slice(0, limit), more: docs.length > limit };
}

function filterTest(f: ParameterFilter, doc: ParameterDoc): boolean {
  const v = doc.versions[doc.versions.length - 1]!;
  const values = f.Values ?? [];
  const option = f.Option ?? 'Equals';
  const test = (field: string | undefined): boolean => {
    if (field === undefined) return false;
    if (option === 'BeginsWith') return values.some((x) => field.startsWith(x));
    if (option === 'Contains') return values.some((x) => field.includes(x));
    return values.includes(field);
  };
  if (f.Key.startsWith('tag:')) {
    const tag = doc.tags.find((t) => t.Key === f.Key.slice(4));
    if (!tag) return false;
    return values.length === 0 || test(tag.Value);
  }
  switch (f.Key) {
    case 'Name':
      return test(doc.name) || (!doc.name.startsWith('/') && test(`/${doc.name}`));
    case 'Type':
      return test(v.type);
    case 'KeyId':
      return test(v.keyId);
    case 'Tier':
      return test(v.tier);
    case 'DataType':
      return test(v.dataType);
    case 'Label':
      return doc.versions.some((x) => x.labels.some((l) => test(l)));
    case 'Path': {
      const recursive = option === 'Recursive';
      return values.some((p) => underPath(doc.name, p, recursive));
    }
    default:
      return false;
  }
}

const FILTER_KEYS = new Set(['Name', 'Type', 'KeyId', 'Path', 'Tier', 'DataType', 'Label']);

function checkFilters(filters: ParameterFilter[], forPath: boolean): void {
  for (const f of filters) {
    if (!FILTER_KEYS.has(f.Key) && !f.Key.startsWith('tag:')) throw new InvalidFilterKey(`The filter key ${f.Key} is not valid.`);
    if (forPath && !['Type', 'KeyId', 'Label'].includes(f.Key) && !f.Key.startsWith('tag:')) {
      throw new InvalidFilterKey(`The following filter key is not valid: ${f.Key}. Valid filter keys include: [Type, KeyId, Label].`);
    }
    const option = f.Option ?? 'Equals';
    const allowed = f.Key === 'Path' ? ['Recursive', 'OneLevel'] : f.Key === 'Name' ? ['Equals', 'BeginsWith', 'Contains'] : f.Key.startsWith('tag:') ? ['Equals'] : ['Equals', 'BeginsWith'];
    if (!allowed.includes(option)) throw new InvalidFilterOption(`The filter option ${option} is not valid for key ${f.Key}. Valid options include: [${allowed.join(', ')}].`);
    if (!f.Key.startsWith('tag:') && (!f.Values || f.Values.length === 0)) throw new InvalidFilterValue(`The filter ${f.Key} needs at least one value.`);
  }
}

/** Whether `name` is under `path`: a direct child, or any descendant when recursive. */
function underPath(name: string, path: string, recursive: boolean): boolean {
  const base = path.endsWith('/') ? path : `${path}/`;
  if (!name.startsWith(base)) return false;
  return recursive || !name.slice(base.length).includes('/');
}

export async function getParametersByPath(
  ctx: SsmContext,
  input: { Path: string; Recursive?: boolean; ParameterFilters?: ParameterFilter[]; WithDecryption?: boolean; MaxResults?: number; NextToken?: string },
): Promise<Record<string, unknown>> {
  if (!input.Path.startsWith('/')) throw new ValidationException('The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".');
  const limit = input.MaxResults ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10) {
    throw new ValidationException(`1 validation error detected: Value '${limit}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`);
  }
  const filters = input.ParameterFilters ?? [];
  checkFilters(filters, true);
  const scope = `ssm:GetParametersByPath:${input.Path}:${input.Recursive === true}`;
  const after = decodeToken(scope, input.NextToken);
  const { page, more } = await scan(ctx, (d) => underPath(d.name, input.Path, input.Recursive === true) && filters.every((f) => filterTest(f, d)), after, limit);
  return {
    Parameters: page.map((d) => parameterOutput(ctx, d, d.versions[d.versions.length - 1]!, input.WithDecryption === true)),
    ...(more ? { NextToken: encodeToken(scope, page[page.length - 1]!.name) } : {}),
  };
}

function metadata(doc: ParameterDoc): Record<string, unknown> {
  const v = doc.versions[doc.versions.length - 1]!;
  return {
    Name: doc.name,
    ARN: doc.arn,
    Type: v.type,
    ...(v.keyId !== undefined ? { KeyId: v.keyId } : {}),
    LastModifiedDate: epoch(v.lastModifiedDate),
    LastModifiedUser: v.lastModifiedUser,
    ...(v.description !== undefined ? { Description: v.description } : {}),
    ...(v.allowedPattern !== undefined ? { AllowedPattern: v.allowedPattern } : {}),
    Version: v.version,
    Tier: v.tier,
    Policies: [],
    DataType: v.dataType,
  };
}

export async function describeParameters(
  ctx: SsmContext,
  input: { Filters?: { Key: string; Values: string[] }[]; ParameterFilters?: ParameterFilter[]; MaxResults?: number; NextToken?: string; Shared?: boolean },
): Promise<Record<string, unknown>> {
  if (input.Filters && input.ParameterFilters) {
    throw new ValidationException('You can use either Filters or ParameterFilters in a single request.');
  }
  const limit = input.MaxResults ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
    throw new ValidationException(`1 validation error detected: Value '${limit}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`);
  }
  const filters: ParameterFilter[] = input.ParameterFilters ?? (input.Filters ?? []).map((f) => ({ Key: f.Key, Option: f.Key === 'Name' ? 'BeginsWith' : 'Equals', Values: f.Values }));
  checkFilters(filters, false);
  const after = decodeToken('ssm:DescribeParameters', input.NextToken);
  if (input.Shared) return { Parameters: [] };
  const { page, more } = await scan(ctx, (d) => filters.every((f) => filterTest(f, d)), after, limit);
  return { Parameters: page.map(metadata), ...(more ? { NextToken: encodeToken('ssm:DescribeParameters', page[page.length - 1]!.name) } : {}) };
}

export async function getParameterHistory(
  ctx: SsmContext,
  input: { Name: string; WithDecryption?: boolean; MaxResults?: number; NextToken?: string },
): Promise<Record<string, unknown>> {
  const { name } = parseName(ctx, input.Name, false);
  const row = await load(ctx, ctx.store, name);
  if (!row) throw notFound(input.Name);
  const limit = input.MaxResults ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
    throw new ValidationException(`1 validation error detected: Value '${limit}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`);
  }
  const scope = `ssm:GetParameterHistory:${row.arn}`;
  const after = Number(decodeToken(scope, input.NextToken) ?? 0);
  const versions = row.doc.versions.filter((v) => v.version > after);
  const page = versions.slice(0, limit);
  return {
    Parameters: page.map((v) => ({
      Name: row.doc.name,
      Type: v.type,
      ...(v.keyId !== undefined ? { KeyId: v.keyId } : {}),
      LastModifiedDate: epoch(v.lastModifiedDate),
      LastModifiedUser: v.lastModifiedUser,
      ...(v.description !== undefined ? { Description: v.description } : {}),
      Value: valueFor(ctx, row.doc, v, input.WithDecryption === true),
      ...(v.allowedPattern !== undefined ? { AllowedPattern: v.allowedPattern } : {}),
      Version: v.version,
      Labels: v.labels,
      Tier: v.tier,
      Policies: [],
      DataType: v.dataType,
    })),
    ...(versions.length > limit ? { NextToken: encodeToken(scope, String(page[page.length - 1]!.version)) } : {}),
  };
}

const LABEL_RE = /^[A-Za-z._-][A-Za-z0-9._-]{0,99}$/;

export async function labelParameterVersion(
  ctx: SsmContext,
  input: { Name: string; ParameterVersion?: number; Labels: string[] },
): Promise<Record<string, unknown>> {
  const { name } = parseName(ctx, input.Name, false);
  return withRetry(ctx.store, async (tx) => {
    const row = await load(ctx, tx, name);
    if (!row) throw notFound(input.Name);
    const doc = row.doc;
    const target =
      input.ParameterVersion === undefined ? doc.versions[doc.versions.length - 1]! : doc.versions.find((v) => v.version === input.ParameterVersion);
    if (!target) {
      throw new ParameterVersionNotFound(`Systems Manager could not find version ${input.ParameterVersion} of ${doc.name}. Verify the version and try again.`);
    }
    const invalid = input.Labels.filter((l) => !LABEL_RE.test(l) || /^(aws|ssm)/i.test(l));
    const valid = input.Labels.filter((l) => !invalid.includes(l));
    const after = new Set([...target.labels, ...valid]);
    if (after.size > MAX_LABELS) {
      throw new ParameterVersionLabelLimitExceeded(`A parameter version can have maximum ${MAX_LABELS} labels. Move one or more labels to another version and try again.`);
    }
    for (const l of valid) for (const v of doc.versions) if (v !== target) v.labels = v.labels.filter((x) => x !== l);
    target.labels = [...after];
    await tx.update<ParameterDoc>('parameter', row);
    return { InvalidLabels: invalid, ParameterVersion: target.version };
  });
}

export async function deleteParameter(ctx: SsmContext, input: { Name: string }): Promise<Record<string, unknown>> {
  const { name } = parseName(ctx, input.Name, false);
  await withRetry(ctx.store, async (tx) => {
    const row = await load(ctx, tx, name);
    if (!row) throw notFound(input.Name);
    await tx.remove('parameter', row.arn, row.version);
  });
  return {};
}

export async function deleteParameters(ctx: SsmContext, input: { Names: string[] }): Promise<Record<string, unknown>> {
  if (input.Names.length > 10) {
    throw new ValidationException(`1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`);
  }
  const deleted: string[] = [];
  const invalid: string[] = [];
  await withRetry(ctx.store, async (tx) => {
    deleted.length = 0;
    invalid.length = 0;
    for (const raw of [...new Set(input.Names)]) {
      const row = await load(ctx, tx, parseName(ctx, raw, false).name);
      if (!row) invalid.push(raw);
      else {
        await tx.remove('parameter', row.arn, row.version);
        deleted.push(raw);
      }
    }
  });
  return { DeletedParameters: deleted, InvalidParameters: invalid };
}

async function taggable(ctx: SsmContext, reader: StoreReader, type: string, id: string): Promise<Row<ParameterDoc>> {
  if (type !== 'Parameter') throw new InvalidResourceType(`Berth tags only parameters; ${type} is not one.`);
  const row = await load(ctx, reader, parseName(ctx, id, false).name);
  if (!row) throw new InvalidResourceId('The resource ID is not valid. Verify the ID and try again.');
  return row;
}

export async function addTagsToResource(ctx: SsmContext, input: { ResourceType: string; ResourceId: string; Tags: Tag[] }): Promise<Record<string, unknown>> {
  await withRetry(ctx.store, async (tx) => {
    const row = await taggable(ctx, tx, input.ResourceType, input.ResourceId);
    const tags = row.doc.tags.filter((t) => !input.Tags.some((n) => n.Key === t.Key));
    tags.push(...input.Tags.map((t) => ({ Key: t.Key, Value: t.Value })));
    if (tags.length > MAX_TAGS) throw new TooManyTagsError(`The number of tags exceeds the limit of ${MAX_TAGS}.`);
    row.doc.tags = tags;
    await tx.update<ParameterDoc>('parameter', row);
  });
  return {};
}

export async function removeTagsFromResource(ctx: SsmContext, input: { ResourceType: string; ResourceId: string; TagKeys: string[] }): Promise<Record<string, unknown>> {
  await withRetry(ctx.store, async (tx) => {
    const row = await taggable(ctx, tx, input.ResourceType, input.ResourceId);
    row.doc.tags = row.doc.tags.filter((t) => !input.TagKeys.includes(t.Key));
    await tx.update<ParameterDoc>('parameter', row);
  });
  return {};
}

export async function listTagsForResource(ctx: SsmContext, input: { ResourceType: string; ResourceId: string }): Promise<Record<string, unknown>> {
  const row = await taggable(ctx, ctx.store, input.ResourceType, input.ResourceId);
  return { TagList: row.doc.tags };
}

/** Re-wraps SecureString data keys under the current master key; returns how many versions changed. */
export async function rewrapParameters(ctx: SsmContext): Promise<number> {
  let n = 0;
  for (const r of await ctx.store.find<ParameterDoc>('parameter', {})) {
    if (!r.doc.versions.some((v) => v.sealed && ctx.keyring.needsRewrap(v.sealed))) continue;
    n += await withRetry(ctx.store, async (tx) => {
      const row = await tx.get<ParameterDoc>('parameter', r.arn);
      if (!row) return 0;
      let k = 0;
      for (const v of row.doc.versions) {
        if (!v.sealed || !ctx.keyring.needsRewrap(v.sealed)) continue;
        v.sealed = ctx.keyring.rewrap(v.sealed);
        k++;
      }
      await tx.update<ParameterDoc>('parameter', row);
      return k;
    });
  }
  return n;
}

/**
 * A parameter's value for a container's `secrets` entry (`valueFrom` is the
 * parameter's name or ARN), SecureStrings decrypted, as ECS resolves them.
 */
export async function resolveParameterReference(ctx: SsmContext, valueFrom: string): Promise<string> {
  const { name, selector } = parseName(ctx, valueFrom, true);
  const row = await load(ctx, ctx.store, name);
  if (!row) throw notFound(valueFrom);
  return valueFor(ctx, row.doc, selectVersion(row.doc, selector), true);
}

/**
 * IAM semantics: users, groups and membership, roles and their trust
 * policies, managed policies with versions, inline policies, attachments,
 * access keys and tags, with IAM's errors and messages.
 *
 * Inputs are the IAM API's members as the IAM model validated them; outputs
 * are the members of each operation's output (timestamps in epoch seconds,
 * policy documents URL-encoded as IAM returns them).
 */
import {
  DeleteConflictException,
  EntityAlreadyExistsException,
  InvalidInputException,
  LimitExceededException,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
  ValidationError,
} from '../core/errors.js';
import { compilePolicy, PolicySyntaxError, type PolicyKind } from './policy/index.js';
import { AlreadyExistsError, withRetry, type Kind, type Row, type StoreReader, type Transaction } from '../store/store.js';
import {
  groupArn,
  newIamId,
  newSecret,
  policyArn,
  roleArn,
  secretContext,
  userArn,
  type AccessKeyDoc,
  type GroupDoc,
  type IamContext,
  type ManagedPolicyDoc,
  type PolicyHolder,
  type RoleDoc,
  type Tag,
  type UserDoc,
} from './model.js';

type In = Record<string, unknown>;

const MAX_ACCESS_KEYS = 2;
const MAX_POLICY_VERSIONS = 5;
const MAX_ATTACHED = 20;
const MAX_TAGS = 50;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const req = (input: In, name: string): string => str(input[name]) ?? '';
const secs = (ms: number): number => ms / 1000;

/** A policy document as IAM returns it: URL-encoded JSON. */
export const encodeDocument = (doc: string): string => encodeURIComponent(doc);

/** Validates `doc` as a policy of `kind`; MalformedPolicyDocument names the problem. */
export function checkDocument(doc: string, kind: PolicyKind): void {
  try {
    compilePolicy(doc, kind);
  } catch (err) {
    if (err instanceof PolicySyntaxError) throw new MalformedPolicyDocumentException(err.message);
    throw err;
  }
}

function pathOf(input: In, member = 'Path'): string {
  const p = str(input[member]) ?? '/';
  if (!p.startsWith('/') || !p.endsWith('/')) throw new ValidationError(`The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
  return p;
}

/** Paginates a list the IAM way: Marker (an opaque position), MaxItems (default 100), IsTruncated. */
function page<T>(items: readonly T[], input: In): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const start = str(input.Marker) !== undefined ? Number.parseInt(Buffer.from(req(input, 'Marker'), 'base64url').toString('utf8'), 10) : 0;
  if (!Number.isFinite(start) || start < 0) throw new InvalidInputException('Invalid Marker.');
  const max = typeof input.MaxItems === 'number' ? input.MaxItems : 100;
  const slice = items.slice(start, start + max);
  const more = start + max < items.length;
  return { items: slice, IsTruncated: more, ...(more ? { Marker: Buffer.from(String(start + max)).toString('base64url') } : {}) };
}

const byPathPrefix = (input: In) => {
  const prefix = str(input.PathPrefix) ?? '/';
  return (p: { Path: string }) => p.Path.startsWith(prefix);
};

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

type EntityKind = 'user' | 'group' | 'role';
const KIND_OF: Record<EntityKind, Kind> = { user: 'iamUser', group: 'iamGroup', role: 'iamRole' };

async function byName<T>(tx: StoreReader, kind: Kind, name: string): Promise<Row<T> | undefined> {
  const rows = await tx.find<T>(kind, { name });
  if (rows[0]) return rows[0];
  // IAM names are unique without regard to case.
  const lower = name.toLowerCase();
  return (await tx.find<T>(kind)).find((r) => r.name.toLowerCase() === lower);
}

async function entity<T>(tx: StoreReader, which: EntityKind, name: string): Promise<Row<T>> {
  const row = await byName<T>(tx, KIND_OF[which], name);
  if (!row || row.name !== name) throw new NoSuchEntityException(`The ${which} with name ${name} cannot be found.`);
  return row;
}

export const getUserRow = (tx: StoreReader, name: string) => entity<UserDoc>(tx, 'user', name);
export const getGroupRow = (tx: StoreReader, name: string) => entity<GroupDoc>(tx, 'group', name);
export const getRoleRow = (tx: StoreReader, name: string) => entity<RoleDoc>(tx, 'role', name);

async function managedPolicy(tx: StoreReader, arn: string, notFound: 'attach' | 'get' = 'get'): Promise<Row<ManagedPolicyDoc>> {
  const row = await tx.get<ManagedPolicyDoc>('iamPolicy', arn);
  if (!row) throw new NoSuchEntityException(notFound === 'attach' ? `Policy ${arn} does not exist or is not attachable.` : `Policy ${arn} was not found.`);
  return row;
}

async function ensureNew(tx: StoreReader, kind: Kind, name: string, what: string): Promise<void> {
  if (await byName(tx, kind, name)) throw new EntityAlreadyExistsException(`${what} with name ${name} already exists.`);
}

async function insertNamed<T>(tx: Transaction, kind: Kind, arn: string, name: string, doc: T, what: string): Promise<Row<T>> {
  await ensureNew(tx, kind, name, what);
  try {
    return await tx.insert<T>(kind, { arn, cluster: '', name, status: 'ACTIVE', seq: 0, doc });
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw new EntityAlreadyExistsException(`${what} with name ${name} already exists.`);
    throw err;
  }
}

function checkTags(tags: Tag[]): void {
  if (tags.length > MAX_TAGS) throw new LimitExceededException(`Cannot exceed quota for TagsPerEntity: ${MAX_TAGS}`);
  const seen = new Set<string>();
  for (const t of tags) {
    if (seen.has(t.Key.toLowerCase())) throw new InvalidInputException('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(t.Key.toLowerCase());
  }
}

const tagsOf = (input: In): Tag[] => ((input.Tags as Tag[] | undefined) ?? []).map((t) => ({ Key: t.Key, Value: t.Value ?? '' }));

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

const userView = (u: UserDoc) => ({ Path: u.Path, UserName: u.UserName, UserId: u.UserId, Arn: u.Arn, CreateDate: secs(u.CreateDate), ...(u.Tags.length ? { Tags: u.Tags } : {}) });
const groupView = (g: GroupDoc) => ({ Path: g.Path, GroupName: g.GroupName, GroupId: g.GroupId, Arn: g.Arn, CreateDate: secs(g.CreateDate) });
const roleView = (r: RoleDoc, full = true) => ({
  Path: r.Path,
  RoleName: r.RoleName,
  RoleId: r.RoleId,
  Arn: r.Arn,
  CreateDate: secs(r.CreateDate),
  AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicyDocument),
  ...(r.Description !== undefined ? { Description: r.Description } : {}),
  MaxSessionDuration: r.MaxSessionDuration,
  ...(full && r.Tags.length ? { Tags: r.Tags } : {}),
});

async function attachmentCount(tx: StoreReader, arn: string): Promise<number> {
  let n = 0;
  for (const kind of ['iamUser', 'iamGroup', 'iamRole'] as const) {
    for (const r of await tx.find<PolicyHolder>(kind)) if (r.doc.attached.includes(arn)) n++;
  }
  return n;
}

const policyView = (p: ManagedPolicyDoc, attachments: number) => ({
  PolicyName: p.PolicyName,
  PolicyId: p.PolicyId,
  Arn: p.Arn,
  Path: p.Path,
  DefaultVersionId: p.DefaultVersionId,
  AttachmentCount: attachments,
  PermissionsBoundaryUsageCount: 0,
  IsAttachable: true,
  ...(p.Description !== undefined ? { Description: p.Description } : {}),
  CreateDate: secs(p.CreateDate),
  UpdateDate: secs(p.UpdateDate),
  ...(p.Tags.length ? { Tags: p.Tags } : {}),
});

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

export async function createUser(ctx: IamContext, input: In) {
  const name = req(input, 'UserName');
  const path = pathOf(input);
  const tags = tagsOf(input);
  checkTags(tags);
  const doc: UserDoc = { UserName: name, UserId: newIamId('AIDA'), Arn: userArn(ctx, path, name), Path: path, CreateDate: ctx.now(), Tags: tags, groups: [], inline: {}, attached: [] };
  await withRetry(ctx.store, (tx) => insertNamed(tx, 'iamUser', doc.Arn, name, doc, 'User'));
  return { User: userView(doc) };
}

/** GetUser: the named user, or the caller when no name is given (`callerUser`, undefined for the root). */
export async function getUser(ctx: IamContext, input: In, caller: { userName?: string; arn: string; userId: string; createDate?: number }) {
  const name = str(input.UserName) ?? caller.userName;
  if (name === undefined) {
    return { User: { Path: '/', UserName: '', UserId: caller.userId, Arn: caller.arn, CreateDate: secs(caller.createDate ?? 0) } };
  }
  const row = await getUserRow(ctx.store, name);
  return { User: userView(row.doc) };
}

export async function listUsers(ctx: IamContext, input: In) {
  const rows = (await ctx.store.find<UserDoc>('iamUser')).map((r) => r.doc).filter(byPathPrefix(input));
  const p = page(rows, input);
  return { Users: p.items.map((u) => ({ ...userView(u), Tags: undefined })), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

export async function updateUser(ctx: IamContext, input: In) {
  const name = req(input, 'UserName');
  await withRetry(ctx.store, async (tx) => {
    const row = await getUserRow(tx, name);
    const newName = str(input.NewUserName) ?? name;
    const newPath = input.NewPath !== undefined ? pathOf(input, 'NewPath') : row.doc.Path;
    const doc: UserDoc = { ...row.doc, UserName: newName, Path: newPath, Arn: userArn(ctx, newPath, newName) };
    if (newName.toLowerCase() !== name.toLowerCase()) await ensureNew(tx, 'iamUser', newName, 'User');
    await tx.remove('iamUser', row.arn, row.version);
    await tx.insert<UserDoc>('iamUser', { arn: doc.Arn, cluster: '', name: newName, status: 'ACTIVE', seq: 0, doc });
    if (newName !== name) {
      for (const k of await tx.find<AccessKeyDoc>('accessKey', { where: { user: name } })) {
        await tx.update<AccessKeyDoc>('accessKey', { ...k, keys: { user: newName }, doc: { ...k.doc, UserName: newName } });
      }
    }
  });
  return {};
}

export async function deleteUser(ctx: IamContext, input: In) {
  const name = req(input, 'UserName');
  await withRetry(ctx.store, async (tx) => {
    const row = await getUserRow(tx, name);
    if ((await tx.count('accessKey', { where: { user: name } })) > 0) throw new DeleteConflictException('Cannot delete entity, must delete access keys first.');
    if (Object.keys(row.doc.inline).length > 0) throw new DeleteConflictException('Cannot delete entity, must delete policies first.');
    if (row.doc.attached.length > 0) throw new DeleteConflictException('Cannot delete entity, must detach all policies first.');
    if (row.doc.groups.length > 0) throw new DeleteConflictException('Cannot delete entity, must remove user from all groups first.');
    await tx.remove('iamUser', row.arn, row.version);
  });
  return {};
}

// ---------------------------------------------------------------------------
// Access keys
// ---------------------------------------------------------------------------

export async function createAccessKey(ctx: IamContext, input: In, callerUser: string | undefined) {
  const name = str(input.UserName) ?? callerUser;
  if (name === undefined) throw new ValidationError('Berth has no access keys for the account root through IAM; give a UserName.');
  const id = newIamId('AKIA');
  const secret = newSecret();
  const doc: AccessKeyDoc = { AccessKeyId: id, UserName: name, Status: 'Active', CreateDate: ctx.now(), secret: ctx.keyring.seal(Buffer.from(secret), secretContext(id)) };
  await withRetry(ctx.store, async (tx) => {
    await getUserRow(tx, name);
    if ((await tx.count('accessKey', { where: { user: name } })) >= MAX_ACCESS_KEYS) {
      throw new LimitExceededException(`Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS}`);
    }
    await tx.insert<AccessKeyDoc>('accessKey', { arn: id, cluster: '', name: id, status: 'Active', seq: 0, keys: { user: name }, doc });
  });
  return { AccessKey: { UserName: name, AccessKeyId: id, Status: 'Active', SecretAccessKey: secret, CreateDate: secs(doc.CreateDate) } };
}

export async function listAccessKeys(ctx: IamContext, input: In, callerUser: string | undefined) {
  const name = str(input.UserName) ?? callerUser;
  if (name === undefined) return { AccessKeyMetadata: [], IsTruncated: false };
  await getUserRow(ctx.store, name);
  const keys = (await ctx.store.find<AccessKeyDoc>('accessKey', { where: { user: name } })).map((r) => r.doc);
  const p = page(keys, input);
  return {
    AccessKeyMetadata: p.items.map((k) => ({ UserName: k.UserName, AccessKeyId: k.AccessKeyId, Status: k.Status, CreateDate: secs(k.CreateDate) })),
    IsTruncated: p.IsTruncated,
    Marker: p.Marker,
  };
}

async function accessKeyRow(tx: StoreReader, id: string, user: string | undefined): Promise<Row<AccessKeyDoc>> {
  const row = await tx.get<AccessKeyDoc>('accessKey', id);
  if (!row || (user !== undefined && row.doc.UserName !== user)) throw new NoSuchEntityException(`The Access Key with id ${id} cannot be found.`);
  return row;
}

export async function updateAccessKey(ctx: IamContext, input: In, callerUser: string | undefined) {
  const user = str(input.UserName) ?? callerUser;
  await withRetry(ctx.store, async (tx) => {
    if (user !== undefined) await getUserRow(tx, user);
    const row = await accessKeyRow(tx, req(input, 'AccessKeyId'), user);
    const status = req(input, 'Status') as AccessKeyDoc['Status'];
    await tx.update<AccessKeyDoc>('accessKey', { ...row, status, doc: { ...row.doc, Status: status } });
  });
  return {};
}

export async function deleteAccessKey(ctx: IamContext, input: In, callerUser: string | undefined) {
  const user = str(input.UserName) ?? callerUser;
  await withRetry(ctx.store, async (tx) => {
    if (user !== undefined) await getUserRow(tx, user);
    const row = await accessKeyRow(tx, req(input, 'AccessKeyId'), user);
    await tx.remove('accessKey', row.arn, row.version);
  });
  return {};
}

export async function getAccessKeyLastUsed(ctx: IamContext, input: In) {
  const row = await ctx.store.get<AccessKeyDoc>('accessKey', req(input, 'AccessKeyId'));
  if (!row) throw new NoSuchEntityException(`The Access Key with id ${req(input, 'AccessKeyId')} cannot be found.`);
  return { UserName: row.doc.UserName, AccessKeyLastUsed: { ServiceName: 'N/A', Region: 'N/A' } };
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

export async function createGroup(ctx: IamContext, input: In) {
  const name = req(input, 'GroupName');
  const path = pathOf(input);
  const doc: GroupDoc = { GroupName: name, GroupId: newIamId('AGPA'), Arn: groupArn(ctx, path, name), Path: path, CreateDate: ctx.now(), inline: {}, attached: [] };
  await withRetry(ctx.store, (tx) => insertNamed(tx, 'iamGroup', doc.Arn, name, doc, 'Group'));
  return { Group: groupView(doc) };
}

async function groupMembers(tx: StoreReader, name: string): Promise<UserDoc[]> {
  return (await tx.find<UserDoc>('iamUser')).map((r) => r.doc).filter((u) => u.groups.includes(name));
}

export async function getGroup(ctx: IamContext, input: In) {
  const row = await getGroupRow(ctx.store, req(input, 'GroupName'));
  const p = page(await groupMembers(ctx.store, row.name), input);
  return { Group: groupView(row.doc), Users: p.items.map((u) => ({ ...userView(u), Tags: undefined })), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

export async function listGroups(ctx: IamContext, input: In) {
  const p = page((await ctx.store.find<GroupDoc>('iamGroup')).map((r) => r.doc).filter(byPathPrefix(input)), input);
  return { Groups: p.items.map(groupView), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

export async function deleteGroup(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const row = await getGroupRow(tx, req(input, 'GroupName'));
    if ((await groupMembers(tx, row.name)).length > 0) throw new DeleteConflictException('Cannot delete entity, must remove users from group first.');
    if (Object.keys(row.doc.inline).length > 0) throw new DeleteConflictException('Cannot delete entity, must delete policies first.');
    if (row.doc.attached.length > 0) throw new DeleteConflictException('Cannot delete entity, must detach all policies first.');
    await tx.remove('iamGroup', row.arn, row.version);
  });
  return {};
}

export async function addUserToGroup(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const group = await getGroupRow(tx, req(input, 'GroupName'));
    const user = await getUserRow(tx, req(input, 'UserName'));
    if (!user.doc.groups.includes(group.name)) await tx.update<UserDoc>('iamUser', { ...user, doc: { ...user.doc, groups: [...user.doc.groups, group.name] } });
  });
  return {};
}

export async function removeUserFromGroup(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const group = await getGroupRow(tx, req(input, 'GroupName'));
    const user = await getUserRow(tx, req(input, 'UserName'));
    if (!user.doc.groups.includes(group.name)) throw new NoSuchEntityException(`The user with name ${user.name} cannot be found in group ${group.name}.`);
    await tx.update<UserDoc>('iamUser', { ...user, doc: { ...user.doc, groups: user.doc.groups.filter((g) => g !== group.name) } });
  });
  return {};
}

export async function listGroupsForUser(ctx: IamContext, input: In) {
  const user = await getUserRow(ctx.store, req(input, 'UserName'));
  const groups: GroupDoc[] = [];
  for (const g of user.doc.groups) {
    const row = await byName<GroupDoc>(ctx.store, 'iamGroup', g);
    if (row) groups.push(row.doc);
  }
  const p = page(groups, input);
  return { Groups: p.items.map(groupView), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

function maxSession(input: In, fallback: number): number {
  const v = input.MaxSessionDuration;
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || v < 3600 || v > 43200) {
    throw new ValidationError(`1 validation error detected: Value '${String(v)}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200`);
  }
  return v;
}

export async function createRole(ctx: IamContext, input: In) {
  const name = req(input, 'RoleName');
  const path = pathOf(input);
  const trust = req(input, 'AssumeRolePolicyDocument');
  checkDocument(trust, 'trust');
  const tags = tagsOf(input);
  checkTags(tags);
  const doc: RoleDoc = {
    RoleName: name,
    RoleId: newIamId('AROA'),
    Arn: roleArn(ctx, path, name),
    Path: path,
    CreateDate: ctx.now(),
    ...(str(input.Description) !== undefined ? { Description: req(input, 'Description') } : {}),
    MaxSessionDuration: maxSession(input, 3600),
    AssumeRolePolicyDocument: trust,
    Tags: tags,
    inline: {},
    attached: [],
  };
  await withRetry(ctx.store, (tx) => insertNamed(tx, 'iamRole', doc.Arn, name, doc, 'Role'));
  return { Role: roleView(doc) };
}

export async function getRole(ctx: IamContext, input: In) {
  return { Role: roleView((await getRoleRow(ctx.store, req(input, 'RoleName'))).doc) };
}

export async function listRoles(ctx: IamContext, input: In) {
  const p = page((await ctx.store.find<RoleDoc>('iamRole')).map((r) => r.doc).filter(byPathPrefix(input)), input);
  return { Roles: p.items.map((r) => roleView(r, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

async function updateRoleDoc(ctx: IamContext, name: string, fn: (doc: RoleDoc) => RoleDoc): Promise<RoleDoc> {
  return withRetry(ctx.store, async (tx) => {
    const row = await getRoleRow(tx, name);
    const doc = fn(row.doc);
    await tx.update<RoleDoc>('iamRole', { ...row, doc });
    return doc;
  });
}

export async function updateRole(ctx: IamContext, input: In) {
  await updateRoleDoc(ctx, req(input, 'RoleName'), (d) => ({
    ...d,
    ...(str(input.Description) !== undefined ? { Description: req(input, 'Description') } : {}),
    MaxSessionDuration: maxSession(input, d.MaxSessionDuration),
  }));
  return {};
}

export async function updateAssumeRolePolicy(ctx: IamContext, input: In) {
  const doc = req(input, 'PolicyDocument');
  checkDocument(doc, 'trust');
  await updateRoleDoc(ctx, req(input, 'RoleName'), (d) => ({ ...d, AssumeRolePolicyDocument: doc }));
  return {};
}

export async function deleteRole(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const row = await getRoleRow(tx, req(input, 'RoleName'));
    if (Object.keys(row.doc.inline).length > 0) throw new DeleteConflictException('Cannot delete entity, must delete policies first.');
    if (row.doc.attached.length > 0) throw new DeleteConflictException('Cannot delete entity, must detach all policies first.');
    await tx.remove('iamRole', row.arn, row.version);
  });
  return {};
}

// ---------------------------------------------------------------------------
// Managed policies and their versions
// ---------------------------------------------------------------------------

export async function createPolicy(ctx: IamContext, input: In) {
  const name = req(input, 'PolicyName');
  const path = pathOf(input);
  const document = req(input, 'PolicyDocument');
  checkDocument(document, 'identity');
  const tags = tagsOf(input);
  checkTags(tags);
  const now = ctx.now();
  const doc: ManagedPolicyDoc = {
    PolicyName: name,
    PolicyId: newIamId('ANPA'),
    Arn: policyArn(ctx, path, name),
    Path: path,
    ...(str(input.Description) !== undefined ? { Description: req(input, 'Description') } : {}),
    CreateDate: now,
    UpdateDate: now,
    DefaultVersionId: 'v1',
    Tags: tags,
    versions: [{ VersionId: 'v1', Document: document, CreateDate: now }],
    nextVersion: 2,
  };
  await withRetry(ctx.store, async (tx) => {
    if (await byName(tx, 'iamPolicy', name)) throw new EntityAlreadyExistsException(`A policy called ${name} already exists. Duplicate names are not allowed.`);
    await tx.insert<ManagedPolicyDoc>('iamPolicy', { arn: doc.Arn, cluster: '', name, status: 'ACTIVE', seq: 0, doc });
  });
  const { Description: _omit, ...view } = policyView(doc, 0);
  return { Policy: view };
}

export async function getPolicy(ctx: IamContext, input: In) {
  const row = await managedPolicy(ctx.store, req(input, 'PolicyArn'));
  return { Policy: policyView(row.doc, await attachmentCount(ctx.store, row.arn)) };
}

export async function listPolicies(ctx: IamContext, input: In) {
  const scope = str(input.Scope) ?? 'All';
  let docs = scope === 'AWS' ? [] : (await ctx.store.find<ManagedPolicyDoc>('iamPolicy')).map((r) => r.doc).filter(byPathPrefix(input));
  const counts = new Map<string, number>();
  for (const d of docs) counts.set(d.Arn, await attachmentCount(ctx.store, d.Arn));
  if (input.OnlyAttached === true) docs = docs.filter((d) => (counts.get(d.Arn) ?? 0) > 0);
  const p = page(docs, input);
  return { Policies: p.items.map((d) => ({ ...policyView(d, counts.get(d.Arn) ?? 0), Description: undefined, Tags: undefined })), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

export async function deletePolicy(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const row = await managedPolicy(tx, req(input, 'PolicyArn'));
    if ((await attachmentCount(tx, row.arn)) > 0) throw new DeleteConflictException('Cannot delete a policy attached to entities.');
    if (row.doc.versions.length > 1) {
      throw new DeleteConflictException("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.");
    }
    await tx.remove('iamPolicy', row.arn, row.version);
  });
  return {};
}

const versionView = (p: ManagedPolicyDoc, v: { VersionId: string; Document: string; CreateDate: number }) => ({
  Document: encodeDocument(v.Document),
  VersionId: v.VersionId,
  IsDefaultVersion: v.VersionId === p.DefaultVersionId,
  CreateDate: secs(v.CreateDate),
});

export async function createPolicyVersion(ctx: IamContext, input: In) {
  const document = req(input, 'PolicyDocument');
  checkDocument(document, 'identity');
  return withRetry(ctx.store, async (tx) => {
    const row = await managedPolicy(tx, req(input, 'PolicyArn'));
    if (row.doc.versions.length >= MAX_POLICY_VERSIONS) {
      throw new LimitExceededException(`A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`);
    }
    const now = ctx.now();
    const v = { VersionId: `v${row.doc.nextVersion}`, Document: document, CreateDate: now };
    const doc: ManagedPolicyDoc = {
      ...row.doc,
      versions: [...row.doc.versions, v],
      nextVersion: row.doc.nextVersion + 1,
      UpdateDate: now,
      ...(input.SetAsDefault === true ? { DefaultVersionId: v.VersionId } : {}),
    };
    await tx.update<ManagedPolicyDoc>('iamPolicy', { ...row, doc });
    const { Document: _d, ...view } = versionView(doc, v);
    return { PolicyVersion: view };
  });
}

function versionOf(p: ManagedPolicyDoc, id: string) {
  const v = p.versions.find((x) => x.VersionId === id);
  if (!v) throw new NoSuchEntityException(`Policy ${p.Arn} version ${id} does not exist or is not attachable.`);
  return v;
}

export async function getPolicyVersion(ctx: IamContext, input: In) {
  const row = await managedPolicy(ctx.store, req(input, 'PolicyArn'));
  return { PolicyVersion: versionView(row.doc, versionOf(row.doc, req(input, 'VersionId'))) };
}

export async function listPolicyVersions(ctx: IamContext, input: In) {
  const row = await managedPolicy(ctx.store, req(input, 'PolicyArn'));
  const p = page([...row.doc.versions].reverse(), input);
  return { Versions: p.items.map((v) => ({ ...versionView(row.doc, v), Document: undefined })), IsTruncated: p.IsTruncated, Marker: p.Marker };
}

export async function setDefaultPolicyVersion(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const row = await managedPolicy(tx, req(input, 'PolicyArn'));
    const v = versionOf(row.doc, req(input, 'VersionId'));
    await tx.update<ManagedPolicyDoc>('iamPolicy', { ...row, doc: { ...row.doc, DefaultVersionId: v.VersionId, UpdateDate: ctx.now() } });
  });
  return {};
}

export async function deletePolicyVersion(ctx: IamContext, input: In) {
  await withRetry(ctx.store, async (tx) => {
    const row = await managedPolicy(tx, req(input, 'PolicyArn'));
    const v = versionOf(row.doc, req(input, 'VersionId'));
    if (v.VersionId === row.doc.DefaultVersionId) throw new DeleteConflictException('Cannot delete the default version of a policy.');
    await tx.update<ManagedPolicyDoc>('iamPolicy', { ...row, doc: { ...row.doc, versions: row.doc.versions.filter((x) => x !== v) } });
  });
  return {};
}

// ---------------------------------------------------------------------------
// Attachments and inline policies (users, groups, roles alike)
// ---------------------------------------------------------------------------

const NAME_MEMBER: Record<EntityKind, string> = { user: 'UserName', group: 'GroupName', role: 'RoleName' };

async function updateHolder(ctx: IamContext, which: EntityKind, name: string, fn: (doc: PolicyHolder, tx: Transaction) => Promise<PolicyHolder | undefined>): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await entity<PolicyHolder>(tx, which, name);
    const doc = await fn(row.doc, tx);
    if (doc) await tx.update<PolicyHolder>(KIND_OF[which], { ...row, doc });
  });
}

export function attachPolicy(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const arn = req(input, 'PolicyArn');
    await updateHolder(ctx, which, req(input, NAME_MEMBER[which]), async (doc, tx) => {
      await managedPolicy(tx, arn, 'attach');
      if (doc.attached.includes(arn)) return undefined;
      if (doc.attached.length >= MAX_ATTACHED) throw new LimitExceededException(`Cannot exceed quota for PoliciesPerUser: ${MAX_ATTACHED}`);
      return { ...doc, attached: [...doc.attached, arn] };
    });
    return {};
  };
}

export function detachPolicy(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const arn = req(input, 'PolicyArn');
    await updateHolder(ctx, which, req(input, NAME_MEMBER[which]), (doc) => {
      if (!doc.attached.includes(arn)) return Promise.reject(new NoSuchEntityException(`Policy ${arn} was not found.`));
      return Promise.resolve({ ...doc, attached: doc.attached.filter((a) => a !== arn) });
    });
    return {};
  };
}

export function listAttachedPolicies(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const row = await entity<PolicyHolder>(ctx.store, which, req(input, NAME_MEMBER[which]));
    const prefix = str(input.PathPrefix) ?? '/';
    const items: { PolicyName: string; PolicyArn: string }[] = [];
    for (const arn of row.doc.attached) {
      const p = await ctx.store.get<ManagedPolicyDoc>('iamPolicy', arn);
      if (p && p.doc.Path.startsWith(prefix)) items.push({ PolicyName: p.doc.PolicyName, PolicyArn: arn });
    }
    const pg = page(items, input);
    return { AttachedPolicies: pg.items, IsTruncated: pg.IsTruncated, Marker: pg.Marker };
  };
}

export async function listEntitiesForPolicy(ctx: IamContext, input: In) {
  const arn = req(input, 'PolicyArn');
  await managedPolicy(ctx.store, arn);
  const filter = str(input.EntityFilter);
  const want = (k: string) => filter === undefined || filter === k;
  const users = want('User') ? (await ctx.store.find<UserDoc>('iamUser')).filter((r) => r.doc.attached.includes(arn)).map((r) => ({ UserName: r.doc.UserName, UserId: r.doc.UserId })) : [];
  const groups = want('Group') ? (await ctx.store.find<GroupDoc>('iamGroup')).filter((r) => r.doc.attached.includes(arn)).map((r) => ({ GroupName: r.doc.GroupName, GroupId: r.doc.GroupId })) : [];
  const roles = want('Role') ? (await ctx.store.find<RoleDoc>('iamRole')).filter((r) => r.doc.attached.includes(arn)).map((r) => ({ RoleName: r.doc.RoleName, RoleId: r.doc.RoleId })) : [];
  return { PolicyUsers: users, PolicyGroups: groups, PolicyRoles: roles, IsTruncated: false };
}

export function putInlinePolicy(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const document = req(input, 'PolicyDocument');
    checkDocument(document, 'identity');
    const policyName = req(input, 'PolicyName');
    await updateHolder(ctx, which, req(input, NAME_MEMBER[which]), (doc) => Promise.resolve({ ...doc, inline: { ...doc.inline, [policyName]: document } }));
    return {};
  };
}

function inlineOf(which: EntityKind, doc: PolicyHolder, policyName: string): string {
  const d = Object.hasOwn(doc.inline, policyName) ? doc.inline[policyName] : undefined;
  if (d === undefined) throw new NoSuchEntityException(`The ${which} policy with name ${policyName} cannot be found.`);
  return d;
}

export function getInlinePolicy(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const nameMember = NAME_MEMBER[which];
    const row = await entity<PolicyHolder>(ctx.store, which, req(input, nameMember));
    const policyName = req(input, 'PolicyName');
    return { [nameMember]: row.name, PolicyName: policyName, PolicyDocument: encodeDocument(inlineOf(which, row.doc, policyName)) };
  };
}

export function deleteInlinePolicy(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const policyName = req(input, 'PolicyName');
    await updateHolder(ctx, which, req(input, NAME_MEMBER[which]), (doc) => {
      inlineOf(which, doc, policyName);
      const inline = { ...doc.inline };
      delete inline[policyName];
      return Promise.resolve({ ...doc, inline });
    });
    return {};
  };
}

export function listInlinePolicies(which: EntityKind) {
  return async (ctx: IamContext, input: In) => {
    const row = await entity<PolicyHolder>(ctx.store, which, req(input, NAME_MEMBER[which]));
    const p = page(Object.keys(row.doc.inline).sort(), input);
    return { PolicyNames: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
  };
}

// ---------------------------------------------------------------------------
// Tags (users, roles, policies)
// ---------------------------------------------------------------------------

type Tagged = { Tags: Tag[] };

async function updateTags(ctx: IamContext, kind: 'iamUser' | 'iamRole' | 'iamPolicy', find: (tx: StoreReader) => Promise<Row<Tagged>>, fn: (tags: Tag[]) => Tag[]): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const row = await find(tx);
    const tags = fn(row.doc.Tags);
    checkTags(tags);
    await tx.update<Tagged>(kind, { ...row, doc: { ...row.doc, Tags: tags } });
  });
}

const merge = (tags: Tag[], add: Tag[]): Tag[] => {
  const out = tags.filter((t) => !add.some((a) => a.Key.toLowerCase() === t.Key.toLowerCase()));
  return [...out, ...add];
};
const without = (tags: Tag[], keys: unknown): Tag[] => {
  const drop = new Set(((keys as string[] | undefined) ?? []).map((k) => k.toLowerCase()));
  return tags.filter((t) => !drop.has(t.Key.toLowerCase()));
};

const taggedFinders = {
  user: (input: In) => (tx: StoreReader) => getUserRow(tx, req(input, 'UserName')) as Promise<Row<Tagged>>,
  role: (input: In) => (tx: StoreReader) => getRoleRow(tx, req(input, 'RoleName')) as Promise<Row<Tagged>>,
  policy: (input: In) => (tx: StoreReader) => managedPolicy(tx, req(input, 'PolicyArn')) as Promise<Row<Tagged>>,
};
const TAGGED_KIND = { user: 'iamUser', role: 'iamRole', policy: 'iamPolicy' } as const;

export function tagEntity(which: keyof typeof taggedFinders) {
  return async (ctx: IamContext, input: In) => {
    await updateTags(ctx, TAGGED_KIND[which], taggedFinders[which](input), (t) => merge(t, tagsOf(input)));
    return {};
  };
}

export function untagEntity(which: keyof typeof taggedFinders) {
  return async (ctx: IamContext, input: In) => {
    await updateTags(ctx, TAGGED_KIND[which], taggedFinders[which](input), (t) => without(t, input.TagKeys));
    return {};
  };
}

export function listEntityTags(which: keyof typeof taggedFinders) {
  return async (ctx: IamContext, input: In) => {
    const row = await taggedFinders[which](input)(ctx.store);
    const p = page(row.doc.Tags, input);
    return { Tags: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
  };
}

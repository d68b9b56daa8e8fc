/**
 * STS semantics: who is calling (GetCallerIdentity), role sessions
 * (AssumeRole) and session credentials (GetSessionToken).
 *
 * Temporary credentials are stored as kind `stsSession`, keyed by their
 * access key id (ASIA...): the secret sealed with the master keys, the
 * session token only as its SHA-256, the expiry beside them. Whether the
 * caller may assume a role (its identity policies together with the role's
 * trust policy) is decided before the operation runs, by the authorization
 * step every request passes.
 */
import { randomBytes } from 'node:crypto';
import { AccessDeniedException, PackedPolicyTooLargeException, ValidationError } from '../core/errors.js';
import { checkDocument, getRoleRow } from './entities.js';
import { newIamId, newSecret, secretContext, type IamContext, type RoleDoc, type SessionDoc, type Tag } from './model.js';
import { compilePolicy, evaluate } from './policy/index.js';
import { hashToken, type Identity } from './principals.js';
import type { StoreReader } from '../store/store.js';

type In = Record<string, unknown>;

/** AWS packs session policies and tags into the token; Berth keeps AWS's 2048-character bound on the policy. */
const MAX_SESSION_POLICY = 2048;

export function getCallerIdentity(identity: Identity) {
  return { UserId: identity.userId, Account: identity.accountId, Arn: identity.arn };
}

function newToken(): string {
  return 'IQoJb3JpZ2luX2Vj' + randomBytes(96).toString('base64');
}

async function issue(ctx: IamContext, doc: Omit<SessionDoc, 'AccessKeyId' | 'secret' | 'tokenHash'>) {
  const id = newIamId('ASIA');
  const secret = newSecret();
  const token = newToken();
  const full: SessionDoc = { ...doc, AccessKeyId: id, secret: ctx.keyring.seal(Buffer.from(secret), secretContext(id)), tokenHash: hashToken(token) };
  await ctx.store.transaction((tx) => tx.insert<SessionDoc>('stsSession', { arn: id, cluster: '', name: doc.arn, status: 'ACTIVE', seq: 0, doc: full }));
  return { AccessKeyId: id, SecretAccessKey: secret, SessionToken: token, Expiration: doc.expiration / 1000 };
}

function duration(input: In, min: number, max: number, fallback: number, tooLong: string): number {
  const v = input.DurationSeconds;
  if (v === undefined) return Math.min(fallback, max);
  if (typeof v !== 'number' || v < min) {
    throw new ValidationError(`1 validation error detected: Value '${String(v)}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
  }
  if (v > max) throw new ValidationError(tooLong);
  return v;
}

/** AssumeRole for a caller the authorization step already allowed (identity policies and trust policy). */
export async function assumeRole(ctx: IamContext, input: In, caller: Identity) {
  const roleArn = typeof input.RoleArn === 'string' ? input.RoleArn : '';
  const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
  if (!m || m[1] !== ctx.accountId) throw new AccessDeniedException(`User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  const sessionName = typeof input.RoleSessionName === 'string' ? input.RoleSessionName : '';
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
    throw new ValidationError(`1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
  }
  const role = (await getRoleRow(ctx.store, m[2]!).catch(() => undefined))?.doc;
  if (!role || role.Arn !== roleArn) throw new AccessDeniedException(`User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  // Role chaining caps a session at one hour, as on AWS.
  const max = caller.kind === 'assumed-role' ? 3600 : role.MaxSessionDuration;
  const seconds = duration(
    input,
    900,
    max,
    3600,
    `The requested DurationSeconds exceeds the ${caller.kind === 'assumed-role' ? '1 hour session limit for roles assumed by role chaining' : 'MaxSessionDuration set for this role'}.`,
  );
  const policy = typeof input.Policy === 'string' ? input.Policy : undefined;
  if (policy !== undefined) {
    checkDocument(policy, 'identity');
    if (policy.length > MAX_SESSION_POLICY) throw new PackedPolicyTooLargeException('Packed policy consumes more than 100 percent of the allotted space. Please reduce the size of the policy.');
  }
  const tags = ((input.Tags as Tag[] | undefined) ?? []).map((t) => ({ Key: t.Key, Value: t.Value }));
  const arn = `arn:aws:sts::${ctx.accountId}:assumed-role/${role.RoleName}/${sessionName}`;
  const assumedRoleId = `${role.RoleId}:${sessionName}`;
  const credentials = await issue(ctx, {
    kind: 'assumed-role',
    expiration: ctx.now() + seconds * 1000,
    arn,
    userId: assumedRoleId,
    roleName: role.RoleName,
    ...(policy !== undefined ? { sessionPolicy: policy } : {}),
    ...(tags.length ? { tags } : {}),
  });
  return {
    Credentials: credentials,
    AssumedRoleUser: { AssumedRoleId: assumedRoleId, Arn: arn },
    ...(policy !== undefined || tags.length ? { PackedPolicySize: Math.max(1, Math.ceil(((policy?.length ?? 0) + JSON.stringify(tags).length) / 20.48)) } : {}),
  };
}

export async function getSessionToken(ctx: IamContext, input: In, caller: Identity) {
  if (caller.kind === 'assumed-role' || caller.kind === 'session') {
    throw new AccessDeniedException('Cannot call GetSessionToken with session credentials');
  }
  const max = caller.kind === 'root' ? 3600 : 129600;
  const seconds = duration(input, 900, max, 43200, `The requested DurationSeconds exceeds the ${max} seconds limit.`);
  const credentials = await issue(ctx, {
    kind: 'session',
    expiration: ctx.now() + seconds * 1000,
    arn: caller.arn,
    userId: caller.userId,
    ...(caller.userName !== undefined ? { userName: caller.userName } : {}),
  });
  return { Credentials: credentials };
}

/** The message ECS gives when a task's role cannot be assumed on the task's behalf. */
export const unassumableRoleMessage = (roleArn: string): string =>
  `ECS was unable to assume the role '${roleArn}' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.`;

/** Thrown by `assumeRoleAsService`: the role is missing, in another account, or its trust policy does not let the service assume it. */
export class RoleNotAssumableError extends Error {
  constructor(readonly roleArn: string, why: string) {
    super(why);
    this.name = 'RoleNotAssumableError';
  }
}

/** The role a role ARN of this account names, when its trust policy lets `service` call sts:AssumeRole. */
export async function serviceMayAssume(
  ctx: Pick<IamContext, 'store' | 'accountId' | 'now'>,
  roleArn: string,
  service: string,
  reader: StoreReader = ctx.store,
): Promise<RoleDoc> {
  const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
  if (!m) throw new RoleNotAssumableError(roleArn, 'not a role ARN');
  if (m[1] !== ctx.accountId) throw new RoleNotAssumableError(roleArn, `the role is in account ${m[1]}, not ${ctx.accountId}`);
  const role = (await getRoleRow(reader, m[2]!).catch(() => undefined))?.doc;
  if (!role || role.Arn !== roleArn) throw new RoleNotAssumableError(roleArn, 'no such role');
  const trust = compilePolicy(role.AssumeRolePolicyDocument, 'trust', `${roleArn} trust policy`);
  const d = evaluate({ principal: { type: 'Service', id: service }, action: 'sts:AssumeRole', resource: roleArn, now: new Date(ctx.now()) }, { identity: [], resource: trust });
  if (!d.allowed) throw new RoleNotAssumableError(roleArn, `the role's trust policy does not allow ${service} to assume it`);
  return role;
}

/**
 * AssumeRole by an AWS service on a customer's behalf (ECS for a task's
 * task role and execution role): allowed when the role's trust policy names
 * the service. The session lasts `seconds` whatever the role's
 * MaxSessionDuration says, as service-issued sessions do.
 */
export async function assumeRoleAsService(
  ctx: IamContext,
  input: { roleArn: string; sessionName: string; service: string; seconds: number },
): Promise<{ arn: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: number }> {
  const role = await serviceMayAssume(ctx, input.roleArn, input.service);
  const sessionName = input.sessionName.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  const arn = `arn:aws:sts::${ctx.accountId}:assumed-role/${role.RoleName}/${sessionName}`;
  const c = await issue(ctx, {
    kind: 'assumed-role',
    expiration: ctx.now() + input.seconds * 1000,
    arn,
    userId: `${role.RoleId}:${sessionName}`,
    roleName: role.RoleName,
  });
  return { arn, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000 };
}

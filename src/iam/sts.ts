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
import { newIamId, newSecret, secretContext, type IamContext, type SessionDoc, type Tag } from './model.js';
import { hashToken, type Identity } from './principals.js';

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

/**
 * IAM and STS documents as Berth stores them, and who writes which field.
 *
 * Users, groups, roles and managed policies are one row each (kinds
 * `iamUser`, `iamGroup`, `iamRole`, `iamPolicy`), keyed by their ARN, named by
 * their IAM name. Inline policies and the ARNs of attached managed policies
 * live inside the entity's document (IAM caps both, so documents stay small);
 * a user's group memberships live in the user's document. Access keys (kind
 * `accessKey`, indexed by user) and STS session credentials (kind
 * `stsSession`) are keyed by their access key id; their secrets are sealed
 * with the server's master keys and a session token is kept only as a hash.
 *
 * Every field is written by the IAM/STS operations only, except an access
 * key's `lastUsed`, which nothing writes yet.
 */
import { randomBytes } from 'node:crypto';
import type { Keyring, SealedValue } from '../core/envelope.js';
import type { Store } from '../store/store.js';

export interface IamContext {
  store: Store;
  region: string;
  accountId: string;
  /** Seals access key secrets; the master keys never enter the store. */
  keyring: Keyring;
  /** Epoch milliseconds. */
  now(): number;
}

export interface Tag {
  Key: string;
  Value: string;
}

/** What users, groups and roles have in common: policies. */
export interface PolicyHolder {
  /** Inline policies: name to JSON document. */
  inline: Record<string, string>;
  /** ARNs of attached managed policies, in attachment order. */
  attached: string[];
}

export interface UserDoc extends PolicyHolder {
  UserName: string;
  UserId: string;
  Arn: string;
  Path: string;
  CreateDate: number;
  Tags: Tag[];
  /** Names of the groups the user is in. */
  groups: string[];
}

export interface GroupDoc extends PolicyHolder {
  GroupName: string;
  GroupId: string;
  Arn: string;
  Path: string;
  CreateDate: number;
}

export interface RoleDoc extends PolicyHolder {
  RoleName: string;
  RoleId: string;
  Arn: string;
  Path: string;
  CreateDate: number;
  Description?: string;
  MaxSessionDuration: number;
  /** The trust policy, as JSON. */
  AssumeRolePolicyDocument: string;
  Tags: Tag[];
}

export interface PolicyVersion {
  VersionId: string;
  Document: string;
  CreateDate: number;
}

export interface ManagedPolicyDoc {
  PolicyName: string;
  PolicyId: string;
  Arn: string;
  Path: string;
  Description?: string;
  CreateDate: number;
  UpdateDate: number;
  DefaultVersionId: string;
  Tags: Tag[];
  versions: PolicyVersion[];
  /** The number the next version takes (v1, v2, ...; never reused). */
  nextVersion: number;
}

export interface AccessKeyDoc {
  AccessKeyId: string;
  UserName: string;
  Status: 'Active' | 'Inactive';
  CreateDate: number;
  secret: SealedValue;
}

/** Temporary credentials from AssumeRole or GetSessionToken. */
export interface SessionDoc {
  AccessKeyId: string;
  secret: SealedValue;
  /** SHA-256 (hex) of the session token. */
  tokenHash: string;
  /** Epoch milliseconds. */
  expiration: number;
  kind: 'assumed-role' | 'session';
  /** The principal the credentials act as: the assumed-role ARN, or the user's (or root's) ARN for GetSessionToken. */
  arn: string;
  /** aws:userid: `ROLEID:session` for a role session, the user id otherwise. */
  userId: string;
  roleName?: string;
  /** The user whose policies a GetSessionToken session carries. */
  userName?: string;
  /** The session policy, as JSON. */
  sessionPolicy?: string;
  tags?: Tag[];
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An IAM unique id or access key id: a four-letter prefix (AIDA, AROA, AKIA, ASIA...) and 16 characters. */
export function newIamId(prefix: string): string {
  const bytes = randomBytes(16);
  let s = prefix;
  for (let i = 0; i < 16; i++) s += ID_ALPHABET[bytes[i]! % ID_ALPHABET.length];
  return s;
}

/** A secret access key of 40 characters. */
export function newSecret(): string {
  return randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40);
}

export const userArn = (ctx: Pick<IamContext, 'accountId'>, path: string, name: string): string => `arn:aws:iam::${ctx.accountId}:user${path}${name}`;
export const groupArn = (ctx: Pick<IamContext, 'accountId'>, path: string, name: string): string => `arn:aws:iam::${ctx.accountId}:group${path}${name}`;
export const roleArn = (ctx: Pick<IamContext, 'accountId'>, path: string, name: string): string => `arn:aws:iam::${ctx.accountId}:role${path}${name}`;
export const policyArn = (ctx: Pick<IamContext, 'accountId'>, path: string, name: string): string => `arn:aws:iam::${ctx.accountId}:policy${path}${name}`;
export const rootArn = (accountId: string): string => `arn:aws:iam::${accountId}:root`;

/** The seal context of an access key's or session's secret: a sealed secret opens only under its own key id. */
export const secretContext = (accessKeyId: string): string => `berth-iam-secret:${accessKeyId}`;

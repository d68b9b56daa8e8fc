/**
 * Who signs a request: an access key resolved to its principal (the account
 * root, an IAM user with its groups, a role session, or a session from
 * GetSessionToken) and the compiled identity policies that principal holds.
 *
 * Resolved keys and compiled policies are cached; the store's change feed
 * invalidates them (a key or session change drops that key, any user, group,
 * role or policy change drops the compiled policies), so that a request costs
 * two map lookups once warm.
 */
import { createHash } from 'node:crypto';
import type { Change, Store } from '../store/store.js';
import type { ResolvedCredentials } from '../core/credentials.js';
import { compilePolicy, type CompiledPolicy } from './policy/index.js';
import { rootArn, secretContext, type AccessKeyDoc, type GroupDoc, type IamContext, type ManagedPolicyDoc, type PolicyHolder, type RoleDoc, type SessionDoc, type Tag, type UserDoc } from './model.js';

export type IdentityKind = 'root' | 'user' | 'assumed-role' | 'session';

/** The principal behind an access key. */
export interface Identity extends ResolvedCredentials {
  kind: IdentityKind;
  accessKeyId: string;
  /** The ARN policies and messages name: `arn:aws:iam::<acct>:root`, a user ARN, or `arn:aws:sts::<acct>:assumed-role/<role>/<session>`. */
  arn: string;
  /** aws:userid. */
  userId: string;
  accountId: string;
  /** The IAM user whose policies apply (users and their GetSessionToken sessions). */
  userName?: string;
  /** The role whose policies apply (role sessions). */
  roleName?: string;
  /** The session policy of a role session, which every request must also satisfy. */
  sessionPolicy?: CompiledPolicy;
  /** Session tags (aws:PrincipalTag/*). */
  tags?: Tag[];
  /** Access keys of IAM users can be made Inactive. */
  active: boolean;
}

/** The longest session STS issues (GetSessionToken for a user: 36 hours). */
const MAX_SESSION_MS = 129_600_000;

const IAM_ENTITY_KINDS = new Set(['iamUser', 'iamGroup', 'iamRole', 'iamPolicy']);

/** SHA-256 (hex) of a session token, the only form Berth keeps. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class Principals {
  private readonly keys = new Map<string, Identity>();
  private readonly policies = new Map<string, Promise<CompiledPolicy[]>>();
  private readonly root: Identity;
  private unwatch: (() => void) | undefined;
  /** Bumped by every change that invalidates: a read that started before a change must not fill the cache after it. */
  private keysGeneration = 0;
  private policiesGeneration = 0;

  constructor(
    private readonly ctx: IamContext,
    rootKey: { accessKeyId: string; secretAccessKey: string },
  ) {
    this.root = {
      kind: 'root',
      accessKeyId: rootKey.accessKeyId,
      secret: rootKey.secretAccessKey,
      arn: rootArn(ctx.accountId),
      userId: ctx.accountId,
      accountId: ctx.accountId,
      active: true,
    };
  }

  get store(): Store {
    return this.ctx.store;
  }

  /** Starts following the change feed and loads every access key, so that `secretFor` knows them. */
  async start(): Promise<void> {
    this.unwatch = this.ctx.store.watch((changes) => this.onChanges(changes));
    for (const row of await this.ctx.store.find<AccessKeyDoc>('accessKey')) this.keys.set(row.arn, this.fromAccessKey(row.doc));
    // Session credentials last at most 36 hours; older rows are only history.
    await this.ctx.store.purge('stsSession', { status: 'ACTIVE', updatedBefore: this.ctx.now() - MAX_SESSION_MS });
    for (const row of await this.ctx.store.find<SessionDoc>('stsSession')) {
      if (row.doc.expiration > this.ctx.now()) this.keys.set(row.arn, this.fromSession(row.doc));
    }
  }

  close(): void {
    this.unwatch?.();
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind === 'accessKey' || c.kind === 'stsSession') {
        this.keys.delete(c.arn);
        this.keysGeneration++;
      } else if (IAM_ENTITY_KINDS.has(c.kind)) {
        this.policies.clear();
        this.policiesGeneration++;
      }
    }
  }

  /** The secret of a known, active access key (sync: the registry's tokens ask this). */
  secretFor(accessKeyId: string): string | undefined {
    if (accessKeyId === this.root.accessKeyId) return this.root.secret;
    const id = this.keys.get(accessKeyId);
    return id && id.active && (id.expiresAt === undefined || id.expiresAt > this.ctx.now()) ? id.secret : undefined;
  }

  /** The principal behind an access key, or undefined when no such key exists. */
  async resolve(accessKeyId: string): Promise<Identity | undefined> {
    if (accessKeyId === this.root.accessKeyId) return this.root;
    const cached = this.keys.get(accessKeyId);
    if (cached) return cached.arn === '' ? this.describe(cached) : cached;
    const generation = this.keysGeneration;
    let identity: Identity | undefined;
    if (accessKeyId.startsWith('ASIA')) {
      const row = await this.ctx.store.get<SessionDoc>('stsSession', accessKeyId);
      if (row) identity = this.fromSession(row.doc);
    } else {
      const row = await this.ctx.store.get<AccessKeyDoc>('accessKey', accessKeyId);
      if (row) identity = this.fromAccessKey(row.doc);
    }
    if (!identity) return undefined;
    if (generation === this.keysGeneration) this.keys.set(accessKeyId, identity);
    return this.describe(identity);
  }

  /** The principal of a key already resolved (after SigV4 verified the request), without a store read when cached. */
  identityOf(accessKeyId: string): Promise<Identity | undefined> {
    return this.resolve(accessKeyId);
  }

  private fromAccessKey(doc: AccessKeyDoc): Identity {
    return {
      kind: 'user',
      accessKeyId: doc.AccessKeyId,
      secret: this.ctx.keyring.open(doc.secret, secretContext(doc.AccessKeyId)).toString('utf8'),
      arn: '',
      userId: '',
      accountId: this.ctx.accountId,
      userName: doc.UserName,
      active: doc.Status === 'Active',
    };
  }

  private fromSession(doc: SessionDoc): Identity {
    return {
      kind: doc.kind === 'assumed-role' ? 'assumed-role' : doc.userName !== undefined ? 'session' : 'root',
      accessKeyId: doc.AccessKeyId,
      secret: this.ctx.keyring.open(doc.secret, secretContext(doc.AccessKeyId)).toString('utf8'),
      tokenHash: doc.tokenHash,
      expiresAt: doc.expiration,
      arn: doc.arn,
      userId: doc.userId,
      accountId: this.ctx.accountId,
      ...(doc.userName !== undefined ? { userName: doc.userName } : {}),
      ...(doc.roleName !== undefined ? { roleName: doc.roleName } : {}),
      ...(doc.sessionPolicy !== undefined ? { sessionPolicy: compilePolicy(doc.sessionPolicy, 'identity', 'session policy') } : {}),
      ...(doc.tags !== undefined ? { tags: doc.tags } : {}),
      active: true,
    };
  }

  /** Fills in a user key's ARN and id (they follow the user, which may be renamed). */
  async describe(identity: Identity): Promise<Identity> {
    if (identity.kind !== 'user' || identity.arn !== '') return identity;
    const user = (await this.ctx.store.find<UserDoc>('iamUser', { name: identity.userName ?? '' }))[0];
    if (user) {
      identity.arn = user.doc.Arn;
      identity.userId = user.doc.UserId;
    }
    return identity;
  }

  /** The compiled identity-based policies of a principal (not the session policy); none for the root. */
  policiesOf(identity: Identity): Promise<CompiledPolicy[]> {
    if (identity.kind === 'root') return Promise.resolve([]);
    const key = identity.roleName !== undefined ? `role:${identity.roleName}` : `user:${identity.userName ?? ''}`;
    let p = this.policies.get(key);
    if (!p) {
      const generation = this.policiesGeneration;
      const loading = this.load(identity).then(
        (policies) => {
          if (generation !== this.policiesGeneration && this.policies.get(key) === loading) this.policies.delete(key);
          return policies;
        },
        (err: unknown) => {
          if (this.policies.get(key) === loading) this.policies.delete(key);
          throw err;
        },
      );
      p = loading;
      this.policies.set(key, p);
    }
    return p;
  }

  private async load(identity: Identity): Promise<CompiledPolicy[]> {
    const store = this.ctx.store;
    const holders: { label: string; doc: PolicyHolder }[] = [];
    if (identity.roleName !== undefined) {
      const role = (await store.find<RoleDoc>('iamRole', { name: identity.roleName }))[0];
      if (role) holders.push({ label: `role/${role.name}`, doc: role.doc });
    } else if (identity.userName !== undefined) {
      const user = (await store.find<UserDoc>('iamUser', { name: identity.userName }))[0];
      if (user) {
        holders.push({ label: `user/${user.name}`, doc: user.doc });
        for (const g of user.doc.groups) {
          const group = (await store.find<GroupDoc>('iamGroup', { name: g }))[0];
          if (group) holders.push({ label: `group/${group.name}`, doc: group.doc });
        }
      }
    }
    const out: CompiledPolicy[] = [];
    const seen = new Set<string>();
    for (const h of holders) {
      for (const [name, doc] of Object.entries(h.doc.inline)) out.push(compilePolicy(doc, 'identity', `${h.label}/${name}`));
      for (const arn of h.doc.attached) {
        if (seen.has(arn)) continue;
        seen.add(arn);
        const p = await store.get<ManagedPolicyDoc>('iamPolicy', arn);
        const v = p?.doc.versions.find((x) => x.VersionId === p.doc.DefaultVersionId);
        if (v) out.push(compilePolicy(v.Document, 'identity', arn));
      }
    }
    return out;
  }
}

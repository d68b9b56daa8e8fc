/**
 * Authorization of every API request: the caller's principal, the
 * operation's action and resources (`resources.ts`), the request context,
 * and IAM's evaluation logic (`iam/policy`). The account root is always
 * allowed. A role session's session policy must allow too. Every decision is
 * logged: allows at debug, denials at info.
 */
import { AccessDeniedException } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { evaluate, denialMessage, type AuthorizationRequest, type Decision } from '../../iam/policy/index.js';
import type { Identity, Principals } from '../../iam/principals.js';
import type { AccessCheck, ResourceResolver, ResourceScope } from './resources.js';

/** What the HTTP layer knows about a request beyond its signature. */
export interface RequestFacts {
  sourceIp?: string;
  secureTransport: boolean;
}

export class Authorizer {
  constructor(
    readonly principals: Principals,
    private readonly scope: ResourceScope,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws AccessDeniedException (AWS's message) unless the principal of `accessKeyId` may perform `operation` with `input`. */
  async authorizeOperation(accessKeyId: string, resolver: ResourceResolver, operation: string, input: Record<string, unknown>, facts: RequestFacts): Promise<void> {
    const identity = await this.principals.resolve(accessKeyId);
    if (!identity) throw new AccessDeniedException('The security token included in the request is invalid.');
    if (identity.kind === 'root') {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ principal: identity.arn, operation, decision: 'Allow', reason: 'account root' }, 'authorization');
      return;
    }
    await this.check(identity, await resolver(operation, input, this.scope), facts);
  }

  /** Evaluates each check; the first denied one throws. */
  async check(identity: Identity, checks: readonly AccessCheck[], facts: RequestFacts): Promise<void> {
    if (identity.kind === 'root') return;
    const policies = await this.principals.policiesOf(identity);
    const now = new Date(this.now());
    const base = this.baseContext(identity, facts);
    for (const c of checks) {
      const req: AuthorizationRequest = {
        principal: { type: 'AWS', id: identity.arn },
        action: c.action,
        resource: c.resource,
        context: c.context ? { ...base, ...c.context } : base,
        now,
      };
      let d: Decision = evaluate(req, { identity: policies, resource: c.resourcePolicy });
      if (d.allowed && identity.sessionPolicy) {
        const s = evaluate(req, { identity: [identity.sessionPolicy] });
        if (!s.allowed) d = s;
      }
      const line = { principal: identity.arn, action: c.action, resource: c.resource, decision: d.decision, ...(d.statement ? { policy: d.statement.policyId, statement: d.statement.sid ?? d.statement.index } : {}) };
      if (!d.allowed) {
        this.log.info(line, 'authorization');
        throw new AccessDeniedException(denialMessage(req, d));
      }
      if (this.log.isLevelEnabled('debug')) this.log.debug(line, 'authorization');
    }
  }

  private baseContext(identity: Identity, facts: RequestFacts): Record<string, string | string[]> {
    const ctx: Record<string, string | string[]> = {
      'aws:userid': identity.userId,
      'aws:SecureTransport': facts.secureTransport ? 'true' : 'false',
      'aws:PrincipalType': identity.kind === 'assumed-role' ? 'AssumedRole' : identity.kind === 'user' || identity.kind === 'session' ? 'User' : 'Account',
    };
    if (facts.sourceIp !== undefined) ctx['aws:SourceIp'] = facts.sourceIp;
    if (identity.roleName !== undefined) ctx['aws:PrincipalArn'] = `arn:aws:iam::${identity.accountId}:role/${identity.roleName}`;
    if (identity.userName !== undefined) ctx['aws:username'] = identity.userName;
    for (const t of identity.tags ?? []) ctx[`aws:PrincipalTag/${t.Key}`] = t.Value;
    return ctx;
  }
}

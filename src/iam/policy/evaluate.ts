/**
 * IAM's policy evaluation logic within one account (and across accounts for
 * resource policies), as a pure function: the policies are compiled once,
 * the request carries everything else, the time included.
 *
 * 1. An explicit Deny in any applicable policy decides: denied.
 * 2. Otherwise an Allow decides: in an identity policy; or in the resource
 *    (or trust) policy when it names the caller itself and the resource is
 *    in the caller's account. A resource policy that names only the caller's
 *    account delegates to the account's identity policies, and across
 *    accounts both sides must allow.
 * 3. Otherwise: denied implicitly.
 */
import type { CompiledPolicy, CompiledStatement, RequestPrincipal } from './document.js';
import { principalAccount } from './document.js';
import { splitRequestArn } from './patterns.js';

export interface AuthorizationRequest {
  principal: RequestPrincipal;
  /** `service:Action`, any case. */
  action: string;
  /** The resource's ARN, or `*` for actions on no resource. */
  resource: string;
  /** The account that owns the resource; by default the account in the resource's ARN, else the caller's. */
  resourceAccount?: string;
  /** Request context keys (any case); multivalued keys are arrays. */
  context?: Readonly<Record<string, string | readonly string[]>>;
  /** The time of the request (aws:CurrentTime, aws:EpochTime). */
  now: Date;
}

export interface PolicySet {
  /** The caller's identity-based policies. */
  identity: readonly CompiledPolicy[];
  /** The resource's policy, or a role's trust policy for sts:AssumeRole. */
  resource?: CompiledPolicy | undefined;
}

export type DecisionKind = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/** Which statement decided, for messages and audit. */
export interface DecidingStatement {
  policyId: string;
  policyKind: CompiledPolicy['kind'];
  /** Zero-based position in the policy's Statement list. */
  index: number;
  sid: string | undefined;
}

export interface Decision {
  decision: DecisionKind;
  allowed: boolean;
  /** The Deny that matched, or the Allow that granted; absent for an implicit deny. */
  statement?: DecidingStatement;
  /** For an implicit deny: which kind of policy failed to allow. */
  missing?: 'identity' | 'resource';
}

/** Whether a statement whose action already matched applies to the request. */
function applies(st: CompiledStatement, policy: CompiledPolicy, req: AuthorizationRequest, view: RequestView): boolean {
  if (policy.kind !== 'identity' && st.matchesPrincipal(req.principal) === 'none') return false;
  if (!st.matchesResource(req.resource, view.parts, view.ctx)) return false;
  for (const c of st.conditions) if (!c.test(view.ctx)) return false;
  return true;
}

interface RequestView {
  action: string;
  parts: readonly string[] | undefined;
  ctx: Map<string, string | readonly string[]>;
}

function viewOf(req: AuthorizationRequest): RequestView {
  const action = req.action.toLowerCase();
  const ctx = new Map<string, string | readonly string[]>();
  const pAccount = req.principal.type === 'AWS' ? principalAccount(req.principal.id) : undefined;
  // Global keys Berth knows from the request itself; the caller's context wins where it says otherwise.
  ctx.set('aws:currenttime', req.now.toISOString());
  ctx.set('aws:epochtime', String(Math.floor(req.now.getTime() / 1000)));
  if (req.principal.type === 'AWS') {
    ctx.set('aws:principalarn', req.principal.id);
    if (pAccount) ctx.set('aws:principalaccount', pAccount);
    const user = /^arn:[a-z-]+:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(req.principal.id);
    if (user) ctx.set('aws:username', user[1]!);
  } else if (req.principal.type === 'Service') {
    ctx.set('aws:principalservicename', req.principal.id);
  }
  for (const [k, v] of Object.entries(req.context ?? {})) ctx.set(k.toLowerCase(), v);
  return { action, parts: splitRequestArn(req.resource), ctx };
}

const decided = (policy: CompiledPolicy, st: CompiledStatement): DecidingStatement => ({ policyId: policy.id, policyKind: policy.kind, index: st.index, sid: st.sid });

/** Evaluates one request against its policies. Pure: same inputs, same decision. */
export function evaluate(req: AuthorizationRequest, policies: PolicySet): Decision {
  const view = viewOf(req);
  const all = policies.resource ? [...policies.identity, policies.resource] : policies.identity;
  for (const policy of all) {
    for (const st of policy.statementsFor(view.action).deny) {
      if (applies(st, policy, req, view)) return { decision: 'ExplicitDeny', allowed: false, statement: decided(policy, st) };
    }
  }
  let identityAllow: DecidingStatement | undefined;
  for (const policy of policies.identity) {
    for (const st of policy.statementsFor(view.action).allow) {
      if (applies(st, policy, req, view)) {
        identityAllow = decided(policy, st);
        break;
      }
    }
    if (identityAllow) break;
  }
  const callerAccount = req.principal.type === 'AWS' ? principalAccount(req.principal.id) : undefined;
  const resourceAccount = req.resourceAccount ?? (view.parts?.[4] || callerAccount);
  const sameAccount = req.principal.type !== 'AWS' || callerAccount === resourceAccount;
  let resourceAllow: { statement: DecidingStatement; grantsAlone: boolean } | undefined;
  const rp = policies.resource;
  if (rp) {
    for (const st of rp.statementsFor(view.action).allow) {
      if (!applies(st, rp, req, view)) continue;
      const grantsAlone = st.matchesPrincipal(req.principal) === 'principal';
      if (!resourceAllow || (grantsAlone && !resourceAllow.grantsAlone)) resourceAllow = { statement: decided(rp, st), grantsAlone };
      if (grantsAlone) break;
    }
  }
  if (sameAccount) {
    if (resourceAllow?.grantsAlone) return { decision: 'Allow', allowed: true, statement: resourceAllow.statement };
    if (identityAllow) return { decision: 'Allow', allowed: true, statement: identityAllow };
    return { decision: 'ImplicitDeny', allowed: false, missing: 'identity' };
  }
  if (!identityAllow) return { decision: 'ImplicitDeny', allowed: false, missing: 'identity' };
  if (!resourceAllow) return { decision: 'ImplicitDeny', allowed: false, missing: 'resource' };
  return { decision: 'Allow', allowed: true, statement: identityAllow };
}

/**
 * AWS's AccessDenied message for a denied decision, for example `User:
 * arn:aws:iam::123456789012:user/ana is not authorized to perform:
 * secretsmanager:GetSecretValue on resource: arn:... because no
 * identity-based policy allows the secretsmanager:GetSecretValue action`.
 */
export function denialMessage(req: Pick<AuthorizationRequest, 'principal' | 'action' | 'resource'>, d: Decision): string {
  const head = `User: ${req.principal.id} is not authorized to perform: ${req.action} on resource: ${req.resource}`;
  if (d.decision === 'ExplicitDeny') {
    return `${head} with an explicit deny in ${d.statement?.policyKind === 'identity' ? 'an identity-based policy' : 'a resource-based policy'}`;
  }
  return `${head} because no ${d.missing === 'resource' ? 'resource-based' : 'identity-based'} policy allows the ${req.action} action`;
}

/**
 * IAM policy documents: parsing, validation with IAM's MalformedPolicyDocument
 * messages, and compilation into the form `evaluate` runs.
 *
 * Three kinds of document share the grammar and differ in what a statement
 * may or must name:
 * - identity policies (attached to users, groups, roles): Action and Resource,
 *   no Principal;
 * - resource policies (on a secret, a bucket...): Principal, Action, Resource;
 * - trust policies (a role's assume-role policy): Principal and Action, no
 *   Resource.
 */
import { compileConditions, PolicySyntaxError, type CompiledCondition } from './conditions.js';
import { compileArnPattern, compilePattern, isArn, type ArnPattern, type ContextValues, type StringPattern } from './patterns.js';

export { PolicySyntaxError } from './conditions.js';

export type PolicyKind = 'identity' | 'resource' | 'trust';
export type Effect = 'Allow' | 'Deny';

/** The caller, as principals in resource and trust policies name it. */
export interface RequestPrincipal {
  /** `AWS` for IAM identities (root, users, roles, role sessions), `Service` for AWS services, `Federated` for identity providers. */
  type: 'AWS' | 'Service' | 'Federated';
  /** The principal's ARN (AWS), service name (`ecs-tasks.amazonaws.com`) or provider. */
  id: string;
}

/** How a statement's Principal matched: by naming the principal itself, or only its account. */
export type PrincipalMatch = 'none' | 'account' | 'principal';

/** A compiled statement. */
export interface CompiledStatement {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  matchesAction(lowerAction: string): boolean;
  matchesResource(resource: string, parts: readonly string[] | undefined, ctx: ContextValues): boolean;
  /** 'principal' for identity policies (they always apply to their holder). */
  matchesPrincipal(p: RequestPrincipal): PrincipalMatch;
  readonly conditions: readonly CompiledCondition[];
}

export interface ActionStatements {
  readonly deny: readonly CompiledStatement[];
  readonly allow: readonly CompiledStatement[];
}

/** A compiled policy: its statements bucketed by the action's service prefix. */
export interface CompiledPolicy {
  readonly id: string;
  readonly kind: PolicyKind;
  readonly version: string;
  readonly statements: readonly CompiledStatement[];
  /**
   * The deny and the allow statements whose Action (or NotAction) matches `lowerAction`, in document
   * order. Memoised per action: a policy never changes once compiled, and the actions a server asks
   * about are few.
   */
  statementsFor(lowerAction: string): ActionStatements;
}

const TOP_FIELDS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

const fail = (message: string): never => {
  throw new PolicySyntaxError(message);
};

function stringList(v: unknown, field: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) fail(`Syntax errors in policy. ${field} must not be empty.`);
  for (const s of list) if (typeof s !== 'string') fail(`Syntax errors in policy. ${field} must be a string or a list of strings.`);
  return list as string[];
}

/**
 * Parses and compiles a policy document (JSON text or an object); throws
 * `PolicySyntaxError` whose message names the problem as IAM words it.
 */
export function compilePolicy(document: string | unknown, kind: PolicyKind, id = 'policy'): CompiledPolicy {
  let doc: unknown = document;
  if (typeof document === 'string') {
    try {
      doc = JSON.parse(document);
    } catch {
      fail('Syntax errors in policy.');
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('Syntax errors in policy.');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_FIELDS.has(k)) fail(`Syntax errors in policy. Unknown field ${k}.`);
  const version = top.Version === undefined ? '2008-10-17' : top.Version;
  if (typeof version !== 'string' || !VERSIONS.has(version)) fail('The policy failed legacy parsing');
  // Policy variables exist only in version 2012-10-17; in older documents `${...}` is literal text.
  const variables = version === '2012-10-17';
  if (top.Statement === undefined) fail('Missing required field Statement');
  const raw = Array.isArray(top.Statement) ? (top.Statement as unknown[]) : [top.Statement];
  if (raw.length === 0) fail('Syntax errors in policy. Statement must not be empty.');
  const sids = new Set<string>();
  const statements = raw.map((s, i) => {
    const st = compileStatement(s, i, kind, variables);
    if (st.sid !== undefined && st.sid !== '') {
      if (sids.has(st.sid)) fail('Statement IDs (SID) in a single policy must be unique.');
      sids.add(st.sid);
    }
    return st;
  });
  return withBuckets(id, kind, version as string, statements);
}

interface ParsedStatement {
  sid: string | undefined;
  compiled: CompiledStatement;
  /** Lower-case service prefixes of its actions; undefined when any service can match (`*`, wildcards in the prefix, NotAction). */
  services: string[] | undefined;
}

function compileStatement(raw: unknown, index: number, kind: PolicyKind, variables: boolean): ParsedStatement & { services: string[] | undefined } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('Syntax errors in policy. Each statement must be an object.');
  const s = raw as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!STATEMENT_FIELDS.has(k)) fail(`Syntax errors in policy. Unknown field ${k}.`);
  const sid = s.Sid;
  if (sid !== undefined && (typeof sid !== 'string' || (variables && sid !== '' && !/^[A-Za-z0-9]+$/.test(sid)))) {
    fail(`Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*`);
  }
  if (s.Effect === undefined) fail('Missing required field Effect');
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') fail(`Invalid effect: ${String(s.Effect)}`);
  const effect = s.Effect as Effect;

  // Action / NotAction
  if (s.Action !== undefined && s.NotAction !== undefined) fail('Syntax errors in policy. A statement cannot have both Action and NotAction.');
  if (s.Action === undefined && s.NotAction === undefined) fail('Policy statement must contain actions.');
  const notAction = s.Action === undefined;
  const actions = stringList(notAction ? s.NotAction : s.Action, notAction ? 'NotAction' : 'Action');
  const { test: actionTest, services } = compileActions(actions);
  const matchesAction = notAction ? (a: string): boolean => !actionTest(a) : actionTest;

  // Resource / NotResource
  if (s.Resource !== undefined && s.NotResource !== undefined) fail('Syntax errors in policy. A statement cannot have both Resource and NotResource.');
  let matchesResource: CompiledStatement['matchesResource'] = () => true;
  if (kind === 'trust') {
    if (s.Resource !== undefined) fail('Has prohibited field Resource');
    if (s.NotResource !== undefined) fail('Has prohibited field NotResource');
  } else {
    if (s.Resource === undefined && s.NotResource === undefined) fail('Policy statement must contain resources.');
    const notResource = s.Resource === undefined;
    const patterns = stringList(notResource ? s.NotResource : s.Resource, notResource ? 'NotResource' : 'Resource').map((r) => {
      if (r !== '*' && !isArn(r) && !r.startsWith('arn:')) fail(`Resource ${r} must be in ARN format or "*".`);
      return compileArnPattern(r, variables);
    });
    const any = (resource: string, parts: readonly string[] | undefined, ctx: ContextValues): boolean => anyArn(patterns, resource, parts, ctx);
    matchesResource = notResource ? (r, p, c) => !any(r, p, c) : any;
  }

  // Principal / NotPrincipal
  let matchesPrincipal: CompiledStatement['matchesPrincipal'] = () => 'principal';
  if (kind === 'identity') {
    if (s.Principal !== undefined || s.NotPrincipal !== undefined) fail('Policy document should not specify a principal.');
  } else {
    if (s.Principal !== undefined && s.NotPrincipal !== undefined) fail('Syntax errors in policy. A statement cannot have both Principal and NotPrincipal.');
    if (s.Principal === undefined && s.NotPrincipal === undefined) fail('Missing required field Principal');
    if (s.NotPrincipal !== undefined && effect === 'Allow' && kind === 'trust') fail('Has prohibited field NotPrincipal');
    const negate = s.Principal === undefined;
    const p = compilePrincipal(negate ? s.NotPrincipal : s.Principal);
    matchesPrincipal = negate ? (rp) => (p(rp) === 'none' ? 'principal' : 'none') : p;
  }

  const conditions = compileConditions(s.Condition, variables);
  return {
    sid: typeof sid === 'string' ? sid : undefined,
    services: notAction ? undefined : services,
    compiled: { index, sid: typeof sid === 'string' ? sid : undefined, effect, matchesAction, matchesResource, matchesPrincipal, conditions },
  };
}

function anyArn(patterns: readonly ArnPattern[], _resource: string, parts: readonly string[] | undefined, ctx: ContextValues): boolean {
  for (const p of patterns) if (p.testSplit(parts, ctx)) return true;
  return false;
}

/** Actions are `service:Action` with `*` and `?`, compared case-insensitively; `*` alone is every action. */
function compileActions(actions: string[]): { test: (lowerAction: string) => boolean; services: string[] | undefined } {
  const exact = new Set<string>();
  const patterns: StringPattern[] = [];
  const services = new Set<string>();
  let anyService = false;
  for (const a of actions) {
    if (a === '*') {
      anyService = true;
      patterns.push(compilePattern('*', { wildcards: true, variables: false, ignoreCase: false }));
      continue;
    }
    const colon = a.indexOf(':');
    if (colon <= 0 || colon === a.length - 1) fail('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
    const vendor = a.slice(0, colon).toLowerCase();
    if (/[*?]/.test(vendor)) fail(`Action vendors must not contain wildcards: ${a}`);
    if (!/^[a-z0-9-]+$/.test(vendor)) fail(`Vendor ${a.slice(0, colon)} is not valid`);
    services.add(vendor);
    const lower = a.toLowerCase();
    if (/[*?]/.test(lower)) patterns.push(compilePattern(lower, { wildcards: true, variables: false, ignoreCase: false }));
    else exact.add(lower);
  }
  const test = (lowerAction: string): boolean => {
    if (exact.has(lowerAction)) return true;
    for (const p of patterns) if (p.test(lowerAction, EMPTY)) return true;
    return false;
  };
  return { test, services: anyService ? undefined : [...services] };
}

const EMPTY: ContextValues = new Map();

/** Distinct actions remembered per policy (AWS's services have a few thousand in all; a request names one). */
const MEMO_ACTIONS = 4096;

const ACCOUNT_RE = /^\d{12}$/;
const ROOT_RE = /^arn:[a-z-]+:iam::(\d{12}):root$/;
const ROLE_RE = /^arn:([a-z-]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;
const SESSION_RE = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
const IAM_ARN_RE = /^arn:[a-z-]+:(iam|sts)::\d{12}:.+$/;

/** The account of an AWS principal ARN. */
export function principalAccount(arn: string): string | undefined {
  return /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}

function compilePrincipal(raw: unknown): (p: RequestPrincipal) => PrincipalMatch {
  if (raw === '*') return () => 'principal';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`Invalid principal in policy: ${JSON.stringify(raw)}`);
  const byType = new Map<string, string[]>();
  for (const [type, v] of Object.entries(raw as Record<string, unknown>)) {
    if (type !== 'AWS' && type !== 'Service' && type !== 'Federated' && type !== 'CanonicalUser') fail(`Invalid principal in policy: "${type}"`);
    const ids = stringList(v, `Principal ${type}`);
    for (const id of ids) {
      if (id === '*') {
        if (type !== 'AWS') fail(`Invalid principal in policy: "${type}":"*"`);
        continue;
      }
      if (type === 'AWS' && !ACCOUNT_RE.test(id) && !IAM_ARN_RE.test(id)) fail(`Invalid principal in policy: "AWS":"${id}"`);
      if (/[*?]/.test(id)) fail(`Invalid principal in policy: "${type}":"${id}"`);
    }
    byType.set(type, ids);
  }
  const aws = byType.get('AWS') ?? [];
  const anyAws = aws.includes('*');
  const accounts = new Set<string>();
  const arns = new Set<string>();
  const roleNames = new Set<string>();
  for (const id of aws) {
    if (ACCOUNT_RE.test(id)) accounts.add(id);
    else if (ROOT_RE.test(id)) accounts.add(ROOT_RE.exec(id)![1]!);
    else {
      arns.add(id);
      const role = ROLE_RE.exec(id);
      if (role) roleNames.add(`${role[1]}:${role[2]}:${role[3]}`);
    }
  }
  const services = new Set(byType.get('Service') ?? []);
  const federated = new Set(byType.get('Federated') ?? []);
  return (p) => {
    if (p.type === 'Service') return services.has(p.id) ? 'principal' : 'none';
    if (p.type === 'Federated') return federated.has(p.id) ? 'principal' : 'none';
    if (anyAws) return 'principal';
    if (arns.has(p.id)) return 'principal';
    const session = SESSION_RE.exec(p.id);
    // A role's ARN names every session of the role.
    if (session && roleNames.has(`${session[1]}:${session[2]}:${session[3]}`)) return 'principal';
    const account = principalAccount(p.id);
    if (account !== undefined && accounts.has(account)) return p.id === `arn:aws:iam::${account}:root` ? 'principal' : 'account';
    return 'none';
  };
}

function withBuckets(id: string, kind: PolicyKind, version: string, parsed: ParsedStatement[]): CompiledPolicy {
  const statements = parsed.map((p) => p.compiled);
  const anyDeny: CompiledStatement[] = [];
  const anyAllow: CompiledStatement[] = [];
  const byService = new Map<string, { deny: CompiledStatement[]; allow: CompiledStatement[] }>();
  for (const p of parsed) {
    const st = p.compiled;
    if (p.services === undefined) {
      (st.effect === 'Deny' ? anyDeny : anyAllow).push(st);
      continue;
    }
    for (const svc of p.services) {
      let b = byService.get(svc);
      if (!b) byService.set(svc, (b = { deny: [], allow: [] }));
      (st.effect === 'Deny' ? b.deny : b.allow).push(st);
    }
  }
  // Statements matching any service go into every bucket, in document order.
  const merged = new Map<string, { deny: readonly CompiledStatement[]; allow: readonly CompiledStatement[] }>();
  for (const [svc, b] of byService) {
    const order = (a: CompiledStatement, c: CompiledStatement): number => a.index - c.index;
    merged.set(svc, { deny: [...b.deny, ...anyDeny].sort(order), allow: [...b.allow, ...anyAllow].sort(order) });
  }
  const fallback = { deny: anyDeny, allow: anyAllow };
  const memo = new Map<string, ActionStatements>();
  const statementsFor = (lowerAction: string): ActionStatements => {
    let hit = memo.get(lowerAction);
    if (hit) return hit;
    const colon = lowerAction.indexOf(':');
    const bucket = merged.get(colon > 0 ? lowerAction.slice(0, colon) : '') ?? fallback;
    hit = { deny: bucket.deny.filter((st) => st.matchesAction(lowerAction)), allow: bucket.allow.filter((st) => st.matchesAction(lowerAction)) };
    if (memo.size >= MEMO_ACTIONS) memo.clear();
    memo.set(lowerAction, hit);
    return hit;
  };
  return { id, kind, version, statements, statementsFor };
}

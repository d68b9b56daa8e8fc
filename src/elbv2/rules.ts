/** Listener rules: CreateRule, DescribeRules, ModifyRule, DeleteRule, SetRulePriorities, and each listener's default rule. */
import { isIPv4, isIPv6 } from 'node:net';
import {
  OperationNotPermittedException,
  PriorityInUseException,
  RuleNotFoundException,
  TooManyRulesException,
  ValidationError,
} from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { getListener, getLoadBalancer, mergeTags, page } from './common.js';
import { normalizeActions, type ActionInput } from './listeners.js';
import { LIMITS, defaultRuleArn, listenerOfRule, newId, type ConditionDoc, type Elbv2Context, type ListenerDoc, type RuleDoc, type Tag } from './model.js';

const ruleNotFound = (): Error => new RuleNotFoundException('One or more rules not found');

const FIELDS = new Set(['path-pattern', 'host-header', 'http-header', 'http-request-method', 'query-string', 'source-ip']);
const CONFIG_OF: Record<string, keyof ConditionDoc> = {
  'path-pattern': 'PathPatternConfig',
  'host-header': 'HostHeaderConfig',
  'http-header': 'HttpHeaderConfig',
  'http-request-method': 'HttpRequestMethodConfig',
  'query-string': 'QueryStringConfig',
  'source-ip': 'SourceIpConfig',
};

function checkCidr(value: string): boolean {
  const [ip, bits, extra] = value.split('/');
  if (ip === undefined || bits === undefined || extra !== undefined || !/^\d{1,3}$/.test(bits)) return false;
  if (isIPv4(ip)) return Number(bits) <= 32;
  if (isIPv6(ip)) return Number(bits) <= 128;
  return false;
}

/**
 * Checks rule conditions as ELBv2 does and returns them as it describes
 * them: `Values` given for host-header or path-pattern also appear in the
 * field's config, and each field appears at most once (http-header once per
 * header name).
 */
export function normalizeConditions(conditions: readonly ConditionDoc[]): ConditionDoc[] {
  const seen = new Set<string>();
  let values = 0;
  const out: ConditionDoc[] = [];
  for (const c of conditions) {
    const field = c.Field;
    if (field === undefined) throw new ValidationError('A condition field must be specified');
    if (!FIELDS.has(field)) throw new ValidationError(`Condition field '${field}' must be one of '[path-pattern, host-header, http-header, http-request-method, query-string, source-ip]'`);
    const configKey = CONFIG_OF[field]!;
    const config = c[configKey] as { Values?: unknown[]; HttpHeaderName?: string } | undefined;
    if (c.Values !== undefined && config !== undefined) throw new ValidationError(`You cannot specify both 'Values' and '${configKey}' for the condition field '${field}'`);
    if (c.Values !== undefined && field !== 'host-header' && field !== 'path-pattern') {
      throw new ValidationError(`A '${configKey}' must be specified for the condition field '${field}'`);
    }
    for (const other of Object.values(CONFIG_OF)) {
      if (other !== configKey && c[other] !== undefined) throw new ValidationError(`'${other}' cannot be specified for the condition field '${field}'`);
    }
    const key = field === 'http-header' ? `${field}:${(config?.HttpHeaderName ?? '').toLowerCase()}` : field;
    if (seen.has(key)) throw new ValidationError(`The condition field '${field}' can be specified only once per rule`);
    seen.add(key);
    const list = (c.Values ?? config?.Values ?? []) as unknown[];
    if (list.length === 0) throw new ValidationError(`A value must be specified for the condition field '${field}'`);
    values += list.length;
    switch (field) {
      case 'path-pattern':
      case 'host-header': {
        const vs = list as string[];
        for (const v of vs) {
          if (v.length > 128) throw new ValidationError(`Condition value '${v}' cannot be longer than 128 characters`);
          if (field === 'host-header' && !/^[A-Za-z0-9\-.*?]+$/.test(v)) throw new ValidationError(`Condition value '${v}' contains a character that is not valid for a host header`);
        }
        out.push({ Field: field, Values: vs, [configKey]: { Values: vs } });
        break;
      }
      case 'http-header': {
        const name = config?.HttpHeaderName;
        if (name === undefined || !/^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,40}$/.test(name)) throw new ValidationError('A valid HTTP header name must be specified');
        out.push({ Field: field, HttpHeaderConfig: { HttpHeaderName: name, Values: list as string[] } });
        break;
      }
      case 'http-request-method': {
        const vs = list as string[];
        for (const v of vs) if (!/^[A-Z_-]{1,40}$/.test(v)) throw new ValidationError(`HTTP request method '${v}' is not valid`);
        out.push({ Field: field, HttpRequestMethodConfig: { Values: vs } });
        break;
      }
      case 'query-string': {
        const vs = (list as { Key?: string; Value?: string }[]).map((kv) => {
          if (kv.Value === undefined || kv.Value === '') throw new ValidationError('A query string value must be specified');
          return { ...(kv.Key !== undefined ? { Key: kv.Key } : {}), Value: kv.Value };
        });
        out.push({ Field: field, QueryStringConfig: { Values: vs } });
        break;
      }
      case 'source-ip': {
        const vs = list as string[];
        for (const v of vs) if (!checkCidr(v)) throw new ValidationError(`The source IP '${v}' is not a valid CIDR block`);
        out.push({ Field: field, SourceIpConfig: { Values: vs } });
        break;
      }
    }
  }
  if (values > LIMITS['condition-values-per-alb-rule']) throw new ValidationError(`A rule can only have '${LIMITS['condition-values-per-alb-rule']}' condition values`);
  return out;
}

function checkPriority(priority: number): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > 50000) {
    throw new ValidationError(`1 validation error detected: Value '${priority}' at 'priority' failed to satisfy constraint: Member must have value ${priority < 1 ? 'greater than or equal to 1' : 'less than or equal to 50000'}`);
  }
}

/** The Rule structure as ELBv2 describes it. */
export function describeRule(r: RuleDoc): Record<string, unknown> {
  return { RuleArn: r.RuleArn, Priority: String(r.Priority), Conditions: r.Conditions, Actions: r.Actions, IsDefault: false };
}

/** A listener's default rule: its default actions, matching every request. */
export function describeDefaultRule(l: ListenerDoc): Record<string, unknown> {
  return { RuleArn: defaultRuleArn(l.ListenerArn), Priority: 'default', Conditions: [], Actions: l.DefaultActions, IsDefault: true };
}

export interface CreateRuleInput {
  ListenerArn: string;
  Conditions: ConditionDoc[];
  Priority: number;
  Actions: ActionInput[];
  Tags?: Tag[];
}

export async function createRule(ctx: Elbv2Context, input: CreateRuleInput): Promise<unknown> {
  checkPriority(input.Priority);
  const row = await withRetry(ctx.store, async (tx) => {
    const listener = (await getListener(tx, input.ListenerArn)).doc;
    const lb = (await getLoadBalancer(tx, listener.LoadBalancerArn)).doc;
    if (lb.Type !== 'application') throw new ValidationError('Rules are supported only for listeners of Application Load Balancers');
    const conditions = normalizeConditions(input.Conditions);
    if (conditions.length === 0) throw new ValidationError('At least one condition must be specified');
    const actions = await normalizeActions(tx, lb, listener.Protocol, input.Actions);
    const siblings = await tx.find<RuleDoc>('listenerRule', { where: { listener: listener.ListenerArn } });
    if (siblings.some((r) => r.doc.Priority === input.Priority)) throw new PriorityInUseException(`Priority '${input.Priority}' is currently in use`);
    let rulesOfLoadBalancer = 0;
    for (const l of await tx.find('listener', { where: { loadBalancer: lb.LoadBalancerArn } })) {
      rulesOfLoadBalancer += await tx.count('listenerRule', { where: { listener: l.arn } });
    }
    if (rulesOfLoadBalancer >= LIMITS['rules-per-application-load-balancer']) {
      throw new TooManyRulesException("You've reached the limit on the number of rules per load balancer");
    }
    const now = ctx.now();
    const arn = `${listener.ListenerArn.replace(':listener/', ':listener-rule/')}/${newId()}`;
    const doc: RuleDoc = { RuleArn: arn, ListenerArn: listener.ListenerArn, Priority: input.Priority, Conditions: conditions, Actions: actions, CreatedTime: now, Tags: mergeTags([], input.Tags ?? []) };
    return tx.insert<RuleDoc>('listenerRule', { arn, cluster: '', name: '', status: 'active', seq: input.Priority, keys: { listener: listener.ListenerArn }, doc });
  });
  return { Rules: [describeRule(row.doc)] };
}

type AnyRule = { kind: 'rule'; row: Row<RuleDoc> } | { kind: 'default'; listener: Row<ListenerDoc> };

/** A rule by ARN, a listener's default rule included; RuleNotFound otherwise. */
async function getAnyRule(reader: StoreReader, arn: string): Promise<AnyRule> {
  const row = await reader.get<RuleDoc>('listenerRule', arn);
  if (row) return { kind: 'rule', row };
  const listenerArn = listenerOfRule(arn);
  const listener = listenerArn !== undefined ? await reader.get<ListenerDoc>('listener', listenerArn) : undefined;
  if (listener && defaultRuleArn(listener.arn) === arn) return { kind: 'default', listener };
  throw ruleNotFound();
}

function sortRules(rows: readonly Row<RuleDoc>[]): Row<RuleDoc>[] {
  return [...rows].sort((a, b) => a.doc.Priority - b.doc.Priority);
}

export async function describeRules(ctx: Elbv2Context, input: { ListenerArn?: string; RuleArns?: string[]; Marker?: string; PageSize?: number }): Promise<unknown> {
  if ((input.ListenerArn === undefined) === (input.RuleArns === undefined)) {
    throw new ValidationError('You must specify either listener ARN or rule ARNs, but not both');
  }
  let rules: Record<string, unknown>[];
  if (input.ListenerArn !== undefined) {
    const listener = await getListener(ctx.store, input.ListenerArn);
    const rows = sortRules(await ctx.store.find<RuleDoc>('listenerRule', { where: { listener: listener.arn } }));
    rules = [...rows.map((r) => describeRule(r.doc)), describeDefaultRule(listener.doc)];
  } else {
    rules = [];
    for (const arn of new Set(input.RuleArns)) {
      const r = await getAnyRule(ctx.store, arn);
      rules.push(r.kind === 'rule' ? describeRule(r.row.doc) : describeDefaultRule(r.listener.doc));
    }
  }
  const { items, next } = page(rules, input.Marker, input.PageSize, 'DescribeRules');
  return { Rules: items, ...(next !== undefined ? { NextMarker: next } : {}) };
}

export async function modifyRule(ctx: Elbv2Context, input: { RuleArn: string; Conditions?: ConditionDoc[]; Actions?: ActionInput[] }): Promise<unknown> {
  const out = await withRetry(ctx.store, async (tx) => {
    const r = await getAnyRule(tx, input.RuleArn);
    if (r.kind === 'default') {
      if (input.Conditions !== undefined && input.Conditions.length > 0) throw new OperationNotPermittedException('Conditions cannot be specified for a default rule');
      if (input.Actions === undefined) return describeDefaultRule(r.listener.doc);
      const lb = (await getLoadBalancer(tx, r.listener.doc.LoadBalancerArn)).doc;
      const actions = await normalizeActions(tx, lb, r.listener.doc.Protocol, input.Actions);
      const updated = await tx.update<ListenerDoc>('listener', { ...r.listener, doc: { ...r.listener.doc, DefaultActions: actions } });
      return describeDefaultRule(updated.doc);
    }
    const listener = (await getListener(tx, r.row.doc.ListenerArn)).doc;
    const lb = (await getLoadBalancer(tx, listener.LoadBalancerArn)).doc;
    const conditions = input.Conditions !== undefined ? normalizeConditions(input.Conditions) : r.row.doc.Conditions;
    if (conditions.length === 0) throw new ValidationError('At least one condition must be specified');
    const actions = input.Actions !== undefined ? await normalizeActions(tx, lb, listener.Protocol, input.Actions) : r.row.doc.Actions;
    const updated = await tx.update<RuleDoc>('listenerRule', { ...r.row, doc: { ...r.row.doc, Conditions: conditions, Actions: actions } });
    return describeRule(updated.doc);
  });
  return { Rules: [out] };
}

export async function deleteRule(ctx: Elbv2Context, input: { RuleArn: string }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const r = await getAnyRule(tx, input.RuleArn);
    if (r.kind === 'default') throw new OperationNotPermittedException(`Default rule '${input.RuleArn}' cannot be deleted`);
    await tx.remove('listenerRule', r.row.arn, r.row.version);
  });
  return {};
}

export async function setRulePriorities(ctx: Elbv2Context, input: { RulePriorities: { RuleArn?: string; Priority?: number }[] }): Promise<unknown> {
  const rows = await withRetry(ctx.store, async (tx) => {
    const changes = new Map<string, { row: Row<RuleDoc>; priority: number }>();
    for (const p of input.RulePriorities) {
      if (p.RuleArn === undefined) throw new ValidationError('A rule ARN must be specified');
      if (p.Priority === undefined) throw new ValidationError('A priority must be specified');
      checkPriority(p.Priority);
      if (changes.has(p.RuleArn)) throw new ValidationError(`Rule '${p.RuleArn}' is specified more than once`);
      const r = await getAnyRule(tx, p.RuleArn);
      if (r.kind === 'default') throw new OperationNotPermittedException(`The priority of default rule '${p.RuleArn}' cannot be changed`);
      changes.set(p.RuleArn, { row: r.row, priority: p.Priority });
    }
    const listeners = new Set([...changes.values()].map((c) => c.row.doc.ListenerArn));
    for (const listenerArn of listeners) {
      const final = new Map<number, string>();
      for (const r of await tx.find<RuleDoc>('listenerRule', { where: { listener: listenerArn } })) {
        const priority = changes.get(r.arn)?.priority ?? r.doc.Priority;
        if (final.has(priority)) throw new PriorityInUseException(`Priority '${priority}' is currently in use`);
        final.set(priority, r.arn);
      }
    }
    const out: Row<RuleDoc>[] = [];
    for (const { row, priority } of changes.values()) {
      out.push(row.doc.Priority === priority ? row : await tx.update<RuleDoc>('listenerRule', { ...row, seq: priority, doc: { ...row.doc, Priority: priority } }));
    }
    return out;
  });
  return { Rules: sortRules(rows).map((r) => describeRule(r.doc)) };
}

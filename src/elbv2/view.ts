/**
 * The read side for whatever serves load balancers (the data plane): one
 * load balancer resolved into what a proxy needs, in ELBv2's terms. Listeners
 * by port; each listener's rules in evaluation order (priority, then the
 * default rule); every target group an action names, with its health check,
 * attributes and targets. Draining targets are listed with `draining: true`
 * (a proxy stops sending new requests to them but lets open ones finish);
 * targets whose deregistration delay has passed are left out.
 */
import type { StoreReader } from '../store/store.js';
import { actionTargetGroups } from './common.js';
import type { ActionDoc, ConditionDoc, ListenerDoc, LoadBalancerDoc, RuleDoc, TargetDoc, TargetGroupDoc, TargetHealthReport } from './model.js';

export interface TargetView {
  id: string;
  port: number;
  draining: boolean;
  /** What the data plane last reported, if anything since the target was registered. */
  health?: TargetHealthReport;
}

export interface TargetGroupView {
  targetGroup: Omit<TargetGroupDoc, 'Tags'>;
  targets: TargetView[];
}

export interface RuleView {
  /** `default` for the listener's default rule, which matches every request. */
  priority: number | 'default';
  conditions: ConditionDoc[];
  actions: ActionDoc[];
}

export interface ListenerView {
  listener: Omit<ListenerDoc, 'Tags'>;
  /** In evaluation order: lowest priority first, the default rule last. */
  rules: RuleView[];
}

export interface LoadBalancerView {
  loadBalancer: Omit<LoadBalancerDoc, 'Tags'>;
  listeners: ListenerView[];
  /** Every target group the listeners' actions name, by ARN. */
  targetGroups: Record<string, TargetGroupView>;
}

function withoutTags<T extends { Tags: unknown }>(doc: T): Omit<T, 'Tags'> {
  const { Tags: _tags, ...rest } = doc;
  return rest;
}

/** The load balancer `arn` as a proxy needs it, or undefined when it does not exist. `now` is epoch milliseconds. */
export async function loadBalancerView(reader: StoreReader, arn: string, now: number): Promise<LoadBalancerView | undefined> {
  const lb = await reader.get<LoadBalancerDoc>('loadBalancer', arn);
  if (!lb) return undefined;
  const listeners: ListenerView[] = [];
  const groupArns = new Set<string>();
  const rows = (await reader.find<ListenerDoc>('listener', { where: { loadBalancer: arn } })).sort((a, b) => a.doc.Port - b.doc.Port);
  for (const l of rows) {
    const rules = (await reader.find<RuleDoc>('listenerRule', { where: { listener: l.arn } })).map((r) => r.doc).sort((a, b) => a.Priority - b.Priority);
    const views: RuleView[] = [
      ...rules.map((r) => ({ priority: r.Priority, conditions: r.Conditions, actions: r.Actions })),
      { priority: 'default' as const, conditions: [], actions: l.doc.DefaultActions },
    ];
    for (const v of views) for (const a of v.actions) for (const tg of actionTargetGroups(a)) groupArns.add(tg);
    listeners.push({ listener: withoutTags(l.doc), rules: views });
  }
  const targetGroups: Record<string, TargetGroupView> = {};
  for (const tgArn of [...groupArns].sort()) {
    const tg = await reader.get<TargetGroupDoc>('targetGroup', tgArn);
    if (!tg) continue;
    const targets = (await reader.find<TargetDoc>('target', { where: { targetGroup: tgArn } }))
      .map((r) => r.doc)
      .filter((t) => t.drainingUntil === undefined || t.drainingUntil > now)
      .map((t) => ({
        id: t.Id,
        port: t.Port,
        draining: t.drainingUntil !== undefined,
        ...(t.health && t.health.at >= t.registeredAt ? { health: t.health } : {}),
      }));
    targetGroups[tgArn] = { targetGroup: withoutTags(tg.doc), targets };
  }
  return { loadBalancer: withoutTags(lb.doc), listeners, targetGroups };
}

/** What several ELBv2 operations share: paging markers, tags, lookups and the usage of target groups. */
import {
  DuplicateTagKeysException,
  ListenerNotFoundException,
  LoadBalancerNotFoundException,
  TargetGroupNotFoundException,
  TooManyTagsException,
  ValidationError,
} from '../core/errors.js';
import type { Row, StoreReader } from '../store/store.js';
import { MAX_TAGS, type ActionDoc, type ListenerDoc, type LoadBalancerDoc, type RuleDoc, type Tag, type TargetGroupDoc } from './model.js';

export const loadBalancerNotFound = (): Error => new LoadBalancerNotFoundException('One or more load balancers not found');
export const targetGroupNotFound = (): Error => new TargetGroupNotFoundException('One or more target groups not found');
export const listenerNotFound = (): Error => new ListenerNotFoundException('One or more listeners not found');

/** ELBv2's page sizes: 1 to 400. */
export function pageSizeOf(pageSize: number | undefined, max = 400): number {
  if (pageSize === undefined) return max;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > max) {
    throw new ValidationError(`1 validation error detected: Value '${pageSize}' at 'pageSize' failed to satisfy constraint: Member must have value ${pageSize < 1 ? `greater than or equal to 1` : `less than or equal to ${max}`}`);
  }
  return pageSize;
}

/** A page of `items` after `marker` (an opaque position), with the marker of the next page. */
export function page<T>(items: readonly T[], marker: string | undefined, pageSize: number | undefined, scope: string): { items: T[]; next?: string } {
  const size = pageSizeOf(pageSize);
  let start = 0;
  if (marker !== undefined && marker !== '') {
    let parsed: { s?: unknown; i?: unknown } | undefined;
    try {
      parsed = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8')) as { s?: unknown; i?: unknown };
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.s !== scope || typeof parsed.i !== 'number' || !Number.isInteger(parsed.i) || parsed.i < 0) {
      throw new ValidationError('Invalid Marker: pass the NextMarker returned by the previous call with the same parameters.');
    }
    start = parsed.i;
  }
  const slice = items.slice(start, start + size);
  const end = start + slice.length;
  return end < items.length ? { items: slice, next: Buffer.from(JSON.stringify({ s: scope, i: end })).toString('base64url') } : { items: slice };
}

/** Checks tags as ELBv2 does: unique keys, at most `MAX_TAGS` on a resource once merged. */
export function mergeTags(existing: readonly Tag[], added: readonly Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of added) {
    if (t.Key.length < 1 || t.Key.length > 128) throw new ValidationError(`Tag key '${t.Key}' must be 1 to 128 characters long`);
    if (t.Value !== undefined && t.Value.length > 256) throw new ValidationError(`The value of tag '${t.Key}' cannot be longer than 256 characters`);
    if (seen.has(t.Key)) throw new DuplicateTagKeysException(`Tag key '${t.Key}' is duplicated`);
    seen.add(t.Key);
    if (t.Key.startsWith('aws:')) throw new ValidationError(`Tag keys starting with 'aws:' are reserved for internal use`);
  }
  const merged = existing.filter((t) => !seen.has(t.Key)).concat(added.map((t) => ({ Key: t.Key, Value: t.Value ?? '' })));
  if (merged.length > MAX_TAGS) throw new TooManyTagsException('The quota for the number of tags that can be assigned to a load balancer has been reached');
  return merged;
}

export async function getLoadBalancer(reader: StoreReader, arn: string): Promise<Row<LoadBalancerDoc>> {
  const row = await reader.get<LoadBalancerDoc>('loadBalancer', arn);
  if (!row) throw loadBalancerNotFound();
  return row;
}

export async function getTargetGroup(reader: StoreReader, arn: string): Promise<Row<TargetGroupDoc>> {
  const row = await reader.get<TargetGroupDoc>('targetGroup', arn);
  if (!row) throw targetGroupNotFound();
  return row;
}

export async function getListener(reader: StoreReader, arn: string): Promise<Row<ListenerDoc>> {
  const row = await reader.get<ListenerDoc>('listener', arn);
  if (!row) throw listenerNotFound();
  return row;
}

/** The target groups an action forwards to. */
export function actionTargetGroups(action: ActionDoc): string[] {
  const arns = new Set<string>();
  if (action.TargetGroupArn !== undefined) arns.add(action.TargetGroupArn);
  for (const t of action.ForwardConfig?.TargetGroups ?? []) arns.add(t.TargetGroupArn);
  return [...arns];
}

/**
 * Which load balancers use each target group (through a listener's default
 * actions or a rule), by target group ARN. Listeners and rules are few, so
 * this reads them all rather than keeping a second copy of the relation.
 */
export async function targetGroupUsage(reader: StoreReader): Promise<Map<string, Set<string>>> {
  const usage = new Map<string, Set<string>>();
  const add = (tg: string, lb: string): void => {
    let s = usage.get(tg);
    if (!s) usage.set(tg, (s = new Set()));
    s.add(lb);
  };
  const listeners = await reader.find<ListenerDoc>('listener');
  const lbOfListener = new Map<string, string>();
  for (const l of listeners) {
    lbOfListener.set(l.arn, l.doc.LoadBalancerArn);
    for (const a of l.doc.DefaultActions) for (const tg of actionTargetGroups(a)) add(tg, l.doc.LoadBalancerArn);
  }
  for (const r of await reader.find<RuleDoc>('listenerRule')) {
    const lb = lbOfListener.get(r.doc.ListenerArn);
    if (lb === undefined) continue;
    for (const a of r.doc.Actions) for (const tg of actionTargetGroups(a)) add(tg, lb);
  }
  return usage;
}

/** Load balancer type of a listener's load balancer, from its ARN (`loadbalancer/app/...` or `loadbalancer/net/...`). */
export function typeOfLoadBalancerArn(arn: string): 'application' | 'network' {
  return arn.includes(':loadbalancer/net/') ? 'network' : 'application';
}

/** AddTags, RemoveTags and DescribeTags over load balancers, target groups, listeners and rules. */
import { ValidationError } from '../core/errors.js';
import { withRetry, type Kind, type StoreReader } from '../store/store.js';
import { listenerNotFound, loadBalancerNotFound, mergeTags, targetGroupNotFound } from './common.js';
import { defaultRuleArn, listenerOfRule, type Elbv2Context, type Tag } from './model.js';
import { RuleNotFoundException } from '../core/errors.js';

/** The store kind an ELBv2 ARN names, from its resource type. */
function kindOf(arn: string): { kind: Kind; notFound: () => Error } {
  const resource = arn.split(':')[5] ?? '';
  if (resource.startsWith('loadbalancer/')) return { kind: 'loadBalancer', notFound: loadBalancerNotFound };
  if (resource.startsWith('targetgroup/')) return { kind: 'targetGroup', notFound: targetGroupNotFound };
  if (resource.startsWith('listener/')) return { kind: 'listener', notFound: listenerNotFound };
  if (resource.startsWith('listener-rule/')) return { kind: 'listenerRule', notFound: () => new RuleNotFoundException('One or more rules not found') };
  throw new ValidationError(`'${arn}' is not a valid load balancer, target group, listener or rule ARN`);
}

function checkArns(arns: readonly string[]): void {
  if (arns.length > 20) throw new ValidationError("1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to 20");
}

async function isDefaultRule(reader: StoreReader, arn: string): Promise<boolean> {
  const listener = listenerOfRule(arn);
  return listener !== undefined && defaultRuleArn(listener) === arn && (await reader.get('listener', listener)) !== undefined;
}

export async function addTags(ctx: Elbv2Context, input: { ResourceArns: string[]; Tags: Tag[] }): Promise<unknown> {
  checkArns(input.ResourceArns);
  await withRetry(ctx.store, async (tx) => {
    for (const arn of input.ResourceArns) {
      const { kind, notFound } = kindOf(arn);
      const row = await tx.get<{ Tags: Tag[] }>(kind, arn);
      if (!row) {
        if (kind === 'listenerRule' && (await isDefaultRule(tx, arn))) throw new ValidationError('Default rules cannot be tagged');
        throw notFound();
      }
      await tx.update(kind, { ...row, doc: { ...row.doc, Tags: mergeTags(row.doc.Tags, input.Tags) } });
    }
  });
  return {};
}

export async function removeTags(ctx: Elbv2Context, input: { ResourceArns: string[]; TagKeys: string[] }): Promise<unknown> {
  checkArns(input.ResourceArns);
  await withRetry(ctx.store, async (tx) => {
    for (const arn of input.ResourceArns) {
      const { kind, notFound } = kindOf(arn);
      const row = await tx.get<{ Tags: Tag[] }>(kind, arn);
      if (!row) throw notFound();
      const drop = new Set(input.TagKeys);
      await tx.update(kind, { ...row, doc: { ...row.doc, Tags: row.doc.Tags.filter((t) => !drop.has(t.Key)) } });
    }
  });
  return {};
}

export async function describeTags(ctx: Elbv2Context, input: { ResourceArns: string[] }): Promise<unknown> {
  checkArns(input.ResourceArns);
  const out: { ResourceArn: string; Tags: Tag[] }[] = [];
  for (const arn of input.ResourceArns) {
    const { kind, notFound } = kindOf(arn);
    const row = await ctx.store.get<{ Tags: Tag[] }>(kind, arn);
    if (!row) {
      if (kind === 'listenerRule' && (await isDefaultRule(ctx.store, arn))) {
        out.push({ ResourceArn: arn, Tags: [] });
        continue;
      }
      throw notFound();
    }
    out.push({ ResourceArn: arn, Tags: row.doc.Tags });
  }
  return { TagDescriptions: out };
}

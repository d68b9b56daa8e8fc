import { AttributeLimitExceededException, InvalidParameterException, TargetNotFoundException } from '../core/errors.js';
import { withRetry, type Row, type Transaction } from '../store/store.js';
import { requireCluster, type ClusterDoc } from './clusters.js';
import { instanceRefToArn, validateAttribute, type Attribute, type ContainerInstanceDoc } from './containerInstances.js';
import type { DomainContext } from './context.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';

/** ECS allows ten custom attributes per resource; `ecs.*` attributes set by the agent do not count. */
export const MAX_CUSTOM_ATTRIBUTES = 10;

function checkTarget(a: Attribute, i: number): void {
  if (a.targetType !== undefined && a.targetType !== 'container-instance') {
    throw new InvalidParameterException(`attributes[${i}].targetType must be container-instance.`);
  }
  if (!a.targetId) {
    throw new InvalidParameterException(`attributes[${i}].targetId is required: the container instance id or ARN.`);
  }
}

async function loadTarget(ctx: DomainContext, tx: Transaction, cluster: Row<ClusterDoc>, targetId: string) {
  let arn: string;
  try {
    arn = instanceRefToArn(ctx, cluster, targetId);
  } catch {
    throw new TargetNotFoundException(`Could not find ${targetId}. Check the target id and cluster.`);
  }
  const row = await tx.get<ContainerInstanceDoc>('containerInstance', arn);
  if (!row || row.cluster !== cluster.arn || row.doc.status === 'INACTIVE') {
    throw new TargetNotFoundException(`Could not find ${targetId} in cluster ${cluster.doc.clusterName}.`);
  }
  return row;
}

function wire(a: Attribute, targetArn: string): Attribute {
  return { name: a.name, ...(a.value !== undefined ? { value: a.value } : {}), targetType: 'container-instance', targetId: targetArn };
}

/**
 * Applies `edit` to the attribute list of each attribute's target instance,
 * in one transaction; every touched instance is written once. Returns the
 * attributes as the API echoes them.
 */
async function editAttributes(
  ctx: DomainContext,
  input: { cluster?: string; attributes: Attribute[] },
  edit: (current: Attribute[], a: Attribute, target: Row<ContainerInstanceDoc>) => Attribute[],
): Promise<{ attributes: Attribute[] }> {
  const out: Attribute[] = [];
  await withRetry(ctx.store, async (tx) => {
    out.length = 0;
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const byTarget = new Map<string, Row<ContainerInstanceDoc>>();
    for (const a of input.attributes) {
      const target = byTarget.get(a.targetId!) ?? (await loadTarget(ctx, tx, cluster, a.targetId!));
      byTarget.set(a.targetId!, { ...target, doc: { ...target.doc, attributes: edit(target.doc.attributes, a, target) } });
      out.push(wire(a, target.arn));
    }
    for (const row of byTarget.values()) {
      await tx.update('containerInstance', { ...row, doc: { ...row.doc, version: row.doc.version + 1 } });
    }
  });
  return { attributes: out };
}

export async function putAttributes(ctx: DomainContext, input: { cluster?: string; attributes: Attribute[] }) {
  if (input.attributes.length > 10) throw new InvalidParameterException('attributes can hold at most 10 attributes per call.');
  input.attributes.forEach((a, i) => {
    validateAttribute(a, `attributes[${i}]`);
    checkTarget(a, i);
  });
  return editAttributes(ctx, input, (current, a, target) => {
    const attrs = new Map(current.map((x) => [x.name, x]));
    attrs.set(a.name, { name: a.name, ...(a.value !== undefined ? { value: a.value } : {}) });
    const custom = [...attrs.keys()].filter((n) => !n.startsWith('ecs.') && !n.startsWith('com.amazonaws.ecs.'));
    if (custom.length > MAX_CUSTOM_ATTRIBUTES) {
      throw new AttributeLimitExceededException(
        `Container instance ${target.doc.ec2InstanceId} would have ${custom.length} custom attributes; the limit is ${MAX_CUSTOM_ATTRIBUTES}. Delete some first.`,
      );
    }
    return [...attrs.values()];
  });
}

export async function deleteAttributes(ctx: DomainContext, input: { cluster?: string; attributes: Attribute[] }) {
  input.attributes.forEach((a, i) => checkTarget(a, i));
  return editAttributes(ctx, input, (current, a) => current.filter((x) => x.name !== a.name));
}

export async function listAttributes(
  ctx: DomainContext,
  input: { cluster?: string; targetType: string; attributeName?: string; attributeValue?: string; nextToken?: string; maxResults?: number },
) {
  if (input.targetType !== 'container-instance') throw new InvalidParameterException('targetType must be container-instance.');
  if (input.attributeValue !== undefined && input.attributeName === undefined) {
    throw new InvalidParameterException('attributeValue can only be given together with attributeName.');
  }
  const limit = pageSize(input.maxResults);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const skip = decodeToken<number>('ListAttributes', input.nextToken) ?? 0;
  const rows = await ctx.store.find<ContainerInstanceDoc>('containerInstance', {
    cluster: cluster.arn,
    status: ['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING'],
  });
  const all: Attribute[] = [];
  for (const r of rows) {
    for (const a of r.doc.attributes) {
      if (input.attributeName !== undefined && a.name !== input.attributeName) continue;
      if (input.attributeValue !== undefined && a.value !== input.attributeValue) continue;
      all.push(wire(a, r.arn));
    }
  }
  const page = all.slice(skip, skip + limit);
  return {
    attributes: page,
    ...(skip + limit < all.length ? { nextToken: encodeToken('ListAttributes', skip + limit) } : {}),
  };
}

import { InvalidParameterException, ResourceNotFoundException } from '../core/errors.js';
import { withRetry, type Kind, type Row, type StoreReader } from '../store/store.js';
import { parseArn } from './arns.js';
import type { DomainContext } from './context.js';
import { mergeTags, removeTags, validateTags, type Tag } from './tags.js';

/**
 * Tagging for every taggable resource. Task definitions keep their tags next
 * to the definition (`{taskDefinition, tags}`); other resources keep `tags`
 * inside their document.
 */
const KIND_OF: Record<string, Kind> = {
  cluster: 'cluster',
  'task-definition': 'taskDefinition',
  'container-instance': 'containerInstance',
  task: 'task',
  service: 'service',
};

interface Tagged {
  tags?: Tag[];
}

function kindFor(ctx: DomainContext, resourceArn: string): Kind {
  const p = parseArn(resourceArn);
  if (!p) throw new InvalidParameterException(`Invalid resourceArn '${resourceArn.slice(0, 300)}': expected an ECS ARN.`);
  const kind = KIND_OF[p.resourceType];
  if (!kind) throw new InvalidParameterException(`Resources of type '${p.resourceType}' cannot be tagged.`);
  if (p.region !== ctx.region || p.accountId !== ctx.accountId) {
    throw new ResourceNotFoundException('The specified resource could not be found.');
  }
  return kind;
}

function isLive(kind: Kind, row: Row<unknown>): boolean {
  if (kind === 'cluster' || kind === 'containerInstance' || kind === 'service') return row.status !== 'INACTIVE';
  return true;
}

async function load(ctx: DomainContext, reader: StoreReader, resourceArn: string): Promise<{ kind: Kind; row: Row<Tagged> }> {
  const kind = kindFor(ctx, resourceArn);
  const row = await reader.get<Tagged>(kind, resourceArn);
  if (!row || !isLive(kind, row)) throw new ResourceNotFoundException('The specified resource could not be found.');
  return { kind, row };
}

export async function tagResource(ctx: DomainContext, input: { resourceArn: string; tags: Tag[] }) {
  const tags = validateTags(input.tags);
  await withRetry(ctx.store, async (tx) => {
    const { kind, row } = await load(ctx, tx, input.resourceArn);
    await tx.update(kind, { ...row, doc: { ...row.doc, tags: mergeTags(row.doc.tags, tags) } });
  });
  return {};
}

export async function untagResource(ctx: DomainContext, input: { resourceArn: string; tagKeys: string[] }) {
  await withRetry(ctx.store, async (tx) => {
    const { kind, row } = await load(ctx, tx, input.resourceArn);
    await tx.update(kind, { ...row, doc: { ...row.doc, tags: removeTags(row.doc.tags, input.tagKeys) } });
  });
  return {};
}

export async function listTagsForResource(ctx: DomainContext, input: { resourceArn: string }) {
  const { row } = await load(ctx, ctx.store, input.resourceArn);
  return { tags: row.doc.tags ?? [] };
}

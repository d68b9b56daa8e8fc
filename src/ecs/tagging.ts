import { InvalidParameterException, ResourceNotFoundException } from '../core/errors.js';
import { withRetry, type Kind, type Row, type StoreReader, type Transaction } from '../store/store.js';
import { parseArn } from './arns.js';
import type { DomainContext } from './context.js';
import type { StoredService, StoredTask } from './model.js';
import { writeService } from './writers/services.js';
import { setTaskTags } from './writers/tasks.js';
import { mergeTags, removeTags, validateTags, type Tag } from './tags.js';

/**
 * Tagging for every taggable resource. Task definitions keep their tags next
 * to the definition (`{taskDefinition, tags}`); clusters and container
 * instances keep `tags` inside their document; tasks and services inside the
 * stored task or service, written through their writers; task sets inside
 * their service's document (`ServiceDoc.taskSets`), through the service writer.
 */
const KIND_OF: Record<string, Kind> = {
  cluster: 'cluster',
  'task-definition': 'taskDefinition',
  'container-instance': 'containerInstance',
  task: 'task',
  service: 'service',
};

/** A resource's tags and how to write new ones, by where its kind keeps them. */
interface TaggedRow {
  tags: Tag[];
  write(tx: Transaction, tags: Tag[]): Promise<unknown>;
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

function tagged(kind: Kind, row: Row<unknown>): TaggedRow {
  switch (kind) {
    case 'task': {
      const r = row as Row<StoredTask>;
      return { tags: r.doc.task.tags, write: (tx, tags) => setTaskTags(tx, r, tags) };
    }
    case 'service': {
      const r = row as Row<StoredService>;
      return { tags: r.doc.service.tags, write: (tx, tags) => writeService(tx, r, { ...r.doc, service: { ...r.doc.service, tags } }) };
    }
    default: {
      // Clusters and container instances keep `tags` in their document, task definitions beside theirs.
      const r = row as Row<{ tags?: Tag[] }>;
      return { tags: r.doc.tags ?? [], write: (tx, tags) => tx.update(kind, { ...r, doc: { ...r.doc, tags } }) };
    }
  }
}

/** A task set's tags, kept in the service that holds it (`task-set/<cluster>/<service>/<id>`). */
async function loadTaskSet(reader: StoreReader, resourceArn: string): Promise<TaggedRow> {
  const m = /^(arn:[^:]+:ecs:[^:]+:\d{12}):task-set\/([^/]+)\/([^/]+)\/(.+)$/.exec(resourceArn);
  const row = m ? await reader.get<StoredService>('service', `${m[1]}:service/${m[2]}/${m[3]}`) : undefined;
  const taskSet = row?.doc.service.taskSets?.find((t) => t.taskSetArn === resourceArn);
  if (!row || row.status === 'INACTIVE' || !taskSet) throw new ResourceNotFoundException('The specified resource could not be found.');
  return {
    tags: taskSet.tags,
    write: (tx, tags) => {
      const taskSets = (row.doc.service.taskSets ?? []).map((t) => (t.taskSetArn === resourceArn ? { ...t, tags } : t));
      return writeService(tx, row, { ...row.doc, service: { ...row.doc.service, taskSets } });
    },
  };
}

async function load(ctx: DomainContext, reader: StoreReader, resourceArn: string): Promise<TaggedRow> {
  const p = parseArn(resourceArn);
  if (p?.resourceType === 'task-set' && p.region === ctx.region && p.accountId === ctx.accountId) return loadTaskSet(reader, resourceArn);
  const kind = kindFor(ctx, resourceArn);
  const row = await reader.get(kind, resourceArn);
  if (!row || !isLive(kind, row)) throw new ResourceNotFoundException('The specified resource could not be found.');
  return tagged(kind, row);
}

export async function tagResource(ctx: DomainContext, input: { resourceArn: string; tags: Tag[] }) {
  const tags = validateTags(input.tags);
  await withRetry(ctx.store, async (tx) => {
    const r = await load(ctx, tx, input.resourceArn);
    await r.write(tx, mergeTags(r.tags, tags));
  });
  return {};
}

export async function untagResource(ctx: DomainContext, input: { resourceArn: string; tagKeys: string[] }) {
  await withRetry(ctx.store, async (tx) => {
    const r = await load(ctx, tx, input.resourceArn);
    await r.write(tx, removeTags(r.tags, input.tagKeys));
  });
  return {};
}

export async function listTagsForResource(ctx: DomainContext, input: { resourceArn: string }) {
  return { tags: (await load(ctx, ctx.store, input.resourceArn)).tags };
}

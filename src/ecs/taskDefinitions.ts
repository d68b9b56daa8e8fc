import { ClientException, InvalidParameterException } from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { NAME_RE, parseArn, taskDefinitionArn } from './arns.js';
import { epochSeconds, type DomainContext } from './context.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { validateTags, type Tag } from './tags.js';
import { normalizeTaskDefinition } from './taskdef/normalize.js';
import type { RegisterTaskDefinitionInput, TaskDefinitionDoc } from './taskdef/types.js';

/** A stored revision: the definition as described, and its tags beside it. */
export interface StoredTaskDefinition {
  taskDefinition: TaskDefinitionDoc;
  tags: Tag[];
}

export type TaskDefinitionStatus = TaskDefinitionDoc['status'];

export { TaskDefinitionCache } from '../state/taskDefinitions.js';

/** `load` through the context's task definition cache. */
function cached(ctx: DomainContext, key: string, load: () => Promise<TaskDefinitionDoc | undefined>): Promise<TaskDefinitionDoc | undefined> {
  return ctx.state.taskDefinitions.through(key, load);
}

/** The revision with this ARN, whatever its status (the definition a task runs). */
export function taskDefinitionByArn(ctx: DomainContext, reader: StoreReader, arn: string): Promise<TaskDefinitionDoc | undefined> {
  return cached(ctx, `arn ${arn}`, async () => (await reader.get<StoredTaskDefinition>('taskDefinition', arn))?.doc.taskDefinition);
}

function callerArn(ctx: DomainContext): string {
  return `arn:aws:iam::${ctx.accountId}:root`;
}

export async function registerTaskDefinition(ctx: DomainContext, input: RegisterTaskDefinitionInput & { tags?: Tag[] }) {
  const tags = validateTags(input.tags);
  const row = await ctx.store.transaction(async (tx) => {
    // Validate before taking a revision number so that a rejected request does not burn one.
    normalizeTaskDefinition(input, {
      region: ctx.region,
      accountId: ctx.accountId,
      revision: 1,
      registeredAt: epochSeconds(ctx.now()),
      registeredBy: callerArn(ctx),
    });
    const revision = await tx.nextCounter(`task-definition:${input.family}`);
    const doc = normalizeTaskDefinition(input, {
      region: ctx.region,
      accountId: ctx.accountId,
      revision,
      registeredAt: epochSeconds(ctx.now()),
      registeredBy: callerArn(ctx),
    });
    return tx.insert<StoredTaskDefinition>('taskDefinition', {
      arn: doc.taskDefinitionArn,
      cluster: '',
      name: doc.family,
      status: doc.status,
      seq: revision,
      doc: { taskDefinition: doc, tags },
    });
  });
  return { taskDefinition: row.doc.taskDefinition, tags: row.doc.tags };
}

/**
 * Resolves `family`, `family:revision` or a full ARN. A bare family means its
 * latest ACTIVE revision; an explicit revision may be INACTIVE.
 */
export async function findTaskDefinition(
  ctx: Pick<DomainContext, 'region' | 'accountId'>,
  reader: StoreReader,
  ref: string,
): Promise<Row<StoredTaskDefinition> | undefined> {
  let family: string;
  let revision: number | undefined;
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.resourceType !== 'task-definition') return undefined;
    if (p.region !== ctx.region || p.accountId !== ctx.accountId) return undefined;
    const m = /^([a-zA-Z0-9_-]{1,255}):(\d+)$/.exec(p.resource);
    if (!m) return undefined;
    family = m[1]!;
    revision = Number(m[2]);
  } else {
    const m = /^([a-zA-Z0-9_-]{1,255})(?::(\d+))?$/.exec(ref);
    if (!m) return undefined;
    family = m[1]!;
    revision = m[2] === undefined ? undefined : Number(m[2]);
  }
  if (revision !== undefined) {
    const row = await reader.get<StoredTaskDefinition>('taskDefinition', taskDefinitionArn(ctx, family, revision));
    return row && row.status !== 'DELETE_IN_PROGRESS' ? row : undefined;
  }
  const latest = await reader.find<StoredTaskDefinition>('taskDefinition', {
    name: family,
    status: 'ACTIVE',
    descending: true,
    limit: 1,
  });
  return latest[0];
}

/** Resolves a task definition reference (as `findTaskDefinition`) for running tasks, or throws the ECS error. */
export async function requireTaskDefinition(ctx: DomainContext, reader: StoreReader, ref: string): Promise<TaskDefinitionDoc> {
  const td = await cached(ctx, `ref ${ref}`, async () => (await findTaskDefinition(ctx, reader, ref))?.doc.taskDefinition);
  if (!td) throw new ClientException('Unable to describe task definition.', { hint: `no ACTIVE task definition '${ref}': register it first, or check the family and revision` });
  return td;
}

export async function describeTaskDefinition(ctx: DomainContext, input: { taskDefinition: string; include?: string[] }) {
  const row = await findTaskDefinition(ctx, ctx.store, input.taskDefinition);
  if (!row) throw new ClientException('Unable to describe task definition.');
  const withTags = (input.include ?? []).includes('TAGS');
  return { taskDefinition: row.doc.taskDefinition, ...(withTags ? { tags: row.doc.tags } : {}) };
}

interface ListCursor {
  name: string;
  seq: number;
  arn: string;
}

export async function listTaskDefinitions(
  ctx: DomainContext,
  input: { familyPrefix?: string; status?: string; sort?: string; nextToken?: string; maxResults?: number },
) {
  const limit = pageSize(input.maxResults);
  const status = input.status ?? 'ACTIVE';
  const descending = input.sort === 'DESC';
  const scope = `ListTaskDefinitions:${input.familyPrefix ?? ''}:${status}:${descending ? 'D' : 'A'}`;
  const after = decodeToken<ListCursor>(scope, input.nextToken);
  const rows = await ctx.store.find<StoredTaskDefinition>('taskDefinition', {
    status,
    ...(input.familyPrefix !== undefined ? { name: input.familyPrefix } : {}),
    descending,
    limit: limit + 1,
    ...(after ? { after } : {}),
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    taskDefinitionArns: page.map((r) => r.arn),
    ...(rows.length > limit && last ? { nextToken: encodeToken(scope, { name: last.name, seq: last.seq, arn: last.arn }) } : {}),
  };
}

export async function listTaskDefinitionFamilies(
  ctx: DomainContext,
  input: { familyPrefix?: string; status?: string; nextToken?: string; maxResults?: number },
) {
  const limit = pageSize(input.maxResults);
  const status = input.status ?? 'ALL';
  const scope = `ListTaskDefinitionFamilies:${input.familyPrefix ?? ''}:${status}`;
  const after = decodeToken<string>(scope, input.nextToken);
  const base = {
    ...(input.familyPrefix !== undefined ? { prefix: input.familyPrefix } : {}),
    ...(after !== undefined ? { after } : {}),
  };
  let names: string[];
  let more: boolean;
  if (status === 'INACTIVE') {
    // Families none of whose revisions is ACTIVE.
    const candidates = await ctx.store.distinctNames('taskDefinition', { ...base, status: ['ACTIVE', 'INACTIVE'] });
    const active = new Set(await ctx.store.distinctNames('taskDefinition', { ...base, status: 'ACTIVE' }));
    const inactive = candidates.filter((n) => !active.has(n));
    names = inactive.slice(0, limit);
    more = inactive.length > limit;
  } else {
    const found = await ctx.store.distinctNames('taskDefinition', {
      ...base,
      status: status === 'ACTIVE' ? 'ACTIVE' : ['ACTIVE', 'INACTIVE'],
      limit: limit + 1,
    });
    names = found.slice(0, limit);
    more = found.length > limit;
  }
  const last = names[names.length - 1];
  return { families: names, ...(more && last !== undefined ? { nextToken: encodeToken(scope, last) } : {}) };
}

/** Whether a reference names one revision (`family:revision` or a full ARN), as deregistering and deleting require. */
function namesRevision(ref: string): boolean {
  const tail = ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
  return /^[a-zA-Z0-9_-]{1,255}:\d+$/.test(tail);
}

/** What ECS answers, per item or as the error, for a revision that is not there (or not named). */
const TASK_DEFINITION_MISSING = 'The specified task definition does not exist.';
/** ECS's failure reason when DeleteTaskDefinitions names an ACTIVE revision. */
const TASK_DEFINITION_ACTIVE = 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.';

export async function deregisterTaskDefinition(ctx: DomainContext, input: { taskDefinition: string }) {
  if (!namesRevision(input.taskDefinition)) {
    throw new ClientException(TASK_DEFINITION_MISSING, { hint: `'${input.taskDefinition}' must name a revision: use family:revision or the full ARN` });
  }
  const row = await withRetry(ctx.store, async (tx) => {
    const cur = await findTaskDefinition(ctx, tx, input.taskDefinition);
    if (!cur) throw new ClientException(TASK_DEFINITION_MISSING);
    if (cur.status !== 'ACTIVE') return cur;
    const taskDefinition: TaskDefinitionDoc = { ...cur.doc.taskDefinition, status: 'INACTIVE', deregisteredAt: epochSeconds(ctx.now()) };
    return tx.update<StoredTaskDefinition>('taskDefinition', { ...cur, status: 'INACTIVE', doc: { ...cur.doc, taskDefinition } });
  });
  return { taskDefinition: row.doc.taskDefinition };
}

/**
 * Marks INACTIVE revisions DELETE_IN_PROGRESS. As on ECS, each named
 * revision succeeds or fails on its own: one that is missing, not a
 * revision, or still ACTIVE is a `failures` entry with ECS's sentence, and
 * the others are deleted all the same.
 */
export async function deleteTaskDefinitions(ctx: DomainContext, input: { taskDefinitions: string[] }) {
  if (input.taskDefinitions.length < 1 || input.taskDefinitions.length > 10) {
    throw new InvalidParameterException('taskDefinitions must name 1 to 10 task definition revisions.');
  }
  const taskDefinitions: TaskDefinitionDoc[] = [];
  const failures: { arn: string; reason: string }[] = [];
  await withRetry(ctx.store, async (tx) => {
    taskDefinitions.length = 0;
    failures.length = 0;
    const seen = new Set<string>();
    for (const ref of input.taskDefinitions) {
      const cur = namesRevision(ref) ? await findTaskDefinition(ctx, tx, ref) : undefined;
      if (!cur || seen.has(cur.arn)) {
        if (!cur) failures.push({ arn: ref, reason: TASK_DEFINITION_MISSING });
        continue;
      }
      seen.add(cur.arn);
      if (cur.status === 'ACTIVE') {
        failures.push({ arn: cur.arn, reason: TASK_DEFINITION_ACTIVE });
        continue;
      }
      const taskDefinition: TaskDefinitionDoc = {
        ...cur.doc.taskDefinition,
        status: 'DELETE_IN_PROGRESS',
        deleteRequestedAt: epochSeconds(ctx.now()),
      };
      await tx.update<StoredTaskDefinition>('taskDefinition', { ...cur, status: 'DELETE_IN_PROGRESS', doc: { ...cur.doc, taskDefinition } });
      taskDefinitions.push(taskDefinition);
    }
  });
  return { taskDefinitions, failures };
}

export { NAME_RE as FAMILY_RE };

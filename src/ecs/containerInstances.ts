import { ClientException, InvalidParameterException } from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { containerInstanceArn, newId, parseArn, shortId } from './arns.js';
import { ACTIVE_TASK_STATES, requireCluster, type ClusterDoc } from './clusters.js';
import { epochSeconds, type DomainContext } from './context.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { validateTags, type Tag } from './tags.js';
import type { Attribute, ContainerInstanceDoc, Resource } from './model.js';

export type { Attribute, ContainerInstanceDoc, Resource } from './model.js';

/** ECS's four standard resources; anything else is passed through as registered. */
const STANDARD_RESOURCES = ['CPU', 'MEMORY', 'PORTS', 'PORTS_UDP'] as const;

function normalizeResources(resources: readonly Resource[] | undefined): Resource[] {
  const byName = new Map<string, Resource>();
  for (const [i, r] of (resources ?? []).entries()) {
    if (!r.name) throw new InvalidParameterException(`totalResources[${i}].name is required.`);
    const type = r.type ?? (r.name === 'PORTS' || r.name === 'PORTS_UDP' ? 'STRINGSET' : 'INTEGER');
    if (type === 'INTEGER') {
      const v = r.integerValue ?? 0;
      if (!Number.isInteger(v) || v < 0) {
        throw new InvalidParameterException(`totalResources[${i}] (${r.name}): integerValue must be a non-negative integer.`);
      }
      byName.set(r.name, { name: r.name, type, doubleValue: 0, longValue: 0, integerValue: v });
    } else if (type === 'STRINGSET') {
      byName.set(r.name, { name: r.name, type, doubleValue: 0, longValue: 0, integerValue: 0, stringSetValue: [...(r.stringSetValue ?? [])] });
    } else {
      byName.set(r.name, { name: r.name, type, doubleValue: r.doubleValue ?? 0, longValue: r.longValue ?? 0, integerValue: r.integerValue ?? 0 });
    }
  }
  for (const name of STANDARD_RESOURCES) {
    if (!byName.has(name)) {
      byName.set(
        name,
        name === 'PORTS' || name === 'PORTS_UDP'
          ? { name, type: 'STRINGSET', doubleValue: 0, longValue: 0, integerValue: 0, stringSetValue: [] }
          : { name, type: 'INTEGER', doubleValue: 0, longValue: 0, integerValue: 0 },
      );
    }
  }
  return [...byName.values()];
}

const ATTR_NAME_RE = /^[a-zA-Z0-9_\-./\\]{1,128}$/;
const ATTR_VALUE_RE = /^[a-zA-Z0-9_\-.@/\\: ]{1,128}$/;

/** Checks an attribute's name and value against the ECS rules. */
export function validateAttribute(a: Attribute, member: string): void {
  if (!ATTR_NAME_RE.test(a.name)) {
    throw new InvalidParameterException(
      `${member}.name '${a.name.slice(0, 200)}' is invalid: up to 128 letters, numbers, hyphens, underscores, forward slashes, back slashes, or periods.`,
    );
  }
  if (a.value !== undefined && (!ATTR_VALUE_RE.test(a.value) || a.value !== a.value.trim())) {
    throw new InvalidParameterException(
      `${member}.value for '${a.name}' is invalid: up to 128 letters, numbers, hyphens, underscores, periods, at signs, slashes, colons, or spaces, not starting or ending with a space.`,
    );
  }
}

interface IdentityDocument {
  instanceId?: string;
  availabilityZone?: string;
  instanceType?: string;
  region?: string;
  architecture?: string;
}

function parseIdentity(doc: string | undefined): IdentityDocument {
  if (doc === undefined || doc === '') return {};
  try {
    const parsed = JSON.parse(doc) as unknown;
    if (parsed && typeof parsed === 'object') return parsed as IdentityDocument;
  } catch {
    // fall through
  }
  throw new InvalidParameterException('instanceIdentityDocument must be a JSON object (the instance identity document).');
}

export interface RegisterInput {
  cluster?: string;
  instanceIdentityDocument?: string;
  totalResources?: Resource[];
  versionInfo?: ContainerInstanceDoc['versionInfo'];
  containerInstanceArn?: string;
  attributes?: Attribute[];
  tags?: Tag[];
}

/** Resolves a container instance reference (full ARN or the id) within a cluster to its ARN. */
export function instanceRefToArn(ctx: DomainContext, cluster: Row<ClusterDoc>, ref: string): string {
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.resourceType !== 'container-instance') {
      throw new InvalidParameterException(`Invalid container instance ARN '${ref}'.`);
    }
    return ref;
  }
  return containerInstanceArn(ctx, cluster.doc.clusterName, shortId(ref));
}

export async function registerContainerInstance(ctx: DomainContext, input: RegisterInput) {
  const identity = parseIdentity(input.instanceIdentityDocument);
  const tags = validateTags(input.tags);
  const registered = normalizeResources(input.totalResources);
  const attrs = new Map<string, Attribute>();
  for (const [i, a] of (input.attributes ?? []).entries()) {
    validateAttribute(a, `attributes[${i}]`);
    attrs.set(a.name, { name: a.name, ...(a.value !== undefined ? { value: a.value } : {}) });
  }
  if (identity.availabilityZone && !attrs.has('ecs.availability-zone')) {
    attrs.set('ecs.availability-zone', { name: 'ecs.availability-zone', value: identity.availabilityZone });
  }
  if (identity.instanceType && !attrs.has('ecs.instance-type')) {
    attrs.set('ecs.instance-type', { name: 'ecs.instance-type', value: identity.instanceType });
  }
  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    let existing: Row<ContainerInstanceDoc> | undefined;
    if (input.containerInstanceArn) {
      const arn = instanceRefToArn(ctx, cluster, input.containerInstanceArn);
      existing = await tx.get<ContainerInstanceDoc>('containerInstance', arn);
      if (!existing || existing.cluster !== cluster.arn) {
        throw new InvalidParameterException(
          `Container instance ${input.containerInstanceArn} is not registered in cluster ${cluster.doc.clusterName}; register without containerInstanceArn to create a new one.`,
        );
      }
    } else if (identity.instanceId) {
      const same = await tx.find<ContainerInstanceDoc>('containerInstance', {
        cluster: cluster.arn,
        name: identity.instanceId,
        status: ['ACTIVE', 'DRAINING'],
        limit: 1,
      });
      existing = same[0];
    }
    const now = ctx.now();
    if (existing) {
      // Re-registration keeps the identity (ARN, registeredAt) and the tasks' reservations.
      const used = usedResources(existing.doc);
      const doc: ContainerInstanceDoc = {
        ...existing.doc,
        version: existing.doc.version + 1,
        versionInfo: input.versionInfo ?? existing.doc.versionInfo,
        registeredResources: registered,
        remainingResources: subtractResources(registered, used),
        status: existing.doc.status === 'INACTIVE' ? 'ACTIVE' : existing.doc.status,
        attributes: mergeAttributes(existing.doc.attributes, [...attrs.values()]),
        tags: input.tags ? tags : existing.doc.tags,
      };
      return tx.update('containerInstance', { ...existing, status: doc.status, doc });
    }
    const id = newId();
    const arn = containerInstanceArn(ctx, cluster.doc.clusterName, id);
    const ec2InstanceId = identity.instanceId ?? `i-${id.slice(0, 17)}`;
    const doc: ContainerInstanceDoc = {
      containerInstanceArn: arn,
      ec2InstanceId,
      version: 1,
      versionInfo: input.versionInfo ?? {},
      remainingResources: registered.map((r) => ({ ...r, ...(r.stringSetValue ? { stringSetValue: [...r.stringSetValue] } : {}) })),
      registeredResources: registered,
      status: 'ACTIVE',
      agentConnected: false,
      runningTasksCount: 0,
      pendingTasksCount: 0,
      attributes: [...attrs.values()],
      registeredAt: epochSeconds(now),
      attachments: [],
      tags,
    };
    return tx.insert<ContainerInstanceDoc>('containerInstance', {
      arn,
      cluster: cluster.arn,
      name: ec2InstanceId,
      status: 'ACTIVE',
      seq: now,
      doc,
    });
  });
  return { containerInstance: row.doc };
}

function mergeAttributes(existing: readonly Attribute[], added: readonly Attribute[]): Attribute[] {
  const m = new Map(existing.map((a) => [a.name, a]));
  for (const a of added) m.set(a.name, a);
  return [...m.values()];
}

/** Registered minus remaining: what the instance's tasks hold. */
function usedResources(doc: ContainerInstanceDoc): Map<string, Resource> {
  const used = new Map<string, Resource>();
  for (const reg of doc.registeredResources) {
    const rem = doc.remainingResources.find((r) => r.name === reg.name);
    if (!rem || !reg.name) continue;
    if (reg.type === 'STRINGSET') {
      const regSet = new Set(reg.stringSetValue ?? []);
      used.set(reg.name, { ...reg, stringSetValue: (rem.stringSetValue ?? []).filter((p) => !regSet.has(p)) });
    } else {
      used.set(reg.name, { ...reg, integerValue: (reg.integerValue ?? 0) - (rem.integerValue ?? 0) });
    }
  }
  return used;
}

function subtractResources(registered: readonly Resource[], used: Map<string, Resource>): Resource[] {
  return registered.map((r) => {
    const u = r.name ? used.get(r.name) : undefined;
    if (!u) return { ...r };
    if (r.type === 'STRINGSET') {
      return { ...r, stringSetValue: [...new Set([...(r.stringSetValue ?? []), ...(u.stringSetValue ?? [])])] };
    }
    return { ...r, integerValue: (r.integerValue ?? 0) - (u.integerValue ?? 0) };
  });
}

async function loadInstance(
  ctx: DomainContext,
  reader: StoreReader,
  cluster: Row<ClusterDoc>,
  ref: string,
): Promise<Row<ContainerInstanceDoc> | undefined> {
  const arn = instanceRefToArn(ctx, cluster, ref);
  const row = await reader.get<ContainerInstanceDoc>('containerInstance', arn);
  return row && row.cluster === cluster.arn ? row : undefined;
}

export async function deregisterContainerInstance(
  ctx: DomainContext,
  input: { cluster?: string; containerInstance: string; force?: boolean },
) {
  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const cur = await loadInstance(ctx, tx, cluster, input.containerInstance);
    if (!cur || cur.doc.status === 'INACTIVE') {
      throw new InvalidParameterException(
        `Container instance ${input.containerInstance} is not registered in cluster ${cluster.doc.clusterName}.`,
      );
    }
    const tasks = await tx.count('task', { cluster: cluster.arn, where: { instance: cur.arn }, state: [...ACTIVE_TASK_STATES] });
    if (tasks > 0 && !input.force) {
      throw new InvalidParameterException(`Found ${tasks} running task(s) on container instance ${cur.doc.ec2InstanceId}.`, {
        hint: 'Stop them, or pass force to deregister anyway: the tasks keep running, orphaned.',
      });
    }
    // As on ECS, a forced deregistration leaves the instance's tasks as they are: they keep
    // running, orphaned (no agent reports them any more), until stopped on the host.
    const doc: ContainerInstanceDoc = { ...cur.doc, status: 'INACTIVE', agentConnected: false, version: cur.doc.version + 1 };
    return tx.update('containerInstance', { ...cur, status: 'INACTIVE', doc });
  });
  return { containerInstance: row.doc };
}

export async function describeContainerInstances(
  ctx: DomainContext,
  input: { cluster?: string; containerInstances: string[]; include?: string[] },
) {
  if (input.containerInstances.length === 0) throw new InvalidParameterException('Container Instances cannot be empty.');
  if (input.containerInstances.length > 100) {
    throw new InvalidParameterException('containerInstances can name at most 100 container instances per call.');
  }
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const withTags = (input.include ?? []).includes('TAGS');
  const containerInstances: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const ref of input.containerInstances) {
    let row: Row<ContainerInstanceDoc> | undefined;
    try {
      row = await loadInstance(ctx, ctx.store, cluster, ref);
    } catch {
      row = undefined;
    }
    if (!row) {
      failures.push({ arn: ref, reason: 'MISSING' });
      continue;
    }
    const { tags, ...rest } = row.doc;
    containerInstances.push(withTags ? { ...rest, tags } : rest);
  }
  return { containerInstances, failures };
}

export type InstanceFilter = (doc: ContainerInstanceDoc) => boolean;

export async function listContainerInstances(
  ctx: DomainContext,
  input: { cluster?: string; status?: string; nextToken?: string; maxResults?: number },
  filter?: InstanceFilter,
) {
  const limit = pageSize(input.maxResults);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const after = decodeToken<{ name: string; seq: number; arn: string }>('ListContainerInstances', input.nextToken);
  const status = input.status ? [input.status] : ['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED'];
  const out: Row<ContainerInstanceDoc>[] = [];
  let cursor = after;
  let more = false;
  // Filtered listings read in chunks until a page is full, so a selective filter still returns full pages.
  for (;;) {
    const chunk = await ctx.store.find<ContainerInstanceDoc>('containerInstance', {
      cluster: cluster.arn,
      status,
      limit: 500,
      ...(cursor ? { after: cursor } : {}),
    });
    for (const r of chunk) {
      if (filter && !filter(r.doc)) {
        cursor = { name: r.name, seq: r.seq, arn: r.arn };
        continue;
      }
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(r);
      cursor = { name: r.name, seq: r.seq, arn: r.arn };
    }
    if (more || chunk.length < 500) break;
  }
  const last = out[out.length - 1];
  return {
    containerInstanceArns: out.map((r) => r.arn),
    ...(more && last ? { nextToken: encodeToken('ListContainerInstances', { name: last.name, seq: last.seq, arn: last.arn }) } : {}),
  };
}

export async function updateContainerInstancesState(
  ctx: DomainContext,
  input: { cluster?: string; containerInstances: string[]; status: string },
) {
  if (input.status !== 'ACTIVE' && input.status !== 'DRAINING') {
    throw new InvalidParameterException(`Container instance status can only be set to ACTIVE or DRAINING, not ${input.status}.`);
  }
  if (input.containerInstances.length > 10) {
    throw new InvalidParameterException('containerInstances can name at most 10 container instances per call.');
  }
  const status = input.status;
  const containerInstances: ContainerInstanceDoc[] = [];
  const failures: { arn: string; reason: string }[] = [];
  await withRetry(ctx.store, async (tx) => {
    containerInstances.length = 0;
    failures.length = 0;
    const cluster = await requireCluster(ctx, tx, input.cluster);
    for (const ref of input.containerInstances) {
      let cur: Row<ContainerInstanceDoc> | undefined;
      try {
        cur = await loadInstance(ctx, tx, cluster, ref);
      } catch {
        cur = undefined;
      }
      if (!cur || cur.doc.status === 'INACTIVE') {
        failures.push({ arn: ref, reason: 'MISSING' });
        continue;
      }
      if (cur.doc.status === status) {
        containerInstances.push(cur.doc);
        continue;
      }
      const doc: ContainerInstanceDoc = { ...cur.doc, status, version: cur.doc.version + 1 };
      await tx.update('containerInstance', { ...cur, status, doc });
      containerInstances.push(doc);
    }
  });
  return { containerInstances, failures };
}

/** Loads a container instance by reference for other domain modules, or throws the ECS error. */
export async function requireInstance(
  ctx: DomainContext,
  reader: StoreReader,
  cluster: Row<ClusterDoc>,
  ref: string,
): Promise<Row<ContainerInstanceDoc>> {
  const row = await loadInstance(ctx, reader, cluster, ref);
  if (!row || row.doc.status === 'INACTIVE') {
    throw new ClientException(`Container instance ${ref} was not found in cluster ${cluster.doc.clusterName}.`);
  }
  return row;
}

/**
 * DiscoverPollEndpoint: where an agent of the cluster connects. On Berth the
 * server itself holds the agent channel and takes telemetry, so every
 * endpoint is `serverUrl` (the URL the caller reached the server at). A
 * named cluster or container instance must exist.
 */
export async function discoverPollEndpoint(ctx: DomainContext, input: { cluster?: string; containerInstance?: string }, serverUrl: string) {
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  if (input.containerInstance !== undefined) {
    const row = await ctx.store.get<ContainerInstanceDoc>('containerInstance', instanceRefToArn(ctx, cluster, input.containerInstance));
    if (!row || row.cluster !== cluster.arn) {
      throw new InvalidParameterException(`The referenced container instance ${input.containerInstance} was not found in cluster ${cluster.doc.clusterName}.`);
    }
  }
  return { endpoint: serverUrl, telemetryEndpoint: serverUrl, serviceConnectEndpoint: serverUrl };
}

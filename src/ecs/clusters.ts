import {
  ClusterContainsContainerInstancesException,
  ClusterContainsServicesException,
  ClusterContainsTasksException,
  ClusterNotFoundException,
  InvalidParameterException,
} from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { NAME_RE, resolveClusterRef } from './arns.js';
import type { DomainContext } from './context.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { sameTags, validateTags, type Tag } from './tags.js';
import { effectiveSetting } from './accountSettings.js';

export interface ClusterSetting {
  name?: string;
  value?: string;
}

/** A cluster as stored; counts are computed when it is described. */
export interface ClusterDoc {
  clusterArn: string;
  clusterName: string;
  status: 'ACTIVE' | 'INACTIVE';
  settings: ClusterSetting[];
  configuration?: unknown;
  serviceConnectDefaults?: unknown;
  capacityProviders: string[];
  defaultCapacityProviderStrategy: unknown[];
  tags: Tag[];
}

/** Task states ECS counts as pending (accepted, not yet running). */
export const PENDING_TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING'] as const;
/** Task states in which a task still holds resources or is about to. */
export const ACTIVE_TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING'] as const;

const SETTING_VALUES: Record<string, readonly string[]> = {
  containerInsights: ['enabled', 'disabled', 'enhanced'],
};

function validateSettings(settings: readonly ClusterSetting[] | undefined): ClusterSetting[] {
  const out = new Map<string, string>();
  for (const s of settings ?? []) {
    const name = s.name ?? '';
    const allowed = SETTING_VALUES[name];
    if (!allowed) throw new InvalidParameterException(`Unsupported cluster setting name '${name}'. Supported: containerInsights.`);
    if (s.value === undefined || !allowed.includes(s.value)) {
      throw new InvalidParameterException(
        `Invalid value '${s.value ?? ''}' for cluster setting '${name}'. Valid values: ${allowed.join(', ')}.`,
      );
    }
    out.set(name, s.value);
  }
  return [...out].map(([name, value]) => ({ name, value }));
}

/** Loads an ACTIVE cluster or throws ClusterNotFoundException as ECS does. */
export async function requireCluster(
  ctx: DomainContext,
  reader: StoreReader,
  ref: string | undefined,
): Promise<Row<ClusterDoc>> {
  const { arn } = resolveClusterRef(ctx, ref);
  const row = await reader.get<ClusterDoc>('cluster', arn);
  if (!row || row.doc.status !== 'ACTIVE') throw new ClusterNotFoundException('Cluster not found.');
  return row;
}

export interface ClusterInput {
  clusterName?: string;
  tags?: Tag[];
  settings?: ClusterSetting[];
  configuration?: unknown;
  capacityProviders?: string[];
  defaultCapacityProviderStrategy?: unknown[];
  serviceConnectDefaults?: unknown;
}

export async function createCluster(ctx: DomainContext, input: ClusterInput) {
  const name = input.clusterName ?? 'default';
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterException(
      'Cluster name must be 1-255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.',
    );
  }
  const tags = validateTags(input.tags);
  // A cluster created without containerInsights takes the account setting (PutAccountSetting), as on ECS.
  const insights = input.settings?.some((s) => s.name === 'containerInsights') === true ? undefined : await effectiveSetting(ctx, ctx.store, 'containerInsights');
  const settings = validateSettings(input.settings ?? []);
  if (insights !== undefined) settings.push({ name: 'containerInsights', value: insights });
  const { arn } = resolveClusterRef(ctx, name);
  const doc: ClusterDoc = {
    clusterArn: arn,
    clusterName: name,
    status: 'ACTIVE',
    settings,
    capacityProviders: input.capacityProviders ?? [],
    defaultCapacityProviderStrategy: input.defaultCapacityProviderStrategy ?? [],
    tags,
    ...(input.configuration !== undefined ? { configuration: input.configuration } : {}),
    ...(input.serviceConnectDefaults !== undefined ? { serviceConnectDefaults: input.serviceConnectDefaults } : {}),
  };
  const row = await withRetry(ctx.store, async (tx) => {
    const existing = await tx.get<ClusterDoc>('cluster', arn);
    if (existing && existing.doc.status === 'ACTIVE') {
      // CreateCluster is idempotent: the same request returns the existing cluster.
      const consistent =
        (input.tags === undefined || sameTags(existing.doc.tags, tags)) &&
        (input.settings === undefined || JSON.stringify(existing.doc.settings) === JSON.stringify(settings));
      if (!consistent) {
        throw new InvalidParameterException('Arguments on this idempotent request are inconsistent with arguments used in previous request(s).', {
          hint: `Cluster '${name}' already exists with different tags or settings; use TagResource or UpdateClusterSettings to change it.`,
        });
      }
      return existing;
    }
    if (existing) {
      // An INACTIVE cluster of the same name is replaced by the new one (same ARN, as on ECS).
      return tx.update<ClusterDoc>('cluster', { ...existing, status: 'ACTIVE', doc: doc });
    }
    return tx.insert<ClusterDoc>('cluster', { arn, cluster: arn, name, status: 'ACTIVE', seq: ctx.now(), doc });
  });
  return { cluster: await describeClusterDoc(ctx, row.doc, { settings: true, tags: true }) };
}

interface Include {
  settings?: boolean;
  tags?: boolean;
  statistics?: boolean;
  configurations?: boolean;
  attachments?: boolean;
}

async function describeClusterDoc(ctx: DomainContext, doc: ClusterDoc, inc: Include) {
  const s = ctx.store;
  const arn = doc.clusterArn;
  const active = doc.status === 'ACTIVE';
  const [instances, running, pending, services] = active
    ? await Promise.all([
        s.count('containerInstance', { cluster: arn, status: ['ACTIVE', 'DRAINING'] }),
        s.count('task', { cluster: arn, state: 'RUNNING' }),
        s.count('task', { cluster: arn, state: [...PENDING_TASK_STATES] }),
        s.count('service', { cluster: arn, status: 'ACTIVE' }),
      ])
    : [0, 0, 0, 0];
  const out: Record<string, unknown> = {
    clusterArn: doc.clusterArn,
    clusterName: doc.clusterName,
    status: doc.status,
    registeredContainerInstancesCount: instances,
    runningTasksCount: running,
    pendingTasksCount: pending,
    activeServicesCount: services,
    statistics: [],
    capacityProviders: doc.capacityProviders,
    defaultCapacityProviderStrategy: doc.defaultCapacityProviderStrategy,
  };
  if (inc.tags) out.tags = doc.tags;
  if (inc.settings) out.settings = doc.settings;
  if (inc.configurations && doc.configuration !== undefined) out.configuration = doc.configuration;
  if (doc.serviceConnectDefaults !== undefined) out.serviceConnectDefaults = doc.serviceConnectDefaults;
  if (inc.attachments) out.attachments = [];
  if (inc.statistics) {
    const drainingServices = active ? await s.count('service', { cluster: arn, status: 'DRAINING' }) : 0;
    out.statistics = [
      { name: 'runningEC2TasksCount', value: String(running) },
      { name: 'runningFargateTasksCount', value: '0' },
      { name: 'pendingEC2TasksCount', value: String(pending) },
      { name: 'pendingFargateTasksCount', value: '0' },
      { name: 'activeEC2ServiceCount', value: String(services) },
      { name: 'activeFargateServiceCount', value: '0' },
      { name: 'drainingEC2ServiceCount', value: String(drainingServices) },
      { name: 'drainingFargateServiceCount', value: '0' },
    ];
  }
  return out;
}

export async function describeClusters(ctx: DomainContext, input: { clusters?: string[]; include?: string[] }) {
  const refs = input.clusters && input.clusters.length > 0 ? input.clusters : ['default'];
  if (refs.length > 100) throw new InvalidParameterException('clusters can name at most 100 clusters per call.');
  const include = new Set(input.include ?? []);
  const inc: Include = {
    settings: include.has('SETTINGS'),
    tags: include.has('TAGS'),
    statistics: include.has('STATISTICS'),
    configurations: include.has('CONFIGURATIONS'),
    attachments: include.has('ATTACHMENTS'),
  };
  const clusters: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const ref of refs) {
    let arn: string;
    try {
      arn = resolveClusterRef(ctx, ref).arn;
    } catch {
      failures.push({ arn: ref, reason: 'MISSING' });
      continue;
    }
    const row = await ctx.store.get<ClusterDoc>('cluster', arn);
    if (!row) failures.push({ arn, reason: 'MISSING' });
    else clusters.push(await describeClusterDoc(ctx, row.doc, inc));
  }
  return { clusters, failures };
}

export async function listClusters(ctx: DomainContext, input: { nextToken?: string; maxResults?: number }) {
  const limit = pageSize(input.maxResults);
  const after = decodeToken<string>('ListClusters', input.nextToken);
  // As on ECS, a deleted (INACTIVE) cluster stays discoverable for as long as
  // DescribeClusters shows it (until the reaper removes it).
  const rows = await ctx.store.find<ClusterDoc>('cluster', {
    status: ['ACTIVE', 'INACTIVE'],
    limit: limit + 1,
    ...(after !== undefined ? { after: { name: after, seq: Number.MAX_SAFE_INTEGER, arn: '\uffff' } } : {}),
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    clusterArns: page.map((r) => r.arn),
    ...(rows.length > limit && last ? { nextToken: encodeToken('ListClusters', last.name) } : {}),
  };
}

export async function updateCluster(
  ctx: DomainContext,
  input: { cluster: string; settings?: ClusterSetting[]; configuration?: unknown; serviceConnectDefaults?: unknown },
) {
  const settings = input.settings === undefined ? undefined : validateSettings(input.settings);
  const row = await withRetry(ctx.store, async (tx) => {
    const cur = await requireCluster(ctx, tx, input.cluster);
    const merged = new Map((cur.doc.settings ?? []).map((s) => [s.name, s.value]));
    for (const s of settings ?? []) merged.set(s.name, s.value);
    const doc: ClusterDoc = {
      ...cur.doc,
      settings: [...merged].map(([name, value]) => ({ name, value })),
      ...(input.configuration !== undefined ? { configuration: input.configuration } : {}),
      ...(input.serviceConnectDefaults !== undefined ? { serviceConnectDefaults: input.serviceConnectDefaults } : {}),
    };
    return tx.update('cluster', { ...cur, doc });
  });
  return { cluster: await describeClusterDoc(ctx, row.doc, { settings: true, configurations: true }) };
}

export async function deleteCluster(ctx: DomainContext, input: { cluster: string }) {
  const row = await withRetry(ctx.store, async (tx) => {
    const cur = await requireCluster(ctx, tx, input.cluster);
    const arn = cur.arn;
    if ((await tx.count('containerInstance', { cluster: arn, status: ['ACTIVE', 'DRAINING'] })) > 0) {
      throw new ClusterContainsContainerInstancesException('The Cluster cannot be deleted while Container Instances are active or draining.', {
        hint: 'Deregister the container instances first.',
      });
    }
    if ((await tx.count('service', { cluster: arn, status: ['ACTIVE', 'DRAINING'] })) > 0) {
      throw new ClusterContainsServicesException('The Cluster cannot be deleted while Services are active.', { hint: 'Delete the services first.' });
    }
    if ((await tx.count('task', { cluster: arn, state: [...ACTIVE_TASK_STATES] })) > 0) {
      throw new ClusterContainsTasksException('The Cluster cannot be deleted while Tasks are active.', { hint: 'Stop the tasks first.' });
    }
    return tx.update<ClusterDoc>('cluster', { ...cur, status: 'INACTIVE', doc: { ...cur.doc, status: 'INACTIVE' } });
  });
  return { cluster: await describeClusterDoc(ctx, row.doc, { settings: true }) };
}

/**
 * The ECS service operations: CreateService, UpdateService, DeleteService,
 * DescribeServices, ListServices, ListServicesByNamespace. They validate and
 * write the service's spec (through `writers/services.ts`); the service
 * controller starts and stops the tasks.
 */
import {
  ConflictException,
  InvalidParameterException,
  ServiceDeploymentNotFoundException,
  ServiceNotActiveException,
  ServiceNotFoundException,
  UnsupportedFeatureException,
} from '../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { withRetry, type Row, type StoreReader, type Transaction } from '../store/store.js';
import { NAME_RE, parseArn, serviceArn as makeServiceArn } from './arns.js';
import { requireCluster, type ClusterDoc } from './clusters.js';
import { epochSeconds, type DomainContext } from './context.js';
import type { DeploymentConfiguration, ServiceDoc, StoredService } from './model.js';
import { validateTags, type Tag } from './tags.js';
import { requireTaskDefinition } from './taskDefinitions.js';
import type { TaskDefinitionDoc } from './taskdef/types.js';
import { checkServiceLoadBalancers, type ServiceLoadBalancer } from './loadBalancers.js';
import { describeTaskSet } from './taskSetView.js';
import { ALARM_ROLLBACK_REASON, isShiftingStrategy, shiftOnNewDeployment } from './deployments/blueGreen.js';
import { checkShiftingLoadBalancers, checkShiftSettings } from './deployments/validation.js';
import { insertService, newDeployment, recordDeployment, updateRecord, writeService } from './writers/services.js';

type PlacementConstraintInput = { type?: string; expression?: string };
type PlacementStrategyInput = { type?: string; field?: string };

export interface CreateServiceInput {
  cluster?: string;
  serviceName: string;
  taskDefinition?: string;
  desiredCount?: number;
  launchType?: string;
  capacityProviderStrategy?: unknown[];
  schedulingStrategy?: string;
  deploymentConfiguration?: Partial<Omit<DeploymentConfiguration, 'alarms'>> & {
    deploymentCircuitBreaker?: { enable?: boolean; rollback?: boolean };
    lifecycleHooks?: unknown[];
    alarms?: { alarmNames?: string[]; enable?: boolean; rollback?: boolean };
  };
  deploymentController?: { type?: string };
  placementConstraints?: PlacementConstraintInput[];
  placementStrategy?: PlacementStrategyInput[];
  healthCheckGracePeriodSeconds?: number;
  loadBalancers?: unknown[];
  serviceRegistries?: unknown[];
  networkConfiguration?: unknown;
  tags?: Tag[];
  enableECSManagedTags?: boolean;
  propagateTags?: string;
  enableExecuteCommand?: boolean;
  role?: string;
  clientToken?: string;
  availabilityZoneRebalancing?: string;
}

/** ECS's default placement for REPLICA services with none given: spread over zones, then instances. */
const DEFAULT_PLACEMENT_STRATEGY = [
  { type: 'spread', field: 'attribute:ecs.availability-zone' },
  { type: 'spread', field: 'instanceId' },
];

function deploymentConfiguration(input: CreateServiceInput['deploymentConfiguration'], scheduling: 'REPLICA' | 'DAEMON', base?: DeploymentConfiguration): DeploymentConfiguration {
  const strategy = input?.strategy ?? base?.strategy;
  const alarms = input?.alarms ?? base?.alarms;
  // The shift settings of the strategy in force: given ones replace the stored ones.
  const shift = {
    ...(strategy !== undefined ? { strategy } : {}),
    ...((input?.bakeTimeInMinutes ?? base?.bakeTimeInMinutes) !== undefined ? { bakeTimeInMinutes: input?.bakeTimeInMinutes ?? base?.bakeTimeInMinutes } : {}),
    ...(strategy === 'LINEAR' && (input?.linearConfiguration ?? base?.linearConfiguration) !== undefined ? { linearConfiguration: input?.linearConfiguration ?? base?.linearConfiguration } : {}),
    ...(strategy === 'CANARY' && (input?.canaryConfiguration ?? base?.canaryConfiguration) !== undefined ? { canaryConfiguration: input?.canaryConfiguration ?? base?.canaryConfiguration } : {}),
    ...(alarms !== undefined ? { alarms: { alarmNames: alarms.alarmNames ?? [], enable: alarms.enable ?? false, rollback: alarms.rollback ?? false } } : {}),
  };
  checkShiftSettings({ ...shift, ...(input?.linearConfiguration !== undefined ? { linearConfiguration: input.linearConfiguration } : {}), ...(input?.canaryConfiguration !== undefined ? { canaryConfiguration: input.canaryConfiguration } : {}), ...(input?.lifecycleHooks !== undefined ? { lifecycleHooks: input.lifecycleHooks } : {}) });
  if (isShiftingStrategy(strategy) && scheduling === 'DAEMON') {
    // Wording unconfirmed.
    throw new InvalidParameterException(`The ${strategy} deployment strategy is not supported for services with the DAEMON scheduling strategy.`);
  }
  const max = input?.maximumPercent ?? base?.maximumPercent ?? (scheduling === 'DAEMON' ? 100 : 200);
  const min = input?.minimumHealthyPercent ?? base?.minimumHealthyPercent ?? (scheduling === 'DAEMON' ? 0 : 100);
  if (!Number.isInteger(max) || max < 100 || max > 200) {
    if (scheduling === 'REPLICA' || max !== 100) throw new InvalidParameterException('maximumPercent must be between 100 and 200.');
  }
  if (!Number.isInteger(min) || min < 0 || min > 100) throw new InvalidParameterException('minimumHealthyPercent must be between 0 and 100.');
  const breaker = input?.deploymentCircuitBreaker ?? base?.deploymentCircuitBreaker;
  return {
    deploymentCircuitBreaker: { enable: breaker?.enable ?? false, rollback: breaker?.rollback ?? false },
    maximumPercent: max,
    minimumHealthyPercent: min,
    ...shift,
  };
}

function checkPlacement(constraints: readonly PlacementConstraintInput[] | undefined, strategies: readonly PlacementStrategyInput[] | undefined) {
  if ((constraints ?? []).length > 10) throw new InvalidParameterException('Too many placement constraints: at most 10 are allowed.');
  if ((strategies ?? []).length > 5) throw new InvalidParameterException('Too many placement strategies: at most 5 are allowed.');
  return {
    placementConstraints: (constraints ?? []).map((c) => ({ type: c.type ?? '', ...(c.expression !== undefined ? { expression: c.expression } : {}) })),
    placementStrategy: (strategies ?? []).map((s) => ({ type: s.type ?? '', ...(s.field !== undefined ? { field: s.field } : {}) })),
  };
}

function checkGrace(v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2_147_483_647)) {
    throw new InvalidParameterException('healthCheckGracePeriodSeconds must be between 0 and 2147483647.');
  }
}

function propagateTagsOf(v: string | undefined): ServiceDoc['propagateTags'] {
  if (v === undefined) return 'NONE';
  if (v === 'TASK_DEFINITION' || v === 'SERVICE' || v === 'NONE') return v;
  throw new InvalidParameterException(`Invalid propagateTags value '${v}'; expected TASK_DEFINITION, SERVICE or NONE.`);
}

/** A service of the cluster by name or ARN, whatever its status. */
export async function findService(ctx: DomainContext, reader: StoreReader, cluster: Row<ClusterDoc>, ref: string): Promise<Row<StoredService> | undefined> {
  let arn: string;
  if (ref.startsWith('arn:')) {
    const p = parseArn(ref);
    if (!p || p.resourceType !== 'service') throw new InvalidParameterException(`Invalid service ARN '${ref}'.`);
    const parts = p.resource.split('/');
    const name = parts[parts.length - 1]!;
    arn = makeServiceArn(ctx, cluster.doc.clusterName, name);
    if (parts.length === 2 && parts[0] !== cluster.doc.clusterName) return undefined;
  } else {
    arn = makeServiceArn(ctx, cluster.doc.clusterName, ref);
  }
  const row = await reader.get<StoredService>('service', arn);
  return row && row.cluster === cluster.arn ? row : undefined;
}

export async function createService(ctx: DomainContext, input: CreateServiceInput, createdBy = `arn:aws:iam::${ctx.accountId}:root`) {
  if (!NAME_RE.test(input.serviceName)) {
    throw new InvalidParameterException('Service name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.');
  }
  const scheduling = (input.schedulingStrategy ?? 'REPLICA') as 'REPLICA' | 'DAEMON';
  if (scheduling !== 'REPLICA' && scheduling !== 'DAEMON') throw new InvalidParameterException(`Invalid schedulingStrategy '${String(scheduling)}'.`);
  const controller = input.deploymentController?.type ?? 'ECS';
  if (controller === 'EXTERNAL') return createExternalService(ctx, input, scheduling, createdBy);
  if (controller !== 'ECS') {
    throw new UnsupportedFeatureException(`The ${controller} deployment controller is not supported by Berth yet; use ECS or EXTERNAL.`);
  }
  if (input.capacityProviderStrategy !== undefined && input.capacityProviderStrategy.length > 0) {
    throw new InvalidParameterException('Capacity provider strategies are not supported by Berth yet; use launchType EC2.');
  }
  const launchType = (input.launchType ?? 'EC2') as 'EC2' | 'EXTERNAL';
  if (launchType !== 'EC2' && launchType !== 'EXTERNAL') {
    throw new InvalidParameterException(`launchType ${String(launchType)} is not supported; use EC2.`);
  }
  if (input.taskDefinition === undefined) throw new InvalidParameterException('TaskDefinition cannot be empty.');
  let desired = input.desiredCount ?? (scheduling === 'DAEMON' ? 0 : undefined);
  if (desired === undefined) throw new InvalidParameterException('desiredCount is required for services with the REPLICA scheduling strategy.');
  if (scheduling === 'DAEMON') {
    if (input.desiredCount !== undefined && input.desiredCount !== 0) throw new InvalidParameterException('The DAEMON scheduling strategy does not support a desiredCount.');
    if ((input.placementStrategy ?? []).length > 0) throw new InvalidParameterException('The DAEMON scheduling strategy does not support placement strategies.');
    desired = 0;
  }
  if (!Number.isInteger(desired) || desired < 0) throw new InvalidParameterException('desiredCount must be a non-negative integer.');
  checkGrace(input.healthCheckGracePeriodSeconds);
  const tags = validateTags(input.tags);
  const config = deploymentConfiguration(input.deploymentConfiguration, scheduling);
  const placement = checkPlacement(input.placementConstraints, input.placementStrategy);
  const propagateTags = propagateTagsOf(input.propagateTags);

  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const td = await requireTaskDefinition(ctx, tx, input.taskDefinition!);
    if (td.status !== 'ACTIVE') throw new InvalidParameterException(`TaskDefinition is inactive`);
    const loadBalancers = await checkServiceLoadBalancers(tx, input.loadBalancers, td);
    await checkShiftingLoadBalancers(tx, config.strategy, loadBalancers);
    const arn = makeServiceArn(ctx, cluster.doc.clusterName, input.serviceName);
    const existing = await tx.get<StoredService>('service', arn);
    if (existing && existing.doc.service.status !== 'INACTIVE') throw new InvalidParameterException('Creation of service was not idempotent.');
    const now = epochSeconds(ctx.now());
    const base = { desiredCount: desired, launchType };
    const service: ServiceDoc = {
      serviceArn: arn,
      serviceName: input.serviceName,
      clusterArn: cluster.arn,
      loadBalancers,
      serviceRegistries: input.serviceRegistries ?? [],
      status: 'ACTIVE',
      desiredCount: desired,
      runningCount: 0,
      pendingCount: 0,
      launchType,
      taskDefinition: td.taskDefinitionArn,
      deploymentConfiguration: config,
      deployments: [newDeployment(ctx, base, td.taskDefinitionArn)],
      events: [],
      createdAt: now,
      createdBy,
      placementConstraints: placement.placementConstraints,
      placementStrategy: scheduling === 'REPLICA' && placement.placementStrategy.length === 0 ? DEFAULT_PLACEMENT_STRATEGY : placement.placementStrategy,
      ...(input.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds } : {}),
      schedulingStrategy: scheduling,
      deploymentController: { type: 'ECS' },
      enableECSManagedTags: input.enableECSManagedTags ?? false,
      propagateTags,
      enableExecuteCommand: input.enableExecuteCommand ?? false,
      availabilityZoneRebalancing: input.availabilityZoneRebalancing ?? 'DISABLED',
      tags,
    };
    const stored: StoredService = recordDeployment(ctx, { service }, service.deployments[0]!, td, []);
    if (existing) return writeService(tx, existing, stored);
    return insertService(tx, stored, Math.round(ctx.now()));
  });
  return { service: describe(row.doc.service, false) };
}

export interface UpdateServiceInput {
  cluster?: string;
  service: string;
  desiredCount?: number;
  taskDefinition?: string;
  deploymentConfiguration?: CreateServiceInput['deploymentConfiguration'];
  placementConstraints?: PlacementConstraintInput[];
  placementStrategy?: PlacementStrategyInput[];
  forceNewDeployment?: boolean;
  healthCheckGracePeriodSeconds?: number;
  enableECSManagedTags?: boolean;
  propagateTags?: string;
  enableExecuteCommand?: boolean;
  capacityProviderStrategy?: unknown[];
  loadBalancers?: unknown[];
  serviceRegistries?: unknown[];
  networkConfiguration?: unknown;
  availabilityZoneRebalancing?: string;
}

export async function updateService(ctx: DomainContext, input: UpdateServiceInput) {
  checkGrace(input.healthCheckGracePeriodSeconds);
  if (input.capacityProviderStrategy !== undefined && input.capacityProviderStrategy.length > 0) {
    throw new InvalidParameterException('Capacity provider strategies are not supported by Berth yet; use launchType EC2.');
  }
  if (input.desiredCount !== undefined && (!Number.isInteger(input.desiredCount) || input.desiredCount < 0)) {
    throw new InvalidParameterException('desiredCount must be a non-negative integer.');
  }
  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const cur = await findService(ctx, tx, cluster, input.service);
    if (!cur) throw new ServiceNotFoundException('Service not found.');
    const s = cur.doc.service;
    if (s.status !== 'ACTIVE') throw new ServiceNotActiveException('Service was not ACTIVE.');
    if (s.deploymentController.type === 'EXTERNAL') return writeService(tx, cur, { ...cur.doc, service: updateExternal(s, input) });
    if (s.schedulingStrategy === 'DAEMON' && input.desiredCount !== undefined) {
      throw new InvalidParameterException('The DAEMON scheduling strategy does not support a desiredCount.');
    }
    const td = input.taskDefinition !== undefined ? await requireTaskDefinition(ctx, tx, input.taskDefinition) : undefined;
    if (td && td.status !== 'ACTIVE') throw new InvalidParameterException('TaskDefinition is inactive');
    const config = deploymentConfiguration(input.deploymentConfiguration, s.schedulingStrategy, s.deploymentConfiguration);
    await checkShiftingLoadBalancers(tx, config.strategy, s.loadBalancers as ServiceLoadBalancer[]);
    const placement =
      input.placementConstraints !== undefined || input.placementStrategy !== undefined
        ? checkPlacement(input.placementConstraints ?? s.placementConstraints, input.placementStrategy ?? s.placementStrategy)
        : undefined;
    const desiredCount = input.desiredCount ?? s.desiredCount;
    const taskDefinition = td?.taskDefinitionArn ?? s.taskDefinition!;
    const targets = await updatedLoadBalancers(ctx, tx, s, input, td);
    const newDeploymentNeeded = input.forceNewDeployment === true || taskDefinition !== s.taskDefinition || placement !== undefined || targets.changed;
    let deployments = s.deployments.map((d) => (d.status === 'PRIMARY' ? { ...d, desiredCount } : d));
    let doc: StoredService = cur.doc;
    if (newDeploymentNeeded) {
      const created = newDeployment(ctx, { desiredCount, launchType: s.launchType ?? 'EC2' }, taskDefinition);
      doc = recordDeployment(ctx, { ...cur.doc, service: { ...s, deploymentConfiguration: config } }, created, td ?? (await requireTaskDefinition(ctx, tx, taskDefinition)), deployments);
      // Traffic-shifting strategies keep the running deployments serving until the shift (blue/green controller).
      if (isShiftingStrategy(config.strategy) && s.loadBalancers.length > 0) {
        doc = { ...doc, blueGreen: shiftOnNewDeployment(doc.blueGreen, created.id, deployments.map((d) => d.id), ctx.now()) };
      }
      deployments = [created, ...deployments.map((d) => ({ ...d, status: 'ACTIVE' as const, desiredCount: 0 }))];
    }
    const next: ServiceDoc = {
      ...s,
      desiredCount,
      taskDefinition,
      deploymentConfiguration: config,
      deployments,
      loadBalancers: targets.loadBalancers,
      serviceRegistries: targets.serviceRegistries,
      ...(placement ?? {}),
      ...(input.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds } : {}),
      ...(input.enableECSManagedTags !== undefined ? { enableECSManagedTags: input.enableECSManagedTags } : {}),
      ...(input.propagateTags !== undefined ? { propagateTags: propagateTagsOf(input.propagateTags) } : {}),
      ...(input.enableExecuteCommand !== undefined ? { enableExecuteCommand: input.enableExecuteCommand } : {}),
      ...(input.availabilityZoneRebalancing !== undefined ? { availabilityZoneRebalancing: input.availabilityZoneRebalancing } : {}),
    };
    return writeService(tx, cur, { ...doc, service: next, ...(newDeploymentNeeded ? { steady: false } : {}) });
  });
  return { service: describe(row.doc.service, false) };
}

/**
 * UpdateService's `loadBalancers` and `serviceRegistries` on a rolling
 * (ECS) service: given, they replace the service's (an empty list removes
 * them) and, when they differ, start a new deployment, whose tasks register
 * with the new target groups while the old tasks stay in theirs until they
 * stop. The target groups are checked as CreateService checks them, against
 * the task definition the new deployment runs (also when only the task
 * definition changes).
 */
async function updatedLoadBalancers(
  ctx: DomainContext,
  tx: Transaction,
  s: ServiceDoc,
  input: UpdateServiceInput,
  td: TaskDefinitionDoc | undefined,
): Promise<{ loadBalancers: unknown[]; serviceRegistries: unknown[]; changed: boolean }> {
  const wanted = input.loadBalancers ?? (td !== undefined ? s.loadBalancers : undefined);
  const loadBalancers = wanted === undefined ? s.loadBalancers : await checkServiceLoadBalancers(tx, wanted, td ?? (await requireTaskDefinition(ctx, tx, s.taskDefinition!)));
  const serviceRegistries = input.serviceRegistries ?? s.serviceRegistries;
  const changed = JSON.stringify(loadBalancers) !== JSON.stringify(s.loadBalancers) || JSON.stringify(serviceRegistries) !== JSON.stringify(s.serviceRegistries);
  return { loadBalancers, serviceRegistries, changed };
}

export async function deleteService(ctx: DomainContext, input: { cluster?: string; service: string; force?: boolean }) {
  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const cur = await findService(ctx, tx, cluster, input.service);
    if (!cur || cur.doc.service.status === 'INACTIVE') throw new ServiceNotFoundException('Service not found.');
    const s = cur.doc.service;
    if (s.status === 'DRAINING') return cur;
    if (s.schedulingStrategy === 'REPLICA' && s.desiredCount > 0 && input.force !== true) {
      throw new InvalidParameterException('The service cannot be stopped while it is scaled above 0.');
    }
    const next: ServiceDoc = {
      ...s,
      status: 'DRAINING',
      desiredCount: 0,
      deployments: s.deployments.map((d) => ({ ...d, desiredCount: 0 })),
      ...(s.taskSets !== undefined ? { taskSets: s.taskSets.map((t) => ({ ...t, status: 'DRAINING' as const })) } : {}),
    };
    return writeService(tx, cur, { ...cur.doc, service: next });
  });
  return { service: describe(row.doc.service, false) };
}

/** The service as the API describes it: tags only when asked for; task sets with their computed desired counts. */
function describe(s: ServiceDoc, withTags: boolean) {
  const { tags, taskSets, ...rest } = s;
  return {
    ...rest,
    ...(taskSets !== undefined ? { taskSets: taskSets.map((t) => describeTaskSet(s, t, false)) } : {}),
    ...(withTags ? { tags } : {}),
  };
}

// ---------------------------------------------------------------------------
// The EXTERNAL deployment controller: the service holds task sets, not deployments.

/** Parameters ECS controls per task set, refused on an EXTERNAL service, with the member ECS names. */
const TASK_SET_LEVEL: readonly [keyof CreateServiceInput, string][] = [
  ['taskDefinition', 'TaskDefinition'],
  ['launchType', 'LaunchType'],
  ['loadBalancers', 'LoadBalancers'],
  ['serviceRegistries', 'ServiceRegistries'],
  ['networkConfiguration', 'NetworkConfiguration'],
  ['capacityProviderStrategy', 'CapacityProviderStrategy'],
];

const isBlank = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);

async function createExternalService(ctx: DomainContext, input: CreateServiceInput, scheduling: 'REPLICA' | 'DAEMON', createdBy: string) {
  for (const [member, name] of TASK_SET_LEVEL) {
    if (!isBlank(input[member])) throw new InvalidParameterException(`${name} must be blank`);
  }
  if (scheduling === 'DAEMON') throw new InvalidParameterException('The DAEMON scheduling strategy is not supported with the EXTERNAL deployment controller.');
  if (input.deploymentConfiguration?.deploymentCircuitBreaker?.enable === true) {
    throw new InvalidParameterException('The deployment circuit breaker is only supported for services that use the rolling update (ECS) deployment controller.');
  }
  const desired = input.desiredCount ?? 0;
  if (!Number.isInteger(desired) || desired < 0) throw new InvalidParameterException('desiredCount must be a non-negative integer.');
  checkGrace(input.healthCheckGracePeriodSeconds);
  const tags = validateTags(input.tags);
  const config = deploymentConfiguration(input.deploymentConfiguration, scheduling);
  const placement = checkPlacement(input.placementConstraints, input.placementStrategy);
  const propagateTags = propagateTagsOf(input.propagateTags);
  const row = await withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const arn = makeServiceArn(ctx, cluster.doc.clusterName, input.serviceName);
    const existing = await tx.get<StoredService>('service', arn);
    if (existing && existing.doc.service.status !== 'INACTIVE') throw new InvalidParameterException('Creation of service was not idempotent.');
    const service: ServiceDoc = {
      serviceArn: arn,
      serviceName: input.serviceName,
      clusterArn: cluster.arn,
      loadBalancers: [],
      serviceRegistries: [],
      status: 'ACTIVE',
      desiredCount: desired,
      runningCount: 0,
      pendingCount: 0,
      deploymentConfiguration: config,
      deployments: [],
      taskSets: [],
      events: [],
      createdAt: epochSeconds(ctx.now()),
      createdBy,
      placementConstraints: placement.placementConstraints,
      placementStrategy: placement.placementStrategy.length === 0 ? DEFAULT_PLACEMENT_STRATEGY : placement.placementStrategy,
      ...(input.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds } : {}),
      schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'EXTERNAL' },
      enableECSManagedTags: input.enableECSManagedTags ?? false,
      propagateTags,
      enableExecuteCommand: input.enableExecuteCommand ?? false,
      availabilityZoneRebalancing: input.availabilityZoneRebalancing ?? 'DISABLED',
      tags,
    };
    if (existing) return writeService(tx, existing, { service });
    return insertService(tx, { service }, Math.round(ctx.now()));
  });
  return { service: describe(row.doc.service, false) };
}

/** UpdateService on an EXTERNAL service: what the service holds (counts, placement, tags options); the rest belongs to task sets. */
function updateExternal(s: ServiceDoc, input: UpdateServiceInput): ServiceDoc {
  if (input.taskDefinition !== undefined) {
    throw new InvalidParameterException('Unable to update task definition on services with a EXTERNAL deployment controller. Use CreateTaskSet to run a new task definition.');
  }
  if (input.forceNewDeployment === true) {
    throw new InvalidParameterException('Unable to force a new deployment on services with a EXTERNAL deployment controller. Use CreateTaskSet to start new tasks.');
  }
  if (input.networkConfiguration !== undefined) throw new InvalidParameterException('NetworkConfiguration must be blank');
  // On EXTERNAL services load balancers and service registries belong to task sets (CreateTaskSet).
  if (!isBlank(input.loadBalancers)) throw new InvalidParameterException('LoadBalancers must be blank');
  if (!isBlank(input.serviceRegistries)) throw new InvalidParameterException('ServiceRegistries must be blank');
  if (input.deploymentConfiguration?.deploymentCircuitBreaker?.enable === true) {
    throw new InvalidParameterException('The deployment circuit breaker is only supported for services that use the rolling update (ECS) deployment controller.');
  }
  const placement =
    input.placementConstraints !== undefined || input.placementStrategy !== undefined
      ? checkPlacement(input.placementConstraints ?? s.placementConstraints, input.placementStrategy ?? s.placementStrategy)
      : undefined;
  return {
    ...s,
    desiredCount: input.desiredCount ?? s.desiredCount,
    deploymentConfiguration: deploymentConfiguration(input.deploymentConfiguration, s.schedulingStrategy, s.deploymentConfiguration),
    ...(placement ?? {}),
    ...(input.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds } : {}),
    ...(input.enableECSManagedTags !== undefined ? { enableECSManagedTags: input.enableECSManagedTags } : {}),
    ...(input.propagateTags !== undefined ? { propagateTags: propagateTagsOf(input.propagateTags) } : {}),
    ...(input.enableExecuteCommand !== undefined ? { enableExecuteCommand: input.enableExecuteCommand } : {}),
  };
}

export async function describeServices(ctx: DomainContext, input: { cluster?: string; services: string[]; include?: string[] }) {
  if (input.services.length === 0) throw new InvalidParameterException('Services cannot be empty.');
  if (input.services.length > 10) throw new InvalidParameterException('services can have at most 10 items.');
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const withTags = (input.include ?? []).includes('TAGS');
  const services: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const ref of input.services) {
    const row = await findService(ctx, ctx.store, cluster, ref);
    if (!row) failures.push({ arn: ref.startsWith('arn:') ? ref : makeServiceArn(ctx, cluster.doc.clusterName, ref), reason: 'MISSING' });
    else services.push(describe(row.doc.service, withTags));
  }
  return { services, failures };
}

export async function listServices(ctx: DomainContext, input: { cluster?: string; launchType?: string; schedulingStrategy?: string; nextToken?: string; maxResults?: number }) {
  const limit = pageSize(input.maxResults, 100, 10);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const scope = `ListServices:${cluster.arn}:${input.launchType ?? ''}:${input.schedulingStrategy ?? ''}`;
  let cursor = decodeToken<{ name: string; seq: number; arn: string }>(scope, input.nextToken);
  const out: Row<StoredService>[] = [];
  let more = false;
  for (;;) {
    const chunk = await ctx.store.find<StoredService>('service', { cluster: cluster.arn, status: ['ACTIVE', 'DRAINING'], limit: 200, ...(cursor ? { after: cursor } : {}) });
    for (const r of chunk) {
      cursor = { name: r.name, seq: r.seq, arn: r.arn };
      const s = r.doc.service;
      if (input.launchType !== undefined && s.launchType !== input.launchType) continue;
      if (input.schedulingStrategy !== undefined && s.schedulingStrategy !== input.schedulingStrategy) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(r);
    }
    if (more || chunk.length < 200) break;
  }
  const last = out[out.length - 1];
  return {
    serviceArns: out.map((r) => r.arn),
    ...(more && last ? { nextToken: encodeToken(scope, { name: last.name, seq: last.seq, arn: last.arn }) } : {}),
  };
}

/** Services of a Cloud Map namespace: none until Berth has service discovery. */
export function listServicesByNamespace(_ctx: DomainContext, input: { namespace: string }) {
  if (!input.namespace) throw new InvalidParameterException('namespace cannot be empty.');
  return Promise.resolve({ serviceArns: [] as string[] });
}


// ---------------------------------------------------------------------------
// Service deployments and revisions

const RECORD_ARN_RE = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):(service-deployment|service-revision)\/([^/]+)\/([^/]+)\/(\d+)$/;

function recordArn(ctx: DomainContext, type: 'service-deployment' | 'service-revision', s: ServiceDoc, id: string): string {
  const cluster = s.clusterArn.slice(s.clusterArn.indexOf(':cluster/') + ':cluster/'.length);
  return `arn:aws:ecs:${ctx.region}:${ctx.accountId}:${type}/${cluster}/${s.serviceName}/${id}`;
}

/** The service a service-deployment or service-revision ARN names, and the record id; undefined when it names nothing here. */
async function recordTarget(ctx: DomainContext, arn: string, type: 'service-deployment' | 'service-revision'): Promise<{ row: Row<StoredService>; id: string } | undefined> {
  const m = RECORD_ARN_RE.exec(arn);
  if (!m || m[3] !== type || m[1] !== ctx.region || m[2] !== ctx.accountId) return undefined;
  const row = await ctx.store.get<StoredService>('service', makeServiceArn(ctx, m[4]!, m[5]!));
  return row ? { row, id: m[6]! } : undefined;
}

function describeRecord(ctx: DomainContext, stored: StoredService, r: NonNullable<StoredService['history']>[number]) {
  const s = stored.service;
  const counts = (deploymentId: string | undefined) => s.deployments.find((d) => d.id === deploymentId);
  const revisionSummary = (revisionId: string, deploymentId: string | undefined) => {
    const d = counts(deploymentId);
    return { arn: recordArn(ctx, 'service-revision', s, revisionId), requestedTaskCount: d?.desiredCount ?? 0, runningTaskCount: d?.runningCount ?? 0, pendingTaskCount: d?.pendingCount ?? 0 };
  };
  const breaker = s.deploymentConfiguration.deploymentCircuitBreaker;
  return {
    serviceDeploymentArn: recordArn(ctx, 'service-deployment', s, r.id),
    serviceArn: s.serviceArn,
    clusterArn: s.clusterArn,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
    ...(r.stoppedAt !== undefined ? { stoppedAt: r.stoppedAt } : {}),
    updatedAt: r.updatedAt,
    sourceServiceRevisions: r.sourceRevisionIds.map((id) => revisionSummary(id, `ecs-svc/${id}`)),
    targetServiceRevision: revisionSummary(r.targetRevisionId, r.deploymentId),
    status: r.status,
    ...(r.statusReason !== undefined ? { statusReason: r.statusReason } : {}),
    ...(r.lifecycleStage !== undefined ? { lifecycleStage: r.lifecycleStage } : {}),
    deploymentConfiguration: r.deploymentConfiguration,
    ...(r.rollback !== undefined
      ? { rollback: { reason: r.rollback.reason, startedAt: r.rollback.startedAt, serviceRevisionArn: recordArn(ctx, 'service-revision', s, r.rollback.revisionId) } }
      : {}),
    deploymentCircuitBreaker: {
      status: !breaker.enable ? 'DISABLED' : r.rollback !== undefined || (r.status === 'STOPPED' && r.statusReason?.startsWith('ECS deployment circuit breaker')) ? 'TRIGGERED' : r.status === 'IN_PROGRESS' ? 'MONITORING' : 'MONITORING_COMPLETE',
      failureCount: r.failureCount,
      threshold: Math.min(200, Math.max(3, Math.ceil(s.desiredCount / 2))),
    },
    alarms: alarmsOf(r),
  };
}

/** The alarms a record's deployment watched (traffic-shifting deployments roll back on them) and whether they triggered. */
function alarmsOf(r: NonNullable<StoredService['history']>[number]) {
  const watched = r.deploymentConfiguration.alarms;
  if (watched?.enable !== true) return { status: 'DISABLED' };
  const triggered = r.rollback?.reason.startsWith(ALARM_ROLLBACK_REASON) === true;
  return {
    status: triggered ? 'TRIGGERED' : r.status === 'IN_PROGRESS' ? 'MONITORING' : 'MONITORING_COMPLETE',
    alarmNames: watched.alarmNames,
    ...(triggered ? { triggeredAlarmNames: r.rollback!.reason.slice(ALARM_ROLLBACK_REASON.length).replace(/\.$/, '').split(', ') } : {}),
  };
}

export async function listServiceDeployments(
  ctx: DomainContext,
  input: { cluster?: string; service: string; status?: string[]; createdAt?: { before?: number; after?: number }; nextToken?: string; maxResults?: number },
) {
  const limit = pageSize(input.maxResults, 100, 20);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const row = await findService(ctx, ctx.store, cluster, input.service);
  if (!row) throw new ServiceNotFoundException('Service not found.');
  const scope = `ListServiceDeployments:${row.arn}:${JSON.stringify(input.status ?? [])}:${JSON.stringify(input.createdAt ?? {})}`;
  const after = decodeToken<string>(scope, input.nextToken);
  let records = (row.doc.history ?? []).filter(
    (r) =>
      (input.status === undefined || input.status.length === 0 || input.status.includes(r.status)) &&
      (input.createdAt?.before === undefined || r.createdAt < input.createdAt.before) &&
      (input.createdAt?.after === undefined || r.createdAt > input.createdAt.after),
  );
  if (after !== undefined) records = records.slice(records.findIndex((r) => r.id === after) + 1);
  const page = records.slice(0, limit);
  const s = row.doc.service;
  return {
    serviceDeployments: page.map((r) => ({
      serviceDeploymentArn: recordArn(ctx, 'service-deployment', s, r.id),
      serviceArn: s.serviceArn,
      clusterArn: s.clusterArn,
      startedAt: r.startedAt,
      createdAt: r.createdAt,
      ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
      targetServiceRevisionArn: recordArn(ctx, 'service-revision', s, r.targetRevisionId),
      status: r.status,
      ...(r.statusReason !== undefined ? { statusReason: r.statusReason } : {}),
    })),
    ...(records.length > limit ? { nextToken: encodeToken(scope, page[page.length - 1]!.id) } : {}),
  };
}

export async function describeServiceDeployments(ctx: DomainContext, input: { serviceDeploymentArns: string[] }) {
  if (input.serviceDeploymentArns.length === 0) throw new InvalidParameterException('serviceDeploymentArns cannot be empty.');
  if (input.serviceDeploymentArns.length > 20) throw new InvalidParameterException('serviceDeploymentArns can have at most 20 items.');
  const serviceDeployments: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const arn of input.serviceDeploymentArns) {
    const target = await recordTarget(ctx, arn, 'service-deployment');
    const record = target?.row.doc.history?.find((r) => r.id === target.id);
    if (!target || !record) failures.push({ arn, reason: 'MISSING' });
    else serviceDeployments.push(describeRecord(ctx, target.row.doc, record));
  }
  return { serviceDeployments, failures };
}

export async function describeServiceRevisions(ctx: DomainContext, input: { serviceRevisionArns: string[] }) {
  if (input.serviceRevisionArns.length === 0) throw new InvalidParameterException('serviceRevisionArns cannot be empty.');
  if (input.serviceRevisionArns.length > 20) throw new InvalidParameterException('serviceRevisionArns can have at most 20 items.');
  const serviceRevisions: unknown[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const arn of input.serviceRevisionArns) {
    const target = await recordTarget(ctx, arn, 'service-revision');
    const revision = target?.row.doc.revisions?.find((r) => r.id === target.id);
    if (!target || !revision) {
      failures.push({ arn, reason: 'MISSING' });
      continue;
    }
    const s = target.row.doc.service;
    serviceRevisions.push({
      serviceRevisionArn: arn,
      serviceArn: s.serviceArn,
      clusterArn: s.clusterArn,
      taskDefinition: revision.taskDefinition,
      launchType: revision.launchType,
      loadBalancers: [],
      serviceRegistries: [],
      containerImages: revision.containerImages,
      guardDutyEnabled: false,
      createdAt: revision.createdAt,
    });
  }
  return { serviceRevisions, failures };
}

/**
 * StopServiceDeployment: ROLLBACK (the default) returns the service to the
 * revision the deployment started from; ABORT stops it where it is (no more
 * tasks of its revision are launched).
 */
export async function stopServiceDeployment(ctx: DomainContext, input: { serviceDeploymentArn: string; stopType?: string }) {
  const target = await recordTarget(ctx, input.serviceDeploymentArn, 'service-deployment');
  if (!target || !(target.row.doc.history ?? []).some((r) => r.id === target.id)) throw new ServiceDeploymentNotFoundException('Service deployment not found.');
  const stopType = input.stopType ?? 'ROLLBACK';
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<StoredService>('service', target.row.arn);
    const record = row?.doc.history?.find((r) => r.id === target.id);
    if (!row || !record) throw new ServiceDeploymentNotFoundException('Service deployment not found.');
    if (record.status !== 'IN_PROGRESS' || row.doc.service.status !== 'ACTIVE') {
      throw new ConflictException(`The service deployment is ${record.status} and cannot be stopped.`);
    }
    const s = row.doc.service;
    const now = epochSeconds(ctx.now());
    let stored = row.doc;
    let deployments = s.deployments;
    let taskDefinition = s.taskDefinition;
    const shift = stored.blueGreen?.progress;
    if (stopType === 'ROLLBACK' && shift !== undefined && shift.deploymentId === record.deploymentId) {
      // A traffic-shifting deployment rolls back by moving traffic back to blue, which still runs (blue/green controller).
      if (shift.stage === 'CLEAN_UP') throw new ConflictException('The service deployment is cleaning up the previous revision and cannot be rolled back.');
      stored = { ...stored, blueGreen: { ...stored.blueGreen!, progress: { ...shift, rollbackRequested: { reason: 'Service deployment rollback requested.', at: ctx.now() } } } };
      stored = updateRecord(ctx, stored, record.deploymentId, { status: 'ROLLBACK_REQUESTED', statusReason: 'Service deployment rollback requested.' });
      await writeService(tx, row, stored);
      return;
    }
    if (stopType === 'ROLLBACK') {
      const back = stored.lastCompleted;
      if (back === undefined || back.id === record.deploymentId) throw new ConflictException('The service has no earlier completed deployment to roll back to.');
      const rollback = newDeployment(ctx, s, back.taskDefinition, `Service deployment rollback requested: rolling back to deploymentId ${back.id}.`);
      deployments = [rollback, ...deployments.map((d) => ({ ...d, status: 'ACTIVE' as const, desiredCount: 0 }))];
      taskDefinition = back.taskDefinition;
      stored = updateRecord(ctx, stored, record.deploymentId, {
        status: 'ROLLBACK_IN_PROGRESS',
        statusReason: 'Service deployment rollback requested.',
        rollback: { reason: 'Service deployment rollback requested.', startedAt: now, revisionId: back.id.slice(back.id.indexOf('/') + 1) },
        rollbackDeploymentId: rollback.id,
      });
    } else {
      deployments = deployments.map((d) =>
        d.id === record.deploymentId ? { ...d, rolloutState: 'FAILED' as const, rolloutStateReason: 'Service deployment stopped by the user.', updatedAt: now } : d,
      );
      stored = updateRecord(ctx, stored, record.deploymentId, { status: 'STOPPED', statusReason: 'Service deployment stopped by the user.', stoppedAt: now });
    }
    await writeService(tx, row, { ...stored, service: { ...s, deployments, taskDefinition }, steady: false });
  });
  return { serviceDeploymentArn: input.serviceDeploymentArn };
}

/** ContinueServiceDeployment applies to deployments paused at a lifecycle hook, which ROLLING deployments do not have. */
export async function continueServiceDeployment(ctx: DomainContext, input: { serviceDeploymentArn: string; hookId: string }) {
  const target = await recordTarget(ctx, input.serviceDeploymentArn, 'service-deployment');
  if (!target || !(target.row.doc.history ?? []).some((r) => r.id === target.id)) throw new ServiceDeploymentNotFoundException('Service deployment not found.');
  throw new InvalidParameterException(`The service deployment has no lifecycle hook ${input.hookId} waiting: ROLLING deployments have no lifecycle hooks.`);
}

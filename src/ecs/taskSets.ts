/**
 * The task set operations of ECS, for services with the EXTERNAL deployment
 * controller: CreateTaskSet, UpdateTaskSet, UpdateServicePrimaryTaskSet,
 * DeleteTaskSet, DescribeTaskSets. They write each task set's spec (through
 * the service writer); the service controller keeps each task set's tasks at
 * its computed desired count and writes its counts and stability.
 */
import { ClientException, InvalidParameterException, ServiceNotActiveException, ServiceNotFoundException, TaskSetNotFoundException, UnsupportedFeatureException } from '../core/errors.js';
import { withRetry, type Row, type StoreReader, type Transaction } from '../store/store.js';
import { requireCluster } from './clusters.js';
import { epochSeconds, type DomainContext } from './context.js';
import { checkServiceLoadBalancers } from './loadBalancers.js';
import type { ServiceDoc, StoredService, TaskSetDoc } from './model.js';
import { findService } from './services.js';
import { validateTags, type Tag } from './tags.js';
import { requireTaskDefinition } from './taskDefinitions.js';
import { effectiveNetworkMode } from './taskdef/types.js';
import { describeTaskSet } from './taskSetView.js';
import { newDeploymentId, writeService } from './writers/services.js';

/** Task sets a service may hold at once, as on ECS. */
export const MAX_TASK_SETS = 5;

const EXTERNAL_ONLY = 'Amazon ECS only supports task set management on services configured to use external deployment controllers.';

interface Scale {
  value?: number;
  unit?: string;
}

function checkScale(scale: Scale | undefined): TaskSetDoc['scale'] {
  const value = scale?.value ?? 100;
  if (!Number.isFinite(value) || value < 0 || value > 100) throw new InvalidParameterException('Scale value must be between 0 and 100.');
  if (scale?.unit !== undefined && scale.unit !== 'PERCENT') throw new InvalidParameterException(`Invalid scale unit '${scale.unit}'; expected PERCENT.`);
  return { value, unit: 'PERCENT' };
}

/** The service a task set operation acts on: it must exist and use the EXTERNAL controller; `active` also requires it ACTIVE. */
async function requireExternalService(ctx: DomainContext, reader: StoreReader, clusterRef: string | undefined, serviceRef: string, active: boolean) {
  const cluster = await requireCluster(ctx, reader, clusterRef);
  const row = await findService(ctx, reader, cluster, serviceRef);
  if (!row || row.doc.service.status === 'INACTIVE') throw new ServiceNotFoundException('Service not found.');
  if (active && row.doc.service.status !== 'ACTIVE') throw new ServiceNotActiveException('Service was not ACTIVE.');
  if (row.doc.service.deploymentController.type !== 'EXTERNAL') throw new InvalidParameterException(EXTERNAL_ONLY);
  return { cluster, row };
}

/** The task set `ref` (its id or ARN) names in the service, if any. */
function findTaskSet(s: ServiceDoc, ref: string): TaskSetDoc | undefined {
  return (s.taskSets ?? []).find((t) => t.id === ref || t.taskSetArn === ref);
}

function requireTaskSet(s: ServiceDoc, ref: string): TaskSetDoc {
  const t = findTaskSet(s, ref);
  if (!t) throw new TaskSetNotFoundException('The specified task set does not exist.');
  return t;
}

function taskSetArn(s: ServiceDoc, id: string): string {
  const cluster = s.clusterArn.slice(s.clusterArn.indexOf(':cluster/') + ':cluster/'.length);
  const prefix = s.serviceArn.slice(0, s.serviceArn.indexOf(':service/'));
  return `${prefix}:task-set/${cluster}/${s.serviceName}/${id}`;
}

/** Writes the service with `taskSets` replacing its task sets, and the service fields ECS takes from the primary one. */
function writeTaskSets(tx: Transaction, row: Row<StoredService>, taskSets: TaskSetDoc[], steady?: boolean): Promise<Row<StoredService>> {
  const s = row.doc.service;
  const primary = taskSets.find((t) => t.status === 'PRIMARY');
  const { taskDefinition: _td, launchType: _lt, ...rest } = s;
  const service: ServiceDoc = {
    ...rest,
    taskSets,
    ...(primary !== undefined ? { taskDefinition: primary.taskDefinition, launchType: primary.launchType } : {}),
  };
  return writeService(tx, row, { ...row.doc, service, ...(steady !== undefined ? { steady } : {}) });
}

export interface CreateTaskSetInput {
  cluster: string;
  service: string;
  taskDefinition: string;
  externalId?: string;
  launchType?: string;
  scale?: Scale;
  clientToken?: string;
  tags?: Tag[];
  loadBalancers?: unknown[];
  serviceRegistries?: unknown[];
  capacityProviderStrategy?: unknown[];
  networkConfiguration?: unknown;
  platformVersion?: string;
}

export async function createTaskSet(ctx: DomainContext, input: CreateTaskSetInput) {
  const scale = checkScale(input.scale);
  const tags = validateTags(input.tags);
  if ((input.loadBalancers ?? []).length > 1) throw new InvalidParameterException('Multiple target groups are not supported for services that use the EXTERNAL deployment controller.');
  if ((input.serviceRegistries ?? []).length > 0) throw new InvalidParameterException('Service registries are not supported by Berth yet.');
  if ((input.capacityProviderStrategy ?? []).length > 0) {
    if (input.launchType !== undefined) throw new InvalidParameterException('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.');
    throw new InvalidParameterException('Capacity provider strategies are not supported by Berth yet; use launchType EC2.');
  }
  const launchType = input.launchType ?? 'EC2';
  if (launchType === 'FARGATE') throw new InvalidParameterException('Launch type FARGATE is not supported.', { hint: 'Berth runs tasks on container instances: use launchType EC2 (or EXTERNAL).' });
  if (launchType !== 'EC2' && launchType !== 'EXTERNAL') throw new InvalidParameterException(`launchType ${launchType} is not supported; use EC2.`);
  if (input.clientToken !== undefined && (input.clientToken.length < 1 || input.clientToken.length > 36)) {
    throw new InvalidParameterException('clientToken must be 1 to 36 characters long.');
  }
  const out = await withRetry(ctx.store, async (tx) => {
    const { row } = await requireExternalService(ctx, tx, input.cluster, input.service, true);
    const s = row.doc.service;
    const idemKey = input.clientToken !== undefined ? `CreateTaskSet:${s.serviceArn}:${input.clientToken}` : undefined;
    const request = JSON.stringify({ ...input, clientToken: undefined });
    if (idemKey !== undefined) {
      const previous = await tx.getIdempotent<{ request: string; id: string }>(idemKey);
      if (previous) {
        if (previous.request !== request) throw new InvalidParameterException('Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
        const existing = findTaskSet(s, previous.id);
        if (existing) return describeTaskSet(s, existing, true);
      }
    }
    const taskSets = s.taskSets ?? [];
    if (taskSets.length >= MAX_TASK_SETS) {
      throw new InvalidParameterException(`${taskSets.length} deployments exist on the service. Unable to create new TaskSet since this exceeds the maximum limit.`);
    }
    const td = await requireTaskDefinition(ctx, tx, input.taskDefinition);
    if (td.status !== 'ACTIVE') throw new ClientException('TaskDefinition is inactive');
    if (!(td.compatibilities as string[]).includes(launchType)) throw new ClientException(`Task definition does not support launch_type ${launchType}.`);
    if (effectiveNetworkMode(td.networkMode) === 'awsvpc') {
      throw new UnsupportedFeatureException('Berth does not support the awsvpc network mode on container instances yet; use bridge or host.');
    }
    // The task set's tasks are registered with its target group, checked as CreateService checks a service's.
    const loadBalancers = await checkServiceLoadBalancers(tx, input.loadBalancers, td);
    const now = epochSeconds(ctx.now());
    const id = newDeploymentId();
    const created: TaskSetDoc = {
      id,
      taskSetArn: taskSetArn(s, id),
      serviceArn: s.serviceArn,
      clusterArn: s.clusterArn,
      ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
      status: 'ACTIVE',
      taskDefinition: td.taskDefinitionArn,
      pendingCount: 0,
      runningCount: 0,
      createdAt: now,
      updatedAt: now,
      launchType,
      loadBalancers,
      serviceRegistries: [],
      scale,
      stabilityStatus: 'STABILIZING',
      stabilityStatusAt: now,
      tags,
    };
    await writeTaskSets(tx, row, [created, ...taskSets], false);
    if (idemKey !== undefined) await tx.putIdempotent(idemKey, { request, id });
    return describeTaskSet(s, created, true);
  });
  return { taskSet: out };
}

export async function updateTaskSet(ctx: DomainContext, input: { cluster: string; service: string; taskSet: string; scale: Scale }) {
  const scale = checkScale(input.scale);
  const out = await withRetry(ctx.store, async (tx) => {
    const { row } = await requireExternalService(ctx, tx, input.cluster, input.service, true);
    const s = row.doc.service;
    const target = requireTaskSet(s, input.taskSet);
    if (target.status === 'DRAINING') throw new InvalidParameterException('The task set is being deleted (DRAINING) and cannot be updated.');
    const updated: TaskSetDoc = { ...target, scale, updatedAt: epochSeconds(ctx.now()) };
    await writeTaskSets(tx, row, (s.taskSets ?? []).map((t) => (t.id === target.id ? updated : t)), false);
    return describeTaskSet(s, updated, true);
  });
  return { taskSet: out };
}

export async function updateServicePrimaryTaskSet(ctx: DomainContext, input: { cluster: string; service: string; primaryTaskSet: string }) {
  const out = await withRetry(ctx.store, async (tx) => {
    const { row } = await requireExternalService(ctx, tx, input.cluster, input.service, true);
    const s = row.doc.service;
    const target = requireTaskSet(s, input.primaryTaskSet);
    if (target.status === 'DRAINING') throw new InvalidParameterException('The task set is being deleted (DRAINING) and cannot be made primary.');
    if (target.status === 'PRIMARY') return describeTaskSet(s, target, true);
    const now = epochSeconds(ctx.now());
    const taskSets = (s.taskSets ?? []).map((t): TaskSetDoc => {
      if (t.id === target.id) return { ...t, status: 'PRIMARY', updatedAt: now };
      if (t.status === 'PRIMARY') return { ...t, status: 'ACTIVE', updatedAt: now };
      return t;
    });
    await writeTaskSets(tx, row, taskSets);
    return describeTaskSet(s, taskSets.find((t) => t.id === target.id)!, true);
  });
  return { taskSet: out };
}

export async function deleteTaskSet(ctx: DomainContext, input: { cluster: string; service: string; taskSet: string; force?: boolean }) {
  const out = await withRetry(ctx.store, async (tx) => {
    const { row } = await requireExternalService(ctx, tx, input.cluster, input.service, true);
    const s = row.doc.service;
    const target = requireTaskSet(s, input.taskSet);
    if (target.status === 'DRAINING') return describeTaskSet(s, target, true);
    const scaledUp = describeTaskSet(s, target, false).computedDesiredCount > 0 || target.runningCount + target.pendingCount > 0;
    if (scaledUp && input.force !== true) {
      throw new InvalidParameterException('The task set cannot be deleted while it is scaled above 0. Scale it to 0 first, or use force.');
    }
    const drained: TaskSetDoc = { ...target, status: 'DRAINING', updatedAt: epochSeconds(ctx.now()) };
    await writeTaskSets(tx, row, (s.taskSets ?? []).map((t) => (t.id === target.id ? drained : t)), false);
    return describeTaskSet(s, drained, true);
  });
  return { taskSet: out };
}

export async function describeTaskSets(ctx: DomainContext, input: { cluster: string; service: string; taskSets?: string[]; include?: string[] }) {
  const { row } = await requireExternalService(ctx, ctx.store, input.cluster, input.service, false);
  const s = row.doc.service;
  const withTags = (input.include ?? []).includes('TAGS');
  if (input.taskSets === undefined || input.taskSets.length === 0) return { taskSets: (s.taskSets ?? []).map((t) => describeTaskSet(s, t, withTags)), failures: [] };
  const taskSets: ReturnType<typeof describeTaskSet>[] = [];
  const failures: { arn: string; reason: string }[] = [];
  for (const ref of input.taskSets) {
    const t = findTaskSet(s, ref);
    if (t) taskSets.push(describeTaskSet(s, t, withTags));
    else failures.push({ arn: ref.startsWith('arn:') ? ref : taskSetArn(s, ref), reason: 'MISSING' });
  }
  return { taskSets, failures };
}

/**
 * The service writer: the only code that writes service rows. The service
 * operations write the spec and the fixed fields of new deployments; the
 * service controller writes what it observes and decides (counts, rollout
 * states, events). See `model.ts` for the fields each side owns.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Row, Transaction } from '../../store/store.js';
import { epochSeconds, type DomainContext } from '../context.js';
import type { DeploymentDoc, ServiceDeploymentRecord, ServiceDoc, ServiceEvent, ServiceRevisionRecord, StoredService } from '../model.js';

/** Events a service keeps, newest first (as ECS). */
export const MAX_SERVICE_EVENTS = 100;

/** An ECS deployment id: `ecs-svc/` and 19 digits. */
export function newDeploymentId(): string {
  let digits = String(randomInt(1, 10));
  while (digits.length < 19) digits += String(randomInt(0, 10));
  return `ecs-svc/${digits}`;
}

/** A new PRIMARY deployment of `taskDefinition` (its counts start at zero). */
export function newDeployment(ctx: DomainContext, service: Pick<ServiceDoc, 'desiredCount' | 'launchType'>, taskDefinition: string, reason?: string): DeploymentDoc {
  const id = newDeploymentId();
  const now = epochSeconds(ctx.now());
  return {
    id,
    status: 'PRIMARY',
    taskDefinition,
    desiredCount: service.desiredCount,
    pendingCount: 0,
    runningCount: 0,
    failedTasks: 0,
    createdAt: now,
    updatedAt: now,
    launchType: service.launchType ?? 'EC2',
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: reason ?? `ECS deployment ${id} in progress.`,
  };
}

/** `events` with `messages` added, newest first, at most MAX_SERVICE_EVENTS. */
export function withEvents(ctx: DomainContext, events: readonly ServiceEvent[], messages: readonly string[]): ServiceEvent[] {
  if (messages.length === 0) return [...events];
  const now = epochSeconds(ctx.now());
  const added = messages.map((message) => ({ id: randomUUID(), createdAt: now, message })).reverse();
  return [...added, ...events].slice(0, MAX_SERVICE_EVENTS);
}

/** Writes a service row with its document; the indexed status follows the document's. */
export function writeService(tx: Transaction, row: Row<StoredService>, stored: StoredService): Promise<Row<StoredService>> {
  return tx.update<StoredService>('service', { ...row, status: stored.service.status, doc: stored });
}

export function insertService(tx: Transaction, stored: StoredService, seq: number): Promise<Row<StoredService>> {
  const s = stored.service;
  return tx.insert<StoredService>('service', { arn: s.serviceArn, cluster: s.clusterArn, name: s.serviceName, status: s.status, seq, doc: stored });
}

// ---------------------------------------------------------------------------
// Service deployments and revisions

/** Service deployment and revision records a service keeps, newest first. */
export const MAX_DEPLOYMENT_RECORDS = 50;

const digitsOf = (deploymentId: string) => deploymentId.slice(deploymentId.indexOf('/') + 1);

/**
 * Records a new deployment (created by CreateService or UpdateService): a
 * revision for its task definition and a service deployment from the
 * revisions of the deployments it replaces. Deployments still in progress
 * that it supersedes are recorded STOPPED.
 */
export function recordDeployment(
  ctx: DomainContext,
  stored: StoredService,
  deployment: DeploymentDoc,
  td: { taskDefinitionArn: string; containerDefinitions: readonly { name?: string; image?: string }[] },
  replaced: readonly DeploymentDoc[],
): StoredService {
  const now = epochSeconds(ctx.now());
  const revision: ServiceRevisionRecord = {
    id: digitsOf(deployment.id),
    taskDefinition: td.taskDefinitionArn,
    launchType: deployment.launchType,
    containerImages: td.containerDefinitions.map((c) => ({ containerName: c.name ?? '', image: c.image ?? '' })),
    createdAt: now,
  };
  const history = (stored.history ?? []).map((r) =>
    r.status === 'IN_PROGRESS' || r.status === 'PENDING' || r.status === 'ROLLBACK_IN_PROGRESS'
      ? { ...r, status: 'STOPPED' as const, statusReason: `Service deployment was superseded by deployment ${deployment.id}.`, stoppedAt: now, updatedAt: now }
      : r,
  );
  const record: ServiceDeploymentRecord = {
    id: digitsOf(deployment.id),
    deploymentId: deployment.id,
    targetRevisionId: revision.id,
    sourceRevisionIds: replaced.map((d) => digitsOf(d.id)),
    status: 'IN_PROGRESS',
    createdAt: now,
    startedAt: now,
    updatedAt: now,
    deploymentConfiguration: stored.service.deploymentConfiguration,
    failureCount: 0,
  };
  return {
    ...stored,
    history: [record, ...history].slice(0, MAX_DEPLOYMENT_RECORDS),
    revisions: [revision, ...(stored.revisions ?? [])].slice(0, MAX_DEPLOYMENT_RECORDS),
  };
}

/** The record a deployment of the service's list carries out: its own, or the one it rolls back. */
export function recordOf(stored: StoredService, deploymentId: string): ServiceDeploymentRecord | undefined {
  return (stored.history ?? []).find((r) => r.deploymentId === deploymentId || r.rollbackDeploymentId === deploymentId);
}

/** `stored` with the record carried out by `deploymentId` changed by `patch`. */
export function updateRecord(ctx: DomainContext, stored: StoredService, deploymentId: string, patch: Partial<ServiceDeploymentRecord>): StoredService {
  const target = recordOf(stored, deploymentId);
  if (target === undefined) return stored;
  const now = epochSeconds(ctx.now());
  return { ...stored, history: (stored.history ?? []).map((r) => (r === target ? { ...r, ...patch, updatedAt: now } : r)) };
}

/**
 * Sets a service's desiredCount and its PRIMARY deployment's, as
 * UpdateService does, in `tx`. `row` must have been read in the same
 * transaction: the write fails on a version conflict rather than overwrite
 * a concurrent UpdateService (Application Auto Scaling retries it on the
 * new state). The service controller then starts or stops tasks.
 */
export function writeDesiredCount(tx: Transaction, row: Row<StoredService>, desiredCount: number): Promise<Row<StoredService>> {
  const s = row.doc.service;
  const deployments = s.deployments.map((d) => (d.status === 'PRIMARY' ? { ...d, desiredCount } : d));
  return writeService(tx, row, { ...row.doc, service: { ...s, desiredCount, deployments }, steady: false });
}

/**
 * The service writer: the only code that writes service rows. The service
 * operations write the spec and the fixed fields of new deployments; the
 * service controller writes what it observes and decides (counts, rollout
 * states, events). See `model.ts` for the fields each side owns.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Row, Transaction } from '../../store/store.js';
import { epochSeconds, type DomainContext } from '../context.js';
import type { DeploymentDoc, ServiceDoc, ServiceEvent, StoredService } from '../model.js';

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
    launchType: service.launchType,
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

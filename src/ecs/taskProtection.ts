/**
 * Task scale-in protection: UpdateTaskProtection and GetTaskProtection.
 *
 * Only tasks of a service that are RUNNING can be protected; any other task
 * is a per-task failure (`TASK_NOT_VALID`, as ECS answers for standalone
 * tasks), and a task the cluster does not hold is `MISSING`. Protection
 * lapses at its expiration date: from then on it reads as off, here and in
 * the service controller, without another write. The protection is written
 * through the task writer (`setTaskProtection`).
 */
import { InvalidParameterException } from '../core/errors.js';
import { withRetry, type Row } from '../store/store.js';
import { requireCluster, type ClusterDoc } from './clusters.js';
import { epochSeconds, type DomainContext } from './context.js';
import { isTaskProtected, type StoredTask } from './model.js';
import { loadTask, taskRefToArn } from './tasks.js';
import { setTaskProtection } from './writers/tasks.js';

/** ECS's default protection period, and the longest it allows (minutes). */
export const DEFAULT_PROTECTION_MINUTES = 120;
export const MAX_PROTECTION_MINUTES = 2880;

export interface ProtectedTask {
  taskArn: string;
  protectionEnabled: boolean;
  /** Epoch seconds; only while protection is on. */
  expirationDate?: number;
}

interface Failure {
  arn: string;
  reason: string;
  detail?: string;
}

function describeProtection(stored: StoredTask, nowMs: number): ProtectedTask {
  const on = isTaskProtected(stored, nowMs);
  return {
    taskArn: stored.task.taskArn,
    protectionEnabled: on,
    ...(on && stored.protection?.expiresAt !== undefined ? { expirationDate: stored.protection.expiresAt } : {}),
  };
}

/** The task a reference names, or why it cannot be protected. */
async function protectable(
  ctx: DomainContext,
  reader: Parameters<typeof loadTask>[1],
  cluster: Row<ClusterDoc>,
  ref: string,
): Promise<{ row: Row<StoredTask> } | { failure: Failure }> {
  let arn = ref;
  try {
    arn = taskRefToArn(ctx, cluster, ref);
  } catch {
    return { failure: { arn: ref, reason: 'MISSING' } };
  }
  const row = await loadTask(ctx, reader, cluster, ref);
  if (!row) return { failure: { arn, reason: 'MISSING' } };
  const t = row.doc.task;
  if (!t.group.startsWith('service:')) {
    return { failure: { arn, reason: 'TASK_NOT_VALID', detail: 'The task is not part of a service; only tasks of a service can be protected.' } };
  }
  if (t.lastStatus !== 'RUNNING' || t.desiredStatus !== 'RUNNING') {
    return { failure: { arn, reason: 'TASK_NOT_VALID', detail: `The task is ${t.desiredStatus === 'STOPPED' ? 'stopping' : t.lastStatus}; only RUNNING tasks can be protected.` } };
  }
  return { row };
}

function checkTaskList(tasks: readonly string[] | undefined, max: number): readonly string[] {
  if (tasks === undefined || tasks.length === 0) throw new InvalidParameterException('tasks cannot be empty.');
  if (tasks.length > max) throw new InvalidParameterException(`tasks can have at most ${max} items.`);
  return tasks;
}

export async function updateTaskProtection(
  ctx: DomainContext,
  input: { cluster: string; tasks: string[]; protectionEnabled: boolean; expiresInMinutes?: number },
): Promise<{ protectedTasks: ProtectedTask[]; failures: Failure[] }> {
  const refs = checkTaskList(input.tasks, 10);
  const minutes = input.expiresInMinutes ?? DEFAULT_PROTECTION_MINUTES;
  if (input.protectionEnabled && (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_PROTECTION_MINUTES)) {
    throw new InvalidParameterException(`expiresInMinutes must be between 1 and ${MAX_PROTECTION_MINUTES}.`);
  }
  return withRetry(ctx.store, async (tx) => {
    const cluster = await requireCluster(ctx, tx, input.cluster);
    const now = ctx.now();
    const protectedTasks: ProtectedTask[] = [];
    const failures: Failure[] = [];
    const done = new Set<string>();
    for (const ref of refs) {
      const found = await protectable(ctx, tx, cluster, ref);
      if ('failure' in found) {
        failures.push(found.failure);
        continue;
      }
      if (done.has(found.row.arn)) continue;
      done.add(found.row.arn);
      const protection = input.protectionEnabled ? { enabled: true, expiresAt: epochSeconds(now + minutes * 60_000) } : { enabled: false };
      const written = await setTaskProtection(tx, found.row, protection);
      protectedTasks.push(describeProtection(written.doc, now));
    }
    return { protectedTasks, failures };
  });
}

export async function getTaskProtection(
  ctx: DomainContext,
  input: { cluster: string; tasks?: string[] },
): Promise<{ protectedTasks: ProtectedTask[]; failures: Failure[] }> {
  const refs = checkTaskList(input.tasks, 100);
  const cluster = await requireCluster(ctx, ctx.store, input.cluster);
  const now = ctx.now();
  const protectedTasks: ProtectedTask[] = [];
  const failures: Failure[] = [];
  for (const ref of refs) {
    const found = await protectable(ctx, ctx.store, cluster, ref);
    if ('failure' in found) failures.push(found.failure);
    else protectedTasks.push(describeProtection(found.row.doc, now));
  }
  return { protectedTasks, failures };
}

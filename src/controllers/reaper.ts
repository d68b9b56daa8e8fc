/**
 * The reaper: removes what ECS keeps describable only for a while once it
 * is gone — INACTIVE clusters and container instances and STOPPED tasks
 * after `retentionMs` (an hour, as ECS), task definition revisions deleted
 * with DeleteTaskDefinitions once no task runs them, and change-feed
 * entries and idempotency records after a day. One key, synced every
 * `intervalMs`; a failed pass is retried with backoff.
 */
import type { Logger } from '../core/log.js';
import type { DomainContext } from '../ecs/context.js';
import { purgeDeletedTaskDefinitions } from '../ecs/tasks.js';
import { Controller } from './runtime.js';

export interface ReaperOptions {
  /** How long deleted clusters, deregistered instances and stopped tasks stay describable (ms). */
  readonly retentionMs: number;
  /** How long change-feed entries and idempotency records are kept (ms; default one day). */
  readonly changeRetentionMs?: number;
  /** Time between passes (ms; default min(retentionMs, 60 s)). */
  readonly intervalMs?: number;
  readonly log?: Logger;
}

export interface ReapResult {
  clusters: number;
  containerInstances: number;
  tasks: number;
  taskDefinitions: number;
  changes: number;
  services: number;
}

const KEY = 'reap';

/** One pass: removes everything past its retention as of `ctx.now()`. */
export async function reapOnce(ctx: DomainContext, opts: Pick<ReaperOptions, 'retentionMs' | 'changeRetentionMs'>): Promise<ReapResult> {
  const now = ctx.now();
  const before = now - opts.retentionMs;
  const [clusters, containerInstances, tasks, taskDefinitions, changes, services] = await Promise.all([
    ctx.store.purge('cluster', { status: 'INACTIVE', updatedBefore: before }),
    ctx.store.purge('containerInstance', { status: 'INACTIVE', updatedBefore: before }),
    ctx.store.purge('task', { status: 'STOPPED', state: 'STOPPED', updatedBefore: before }),
    purgeDeletedTaskDefinitions(ctx, before),
    ctx.store.trimChanges(now - (opts.changeRetentionMs ?? 24 * 60 * 60 * 1000)),
    ctx.store.purge('service', { status: 'INACTIVE', updatedBefore: before }),
  ]);
  return { clusters, containerInstances, tasks, taskDefinitions, changes, services };
}

export function createReaper(ctx: DomainContext, opts: ReaperOptions): Controller {
  const interval = opts.intervalMs ?? Math.min(opts.retentionMs, 60_000);
  return new Controller({
    name: 'reaper',
    ...(opts.log ? { log: opts.log } : {}),
    keys: () => Promise.resolve([KEY]),
    resyncEveryMs: interval,
    sync: async () => {
      const removed = await reapOnce(ctx, opts);
      if (removed.clusters + removed.containerInstances + removed.tasks + removed.taskDefinitions > 0) {
        opts.log?.debug({ removed }, 'reaper removed expired records');
      }
    },
  });
}

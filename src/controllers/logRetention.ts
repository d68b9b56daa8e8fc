/**
 * Log retention: deletes events older than their group's retention
 * (PutRetentionPolicy). One key, synced every `intervalMs`; each pass
 * deletes in bounded batches so that API calls interleave with a large
 * backlog being removed.
 */
import type { Logger } from '../core/log.js';
import { retentionCutoff } from '../logs/model.js';
import type { LogsContext } from '../logs/ops.js';
import { Controller } from './runtime.js';

export interface LogRetentionOptions {
  /** Time between passes (ms; default 60 s). */
  readonly intervalMs?: number;
  readonly log?: Logger;
}

/** One pass: deletes every group's expired events as of `ctx.now()`; returns how many. */
export async function expireLogEventsOnce(ctx: LogsContext): Promise<number> {
  let total = 0;
  for (const g of ctx.logs.groupsWithRetention()) {
    const before = retentionCutoff(g.retentionInDays!, ctx.now());
    for (;;) {
      const n = ctx.logs.expire(g.id, before);
      total += n;
      if (n === 0) break;
      // Let requests in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return total;
}

export function createLogRetention(ctx: LogsContext, opts: LogRetentionOptions = {}): Controller {
  return new Controller({
    name: 'log-retention',
    ...(opts.log ? { log: opts.log } : {}),
    keys: () => Promise.resolve(['retention']),
    resyncEveryMs: opts.intervalMs ?? 60_000,
    sync: async () => {
      const removed = await expireLogEventsOnce(ctx);
      if (removed > 0) opts.log?.debug({ removed }, 'expired log events deleted');
      return {};
    },
  });
}

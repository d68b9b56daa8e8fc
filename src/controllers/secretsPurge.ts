/**
 * Removes secrets once their scheduled deletion date has passed (DeleteSecret
 * with a recovery window), values included. Until then they are already
 * invisible to reads past that date; this pass drops the rows. One key,
 * synced every `intervalMs`.
 */
import type { Logger } from '../core/log.js';
import type { SecretsContext } from '../secrets/context.js';
import { purgeExpiredSecrets } from '../secrets/secrets.js';
import { Controller } from './runtime.js';

export function createSecretsPurge(ctx: SecretsContext, opts: { intervalMs?: number; log?: Logger } = {}): Controller {
  return new Controller({
    name: 'secrets-purge',
    ...(opts.log ? { log: opts.log } : {}),
    keys: () => Promise.resolve(['purge']),
    resyncEveryMs: opts.intervalMs ?? 60_000,
    sync: async () => {
      const removed = await purgeExpiredSecrets(ctx);
      if (removed > 0) opts.log?.info({ removed }, 'removed secrets past their deletion date');
    },
  });
}

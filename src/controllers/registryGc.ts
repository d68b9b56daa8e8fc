/**
 * The registry's garbage collector as a control loop: one key, synced every
 * `intervalMs` (a safety net and the schedule) and `afterDeleteMs` after an
 * image is deleted (several deletes in that time make one pass). A failed
 * pass is retried with backoff. What a pass removes, and why that is safe
 * while pushes run, is `collectGarbage`'s contract.
 */
import type { Logger } from '../core/log.js';
import type { EcrContext } from '../ecr/context.js';
import { collectGarbage, type GcOptions, type GcResult } from '../registry/gc.js';
import { Controller } from './runtime.js';

export interface RegistryGcOptions extends Partial<GcOptions> {
  /** Time between scheduled passes (ms; default one hour). */
  intervalMs?: number;
  /** Delay from an image delete to the pass it triggers (ms; default 10 s). */
  afterDeleteMs?: number;
  log?: Logger;
  /** Called after every pass (metrics, tests). */
  onPass?(result: GcResult): void;
}

/** One hour: a push's blobs wait at most this long for the manifest that names them. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
/** A day: an upload session idle this long is abandoned. */
export const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;

const KEY = 'registry-gc';

export class RegistryGarbageCollector {
  private readonly runtime: Controller;

  constructor(
    private readonly ctx: EcrContext,
    private readonly opts: RegistryGcOptions = {},
  ) {
    const gc: GcOptions = { graceMs: opts.graceMs ?? DEFAULT_GC_GRACE_MS, uploadExpiryMs: opts.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS };
    this.runtime = new Controller({
      name: 'registry-gc',
      watch: {
        feed: ctx.store,
        onChanges: (changes) => {
          if (changes.some((c) => c.kind === 'image' && c.op === 'delete')) this.runtime.enqueueAfter(KEY, this.opts.afterDeleteMs ?? 10_000);
        },
      },
      ...(opts.log ? { log: opts.log } : {}),
      keys: () => Promise.resolve([KEY]),
      resyncEveryMs: opts.intervalMs ?? 60 * 60 * 1000,
      sync: async () => {
        const result = await collectGarbage(this.ctx, gc);
        if (result.links + result.blobs + result.uploads > 0) opts.log?.info({ ...result }, 'registry garbage collected');
        opts.onPass?.(result);
      },
    });
  }

  start(): void {
    this.runtime.start();
  }

  /** Runs a pass now (or once more after the one running). */
  collect(): void {
    this.runtime.enqueue(KEY);
  }

  /** Resolves when no pass is queued or running (tests). */
  idle(): Promise<void> {
    return this.runtime.idle();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }
}

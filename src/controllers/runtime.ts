/**
 * The runtime every control loop runs on: a keyed work queue with
 * per-key backoff, in the manner of Kubernetes controllers.
 *
 * Contract:
 * - `enqueue(key)` asks for one `sync(key)`. A key waiting in the queue is
 *   not queued twice; a key enqueued while its sync runs is synced once more
 *   after it (level-triggered: a sync reads desired and actual state and
 *   acts on the difference, so coalescing requests loses nothing).
 * - One key is never synced twice at the same time; different keys run up
 *   to `concurrency` at once.
 * - A sync that throws is retried after an exponential backoff with full
 *   jitter (per key, reset by the next success); the error is logged with
 *   the key. A sync may return `{ requeueAfterMs }` to be synced again later
 *   (a timer, a grace period); an `enqueue` in between runs it sooner.
 * - `resyncEveryMs`, with `keys()`, enqueues every key periodically: the
 *   safety net for a change the loop missed; `resyncOnStart` does it once
 *   at `start()` (what changed while the server was down).
 * - `watch` follows a change feed from `start()` to `stop()`, handing each
 *   batch of changes to its `onChanges`, which enqueues the keys it affects.
 * - `stop()` stops taking work, cancels timers and waits for the syncs in
 *   flight; nothing runs after it resolves. Timers never keep the process
 *   alive.
 */
import { fullJitterDelay, type BackoffOptions } from '../core/backoff.js';
import type { Logger } from '../core/log.js';
import type { Change, ChangeListener } from '../store/store.js';

export interface SyncResult {
  /** Sync this key again after this many milliseconds (unless enqueued sooner). */
  readonly requeueAfterMs?: number;
}

export interface ControllerOptions {
  /** For logs. */
  readonly name: string;
  readonly sync: (key: string) => Promise<SyncResult | void>;
  /** Syncs of different keys at once (default 1). */
  readonly concurrency?: number;
  /** Retry delays after a failed sync (default 100 ms doubling to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Every key to sync on a periodic resync. */
  readonly keys?: () => Promise<readonly string[]>;
  readonly resyncEveryMs?: number;
  /** Enqueue every key `keys()` lists once at `start()`. */
  readonly resyncOnStart?: boolean;
  /** A change feed followed while the controller runs; `onChanges` enqueues the keys a batch affects. */
  readonly watch?: { readonly feed: { watch(listener: ChangeListener): () => void }; readonly onChanges: (changes: readonly Change[]) => void };
  readonly log?: Logger;
}

export interface ControllerStats {
  syncs: number;
  failures: number;
  queued: number;
  running: number;
}

const DEFAULT_RETRY: BackoffOptions = { baseMs: 100, capMs: 30_000 };

export class Controller {
  private readonly queue: string[] = [];
  private unwatch: (() => void) | undefined;
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys enqueued while their sync ran: queued again when it ends. */
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly attempts = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private readonly counters = { syncs: 0, failures: 0 };

  constructor(private readonly opts: ControllerOptions) {}

  get name(): string {
    return this.opts.name;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.opts.watch) this.unwatch = this.opts.watch.feed.watch((changes) => this.opts.watch!.onChanges(changes));
    const every = this.opts.resyncEveryMs;
    if (every !== undefined && this.opts.keys !== undefined) {
      this.resyncTimer = setInterval(() => void this.resync(), every);
      this.resyncTimer.unref();
    }
    this.pump();
    if (this.opts.resyncOnStart) void this.resync();
  }

  /** Enqueues every key `keys()` lists now. */
  async resync(): Promise<void> {
    if (this.stopped || this.opts.keys === undefined) return;
    try {
      for (const key of await this.opts.keys()) this.enqueue(key);
    } catch (err) {
      this.opts.log?.warn({ err, controller: this.opts.name }, 'could not list keys to resync; trying again at the next resync');
    }
  }

  enqueue(key: string): void {
    if (this.stopped) return;
    const timer = this.timers.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Enqueues `key` after `ms`, unless it is enqueued sooner. A later call replaces an earlier pending one. */
  enqueueAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const existing = this.timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.enqueue(key);
    }, Math.max(0, ms));
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Forgets a key's pending retries and timers (its object is gone). */
  forget(key: string): void {
    const timer = this.timers.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(key);
    this.attempts.delete(key);
  }

  stats(): ControllerStats {
    return { ...this.counters, queued: this.queue.length, running: this.running.size };
  }

  /** Resolves when nothing is queued, running or due within `withinMs` (tests). */
  async idle(withinMs = 0): Promise<void> {
    for (;;) {
      if (this.queue.length === 0 && this.running.size === 0 && (withinMs === 0 || this.timers.size === 0)) return;
      await Promise.race([...this.inflight, new Promise((r) => setTimeout(r, 5))]);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.again.clear();
    await Promise.allSettled([...this.inflight]);
  }

  private pump(): void {
    if (!this.started || this.stopped) return;
    const limit = this.opts.concurrency ?? 1;
    while (this.running.size < limit && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.running.add(key);
      const p = this.run(key);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  private async run(key: string): Promise<void> {
    let retryAfter: number | undefined;
    let requeueAfter: number | undefined;
    try {
      this.counters.syncs++;
      const result = await this.opts.sync(key);
      this.attempts.delete(key);
      requeueAfter = result?.requeueAfterMs;
    } catch (err) {
      this.counters.failures++;
      const attempt = this.attempts.get(key) ?? 0;
      this.attempts.set(key, attempt + 1);
      retryAfter = Math.max(1, fullJitterDelay(attempt, this.opts.backoff ?? DEFAULT_RETRY));
      this.opts.log?.warn({ err, controller: this.opts.name, key, attempt: attempt + 1, retryInMs: retryAfter }, 'sync failed; retrying');
    } finally {
      this.running.delete(key);
    }
    if (this.stopped) return;
    if (this.again.delete(key)) this.enqueue(key);
    else if (retryAfter !== undefined) this.enqueueAfter(key, retryAfter);
    else if (requeueAfter !== undefined) this.enqueueAfter(key, requeueAfter);
    this.pump();
  }
}

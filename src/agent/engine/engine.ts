/**
 * The task engine: keeps every task on this instance converging to what the
 * server wants, one serialized loop per task.
 *
 * A loop pass observes the task's containers through the runtime, runs the
 * pure reconciler, applies the effects through the executor and commits the
 * record (persisted first, then announced to listeners). Passes are
 * triggered by pushes (`setDesired`), by runtime events for the task's
 * containers, by the reconciler's own deadlines, and by a periodic resync,
 * so a missed event only delays convergence.
 *
 * Restart safety: records are persisted on every change; a new engine over
 * the same store adopts the containers it finds (by id, or by the task's
 * labels for containers created just before a crash) and never creates a
 * second container for the same task container (names are deterministic).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { AgentTask } from '../protocol.js';
import {
  ContainerNotFoundError,
  type ContainerRuntime,
  type ContainerState,
  type EventSubscription,
  type ImagePullBehavior,
} from '../runtime/runtime.js';
import { EffectExecutor } from './executor.js';
import type { ContainerRecord, TaskRecord } from './model.js';
import { applyOutcome, observe, reconcile, RETRY_DELAY_MS } from './reconcile.js';
import { LABEL_CONTAINER_NAME, LABEL_TASK_ARN, newTaskRecord } from './spec.js';

/** Where the engine keeps its task records (the agent's state dir, or memory in tests). */
export interface TaskStore {
  loadTasks(): Promise<TaskRecord[]>;
  /** Durably replaces the record of `r.taskArn`. */
  saveTask(r: TaskRecord): Promise<void>;
  deleteTask(taskArn: string): Promise<void>;
}

export interface TaskEngineOptions {
  runtime: ContainerRuntime;
  store: TaskStore;
  log?: Logger;
  /** `http://<addr>:<port>` of the task metadata endpoint; containers get it in their environment. */
  metadataEndpoint?: string;
  /** How long stopped tasks keep their containers before removal. Default 1 hour. */
  cleanupWaitMs?: number;
  pullBehavior?: ImagePullBehavior;
  /** Every task is re-examined at least this often. Default 30 s. */
  resyncIntervalMs?: number;
  now?: () => number;
}

/** A committed change of a task record; `previous` is undefined for a new task. */
export type TaskChangeListener = (record: TaskRecord, previous: TaskRecord | undefined) => void;

export const DEFAULT_CLEANUP_WAIT_MS = 60 * 60 * 1000;
const DEFAULT_RESYNC_MS = 30_000;
/** Upper bound on passes in one burst; a task still changing after that is resumed shortly. */
const MAX_PASSES_PER_BURST = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Loop {
  taskArn: string;
  running: Promise<void> | undefined;
  dirty: boolean;
  /** The next pass must look for the task's containers by label (records loaded from disk). */
  adopt: boolean;
  wakeAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class TaskEngine {
  private readonly runtime: ContainerRuntime;
  private readonly store: TaskStore;
  private readonly log: Logger;
  private readonly executor: EffectExecutor;
  private readonly cleanupWaitMs: number;
  private readonly resyncMs: number;
  private readonly now: () => number;
  private readonly records = new Map<string, TaskRecord>();
  private readonly loops = new Map<string, Loop>();
  private readonly listeners = new Set<TaskChangeListener>();
  private readonly forgetListeners = new Set<(taskArn: string) => void>();
  private events: EventSubscription | undefined;
  private resync: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(options: TaskEngineOptions) {
    this.runtime = options.runtime;
    this.store = options.store;
    this.log = options.log ?? silentLogger();
    this.cleanupWaitMs = options.cleanupWaitMs ?? DEFAULT_CLEANUP_WAIT_MS;
    this.resyncMs = options.resyncIntervalMs ?? DEFAULT_RESYNC_MS;
    this.now = options.now ?? Date.now;
    this.executor = new EffectExecutor(options.runtime, {
      ...(options.metadataEndpoint ? { metadataEndpoint: options.metadataEndpoint } : {}),
      ...(options.pullBehavior ? { pullBehavior: options.pullBehavior } : {}),
    });
  }

  /** Loads the stored records, subscribes to runtime events and starts converging every known task. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const r of await this.store.loadTasks()) {
      this.records.set(r.taskArn, r);
      this.loopFor(r.taskArn).adopt = true;
    }
    this.events = this.runtime.events(
      (ev) => {
        const arn = ev.labels[LABEL_TASK_ARN];
        if (arn && this.records.has(arn)) this.kick(arn);
      },
      {
        labels: { [LABEL_TASK_ARN]: true },
        onConnectionChange: (connected) => {
          // Events may have been missed while the stream was down.
          if (connected) this.kickAll();
        },
      },
    );
    this.resync = setInterval(() => this.kickAll(), this.resyncMs);
    this.resync.unref();
    this.kickAll();
  }

  /**
   * Replaces the desired task set (a complete push from the server). Tasks
   * missing from it are stopped; tasks already STOPPED here never restart.
   */
  async setDesired(tasks: readonly AgentTask[]): Promise<void> {
    const wanted = new Map(tasks.map((t) => [t.taskArn, t]));
    for (const t of tasks) {
      const r = this.records.get(t.taskArn);
      if (!r) {
        await this.commit(undefined, newTaskRecord(t, () => randomBytes(16).toString('hex')));
      } else if (!r.inDesiredSet || !same(r.task, t)) {
        await this.commit(r, { ...r, task: t, inDesiredSet: true });
      } else {
        continue;
      }
      this.kick(t.taskArn);
    }
    for (const r of [...this.records.values()]) {
      if (wanted.has(r.taskArn)) continue;
      if (r.cleaned) {
        await this.forget(r.taskArn);
      } else if (r.inDesiredSet) {
        await this.commit(r, { ...r, inDesiredSet: false });
        this.kick(r.taskArn);
      }
    }
  }

  /** Current records, oldest first. */
  tasks(): TaskRecord[] {
    return [...this.records.values()];
  }

  task(taskArn: string): TaskRecord | undefined {
    return this.records.get(taskArn);
  }

  /** The task and container a metadata token belongs to. */
  byMetadataToken(token: string): { task: TaskRecord; container: ContainerRecord } | undefined {
    for (const task of this.records.values()) {
      const container = task.containers.find((c) => c.metadataToken === token);
      if (container) return { task, container };
    }
    return undefined;
  }

  /** Subscribes to committed record changes; returns the unsubscribe function. */
  onChange(listener: TaskChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to tasks being dropped (cleaned up and no longer wanted by the server). */
  onForget(listener: (taskArn: string) => void): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  /**
   * Stops converging (timers, event subscription) and waits briefly for
   * passes in flight. Containers are left as they are.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resync);
    this.events?.stop();
    const inFlight: Promise<void>[] = [];
    for (const l of this.loops.values()) {
      clearTimeout(l.timer);
      if (l.running) inFlight.push(l.running);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(inFlight),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 5_000);
      }),
    ]);
    clearTimeout(timer);
  }

  // ---- loops -----------------------------------------------------------------

  private loopFor(taskArn: string): Loop {
    let l = this.loops.get(taskArn);
    if (!l) {
      l = { taskArn, running: undefined, dirty: false, adopt: false, wakeAt: undefined, timer: undefined };
      this.loops.set(taskArn, l);
    }
    return l;
  }

  private kickAll(): void {
    for (const r of this.records.values()) if (!r.cleaned) this.kick(r.taskArn);
  }

  /** Requests a pass over the task; passes of one task never overlap. */
  private kick(taskArn: string): void {
    if (this.stopped || !this.started) return;
    const l = this.loopFor(taskArn);
    if (l.running) {
      l.dirty = true;
      return;
    }
    l.running = this.runLoop(l).finally(() => {
      l.running = undefined;
    });
  }

  private async runLoop(l: Loop): Promise<void> {
    clearTimeout(l.timer);
    l.timer = undefined;
    for (let n = 0; !this.stopped; n++) {
      l.dirty = false;
      let more = false;
      try {
        more = await this.pass(l);
      } catch (err) {
        this.log.warn({ err, taskArn: l.taskArn }, 'task pass failed; retrying');
        l.wakeAt = this.now() + RETRY_DELAY_MS;
      }
      if (!more && !l.dirty) break;
      if (n >= MAX_PASSES_PER_BURST) {
        this.log.warn({ taskArn: l.taskArn }, 'task still changing after many passes; resuming shortly');
        l.wakeAt = this.now() + 1_000;
        break;
      }
    }
    if (this.stopped || !this.records.has(l.taskArn) || l.wakeAt === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, l.wakeAt - this.now()));
    l.timer = setTimeout(() => this.kick(l.taskArn), delay);
    l.timer.unref();
  }

  /** One observe → reconcile → apply round. Returns whether another pass is due right away. */
  private async pass(l: Loop): Promise<boolean> {
    const before = this.records.get(l.taskArn);
    l.wakeAt = undefined;
    if (!before || before.cleaned) return false;

    const observations = await this.observeRuntime(before, l.adopt);
    l.adopt = false;
    const observed = observe(before, observations, this.now());
    const plan = reconcile(observed, { now: this.now(), cleanupWaitMs: this.cleanupWaitMs });
    let record = this.withServerFields(plan.record);
    await this.commit(before, record);

    if (plan.effects.length) {
      const outcomes = await Promise.all(plan.effects.map((e) => this.executor.run(record, e)));
      let after = record;
      plan.effects.forEach((e, i) => {
        const outcome = outcomes[i]!;
        if (!outcome.ok) this.log.info({ taskArn: l.taskArn, effect: e, outcome }, 'task effect failed');
        after = applyOutcome(after, e, outcome, this.now());
      });
      after = this.withServerFields(after);
      await this.commit(record, after);
      record = after;
    }

    l.wakeAt = plan.wakeAt;
    if (record.retryAt !== undefined) l.wakeAt = Math.min(l.wakeAt ?? Infinity, record.retryAt);
    if (record.cleaned && !record.inDesiredSet) {
      await this.forget(record.taskArn);
      return false;
    }
    return plan.effects.length > 0 || !same(before, record);
  }

  /** Engine state of the task's containers; `adopt` also finds containers the record has no id for. */
  private async observeRuntime(r: TaskRecord, adopt: boolean): Promise<Map<string, ContainerState | 'gone'>> {
    const out = new Map<string, ContainerState | 'gone'>();
    const ids = new Map<string, string>();
    for (const c of r.containers) if (c.runtimeId && !c.removed) ids.set(c.name, c.runtimeId);
    if (adopt && r.status !== 'STOPPED') {
      for (const s of await this.runtime.list({ [LABEL_TASK_ARN]: r.taskArn })) {
        const name = s.labels[LABEL_CONTAINER_NAME];
        if (name && !ids.has(name) && r.containers.some((c) => c.name === name && !c.runtimeId)) ids.set(name, s.id);
      }
    }
    await Promise.all(
      [...ids].map(async ([name, id]) => {
        try {
          out.set(name, await this.runtime.inspect(id));
        } catch (err) {
          if (err instanceof ContainerNotFoundError) out.set(name, 'gone');
          else throw err;
        }
      }),
    );
    return out;
  }

  /**
   * `r` with the server-owned fields as they are now: a push may have landed
   * while the pass ran, and a pass must never undo it.
   */
  private withServerFields(r: TaskRecord): TaskRecord {
    const current = this.records.get(r.taskArn);
    if (!current || (current.task === r.task && current.inDesiredSet === r.inDesiredSet)) return r;
    return { ...r, task: current.task, inDesiredSet: current.inDesiredSet };
  }

  /** Persists and announces a record change; no-op when nothing changed. */
  private async commit(previous: TaskRecord | undefined, next: TaskRecord): Promise<void> {
    if (previous && same(previous, next)) return;
    this.records.set(next.taskArn, next);
    await this.store.saveTask(next);
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.log.warn({ err }, 'task change listener failed');
      }
    }
  }

  private async forget(taskArn: string): Promise<void> {
    this.records.delete(taskArn);
    const l = this.loops.get(taskArn);
    if (l) clearTimeout(l.timer);
    this.loops.delete(taskArn);
    await this.store.deleteTask(taskArn);
    for (const listener of this.forgetListeners) {
      try {
        listener(taskArn);
      } catch (err) {
        this.log.warn({ err }, 'task forget listener failed');
      }
    }
  }
}

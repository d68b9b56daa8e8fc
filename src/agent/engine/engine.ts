/**
 * The task engine: keeps every task on this instance converging to what the
 * server wants, one serialized loop per task.
 *
 * A loop pass observes the task's containers through the runtime (when
 * something may have changed behind the engine's back), runs the pure
 * reconciler, commits the record (announced to listeners at once, written
 * to the store behind), and applies the effects through the executor. The
 * effects' outcomes (with the container states the executor read after
 * starting or stopping) are folded into the record and reconciled by the
 * next pass, which commits both together. Passes are triggered by pushes
 * (`setDesired`), by runtime events for the task's containers, by the
 * reconciler's own deadlines, and by a periodic resync, so a missed event
 * only delays convergence.
 *
 * Restart safety: every committed record is written to the store, and a
 * record is durable before a container is created from it (the container
 * carries its metadata token). A new engine over the same store adopts the
 * containers it finds (by id, or by the task's labels for containers created
 * before their record was written) and never creates a second container for
 * the same task container (names are deterministic).
 */
import type { SecretReference } from '../credentials/secrets.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { silentLogger } from '../../core/log.js';
import { sameTask, type AgentTask } from '../../protocol/agent.js';
import {
  ContainerNotFoundError,
  type ContainerEvent,
  type ContainerRuntime,
  type ContainerState,
  type EventSubscription,
  type ImagePullBehavior,
  type RegistryAuth,
} from '../runtime/runtime.js';
import { EffectExecutor, type ExecutorOptions } from './executor.js';
import type { ContainerRecord, TaskRecord } from './model.js';
import { applyOutcome, observe, reconcile, RETRY_DELAY_MS } from './reconcile.js';
import { LABEL_CONTAINER_NAME, LABEL_TASK_ARN, newTaskRecord } from './spec.js';

/** Where the engine keeps its task records (the agent's state dir, or memory in tests). */
export interface TaskStore {
  loadTasks(): Promise<TaskRecord[]>;
  /**
   * Stores the record of `r.taskArn` in place of the previous one; resolves
   * once it, or a newer record of the task, is written. Writes of one task
   * apply in call order. The first record of a task is durable when this
   * resolves; later ones may be written behind (what they add is observed
   * again after a power loss).
   */
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
  /** Credentials to pull an image with (the Berth registry's), or undefined for none. */
  registryAuth?: ExecutorOptions['registryAuth'];
  /** The environment variables of a container's `secrets` (see ExecutorOptions.containerSecrets). */
  containerSecrets?: ExecutorOptions['containerSecrets'];
  /** The username and password in a `repositoryCredentials` secret (see ExecutorOptions.repositoryCredentials). */
  repositoryCredentials?: ExecutorOptions['repositoryCredentials'];
  /** See SpecContext.roleEnvironment. */
  roleEnvironment?: ExecutorOptions['roleEnvironment'];
  /** See ExecutorOptions.prepareAwslogs. */
  prepareAwslogs?: ExecutorOptions['prepareAwslogs'];
  /** Every task is re-examined at least this often. Default 30 s. */
  resyncIntervalMs?: number;
  now?: () => number;
}

/** A committed change of a task record; `previous` is undefined for a new task. */
export type TaskChangeListener = (record: TaskRecord, previous: TaskRecord | undefined) => void;

/** As the ECS agent's default task clean-up wait. */
export const DEFAULT_CLEANUP_WAIT_MS = 3 * 60 * 60 * 1000;
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
  /** Engine ids of containers a pass is starting right now. */
  starting: Set<string>;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

interface PassResult {
  /** Another pass is due right away. */
  more: boolean;
  /** The record after this pass's effects, for the next pass to reconcile and commit. */
  outcomes?: TaskRecord;
  /** The next pass must observe the runtime. */
  look?: boolean;
}

const NOTHING_OBSERVED: ReadonlyMap<string, ContainerState | 'gone'> = new Map();

export class TaskEngine {
  private readonly runtime: ContainerRuntime;
  private readonly store: TaskStore;
  private readonly log: Logger;
  /** The host's lack of task groups is logged once, not per task. */
  private warnedTaskGroups = false;
  private readonly executor: EffectExecutor;
  private readonly cleanupWaitMs: number;
  private readonly resyncMs: number;
  private readonly now: () => number;
  private readonly records = new Map<string, TaskRecord>();
  private readonly loops = new Map<string, Loop>();
  private readonly listeners = new Set<TaskChangeListener>();
  private readonly forgetListeners = new Set<(taskArn: string) => void>();
  /** Whether the first write of a record made by this engine succeeded, until a write does. */
  private readonly firstSaves = new Map<string, Promise<boolean>>();
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
      ...(options.registryAuth ? { registryAuth: options.registryAuth } : {}),
      ...(options.containerSecrets ? { containerSecrets: options.containerSecrets } : {}),
      ...(options.repositoryCredentials ? { repositoryCredentials: options.repositoryCredentials } : {}),
      ...(options.prepareAwslogs ? { prepareAwslogs: options.prepareAwslogs } : {}),
      ...(options.roleEnvironment ? { roleEnvironment: options.roleEnvironment } : {}),
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
        if (arn && this.records.has(arn) && !this.knownStart(arn, ev)) this.kick(arn);
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
   * A push of a task that only moved its `version` changes nothing here.
   */
  async setDesired(tasks: readonly AgentTask[]): Promise<void> {
    const wanted = new Map(tasks.map((t) => [t.taskArn, t]));
    for (const t of tasks) {
      const r = this.records.get(t.taskArn);
      if (!r) {
        this.commit(undefined, newTaskRecord(t, () => randomBytes(16).toString('hex')));
      } else if (!r.inDesiredSet || !sameTask(r.task, t)) {
        this.commit(r, { ...r, task: t, inDesiredSet: true });
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
        this.commit(r, { ...r, inDesiredSet: false });
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
      l = { taskArn, running: undefined, dirty: false, adopt: false, wakeAt: undefined, timer: undefined, starting: new Set() };
      this.loops.set(taskArn, l);
    }
    return l;
  }

  private kickAll(): void {
    for (const r of this.records.values()) if (!r.cleaned) this.kick(r.taskArn);
  }

  /**
   * A `start` event tells nothing new about a container the engine is
   * starting (the start's outcome carries the state read after it) or
   * already knows to run.
   */
  private knownStart(taskArn: string, ev: ContainerEvent): boolean {
    if (ev.kind !== 'start') return false;
    if (this.loops.get(taskArn)?.starting.has(ev.containerId)) return true;
    return this.records.get(taskArn)?.containers.some((c) => c.runtimeId === ev.containerId && c.phase === 'RUNNING') ?? false;
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
    // The first pass of a burst looks at the runtime; later ones only when an event or push came in meanwhile.
    let look = true;
    let outcomes: TaskRecord | undefined;
    for (let n = 0; !this.stopped; n++) {
      if (l.dirty) look = true;
      l.dirty = false;
      let result: PassResult = { more: false };
      try {
        result = await this.pass(l, look, outcomes);
      } catch (err) {
        this.log.warn({ err, taskArn: l.taskArn }, 'task pass failed; retrying');
        l.wakeAt = this.now() + RETRY_DELAY_MS;
      }
      outcomes = result.outcomes;
      look = result.look ?? false;
      if (!result.more && !l.dirty) break;
      if (n >= MAX_PASSES_PER_BURST) {
        this.log.warn({ taskArn: l.taskArn }, 'task still changing after many passes; resuming shortly');
        l.wakeAt = this.now() + 1_000;
        break;
      }
    }
    if (outcomes) this.commitOutcomes(outcomes);
    if (this.stopped || !this.records.has(l.taskArn) || l.wakeAt === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, l.wakeAt - this.now()));
    l.timer = setTimeout(() => this.kick(l.taskArn), delay);
    l.timer.unref();
  }

  /**
   * One (observe →) reconcile → commit → apply round over the committed
   * record, or over `outcomes` of the previous pass's effects when given.
   * `look`: observe the runtime first.
   */
  private async pass(l: Loop, look: boolean, outcomes: TaskRecord | undefined): Promise<PassResult> {
    const committed = this.records.get(l.taskArn);
    l.wakeAt = undefined;
    if (!committed || committed.cleaned) return { more: false };
    const base = outcomes ? this.withServerFields(outcomes) : committed;

    let observations = NOTHING_OBSERVED;
    if (look) {
      try {
        observations = await this.observeRuntime(base, l.adopt);
      } catch (err) {
        // What the last effects came to is kept, unreconciled, for the retry.
        if (outcomes) this.commit(committed, base);
        throw err;
      }
      l.adopt = false;
    }
    const observed = observe(base, observations, this.now());
    const plan = reconcile(observed, { now: this.now(), cleanupWaitMs: this.cleanupWaitMs });
    const record = this.withServerFields(plan.record);
    this.commit(committed, record);

    l.wakeAt = plan.wakeAt;
    if (record.retryAt !== undefined) l.wakeAt = Math.min(l.wakeAt ?? Infinity, record.retryAt);
    if (record.cleaned && !record.inDesiredSet) {
      await this.forget(record.taskArn);
      return { more: false };
    }
    if (plan.effects.length === 0) return { more: !same(committed, record) };

    // A container carries its record's metadata token (fixed when the record is made): some version of
    // the record must survive a crash before the container exists.
    if (plan.effects.some((e) => e.kind === 'create')) await this.stored(record);
    const starting = plan.effects.flatMap((e) => {
      const id = e.kind === 'start' ? record.containers.find((c) => c.name === e.container)?.runtimeId : undefined;
      return id ? [id] : [];
    });
    for (const id of starting) l.starting.add(id);
    // The executor never throws.
    const results = await Promise.all(plan.effects.map((e) => this.executor.run(record, e)));
    for (const id of starting) l.starting.delete(id);
    let after = record;
    const states = new Map<string, ContainerState | 'gone'>();
    let lookNext = false;
    plan.effects.forEach((e, i) => {
      const outcome = results[i]!;
      if (!outcome.ok) this.log.info({ taskArn: l.taskArn, effect: e, outcome }, 'task effect failed');
      else if (outcome.taskGroup && 'unsupported' in outcome.taskGroup && !this.warnedTaskGroups) {
        this.warnedTaskGroups = true;
        this.log.warn(
          { reason: outcome.taskGroup.unsupported },
          'task-level cpu/memory are enforced on each container separately: this host cannot bound a task\'s containers together',
        );
      }
      after = applyOutcome(after, e, outcome, this.now());
      if (outcome.ok && outcome.state !== undefined && 'container' in e) states.set(e.container, outcome.state);
      // Without the state read after a start or stop, the next pass looks for itself.
      else if (e.kind === 'start' || e.kind === 'stop') lookNext = true;
    });
    if (states.size) after = observe(after, states, this.now());
    return { more: true, outcomes: after, look: lookNext };
  }

  /**
   * Resolves once some version of the task's record is stored: waits for
   * its first write, and when that failed writes `record` (throws if this
   * fails too).
   */
  private async stored(record: TaskRecord): Promise<void> {
    const first = this.firstSaves.get(record.taskArn);
    if (!first || (await first)) return;
    await this.store.saveTask(record);
    this.firstSaves.delete(record.taskArn);
  }

  /** Commits what effects came to when no pass follows to reconcile it. */
  private commitOutcomes(outcomes: TaskRecord): void {
    const committed = this.records.get(outcomes.taskArn);
    if (committed && !committed.cleaned) this.commit(committed, this.withServerFields(outcomes));
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

  /**
   * Announces a record change and has the store write it behind; no-op when
   * nothing changed. A failed write is logged (the next commit writes again).
   */
  private commit(previous: TaskRecord | undefined, next: TaskRecord): void {
    if (previous && same(previous, next)) return;
    this.records.set(next.taskArn, next);
    const saved = this.store.saveTask(next).then(
      () => {
        this.firstSaves.delete(next.taskArn);
        return true;
      },
      (err: unknown) => {
        this.log.warn({ err, taskArn: next.taskArn }, 'could not store a task record');
        return false;
      },
    );
    if (!previous) this.firstSaves.set(next.taskArn, saved);
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ taskArn: next.taskArn, status: next.status, containers: next.containers.map((c) => c.phase).join(',') }, 'task record committed');
    }
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
    this.firstSaves.delete(taskArn);
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

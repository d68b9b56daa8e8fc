/**
 * Delivers task and container state changes to the server, in order per
 * task, until each is accepted.
 *
 * The reporter keeps, in its store, the queue of reports not yet accepted
 * and the view of each task it last queued, written at most
 * PERSIST_DELAY_MS after a change (and at once by `stop()`).
 * `observe(record)` compares the record with that view and queues what
 * changed, so it is level-triggered: calling it again with the same record
 * queues nothing, and calling it for every record after a restart queues
 * exactly what the previous run had not stored (after a crash, what it
 * changed in its last moments is reported again). A record behind the view
 * (an older one, read back after a crash) queues nothing: reports never go
 * backwards.
 *
 * Delivery: reports of one task go one at a time, oldest first; reports of
 * different tasks go concurrently (up to MAX_IN_FLIGHT). A task report
 * carries the task's full view, so when one is queued it replaces the
 * task's queued container reports that are not on their way yet, and its
 * queued task reports other than RUNNING (the server records the start time
 * from that one): the server ends in the same state with fewer calls.
 * Network failures, throttling and server faults are retried with
 * exponential backoff and full jitter; a report the server rejects as
 * invalid (an unknown task, say) is dropped, since resending cannot help.
 */
import { REPORT_STOP_CODE_MEMBER } from '../../protocol/agent.js';
import type { NetworkBinding as SdkNetworkBinding } from '@aws-sdk/client-ecs';
import type { Logger } from '../../core/log.js';
import { silentLogger } from '../../core/log.js';
import { statusIndex, type TaskRecord } from '../engine/model.js';
import { DEFAULT_BACKOFF, fullJitterDelay, type BackoffOptions } from '../../core/backoff.js';
import { EcsApiError, type EcsClient } from './ecs.js';
import { initialView, reportsBetween, taskView, type ContainerView, type Report, type TaskView } from './reports.js';

/** The two ECS operations the reporter calls. */
export interface StateChangeApi {
  submitTask(view: TaskView): Promise<void>;
  submitContainer(taskArn: string, cluster: string, container: ContainerView): Promise<void>;
}

/** Where the reporter keeps its queue and views (the agent's state dir). */
export interface ReporterStore {
  loadReporterState<T>(): Promise<T | undefined>;
  saveReporterState<T>(state: T): Promise<void>;
}

interface QueuedReport {
  id: number;
  report: Report;
}

interface ReporterState {
  nextId: number;
  queue: QueuedReport[];
  views: Record<string, TaskView>;
}

export interface ReporterOptions {
  api: StateChangeApi;
  store: ReporterStore;
  log?: Logger;
  backoff?: BackoffOptions;
  /** Oldest reports are dropped beyond this many (a very long outage). Default 10 000. */
  maxQueue?: number;
}

/** Reports of different tasks on their way at once. */
const MAX_IN_FLIGHT = 4;
/** Changes in a burst are stored together: the state holds every task's view, so it is not small. */
const PERSIST_DELAY_MS = 200;

/** ECS timestamps on the wire: epoch seconds. */
const toSeconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

function bindings(list: ContainerView['networkBindings']): SdkNetworkBinding[] {
  return list.map((b) => ({ bindIP: b.bindIP, containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol }));
}

function containerChange(c: ContainerView) {
  return {
    containerName: c.containerName,
    ...(c.runtimeId !== undefined ? { runtimeId: c.runtimeId } : {}),
    status: c.status,
    ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    networkBindings: bindings(c.networkBindings),
  };
}

/** StateChangeApi over an ECS client pointed at the Berth server. */
export function ecsStateChangeApi(client: EcsClient): StateChangeApi {
  return {
    async submitTask(view) {
      await client.call('SubmitTaskStateChange', {
        cluster: view.cluster,
        task: view.taskArn,
        status: view.status,
        ...(view.reason !== undefined ? { reason: view.reason } : {}),
        ...(view.stopCode !== undefined ? { [REPORT_STOP_CODE_MEMBER]: view.stopCode } : {}),
        containers: view.containers.map(containerChange),
        pullStartedAt: toSeconds(view.pullStartedAt),
        pullStoppedAt: toSeconds(view.pullStoppedAt),
        executionStoppedAt: toSeconds(view.executionStoppedAt),
      });
    },
    async submitContainer(taskArn, cluster, c) {
      await client.call('SubmitContainerStateChange', { cluster, task: taskArn, ...containerChange(c) });
    },
  };
}

const RETRYABLE_CLIENT_ERRORS = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ServerException',
  'ServiceUnavailableException',
]);

/**
 * True when resending the same request cannot succeed: the server answered
 * with a client error other than throttling or authentication.
 */
export function isPermanentRejection(err: unknown): boolean {
  if (!(err instanceof EcsApiError)) return false;
  if (RETRYABLE_CLIENT_ERRORS.has(err.name)) return false;
  const status = err.statusCode;
  return status >= 400 && status < 500 && status !== 403 && status !== 408 && status !== 429;
}

const reportTask = (r: Report): string => (r.kind === 'task' ? r.view.taskArn : r.taskArn);

const CONTAINER_ORDER = ['PENDING', 'RUNNING', 'STOPPED'];

/** Whether `view` is behind `reported`: its task or one of its containers is at an earlier status. */
function isBehind(view: TaskView, reported: TaskView): boolean {
  if (statusIndex(view.status) < statusIndex(reported.status)) return true;
  return view.containers.some((c) => {
    const before = reported.containers.find((x) => x.containerName === c.containerName);
    return before !== undefined && CONTAINER_ORDER.indexOf(c.status) < CONTAINER_ORDER.indexOf(before.status);
  });
}

export class Reporter {
  private readonly api: StateChangeApi;
  private readonly store: ReporterStore;
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly maxQueue: number;
  private state: ReporterState = { nextId: 1, queue: [], views: {} };
  private started = false;
  private stopped = false;
  /** Report ids on their way, by task. */
  private readonly inFlight = new Map<string, number>();
  private readonly sending = new Set<Promise<void>>();
  /** No new delivery starts before this (epoch ms) after a transient failure. */
  private pausedUntil = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(options: ReporterOptions) {
    this.api = options.api;
    this.store = options.store;
    this.log = options.log ?? silentLogger();
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.maxQueue = options.maxQueue ?? 10_000;
  }

  /** Loads the stored queue and starts delivering. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const stored = await this.store.loadReporterState<ReporterState>();
    if (stored && Array.isArray(stored.queue)) this.state = { nextId: stored.nextId ?? 1, queue: stored.queue, views: stored.views ?? {} };
    this.pump();
  }

  /** Queues the reports that bring the server up to `record`. */
  observe(record: TaskRecord): void {
    const next = taskView(record);
    const stored = this.state.views[record.taskArn];
    if (stored && JSON.stringify(stored) === JSON.stringify(next)) return;
    // A record older than what was reported (one stored behind, read after a crash) waits for a fresher one.
    if (stored && isBehind(next, stored)) return;
    const reports = reportsBetween(stored ?? initialView(record), next);
    this.state.views[record.taskArn] = next;
    if (reports.some((r) => r.kind === 'task')) this.dropReplaced(record.taskArn);
    for (const report of reports) this.state.queue.push({ id: this.state.nextId++, report });
    if (this.state.queue.length > this.maxQueue) {
      const dropped = this.state.queue.splice(0, this.state.queue.length - this.maxQueue);
      this.log.warn({ dropped: dropped.length }, 'report queue full; oldest reports dropped');
    }
    this.persist();
    if (reports.length) this.pump();
  }

  /** Forgets the last view of a task that no longer exists here (its queued reports still go out). */
  forget(taskArn: string): void {
    if (!(taskArn in this.state.views)) return;
    delete this.state.views[taskArn];
    this.persist();
  }

  /** Retries now instead of waiting out the backoff (the server is back). */
  retryNow(): void {
    this.failures = 0;
    this.pausedUntil = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.pump();
  }

  /** Number of reports not yet accepted. */
  get pending(): number {
    return this.state.queue.length;
  }

  /** Resolves once the queue is empty. */
  idle(): Promise<void> {
    if (this.state.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering (the queue stays stored) and waits for the state to be written. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await Promise.allSettled([...this.sending]);
    while (this.saving || this.saveAgain) {
      this.saveNow();
      await this.saving;
    }
  }

  /**
   * A task report is about to be queued for `taskArn`: its queued reports
   * not yet on their way are covered by it, except a RUNNING task report.
   */
  private dropReplaced(taskArn: string): void {
    const sendingId = this.inFlight.get(taskArn);
    this.state.queue = this.state.queue.filter(
      (q) =>
        reportTask(q.report) !== taskArn ||
        q.id === sendingId ||
        (q.report.kind === 'task' && q.report.view.status === 'RUNNING'),
    );
  }

  /** Asks for the state to be written, at most PERSIST_DELAY_MS from now or from the end of the write running. */
  private persist(): void {
    this.saveAgain = true;
    if (this.stopped) this.saveNow();
    if (this.saving || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.saveNow(), PERSIST_DELAY_MS);
  }

  /** Starts writing the state if a write was asked for and none runs. */
  private saveNow(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.saving || !this.saveAgain) return;
    this.saveAgain = false;
    this.saving = this.store
      .saveReporterState(this.state)
      .catch((err: unknown) => this.log.warn({ err }, 'could not store report queue'))
      .finally(() => {
        // Cleared in the same step as the check below, so no request falls in between.
        this.saving = undefined;
        if (this.saveAgain) {
          if (this.stopped) this.saveNow();
          else this.saveTimer ??= setTimeout(() => this.saveNow(), PERSIST_DELAY_MS);
        }
      });
  }

  /** Starts deliveries: the oldest report of each task not already on its way, up to MAX_IN_FLIGHT. */
  private pump(): void {
    if (!this.started || this.stopped) return;
    if (this.state.queue.length === 0) {
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const seen = new Set<string>();
    for (const q of this.state.queue) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) break;
      const task = reportTask(q.report);
      if (seen.has(task)) continue;
      seen.add(task);
      if (this.inFlight.has(task)) continue;
      this.deliver(task, q);
    }
  }

  private deliver(task: string, q: QueuedReport): void {
    this.inFlight.set(task, q.id);
    const debug = this.log.isLevelEnabled('debug');
    const what = !debug ? '' : q.report.kind === 'task' ? `task ${q.report.view.status}` : `container ${q.report.container.containerName} ${q.report.container.status}`;
    if (debug) this.log.debug({ taskArn: task, report: what }, 'state report sent');
    const p = new Promise<void>((resolve) => resolve(this.send(q.report))).then(
      () => {
        this.failures = 0;
        if (debug) this.log.debug({ taskArn: task, report: what }, 'state report accepted');
        this.accepted(q.id);
      },
      (err: unknown) => {
        if (isPermanentRejection(err)) {
          this.log.warn({ err, report: q.report }, 'server rejected a state report; dropping it');
          this.accepted(q.id);
        } else {
          const delay = fullJitterDelay(this.failures++, this.backoff);
          this.log.debug({ err, delay }, 'state report not delivered; retrying');
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
        }
      },
    );
    const tracked = p.finally(() => {
      this.inFlight.delete(task);
      this.sending.delete(tracked);
      this.pump();
    });
    this.sending.add(tracked);
  }

  /** Removes a report that needs no more delivery. */
  private accepted(id: number): void {
    const i = this.state.queue.findIndex((q) => q.id === id);
    if (i >= 0) this.state.queue.splice(i, 1);
    this.persist();
  }

  private send(report: Report): Promise<void> {
    return report.kind === 'task'
      ? this.api.submitTask(report.view)
      : this.api.submitContainer(report.taskArn, report.cluster, report.container);
  }
}

/**
 * Delivers task and container state changes to the server, in order, until
 * each is accepted.
 *
 * The reporter keeps, durably, the queue of reports not yet accepted and the
 * view of each task it last queued. `observe(record)` compares the record
 * with that view and queues what changed, so it is level-triggered: calling
 * it again with the same record queues nothing, and calling it for every
 * record after a restart queues exactly what the previous run had not.
 *
 * Delivery is one report at a time, oldest first (hence in order per task).
 * Network failures, throttling and server faults are retried with
 * exponential backoff and full jitter; a report the server rejects as
 * invalid (an unknown task, say) is dropped, since resending cannot help.
 */
import {
  SubmitContainerStateChangeCommand,
  SubmitTaskStateChangeCommand,
  type ECSClient,
  type NetworkBinding as SdkNetworkBinding,
} from '@aws-sdk/client-ecs';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { TaskRecord } from '../engine/model.js';
import { DEFAULT_BACKOFF, fullJitterDelay, type BackoffOptions } from './backoff.js';
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

const toDate = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));

function bindings(list: ContainerView['networkBindings']): SdkNetworkBinding[] {
  return list.map((b) => ({ bindIP: b.bindIP, containerPort: b.containerPort, hostPort: b.hostPort, protocol: b.protocol }));
}

/** StateChangeApi over an ECS client pointed at the Berth server. */
export function ecsStateChangeApi(client: ECSClient): StateChangeApi {
  return {
    async submitTask(view) {
      await client.send(
        new SubmitTaskStateChangeCommand({
          cluster: view.cluster,
          task: view.taskArn,
          status: view.status,
          ...(view.reason !== undefined ? { reason: view.reason } : {}),
          containers: view.containers.map((c) => ({
            containerName: c.containerName,
            ...(c.runtimeId !== undefined ? { runtimeId: c.runtimeId } : {}),
            status: c.status,
            ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
            ...(c.reason !== undefined ? { reason: c.reason } : {}),
            networkBindings: bindings(c.networkBindings),
          })),
          pullStartedAt: toDate(view.pullStartedAt),
          pullStoppedAt: toDate(view.pullStoppedAt),
          executionStoppedAt: toDate(view.executionStoppedAt),
        }),
      );
    },
    async submitContainer(taskArn, cluster, c) {
      await client.send(
        new SubmitContainerStateChangeCommand({
          cluster,
          task: taskArn,
          containerName: c.containerName,
          ...(c.runtimeId !== undefined ? { runtimeId: c.runtimeId } : {}),
          status: c.status,
          ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
          ...(c.reason !== undefined ? { reason: c.reason } : {}),
          networkBindings: bindings(c.networkBindings),
        }),
      );
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
 * True when resending the same report cannot succeed: the server answered
 * with a client error other than throttling or authentication.
 */
export function isPermanentRejection(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (err as { name?: unknown }).name;
  if (typeof name === 'string' && RETRYABLE_CLIENT_ERRORS.has(name)) return false;
  return status !== undefined && status >= 400 && status < 500 && status !== 403 && status !== 408 && status !== 429;
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
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private failures = 0;
  private saving: Promise<void> | undefined;
  private saveAgain = false;
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
    this.kick();
  }

  /** Queues the reports that bring the server up to `record`. */
  observe(record: TaskRecord): void {
    const next = taskView(record);
    const stored = this.state.views[record.taskArn];
    if (stored && JSON.stringify(stored) === JSON.stringify(next)) return;
    const reports = reportsBetween(stored ?? initialView(record), next);
    this.state.views[record.taskArn] = next;
    for (const report of reports) this.state.queue.push({ id: this.state.nextId++, report });
    if (this.state.queue.length > this.maxQueue) {
      const dropped = this.state.queue.splice(0, this.state.queue.length - this.maxQueue);
      this.log.warn({ dropped: dropped.length }, 'report queue full; oldest reports dropped');
    }
    this.persist();
    if (reports.length) this.kick();
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
    this.wakeRetry?.();
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
    this.wakeRetry?.();
    await this.draining?.catch(() => undefined);
    await this.saving;
  }

  private persist(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = (async () => {
      do {
        this.saveAgain = false;
        try {
          await this.store.saveReporterState(this.state);
        } catch (err) {
          this.log.warn({ err }, 'could not store report queue');
        }
      } while (this.saveAgain);
    })().finally(() => {
      this.saving = undefined;
    });
  }

  private kick(): void {
    if (!this.started || this.stopped || this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (!this.stopped && this.state.queue.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const head = this.state.queue[0];
      if (!head) {
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      try {
        await this.send(head.report);
        this.failures = 0;
      } catch (err) {
        if (isPermanentRejection(err)) {
          this.log.warn({ err, report: head.report }, 'server rejected a state report; dropping it');
        } else {
          const delay = fullJitterDelay(this.failures++, this.backoff);
          this.log.debug({ err, delay }, 'state report not delivered; retrying');
          await this.sleep(delay);
          continue;
        }
      }
      if (this.state.queue[0]?.id === head.id) this.state.queue.shift();
      this.persist();
    }
  }

  private send(report: Report): Promise<void> {
    return report.kind === 'task'
      ? this.api.submitTask(report.view)
      : this.api.submitContainer(report.taskArn, report.cluster, report.container);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.retryTimer);
        this.wakeRetry = undefined;
        resolve();
      };
      this.wakeRetry = done;
      this.retryTimer = setTimeout(done, ms);
    });
  }
}

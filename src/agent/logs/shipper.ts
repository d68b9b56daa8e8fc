/**
 * Ships the output of containers whose task definition says
 * `logDriver: awslogs` to CloudWatch Logs (PutLogEvents on the Berth
 * endpoint, signed with the agent's credentials).
 *
 * The container itself logs to Docker's `json-file` driver; the agent
 * follows each container's output through the Engine API with timestamps,
 * joins multi-line events, batches them and sends them in order. Docker's
 * own awslogs driver fails container start in blocking mode when the
 * endpoint is down, and drops lines in non-blocking mode; here the output
 * on the host's disk is the buffer, so:
 *
 * - every line reaches its stream once, in order, with its own timestamp;
 * - the position acknowledged by the server is kept per container in the
 *   agent's state dir (`logs/<container id>.json`) and reading resumes
 *   from it after an agent restart or kill -9. The batch in flight when
 *   the agent died is recorded before it is sent; on resume the stream's
 *   tail is compared with it, so a batch the server had stored is not sent
 *   twice;
 * - a server that is away is retried with backoff, for as long as it
 *   takes. In blocking mode (the default) at most `max-buffer-size` bytes
 *   wait in memory and reading pauses beyond that (the lines wait on disk);
 *   in non-blocking mode lines beyond the bound are dropped and the agent
 *   logs how many, for which container.
 */
import { join } from 'node:path';
import { unlink } from 'node:fs/promises';
import type { Logger } from '../../core/log.js';
import { fullJitterDelay, type BackoffOptions } from '../../core/backoff.js';
import { EcsApiError } from '../channel/ecs.js';
import { definitionOf } from '../engine/spec.js';
import { taskId, type TaskRecord } from '../engine/model.js';
import { ContainerNotFoundError, type ContainerRuntime } from '../runtime/runtime.js';
import { readJson, writeFileAtomic } from '../state/files.js';
import {
  MAX_EVENT_MESSAGE_BYTES,
  advance,
  alreadyTaken,
  awslogsConfig,
  parseLogLine,
  takeBatch,
  type AwslogsConfig,
  type OutputPosition,
  type PendingEvent,
} from './awslogs.js';

/** The CloudWatch Logs calls the shipper makes (an EcsClient for the `logs` service). */
export interface LogsApi {
  call<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T>;
}

export interface LogShipperOptions {
  runtime: ContainerRuntime;
  api: LogsApi;
  /** The agent's data dir: positions live in `<dataDir>/logs/`. */
  dataDir: string;
  log: Logger;
  /** How often batches go out (ms). Default 1000. */
  flushIntervalMs?: number;
  backoff?: BackoffOptions;
}

/** What preparing a container's log stream came to, for the engine. */
export type PrepareResult = { ok: true } | { ok: false; transient: boolean; message: string };

interface SavedState {
  acked?: { nanos: string; sameNanos: number };
  /** Events of the batch sent but not yet known to be stored. */
  pending?: number;
  /** The container stopped and all its output is stored. */
  done?: boolean;
}

const DEFAULT_FLUSH_MS = 1000;
const RETRY: BackoffOptions = { baseMs: 200, capMs: 10_000 };

function isApiError(err: unknown, name: string): boolean {
  return err instanceof EcsApiError && err.name === name;
}

/** The awslogs settings of a task's container, or undefined when it logs otherwise. */
function configOf(r: TaskRecord, name: string, containerId: string): AwslogsConfig | { error: string } | undefined {
  const log = definitionOf(r.task, name).logConfiguration;
  if (log?.logDriver !== 'awslogs') return undefined;
  return awslogsConfig((log.options ?? {}) as Record<string, string>, { containerName: name, taskId: taskId(r.taskArn), containerId });
}

export class LogShipper {
  private readonly followers = new Map<string, Follower>();
  private stopped = false;

  constructor(private readonly opts: LogShipperOptions) {}

  /**
   * Checks a container's awslogs options and that its log group exists
   * (creating it with `awslogs-create-group`), before the container is
   * created: a missing group fails the container as ECS does.
   */
  async prepare(r: TaskRecord, name: string): Promise<PrepareResult> {
    const cfg = configOf(r, name, '');
    if (!cfg) return { ok: true };
    if ('error' in cfg) return { ok: false, transient: false, message: `failed to validate logger args: ${cfg.error}` };
    const api = this.opts.api;
    const createStream = async (): Promise<void> => {
      try {
        await api.call('CreateLogStream', { logGroupName: cfg.group, logStreamName: cfg.stream });
      } catch (err) {
        if (!isApiError(err, 'ResourceAlreadyExistsException')) throw err;
      }
    };
    const createGroup = async (): Promise<void> => {
      try {
        await api.call('CreateLogGroup', { logGroupName: cfg.group });
      } catch (err) {
        if (!isApiError(err, 'ResourceAlreadyExistsException')) throw err;
      }
    };
    try {
      if (cfg.createGroup) await createGroup();
      // Without a prefix the stream is named after the container id, known only once it exists: check the group alone.
      if (cfg.stream !== '') await createStream();
      else {
        const out = await api.call<{ logGroups?: { logGroupName?: string }[] }>('DescribeLogGroups', { logGroupNamePrefix: cfg.group, limit: 1 });
        if (out.logGroups?.[0]?.logGroupName !== cfg.group) throw new EcsApiError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
      }
      return { ok: true };
    } catch (err) {
      if (err instanceof EcsApiError && err.statusCode < 500 && err.statusCode !== 429 && err.name !== 'ThrottlingException') {
        return {
          ok: false,
          transient: false,
          message: `failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ${err.name}: ${err.message} : exit status 1`,
        };
      }
      // The endpoint is away: try again later rather than fail the task.
      this.opts.log.warn({ err, group: cfg.group }, 'cannot reach CloudWatch Logs to prepare a log stream; retrying');
      return { ok: false, transient: true, message: `cannot reach CloudWatch Logs: ${(err as Error).message}` };
    }
  }

  /** Follows the output of the record's awslogs containers that have started; forgets removed ones. */
  observe(r: TaskRecord): void {
    if (this.stopped) return;
    for (const c of r.containers) {
      if (!c.runtimeId) continue;
      let cfg: ReturnType<typeof configOf>;
      try {
        cfg = configOf(r, c.name, c.runtimeId);
      } catch {
        continue;
      }
      if (!cfg || 'error' in cfg) continue;
      if (c.removed) {
        const f = this.followers.get(c.runtimeId);
        this.followers.delete(c.runtimeId);
        void (f ? f.stop() : Promise.resolve()).then(() => unlink(this.positionFile(c.runtimeId!)).catch(() => undefined));
        continue;
      }
      if (c.startedAt === undefined || this.followers.has(c.runtimeId)) continue;
      const f = new Follower(c.runtimeId, cfg, this.positionFile(c.runtimeId), this.opts);
      this.followers.set(c.runtimeId, f);
      f.start();
    }
  }

  /** Stops following; what was acknowledged is on disk, the rest is read again on the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.followers.values()].map((f) => f.stop()));
    this.followers.clear();
  }

  private positionFile(containerId: string): string {
    return join(this.opts.dataDir, 'logs', `${containerId}.json`);
  }
}

class Stopped extends Error {}

/** One container's output on its way to one log stream. */
class Follower {
  private state: SavedState = {};
  private acked: OutputPosition | undefined;
  private readPos: OutputPosition | undefined;
  private readonly queue: PendingEvent[] = [];
  private queuedBytes = 0;
  private current: PendingEvent | undefined;
  private lastLineAt = 0;
  private ended = false;
  private stopped = false;
  private dropped = 0;
  private streamReady = false;
  private lastTimestamp = -Infinity;
  private wakeSender: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;
  private stopSleep: (() => void) | undefined;
  private reading: NodeJS.ReadableStream & { destroy(): void } | undefined;
  private running: Promise<void> | undefined;
  private readonly flushMs: number;

  constructor(
    private readonly id: string,
    private readonly cfg: AwslogsConfig,
    private readonly file: string,
    private readonly opts: LogShipperOptions,
  ) {
    this.flushMs = opts.flushIntervalMs ?? DEFAULT_FLUSH_MS;
  }

  start(): void {
    this.running = this.run().catch((err: unknown) => {
      if (!(err instanceof Stopped)) this.opts.log.error({ err, container: this.id }, 'log shipping stopped');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reading?.destroy();
    this.stopSleep?.();
    this.wakeReader?.();
    this.wakeSender?.();
    await this.running;
  }

  private async run(): Promise<void> {
    this.state = (await readJson<SavedState>(this.file)) ?? {};
    if (this.state.done) return;
    if (this.state.acked) this.acked = { nanos: BigInt(this.state.acked.nanos), sameNanos: this.state.acked.sameNanos };
    this.readPos = this.acked;
    await Promise.all([this.readLoop(), this.sendLoop()]);
  }

  // ---- reading ----

  private async readLoop(): Promise<void> {
    let attempt = 0;
    // Once the container has stopped, one more read without follow: a follow
    // stream can end before the engine has written the container's last lines.
    let finalPass = false;
    while (!this.stopped) {
      const from = this.readPos;
      let stream: NodeJS.ReadableStream & { destroy(): void };
      try {
        stream = await this.opts.runtime.followLogs!(this.id, { follow: !finalPass, ...(from ? { sinceNanos: from.nanos } : {}) });
      } catch (err) {
        if (err instanceof ContainerNotFoundError) break;
        await this.sleep(fullJitterDelay(attempt++, RETRY));
        continue;
      }
      this.reading = stream;
      let carry = '';
      let seenAtFrom = 0;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer | string>) {
          const text = carry + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
          const lines = text.split('\n');
          carry = lines.pop()!;
          for (const raw of lines) {
            const line = parseLogLine(raw);
            if (!line) continue;
            if (from && line.nanos === from.nanos) seenAtFrom++;
            if (alreadyTaken(from, line.nanos, seenAtFrom)) continue;
            this.take(line.nanos, line.text);
          }
          while (!this.stopped && this.cfg.mode === 'blocking' && this.queuedBytes >= this.cfg.maxBufferBytes) {
            await new Promise<void>((resolve) => (this.wakeReader = resolve));
          }
          if (this.stopped) break;
        }
      } catch {
        // The engine closed the stream; see below whether the container still runs.
      }
      this.reading = undefined;
      if (this.stopped) return;
      if (finalPass) break;
      let running = false;
      try {
        running = (await this.opts.runtime.inspect(this.id)).status === 'running';
      } catch (err) {
        if (!(err instanceof ContainerNotFoundError)) running = true;
      }
      if (!running) finalPass = true;
      else {
        attempt = 0;
        await this.sleep(200);
      }
    }
    if (this.stopped) return;
    this.closeCurrent();
    this.ended = true;
    this.wakeSender?.();
  }

  /** One line of output: a new event, or (multi-line) a continuation of the current one. */
  private take(nanos: bigint, text: string): void {
    this.readPos = advance(this.readPos, nanos);
    this.lastLineAt = Date.now();
    const timestamp = Number(nanos / 1_000_000n);
    if (this.cfg.eventStart && this.current && !this.cfg.eventStart.test(text)) {
      const cur = this.current;
      cur.message += '\n' + text;
      cur.bytes += Buffer.byteLength(text) + 1;
      cur.end = this.readPos;
      cur.lines++;
      if (cur.bytes > MAX_EVENT_MESSAGE_BYTES) this.closeCurrent();
      return;
    }
    this.closeCurrent();
    if (text === '') {
      // CloudWatch Logs refuses empty messages; the line still counts as read.
      if (this.queue.length > 0) this.queue[this.queue.length - 1]!.end = this.readPos;
      else if (!this.cfg.eventStart) this.skippedTo(this.readPos);
      return;
    }
    let message = text;
    if (Buffer.byteLength(message) > MAX_EVENT_MESSAGE_BYTES) message = Buffer.from(message).subarray(0, MAX_EVENT_MESSAGE_BYTES).toString('utf8');
    this.current = { timestamp, message, bytes: Buffer.byteLength(message) + 26, end: this.readPos, lines: 1 };
    if (!this.cfg.eventStart) this.closeCurrent();
  }

  private skippedTo(p: OutputPosition): void {
    if (this.queue.length === 0 && !this.current) this.acked = p;
  }

  private closeCurrent(): void {
    const e = this.current;
    if (!e) return;
    this.current = undefined;
    if (this.cfg.mode === 'non-blocking' && this.queuedBytes + e.bytes > this.cfg.maxBufferBytes) {
      if (this.dropped === 0) {
        this.opts.log.warn(
          { container: this.id, logGroup: this.cfg.group, logStream: this.cfg.stream, maxBufferBytes: this.cfg.maxBufferBytes },
          'awslogs buffer full (mode non-blocking, max-buffer-size reached): dropping log lines until CloudWatch Logs takes more',
        );
      }
      this.dropped += e.lines;
      return;
    }
    if (this.dropped > 0) {
      this.opts.log.warn({ container: this.id, logGroup: this.cfg.group, logStream: this.cfg.stream, dropped: this.dropped }, `awslogs dropped ${this.dropped} log lines (mode non-blocking)`);
      this.dropped = 0;
    }
    this.queue.push(e);
    this.queuedBytes += e.bytes;
    if (this.queue.length >= 10_000 || this.queuedBytes >= 1_048_576) this.wakeSender?.();
  }

  // ---- sending ----

  private async sendLoop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      if (!this.ended) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.flushMs);
          this.wakeSender = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeSender = undefined;
      }
      if (this.stopped) return;
      // A multi-line event with no new line for a whole interval is complete.
      if (this.current && Date.now() - this.lastLineAt >= this.flushMs) this.closeCurrent();
      if (this.state.pending !== undefined) {
        if (this.queue.length < this.state.pending && !this.ended) continue;
        await this.settleInDoubt(this.state.pending);
      }
      while (this.queue.length > 0 && !this.stopped) {
        const n = takeBatch(this.queue);
        const batch = this.queue.slice(0, n);
        await this.save({ pending: n });
        await this.put(batch);
        this.acknowledge(n);
        await this.save({});
      }
      if (this.ended && !this.current && this.queue.length === 0) {
        this.state.done = true;
        await this.save({});
        return;
      }
    }
  }

  /** The batch in flight when the agent stopped: stored already when the stream ends with exactly its events. */
  private async settleInDoubt(n: number): Promise<void> {
    const batch = this.queue.slice(0, n);
    let stored = false;
    if (batch.length === n && n > 0) {
      try {
        const out = await this.opts.api.call<{ events?: { message?: string }[] }>('GetLogEvents', {
          logGroupName: this.cfg.group,
          logStreamName: this.cfg.stream,
          startFromHead: false,
          limit: n,
        });
        const tail = out.events ?? [];
        stored = tail.length === n && tail.every((e, i) => e.message === batch[i]!.message);
      } catch (err) {
        if (!isApiError(err, 'ResourceNotFoundException')) {
          await this.sleep(fullJitterDelay(0, RETRY));
          return;
        }
      }
    }
    if (stored) this.acknowledge(n);
    await this.save({});
  }

  private acknowledge(n: number): void {
    const last = this.queue[n - 1]!;
    for (let i = 0; i < n; i++) this.queuedBytes -= this.queue[i]!.bytes;
    this.queue.splice(0, n);
    this.acked = last.end;
    this.wakeReader?.();
    this.wakeReader = undefined;
  }

  private async save(extra: Pick<SavedState, 'pending'>): Promise<void> {
    this.state = {
      ...(this.acked ? { acked: { nanos: String(this.acked.nanos), sameNanos: this.acked.sameNanos } } : {}),
      ...extra,
      ...(this.state.done ? { done: true } : {}),
    };
    // Atomic, not synced: the file survives the agent being killed (the page
    // cache keeps it); after a power loss of the host an older position can
    // come back, and the lines after it are sent again (never lost).
    await writeFileAtomic(this.file, JSON.stringify(this.state), { durable: false });
  }

  /** PutLogEvents until the server takes the batch; creates the stream (and group, if allowed) when missing. */
  private async put(batch: readonly PendingEvent[]): Promise<void> {
    const logEvents = batch.map((e) => {
      // Events of one call must be in order; stdout and stderr lines can be a hair apart.
      const timestamp = Math.max(e.timestamp, this.lastTimestamp);
      this.lastTimestamp = timestamp;
      return { timestamp, message: e.message };
    });
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new Stopped();
      try {
        if (!this.streamReady) await this.ensureStream();
        const out = await this.opts.api.call<{ rejectedLogEventsInfo?: unknown }>('PutLogEvents', {
          logGroupName: this.cfg.group,
          logStreamName: this.cfg.stream,
          logEvents,
        });
        if (out.rejectedLogEventsInfo) this.opts.log.warn({ container: this.id, rejected: out.rejectedLogEventsInfo }, 'CloudWatch Logs rejected some log events (too old or too new)');
        if (attempt > 2) this.opts.log.info({ container: this.id, logGroup: this.cfg.group }, 'log shipping resumed');
        return;
      } catch (err) {
        if (isApiError(err, 'ResourceNotFoundException')) this.streamReady = false;
        else if (err instanceof EcsApiError && err.name === 'InvalidParameterException') {
          this.opts.log.error({ err, container: this.id }, 'CloudWatch Logs refused a batch of log events; skipping it');
          return;
        }
        if (attempt === 2) this.opts.log.warn({ err: (err as Error).message, container: this.id, logGroup: this.cfg.group }, 'cannot ship logs; retrying with backoff');
        await this.sleep(fullJitterDelay(attempt, this.opts.backoff ?? RETRY));
      }
    }
  }

  private async ensureStream(): Promise<void> {
    const create = async (op: string, input: Record<string, string>) => {
      try {
        await this.opts.api.call(op, input);
      } catch (err) {
        if (!isApiError(err, 'ResourceAlreadyExistsException')) throw err;
      }
    };
    try {
      await create('CreateLogStream', { logGroupName: this.cfg.group, logStreamName: this.cfg.stream });
    } catch (err) {
      if (!isApiError(err, 'ResourceNotFoundException') || !this.cfg.createGroup) throw err;
      await create('CreateLogGroup', { logGroupName: this.cfg.group });
      await create('CreateLogStream', { logGroupName: this.cfg.group, logStreamName: this.cfg.stream });
    }
    this.streamReady = true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.stopSleep = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

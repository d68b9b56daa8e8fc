/**
 * The agent's end of the control channel (see ../protocol.ts).
 *
 * Keeps one WebSocket to the server open for as long as the client runs:
 * connects with a SigV4-signed upgrade, hands every `tasks` push to
 * `onTasks` in order and acknowledges it once that resolves (the push is
 * stored), sends heartbeats, and drops a connection that stays silent for
 * the heartbeat timeout. Any close is followed by a reconnect after an
 * exponential backoff with full jitter. Malformed messages are ignored;
 * nothing the server sends can make the client throw.
 */
import WebSocket from 'ws';
import type { Logger } from '../../core/log.js';
import { silentLogger } from '../../core/log.js';
import {
  AGENT_CONNECT_PATH,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  type AgentMessage,
  type AgentTask,
  type AgentTaskCredentials,
} from '../../protocol/agent.js';
import { fullJitterDelay, type BackoffOptions } from '../../core/backoff.js';
import { signedGetHeaders, type AwsCredentials } from './sign.js';

/**
 * Reconnect backoff: 100 ms doubling to a 2 s cap. A server restart takes
 * seconds, and until its agent is back an instance gets no pushes (and,
 * after the server's reconnect grace, no tasks), so an agent retries at
 * least every 2 s; full jitter still spreads a fleet's reconnects.
 */
export const RECONNECT_BACKOFF: BackoffOptions = { baseMs: 100, capMs: 2_000 };

export interface ChannelOptions {
  /** The server's base URL, `http(s)://host:port`. */
  endpoint: string;
  clusterArn: string;
  containerInstanceArn: string;
  region: string;
  credentials: AwsCredentials;
  /**
   * Receives each push in order. Resolve once the set is stored durably: the
   * push is acknowledged only then. A rejection leaves it unacknowledged.
   */
  onTasks: (tasks: AgentTask[], seq: number) => Promise<void>;
  /** Receives each set of task role credentials, at once (before any later push is handled); kept in memory only. */
  onCredentials?: (credentials: AgentTaskCredentials[]) => void;
  /** Called after each successful connect (e.g. to resend level-triggered state). */
  onConnect?: () => void;
  onDisconnect?: (reason: string) => void;
  /** The server answered the connect with an HTTP status instead of a channel (e.g. 404: the instance is not registered). */
  onRefused?: (status: number, message: string) => void;
  log?: Logger;
  /** Default RECONNECT_BACKOFF. */
  backoff?: BackoffOptions;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Bound on the opening handshake. Default 10 s. */
  connectTimeoutMs?: number;
}

/** The WebSocket URL of the channel for an endpoint and instance. */
export function channelUrl(endpoint: string, clusterArn: string, containerInstanceArn: string): URL {
  const url = new URL(AGENT_CONNECT_PATH, endpoint);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.search = new URLSearchParams({ cluster: clusterArn, containerInstance: containerInstanceArn }).toString();
  return url;
}

type Parsed =
  | { type: 'tasks'; seq: number; tasks: AgentTask[] }
  | { type: 'credentials'; credentials: AgentTaskCredentials[] }
  | { type: 'heartbeat' }
  | undefined;

function isCredentials(c: unknown): c is AgentTaskCredentials {
  const x = c as AgentTaskCredentials;
  return (
    !!x &&
    typeof x === 'object' &&
    typeof x.taskArn === 'string' &&
    (x.role === 'task' || x.role === 'execution') &&
    typeof x.roleArn === 'string' &&
    typeof x.accessKeyId === 'string' &&
    typeof x.secretAccessKey === 'string' &&
    typeof x.sessionToken === 'string' &&
    typeof x.expiration === 'number'
  );
}

function parse(text: string): Parsed {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!msg || typeof msg !== 'object') return undefined;
  const m = msg as { type?: unknown; seq?: unknown; tasks?: unknown };
  if (m.type === 'heartbeat') return { type: 'heartbeat' };
  const creds = (msg as { credentials?: unknown }).credentials;
  if (m.type === 'credentials' && Array.isArray(creds)) return { type: 'credentials', credentials: creds.filter(isCredentials) };
  if (m.type === 'tasks' && typeof m.seq === 'number' && Number.isFinite(m.seq) && Array.isArray(m.tasks)) {
    const tasks = m.tasks.filter(
      (t): t is AgentTask =>
        !!t &&
        typeof t === 'object' &&
        typeof (t as AgentTask).taskArn === 'string' &&
        typeof (t as AgentTask).clusterArn === 'string' &&
        ((t as AgentTask).desiredStatus === 'RUNNING' || (t as AgentTask).desiredStatus === 'STOPPED') &&
        !!(t as AgentTask).taskDefinition &&
        Array.isArray((t as AgentTask).taskDefinition.containerDefinitions) &&
        Array.isArray((t as AgentTask).containers),
    );
    // A push with a malformed task is refused whole: acting on part of a set would stop the rest.
    if (tasks.length !== m.tasks.length) return undefined;
    return { type: 'tasks', seq: m.seq, tasks };
  }
  return undefined;
}

export class ChannelClient {
  private readonly opts: ChannelOptions;
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private ws: WebSocket | undefined;
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeard = 0;
  private lastSeq = -Infinity;
  private pushes: Promise<void> = Promise.resolve();
  private closed: Promise<void> = Promise.resolve();
  private isOpen = false;

  constructor(options: ChannelOptions) {
    this.opts = options;
    this.log = options.log ?? silentLogger();
    this.backoff = options.backoff ?? RECONNECT_BACKOFF;
    this.intervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.timeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.isOpen;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Sends a message when connected; returns whether it was sent. */
  send(msg: AgentMessage): boolean {
    const ws = this.ws;
    if (!ws || !this.isOpen || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const killer = setTimeout(() => ws.terminate(), 1_000);
      ws.close(1000, 'agent stopping');
      await this.closed;
      clearTimeout(killer);
    }
    await this.pushes;
  }

  /** Opens a connection; any failure to even try ends in a scheduled reconnect, never an exception. */
  private connect(): void {
    this.open().catch((err: unknown) => {
      this.log.warn({ err }, 'cannot open the agent channel');
      this.scheduleReconnect();
    });
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const url = channelUrl(this.opts.endpoint, this.opts.clusterArn, this.opts.containerInstanceArn);
    const headers = await signedGetHeaders(url, this.opts.region, this.opts.credentials);
    if (this.stopped) return;
    const ws = new WebSocket(url, {
      headers: { ...headers, host: url.host },
      handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000,
      maxPayload: 64 * 1024 * 1024,
    });
    this.ws = ws;
    let resolveClosed!: () => void;
    this.closed = new Promise((r) => (resolveClosed = r));
    let gotMessage = false;

    ws.on('unexpected-response', (_req, res) => {
      // Read the server's reason, then drop the connection (a reconnect follows from 'close').
      let body = '';
      let done = false;
      const refused = () => {
        if (done) return;
        done = true;
        clearTimeout(bound);
        this.log.warn({ status: res.statusCode, body: body.trim() }, 'server refused the agent channel');
        try {
          this.opts.onRefused?.(res.statusCode ?? 0, body.trim());
        } catch (err) {
          this.log.warn({ err }, 'channel refusal handler failed');
        }
        ws.terminate();
      };
      const bound = setTimeout(refused, 2_000);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 1000) body += c;
      });
      res.on('end', refused);
      res.on('close', refused);
      res.on('error', refused);
    });
    ws.on('open', () => {
      this.isOpen = true;
      this.lastHeard = Date.now();
      this.lastSeq = -Infinity;
      this.log.info({ url: `${url.origin}${url.pathname}` }, 'agent channel connected');
      this.heartbeatTimer = setInterval(() => this.heartbeat(ws), Math.max(10, Math.min(this.intervalMs, this.timeoutMs / 2)));
      this.send({ type: 'heartbeat', at: Date.now() });
      try {
        this.opts.onConnect?.();
      } catch (err) {
        this.log.warn({ err }, 'channel connect handler failed');
      }
    });
    ws.on('message', (data) => {
      this.lastHeard = Date.now();
      if (!gotMessage) {
        gotMessage = true;
        this.attempt = 0;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      const msg = parse(text);
      if (!msg) {
        this.log.warn({ message: text.slice(0, 200) }, 'ignoring malformed channel message');
        return;
      }
      if (msg.type === 'tasks') this.onPush(ws, msg.seq, msg.tasks);
      if (msg.type === 'credentials') this.opts.onCredentials?.(msg.credentials);
    });
    ws.on('ping', () => {
      this.lastHeard = Date.now();
    });
    ws.on('error', (err) => {
      this.log.debug({ err }, 'agent channel error');
    });
    ws.on('close', (code, reason) => {
      const wasOpen = this.isOpen;
      this.isOpen = false;
      clearInterval(this.heartbeatTimer);
      if (this.ws === ws) this.ws = undefined;
      resolveClosed();
      const why = `${code}${reason.length ? ` ${reason.toString()}` : ''}`;
      if (wasOpen) {
        this.log.info({ reason: why }, 'agent channel closed');
        try {
          this.opts.onDisconnect?.(why);
        } catch (err) {
          this.log.warn({ err }, 'channel disconnect handler failed');
        }
      }
      this.scheduleReconnect();
    });
  }

  private onPush(ws: WebSocket, seq: number, tasks: AgentTask[]): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.log.debug({ seq, tasks: tasks.length }, 'desired tasks pushed');
    this.pushes = this.pushes.then(async () => {
      try {
        await this.opts.onTasks(tasks, seq);
      } catch (err) {
        this.log.warn({ err, seq }, 'could not store the desired task set; not acknowledging it');
        return;
      }
      this.log.debug({ seq }, 'desired tasks stored');
      // The ack belongs to the connection the push came on.
      if (this.ws === ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', seq } satisfies AgentMessage));
    });
  }

  private heartbeat(ws: WebSocket): void {
    if (Date.now() - this.lastHeard > this.timeoutMs) {
      this.log.warn({ silentMs: Date.now() - this.lastHeard }, 'agent channel heartbeat timed out');
      ws.terminate();
      return;
    }
    this.send({ type: 'heartbeat', at: Date.now() });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const delay = fullJitterDelay(this.attempt++, this.backoff);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}

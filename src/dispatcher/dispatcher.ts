import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AGENT_CONNECT_PATH,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  type AgentStatsMessage,
  type AgentTask,
  type ServerMessage,
} from '../protocol/agent.js';
import type { SigV4Verifier } from '../api/auth/sigv4.js';
import type { ContainerInstanceDoc } from '../ecs/containerInstances.js';
import type { DomainContext } from '../ecs/context.js';
import { recordTaskHealth, stopTaskForFailure, tasksToSend, type TaskWithDefinition } from '../ecs/tasks.js';
import type { TaskCredentialIssuer } from './taskCredentials.js';
import { agentDesiredStatus } from '../ecs/writers/tasks.js';
import { withRetry, type Change } from '../store/store.js';
import type { Logger } from '../core/log.js';

/** How long the agent has to acknowledge a push before the current set is sent again. */
export const ACK_TIMEOUT_MS = 5_000;
/** The longest wait between re-sends to an agent that keeps not acknowledging. */
export const MAX_ACK_TIMEOUT_MS = 60_000;
/**
 * How long after a server start an instance whose agent was connected still
 * counts as connected while that agent reconnects: two heartbeat timeouts,
 * by which time a live agent has noticed the old channel is gone and
 * reconnected (its reconnect backoff is capped well below this).
 */
export const RECONNECT_GRACE_MS = 2 * HEARTBEAT_TIMEOUT_MS;

export interface DispatcherOptions {
  /**
   * How long a push may stay unacknowledged before the current set is sent
   * again; the wait doubles with every re-send that is not acknowledged
   * either, up to `maxAckTimeoutMs`. Default ACK_TIMEOUT_MS.
   */
  ackTimeoutMs?: number;
  /** Default MAX_ACK_TIMEOUT_MS (never below `ackTimeoutMs`). */
  maxAckTimeoutMs?: number;
  /** Default RECONNECT_GRACE_MS; see `beginReconnectGrace`. */
  reconnectGraceMs?: number;
  /** Receives each agent's resource report (`stats` messages) with the agent's cluster. */
  onStats?: (clusterArn: string, msg: AgentStatsMessage) => void;
  /** Issues the task role and execution role credentials sent with each push; without it tasks get none. */
  credentials?: TaskCredentialIssuer;
  /**
   * Decides whether the signer of a connect may hold the instance's channel
   * (ECS's `ecs:Poll` on the container instance); throws AccessDeniedException
   * with AWS's message when not. Without it every valid signature may.
   */
  authorizeAgent?: (accessKeyId: string, clusterArn: string, containerInstanceArn: string) => Promise<void>;
}

interface Session {
  ws: WebSocket;
  clusterArn: string;
  instanceArn: string;
  /** The seq of the latest push sent on this connection (0: none yet). */
  seq: number;
  /** The highest seq the agent has acknowledged, i.e. stored. */
  acked: number;
  /** When the latest push was sent (epoch ms). */
  sentAt: number;
  /** Re-sends in a row that were not acknowledged; sets the wait before the next one. */
  resends: number;
  /** Armed while a push is unacknowledged; at most one per session. */
  ackTimer: NodeJS.Timeout | undefined;
  lastHeard: number;
  pushing: boolean;
  dirty: boolean;
  /** Set when the next push must go even if it wants what the last one wanted. */
  resend: boolean;
  /** What the agent was last sent, as far as it acts on it; version-only changes are not re-sent. */
  fingerprint: string;
  /** The access key ids of the role credentials last sent on this connection. */
  credentialsFingerprint: string;
}

/** What the agent is to want of a task: a task held while its targets drain still runs, with no stop to act on. */
function agentIntent(stored: TaskWithDefinition['stored']): Pick<AgentTask, 'desiredStatus' | 'stopCode' | 'stoppedReason'> {
  const task = stored.task;
  if (agentDesiredStatus(stored) === 'RUNNING') return { desiredStatus: 'RUNNING' };
  return {
    desiredStatus: task.desiredStatus,
    ...(task.stopCode !== undefined ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason !== undefined ? { stoppedReason: task.stoppedReason } : {}),
  };
}

function toAgentTask({ stored, taskDefinition }: TaskWithDefinition): AgentTask {
  const task = stored.task;
  return {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    ...agentIntent(stored),
    taskDefinition: taskDefinition as unknown as AgentTask['taskDefinition'],
    overrides: task.overrides,
    containers: task.containers.map((c) => ({ name: c.name, containerArn: c.containerArn })),
    // Task-level limits the run asked for; otherwise the agent reads the definition's. The task's
    // own cpu and memory are what it reserves, summed over containers when the definition has none.
    ...(typeof task.overrides['cpu'] === 'string' ? { cpu: task.overrides['cpu'] } : {}),
    ...(typeof task.overrides['memory'] === 'string' ? { memory: task.overrides['memory'] } : {}),
    group: task.group,
    ...(task.startedBy !== undefined ? { startedBy: task.startedBy } : {}),
    createdAt: task.createdAt,
    version: task.version,
  };
}

/**
 * The dispatcher: holds one control channel per connected agent and pushes
 * each agent the complete set of tasks the server wants on its instance,
 * whenever a committed change touches one of them (level-triggered: a push
 * is never a delta, so a lost or duplicated push does no harm).
 *
 * A push counts as delivered only once the agent acknowledges its seq (or a
 * later one). While the latest push is unacknowledged one timer per session
 * is armed; when it fires the current set is sent again under a new seq,
 * and the wait doubles for each re-send that goes unacknowledged too.
 */
export class Dispatcher {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly sessions = new Map<string, Session>();
  private readonly unwatch: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly ackTimeoutMs: number;
  private readonly maxAckTimeoutMs: number;
  private readonly reconnectGraceMs: number;
  private readonly onStats: DispatcherOptions['onStats'];
  private readonly credentials: TaskCredentialIssuer | undefined;
  private readonly authorizeAgent: DispatcherOptions['authorizeAgent'];
  private readonly renewTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: DomainContext,
    private readonly verifier: SigV4Verifier,
    private readonly log: Logger,
    options: DispatcherOptions = {},
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.maxAckTimeoutMs = Math.max(this.ackTimeoutMs, options.maxAckTimeoutMs ?? MAX_ACK_TIMEOUT_MS);
    this.reconnectGraceMs = options.reconnectGraceMs ?? RECONNECT_GRACE_MS;
    this.onStats = options.onStats;
    this.credentials = options.credentials;
    this.authorizeAgent = options.authorizeAgent;
    if (this.credentials) {
      const issuer = this.credentials;
      this.renewTimer = setInterval(() => {
        for (const s of this.sessions.values()) if (issuer.dueForRenewal(s.instanceArn)) void this.push(s);
      }, issuer.checkIntervalMs);
      this.renewTimer.unref();
    }
    this.unwatch = ctx.store.watch((changes) => this.onChanges(changes));
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  /** Number of connected agents. */
  get connected(): number {
    return this.sessions.size;
  }

  /**
   * Call once at server start. The instances whose agents were connected when
   * the previous server stopped stay connected for `reconnectGraceMs`, so
   * placement keeps using them (their tasks are pushed as each agent
   * reconnects); those whose agent has not reconnected by then are marked
   * disconnected.
   */
  async beginReconnectGrace(): Promise<void> {
    const rows = await this.ctx.store.find<ContainerInstanceDoc>('containerInstance', { status: ['ACTIVE', 'DRAINING'] });
    const expected = rows.filter((r) => r.doc.agentConnected).map((r) => r.arn);
    if (expected.length === 0) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => void this.endReconnectGrace(expected), this.reconnectGraceMs);
    this.graceTimer.unref();
  }

  private async endReconnectGrace(expected: readonly string[]): Promise<void> {
    this.graceTimer = undefined;
    for (const instanceArn of expected) {
      if (this.sessions.has(instanceArn)) continue;
      this.log.warn({ instanceArn, graceMs: this.reconnectGraceMs }, 'agent did not reconnect after the server started; its instance is disconnected');
      try {
        await this.setConnected(instanceArn, false);
      } catch (err) {
        this.log.warn({ err, instanceArn }, 'could not record agent disconnect');
      }
    }
  }

  private async setConnected(instanceArn: string, connected: boolean): Promise<void> {
    await withRetry(this.ctx.store, async (tx) => {
      const row = await tx.get<ContainerInstanceDoc>('containerInstance', instanceArn);
      if (!row || row.doc.agentConnected === connected) return;
      await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: connected, version: row.doc.version + 1 } });
    });
  }

  /** Handles an HTTP upgrade; returns false when the path is not the agent channel. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://berth');
    if (url.pathname !== AGENT_CONNECT_PATH) return false;
    void this.accept(req, socket, head, url).catch((err: unknown) => {
      this.log.warn({ err }, 'agent connection refused');
      if (socket.writable) socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n');
    });
    return true;
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const refuse = (status: string, message: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}\n`);
    };
    const clusterArn = url.searchParams.get('cluster') ?? '';
    const instanceArn = url.searchParams.get('containerInstance') ?? '';
    try {
      const principal = await this.verifier.verify({ method: 'GET', path: url.pathname, query: url.search.slice(1), headers: req.headers, body: Buffer.alloc(0) });
      await this.authorizeAgent?.(principal.accessKeyId, clusterArn, instanceArn);
    } catch (err) {
      refuse('403 Forbidden', err instanceof Error ? err.message : 'forbidden');
      return;
    }
    const row = await this.ctx.store.get<ContainerInstanceDoc>('containerInstance', instanceArn);
    if (!row || row.cluster !== clusterArn || row.doc.status === 'INACTIVE') {
      refuse('404 Not Found', `container instance ${instanceArn} is not registered in cluster ${clusterArn}; register it again`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const previous = this.sessions.get(instanceArn);
      if (previous) previous.ws.terminate();
      const session: Session = {
        ws,
        clusterArn,
        instanceArn,
        seq: 0,
        acked: 0,
        sentAt: 0,
        resends: 0,
        ackTimer: undefined,
        lastHeard: Date.now(),
        pushing: false,
        dirty: false,
        resend: false,
        fingerprint: '',
        credentialsFingerprint: '',
      };
      this.sessions.set(instanceArn, session);
      this.log.info({ instanceArn }, 'agent connected');
      ws.on('message', (data) => this.onMessage(session, data.toString()));
      ws.on('close', () => {
        clearTimeout(session.ackTimer);
        session.ackTimer = undefined;
        if (this.sessions.get(instanceArn) !== session) return;
        this.sessions.delete(instanceArn);
        this.log.info({ instanceArn }, 'agent disconnected');
        this.setConnected(instanceArn, false).catch((err: unknown) => this.log.warn({ err }, 'could not record agent disconnect'));
      });
      ws.on('error', () => ws.terminate());
      this.setConnected(instanceArn, true)
        .then(() => this.push(session))
        .catch((err: unknown) => this.log.warn({ err }, 'could not record agent connect'));
    });
  }

  private onMessage(session: Session, text: string): void {
    session.lastHeard = Date.now();
    let msg: { type?: unknown };
    try {
      msg = JSON.parse(text) as { type?: unknown };
    } catch {
      return;
    }
    if (msg && msg.type === 'ack') {
      this.onAck(session, (msg as { seq?: unknown }).seq);
      return;
    }
    if (msg && msg.type === 'stats') {
      this.onStats?.(session.clusterArn, msg as AgentStatsMessage);
      return;
    }
    if (msg && msg.type === 'health') {
      const h = msg as unknown as { taskArn?: string; containers?: { name: string; healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' }[] };
      if (typeof h.taskArn === 'string' && Array.isArray(h.containers)) {
        recordTaskHealth(this.ctx, h.taskArn, h.containers).catch((err: unknown) => this.log.warn({ err }, 'could not record task health'));
      }
    }
  }

  /** Records an acknowledgement; one of the latest push ends the wait for it. */
  private onAck(session: Session, seq: unknown): void {
    // An ack of a seq never sent on this connection says nothing.
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq > session.seq || seq <= session.acked) return;
    session.acked = seq;
    if (seq !== session.seq) return;
    session.resends = 0;
    // A push that failed before it was sent is still owed: its timer stays.
    if (session.resend) return;
    clearTimeout(session.ackTimer);
    session.ackTimer = undefined;
  }

  /** The wait for an ack after `resends` unacknowledged re-sends in a row. */
  private ackWait(resends: number): number {
    return Math.min(this.maxAckTimeoutMs, this.ackTimeoutMs * 2 ** Math.min(resends, 30));
  }

  private armAckTimer(session: Session, delayMs: number): void {
    clearTimeout(session.ackTimer);
    session.ackTimer = setTimeout(() => this.onAckTimeout(session), Math.max(1, delayMs));
    session.ackTimer.unref();
  }

  /**
   * Sends the current set again when the latest push is still unacknowledged
   * after its wait, or when the last attempt to push failed before sending.
   */
  private onAckTimeout(session: Session): void {
    session.ackTimer = undefined;
    if (this.sessions.get(session.instanceArn) !== session) return;
    const unacknowledged = session.acked < session.seq;
    if (!unacknowledged && !session.resend) return;
    const wait = this.ackWait(session.resends);
    const waited = Date.now() - session.sentAt;
    // A newer push restarted the clock: wait for the rest of its time.
    if (unacknowledged && waited < wait) {
      this.armAckTimer(session, wait - waited);
      return;
    }
    session.resends++;
    if (unacknowledged) {
      this.log.warn({ instanceArn: session.instanceArn, seq: session.seq, acked: session.acked, waitedMs: waited }, 'agent did not acknowledge its task set; sending it again');
    }
    session.resend = true;
    void this.push(session);
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind === 'containerInstance') {
        const s = this.sessions.get(c.arn);
        if (s) void this.closeIfDeregistered(s);
        continue;
      }
      if (c.kind !== 'task') continue;
      const s = this.sessions.get(c.keys['instance'] ?? '');
      if (s) void this.push(s);
    }
  }

  /** Ends the channel of an instance that was deregistered: its agent then learns so when it reconnects. */
  private async closeIfDeregistered(session: Session): Promise<void> {
    try {
      const row = await this.ctx.store.get<ContainerInstanceDoc>('containerInstance', session.instanceArn);
      if (row !== undefined && row.doc.status !== 'INACTIVE') return;
      this.log.info({ instanceArn: session.instanceArn }, 'container instance deregistered; closing its agent channel');
      session.ws.close(1000, 'container instance deregistered');
    } catch (err) {
      this.log.warn({ err, instanceArn: session.instanceArn }, 'could not read a changed container instance');
    }
  }

  /** Sends the instance's full desired task set; coalesces pushes requested while one is in flight. */
  private async push(session: Session): Promise<void> {
    if (session.pushing) {
      session.dirty = true;
      return;
    }
    session.pushing = true;
    try {
      do {
        session.dirty = false;
        const resend = session.resend;
        session.resend = false;
        // Read and recorded as sent before it goes: a stop from now on waits for the agent.
        let tasks = await tasksToSend(this.ctx, session.clusterArn, session.instanceArn);
        if (this.credentials) tasks = await this.sendCredentials(session, tasks);
        const fingerprint = JSON.stringify(tasks.map(({ stored }) => [stored.task.taskArn, agentIntent(stored)]));
        // The first push of a connection always goes, and so does a re-send; later
        // ones only when something the agent acts on changed.
        if (!resend && session.seq > 0 && fingerprint === session.fingerprint) continue;
        session.fingerprint = fingerprint;
        const msg: ServerMessage = { type: 'tasks', seq: ++session.seq, tasks: tasks.map(toAgentTask) };
        session.sentAt = Date.now();
        if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(msg));
        if (!session.ackTimer) this.armAckTimer(session, this.ackWait(session.resends));
      } while (session.dirty);
    } catch (err) {
      this.log.warn({ err, instanceArn: session.instanceArn }, 'push to agent failed');
      // A set that could not be read is tried again like one that was not acknowledged.
      if (this.sessions.get(session.instanceArn) === session) {
        session.resend = true;
        if (!session.ackTimer) this.armAckTimer(session, this.ackWait(session.resends));
      }
    } finally {
      session.pushing = false;
    }
  }

  /**
   * Sends the instance's role credentials ahead of its task set when they
   * changed (or on a new connection); answers the set without the tasks whose
   * role cannot be assumed, which are stopped with ECS's reason.
   */
  private async sendCredentials(session: Session, tasks: TaskWithDefinition[]): Promise<TaskWithDefinition[]> {
    const { credentials, failures } = await this.credentials!.forInstance(session.instanceArn, tasks);
    const fingerprint = credentials.map((c) => c.accessKeyId).join(',');
    if (session.seq === 0 || fingerprint !== session.credentialsFingerprint) {
      session.credentialsFingerprint = fingerprint;
      const msg: ServerMessage = { type: 'credentials', credentials };
      if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(msg));
    }
    if (failures.length === 0) return tasks;
    for (const f of failures) {
      stopTaskForFailure(this.ctx, f.taskArn, 'TaskFailedToStart', f.reason).catch((err: unknown) => this.log.warn({ err, taskArn: f.taskArn }, 'could not stop a task whose role cannot be assumed'));
    }
    const failed = new Set(failures.map((f) => f.taskArn));
    return tasks.filter((t) => !failed.has(t.stored.task.taskArn));
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (now - s.lastHeard > HEARTBEAT_TIMEOUT_MS) {
        this.log.warn({ instanceArn: s.instanceArn }, 'agent heartbeat timed out');
        s.ws.terminate();
        continue;
      }
      const msg: ServerMessage = { type: 'heartbeat', at: now };
      if (s.ws.readyState === s.ws.OPEN) s.ws.send(JSON.stringify(msg));
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.renewTimer);
    clearTimeout(this.graceTimer);
    this.unwatch();
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of open) {
      clearTimeout(s.ackTimer);
      s.ws.terminate();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

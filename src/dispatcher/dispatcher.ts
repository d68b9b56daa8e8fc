import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AGENT_CONNECT_PATH,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  type AgentTask,
  type ServerMessage,
} from '../agent/protocol.js';
import type { SigV4Verifier } from '../api/auth/sigv4.js';
import type { ContainerInstanceDoc } from '../domain/containerInstances.js';
import type { DomainContext } from '../domain/context.js';
import { recordTaskHealth, tasksForInstance, type TaskWithDefinition } from '../domain/tasks.js';
import { withRetry, type Change } from '../store/store.js';
import type { Logger } from '../util/log.js';

interface Session {
  ws: WebSocket;
  clusterArn: string;
  instanceArn: string;
  seq: number;
  lastHeard: number;
  pushing: boolean;
  dirty: boolean;
  /** What the agent was last sent, as far as it acts on it; version-only changes are not re-sent. */
  fingerprint: string;
}

function toAgentTask({ stored, taskDefinition }: TaskWithDefinition): AgentTask {
  const task = stored.task;
  return {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    desiredStatus: task.desiredStatus,
    ...(task.stopCode !== undefined ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason !== undefined ? { stoppedReason: task.stoppedReason } : {}),
    taskDefinition: taskDefinition as unknown as AgentTask['taskDefinition'],
    overrides: task.overrides,
    containers: task.containers.map((c) => ({ name: c.name, containerArn: c.containerArn })),
    ...(task.cpu !== undefined ? { cpu: task.cpu } : {}),
    ...(task.memory !== undefined ? { memory: task.memory } : {}),
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
 */
export class Dispatcher {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly sessions = new Map<string, Session>();
  private readonly unwatch: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: DomainContext,
    private readonly verifier: SigV4Verifier,
    private readonly log: Logger,
  ) {
    this.unwatch = ctx.store.watch((changes) => this.onChanges(changes));
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  /** Number of connected agents. */
  get connected(): number {
    return this.sessions.size;
  }

  /** Marks every instance disconnected: after a server start no agent is connected yet. */
  async resetConnections(): Promise<void> {
    const rows = await this.ctx.store.find<ContainerInstanceDoc>('containerInstance', { status: ['ACTIVE', 'DRAINING'] });
    for (const r of rows) if (r.doc.agentConnected) await this.setConnected(r.arn, false);
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
    try {
      await this.verifier.verify({ method: 'GET', path: url.pathname, query: url.search.slice(1), headers: req.headers, body: Buffer.alloc(0) });
    } catch (err) {
      refuse('403 Forbidden', err instanceof Error ? err.message : 'forbidden');
      return;
    }
    const clusterArn = url.searchParams.get('cluster') ?? '';
    const instanceArn = url.searchParams.get('containerInstance') ?? '';
    const row = await this.ctx.store.get<ContainerInstanceDoc>('containerInstance', instanceArn);
    if (!row || row.cluster !== clusterArn || row.doc.status === 'INACTIVE') {
      refuse('404 Not Found', `container instance ${instanceArn} is not registered in cluster ${clusterArn}; register it again`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const previous = this.sessions.get(instanceArn);
      if (previous) previous.ws.terminate();
      const session: Session = { ws, clusterArn, instanceArn, seq: 0, lastHeard: Date.now(), pushing: false, dirty: false, fingerprint: '' };
      this.sessions.set(instanceArn, session);
      this.log.info({ instanceArn }, 'agent connected');
      ws.on('message', (data) => this.onMessage(session, data.toString()));
      ws.on('close', () => {
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
    if (msg && msg.type === 'health') {
      const h = msg as unknown as { taskArn?: string; containers?: { name: string; healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' }[] };
      if (typeof h.taskArn === 'string' && Array.isArray(h.containers)) {
        recordTaskHealth(this.ctx, h.taskArn, h.containers).catch((err: unknown) => this.log.warn({ err }, 'could not record task health'));
      }
    }
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind !== 'task') continue;
      const s = this.sessions.get(c.name);
      if (s) void this.push(s);
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
        const tasks = await tasksForInstance(this.ctx, session.clusterArn, session.instanceArn);
        const fingerprint = JSON.stringify(tasks.map(({ stored: { task } }) => [task.taskArn, task.desiredStatus, task.stopCode, task.stoppedReason]));
        // The first push of a connection always goes; later ones only when something the agent acts on changed.
        if (session.seq > 0 && fingerprint === session.fingerprint) continue;
        session.fingerprint = fingerprint;
        const msg: ServerMessage = { type: 'tasks', seq: ++session.seq, tasks: tasks.map(toAgentTask) };
        if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(msg));
      } while (session.dirty);
    } catch (err) {
      this.log.warn({ err, instanceArn: session.instanceArn }, 'push to agent failed');
    } finally {
      session.pushing = false;
    }
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
    this.unwatch();
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of open) s.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

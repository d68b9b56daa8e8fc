/**
 * The task metadata endpoint: an HTTP server the task's containers reach at
 * `ECS_CONTAINER_METADATA_URI_V4` (and `ECS_CONTAINER_METADATA_URI`), i.e.
 * `http://<addr>:<port>/v4/<token>` where the token identifies the container.
 *
 *   GET /v4/<token>             the container's document
 *   GET /v4/<token>/task        the task's document with every container
 *   GET /v4/<token>/stats       the container's resource usage (Docker stats format)
 *   GET /v4/<token>/task/stats  the same for every running container of the task, by Docker id
 *   (the same under /v3/)
 *
 * It must listen where bridge-mode containers can reach it: the Docker
 * bridge gateway (see hostProbe.ts). Tokens are unguessable, so a container
 * only learns about its own task.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/log.js';
import { silentLogger } from '../../core/log.js';
import type { ContainerRecord, TaskRecord } from '../engine/model.js';
import { ContainerNotFoundError } from '../runtime/runtime.js';
import { containerDocument, taskDocument, type MetadataContext } from './documents.js';

export interface MetadataSource {
  byMetadataToken(token: string): { task: TaskRecord; container: ContainerRecord } | undefined;
}

export interface MetadataServerOptions extends MetadataContext {
  source: MetadataSource;
  /** One stats sample of a running container, by engine id (ContainerRuntime.stats). */
  stats?: (runtimeId: string) => Promise<Record<string, unknown>>;
  log?: Logger;
}

const PATH_RE = /^\/v[34]\/([A-Za-z0-9]+)(\/task|\/stats|\/task\/stats)?\/?$/;

export class MetadataServer {
  private readonly server: Server;
  private readonly source: MetadataSource;
  private readonly stats: MetadataServerOptions['stats'];
  private readonly ctx: MetadataContext;
  private readonly log: Logger;

  constructor(options: MetadataServerOptions) {
    this.source = options.source;
    this.stats = options.stats;
    this.ctx = { ...(options.availabilityZone ? { availabilityZone: options.availabilityZone } : {}) };
    this.log = options.log ?? silentLogger();
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** Listens on `host:port` (0 picks a port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'method not allowed' });
      const path = new URL(req.url ?? '/', 'http://metadata').pathname;
      const m = PATH_RE.exec(path);
      if (!m) return send(404, { error: 'not found' });
      const found = this.source.byMetadataToken(m[1]!);
      if (!found) return send(404, { error: 'unknown container' });
      const sub = m[2];
      if (sub === undefined) return send(200, containerDocument(found.task, found.container));
      if (sub === '/task') return send(200, taskDocument(found.task, this.ctx));
      const stats = this.stats;
      if (stats === undefined) return send(404, { error: 'stats are not available from this endpoint' });
      const running = (c: ContainerRecord) => c.phase === 'RUNNING' && c.runtimeId !== undefined;
      if (sub === '/stats') {
        if (!running(found.container)) return send(404, { error: `container ${found.container.name} is not running` });
        return send(200, await stats(found.container.runtimeId!));
      }
      const all = found.task.containers.filter(running);
      const samples = await Promise.all(all.map((c) => stats(c.runtimeId!).catch(() => undefined)));
      return send(200, Object.fromEntries(all.flatMap((c, i) => (samples[i] ? [[c.runtimeId!, samples[i]]] : []))));
    } catch (err) {
      if (err instanceof ContainerNotFoundError) return send(404, { error: err.message });
      this.log.warn({ err }, 'metadata request failed');
      send(500, { error: 'internal error' });
    }
  }
}

/**
 * A small client for the Docker Engine API over node:http: JSON requests
 * on a pool of keep-alive connections, and streamed responses (events,
 * pulls) on connections of their own. Only the calls the agent makes go
 * through it; request shapes live in `docker-mapping.ts`.
 *
 * Contract: a response status of 300 or more rejects with DockerApiError
 * (the status and the engine's message); a failure to reach the engine
 * rejects with the socket error itself (its `code`, e.g. ENOENT or
 * ECONNREFUSED, says why; see `isConnectionError`).
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { DockerConnection } from './docker-mapping.js';

/** The engine answered with an error status; `message` is the engine's own. */
export class DockerApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerApiError';
  }
}

export type QueryValue = string | number | boolean | undefined;

export interface DockerRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Unversioned API path, e.g. `/containers/create`: the engine serves its own API version. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Idle keep-alive connections kept per engine; more are opened on demand and closed when idle. */
const MAX_IDLE_SOCKETS = 4;

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(Object.assign(new Error('the engine closed the connection'), { code: 'ECONNRESET' })));
  });
}

function errorFrom(status: number, body: Buffer): DockerApiError {
  const text = body.toString('utf8').trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // plain text answer
  }
  return new DockerApiError(status, message || `HTTP ${status}`);
}

export class DockerApi {
  /** Where the engine is, for messages: the socket path or the URL. */
  readonly where: string;
  private readonly base: RequestOptions;
  private readonly pool: HttpAgent;
  private readonly tls: boolean;

  constructor(connection: DockerConnection) {
    this.tls = connection.protocol === 'https';
    if (connection.socketPath) {
      this.where = connection.socketPath;
      this.base = { socketPath: connection.socketPath, headers: { host: 'docker' } };
    } else {
      this.where = `${connection.protocol ?? 'http'}://${connection.host}:${connection.port}`;
      this.base = { host: connection.host, port: Number(connection.port) };
    }
    const certs = this.tls ? tlsFiles() : {};
    this.base = { ...this.base, ...certs };
    const poolOptions = { keepAlive: true, maxFreeSockets: MAX_IDLE_SOCKETS, ...certs };
    this.pool = this.tls ? new HttpsAgent(poolOptions) : new HttpAgent(poolOptions);
  }

  /** The parsed JSON answer (undefined for an empty body). */
  async json<T>(req: DockerRequest): Promise<T> {
    const body = await this.buffer(req);
    if (body.length === 0) return undefined as T;
    return JSON.parse(body.toString('utf8')) as T;
  }

  /** The raw answer. */
  async buffer(req: DockerRequest): Promise<Buffer> {
    const res = await this.send(req, this.pool);
    return readAll(res);
  }

  /**
   * An answer to read as it arrives, on a connection of its own (the
   * caller reads or destroys it). Rejects like `json` on an error status.
   */
  stream(req: DockerRequest): Promise<IncomingMessage> {
    return this.send(req, false);
  }

  /** Closes idle connections; streams in progress are their callers'. */
  close(): void {
    this.pool.destroy();
  }

  private send(req: DockerRequest, agent: HttpAgent | false): Promise<IncomingMessage> {
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { ...(this.base.headers as Record<string, string> | undefined), ...req.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const options: RequestOptions = {
      ...this.base,
      method: req.method,
      path: `${req.path}${queryString(req.query)}`,
      headers,
      agent,
      ...(req.signal ? { signal: req.signal } : {}),
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = (this.tls ? httpsRequest : httpRequest)(options, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 300) {
          resolve(res);
          return;
        }
        readAll(res).then(
          (body) => reject(errorFrom(status, body)),
          () => reject(new DockerApiError(status, `HTTP ${status}`)),
        );
      });
      request.on('error', reject);
      request.end(payload);
    });
  }
}

/** Client certificates from DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), as the Docker CLI reads them. */
function tlsFiles(): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const dir = process.env['DOCKER_CERT_PATH'];
  if (!dir) return {};
  return {
    ca: readFileSync(join(dir, 'ca.pem')),
    cert: readFileSync(join(dir, 'cert.pem')),
    key: readFileSync(join(dir, 'key.pem')),
  };
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { SigV4Verifier } from '../api/auth/sigv4.js';
import { InvalidAction, RequestEntityTooLargeException, toWireError } from '../api/errors.js';
import type { ServiceProtocol } from '../api/protocol.js';
import { looksLikeQuery, queryErrorResponse } from '../api/awsQuery.js';
import type { Logger } from '../core/log.js';
import type { ServerMetrics } from './metrics.js';

/** AWS JSON services accept request bodies up to 10 MiB. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface HttpServerOptions {
  verifier: SigV4Verifier;
  protocols: readonly ServiceProtocol[];
  metrics: ServerMetrics;
  log: Logger;
  /** Answers GET /healthz; throws when the server cannot serve (for example the store is closed). */
  health(): Promise<Record<string, unknown>>;
  /** The image registry (`/v2/`): it authenticates, streams and answers its requests itself. */
  registry?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /**
   * Authorizes one operation of one protocol service for the signer of
   * `accessKeyId`; throws AccessDeniedException. Without it every signed
   * request is allowed.
   */
  authorize?(service: string, accessKeyId: string, operation: string, input: Record<string, unknown>, facts: { sourceIp?: string; secureTransport: boolean }): Promise<void>;
  /** WebSocket upgrades (agent control channel); return false to refuse. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  timeouts?: Partial<HttpTimeouts>;
  /** Serve HTTPS with this certificate and key (PEM) instead of HTTP. */
  tls?: { cert: string; key: string };
}

/**
 * How long the server waits for a client. There is no limit on a whole
 * request: an image layer may take many minutes to upload over a slow link,
 * and is cut only when it stalls.
 */
export interface HttpTimeouts {
  /** A connection that sends and receives nothing for this long is closed, mid-request or between requests (ms). */
  idleMs: number;
  /** A request's headers must arrive within this (ms). */
  headersMs: number;
  /** An API (not registry) request body must arrive within this: API bodies are small (ms). */
  apiBodyMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { idleMs: 120_000, headersMs: 60_000, apiBodyMs: 120_000 };

class BodyTooLarge extends Error {}

/** Reads a body of at most `limit` bytes; a body still arriving after `deadlineMs` closes the connection. */
function readBody(req: IncomingMessage, limit: number, deadlineMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('request body too slow'));
      req.socket.destroy();
    }, deadlineMs);
    timer.unref();
    req.on('close', () => clearTimeout(timer));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-length': String(buf.length) });
  res.end(buf);
}

/**
 * The one HTTP listener of a Berth server. It authenticates every API call
 * (SigV4), hands it to the protocol that claims it, and records metrics and
 * logs. Operational endpoints (`/healthz`, `/metrics`) need no signature.
 */
export function createHttpServer(opts: HttpServerOptions): Server {
  const { verifier, protocols, metrics, log } = opts;
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...opts.timeouts };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';
    const method = req.method ?? 'GET';

    if (method === 'GET' && path === '/healthz') {
      try {
        send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ status: 'ok', ...(await opts.health()) }));
      } catch (err) {
        send(res, 503, { 'content-type': 'application/json' }, JSON.stringify({ status: 'unavailable', reason: String(err) }));
      }
      return;
    }
    if (method === 'GET' && path === '/metrics') {
      send(res, 200, { 'content-type': metrics.registry.contentType }, await metrics.registry.metrics());
      return;
    }

    if (opts.registry && (path === '/v2' || path.startsWith('/v2/'))) {
      await opts.registry(req, res);
      return;
    }

    let service = 'unknown';
    let operation = 'unknown';
    let outcome = 'ok';
    let status = 200;
    let hint: string | undefined;
    try {
      const body = await readBody(req, MAX_BODY_BYTES, timeouts.apiBodyMs);
      const base = { method, path, query, headers: req.headers };
      const principal = await verifier.verify({ ...base, body });
      const protocol = protocols.find((p) => p.matches({ ...base, principal }));
      if (!protocol && looksLikeQuery(base)) {
        throw new InvalidAction(`No Berth service answers the query protocol for the service '${principal.service.slice(0, 100)}'.`);
      }
      if (!protocol) {
        const target = req.headers['x-amz-target'];
        service = 'none';
        operation = typeof target === 'string' ? target.slice(0, 100) : method + ' ' + path.slice(0, 100);
        outcome = 'UnknownOperationException';
        status = 400;
        send(
          res,
          400,
          { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'x-amzn-errortype': outcome },
          JSON.stringify({ __type: outcome, message: `No Berth service handles ${operation}.` }),
        );
        return;
      }
      service = protocol.service;
      const authorize = opts.authorize;
      const facts = { ...(req.socket.remoteAddress !== undefined ? { sourceIp: req.socket.remoteAddress.replace(/^::ffff:/, '') } : {}), secureTransport: false };
      const out = await protocol.handle({
        ...base,
        body,
        requestId,
        principal,
        ...(authorize ? { authorize: (op: string, input: Record<string, unknown>) => authorize(protocol.service, principal.accessKeyId, op, input, facts) } : {}),
      });
      operation = out.operation;
      outcome = out.outcome;
      status = out.status;
      hint = out.hint;
      const headers: Record<string, string> = { ...out.headers, 'x-amzn-requestid': requestId };
      if (out.outcome !== 'ok') headers['x-amzn-errortype'] = out.outcome;
      if (out.fault !== undefined) log.error({ err: out.fault, requestId, service, operation }, 'unexpected fault');
      send(res, out.status, headers, out.body);
    } catch (caught) {
      const err = caught instanceof BodyTooLarge ? new RequestEntityTooLargeException(`Request body exceeds ${MAX_BODY_BYTES} bytes.`) : caught;
      if (looksLikeQuery({ method, query, headers: req.headers })) {
        // An awsQuery client (ELBv2, IAM, STS, CloudWatch) reads XML errors only.
        const q = queryErrorResponse(err, requestId);
        if (q.unexpected) log.error({ err, requestId }, 'unexpected fault');
        outcome = q.code;
        status = q.status;
        if (!res.headersSent) send(res, q.status, { ...q.headers, 'x-amzn-requestid': requestId }, q.body);
        return;
      }
      const wire = toWireError(err);
      if (wire.unexpected) log.error({ err, requestId }, 'unexpected fault');
      outcome = wire.type;
      status = wire.status;
      if (!res.headersSent) {
        send(
          res,
          wire.status,
          { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'x-amzn-errortype': wire.type },
          JSON.stringify(wire.body),
        );
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe(service, operation, outcome, seconds);
      if (log.isLevelEnabled('debug') || status >= 400) {
        const line = { requestId, service, operation, outcome, status, ms: Math.round(seconds * 1e5) / 100, ...(hint !== undefined ? { hint } : {}) };
        if (status >= 500) log.error(line, 'request');
        else if (status >= 400) log.info(line, 'request');
        else log.debug(line, 'request');
      }
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'request handler failed');
      if (!res.headersSent) send(res, 500, { 'content-type': 'application/x-amz-json-1.1' }, JSON.stringify(toWireError(err).body));
      else res.destroy();
    });
  };
  // requestTimeout 0: Node's default (5 minutes) would cut a slow but steady layer upload; stalls are cut by the idle timeout.
  // Node checks headersTimeout every connectionsCheckingInterval (30 s by default): often enough for the timeout chosen.
  const serverOptions = {
    keepAliveTimeout: Math.min(65_000, timeouts.idleMs),
    headersTimeout: timeouts.headersMs,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(timeouts.headersMs / 4))),
  };
  const server: Server = opts.tls ? createHttpsServer({ ...serverOptions, cert: opts.tls.cert, key: opts.tls.key }, onRequest) : createServer(serverOptions, onRequest);
  // A connection idle this long is destroyed (upgraded agent channels are not: they keep their own heartbeat).
  server.timeout = timeouts.idleMs;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client may reset the connection before it is answered; that must never take the server down.
    socket.on('error', () => socket.destroy());
    if (!opts.upgrade || !opts.upgrade(req, socket, head)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}

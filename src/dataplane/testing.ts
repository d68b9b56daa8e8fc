// Loopback backends, clients and a load generator for data-plane tests and
// benchmarks. Everything binds 127.0.0.1 on ports the kernel picks.
import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createTcpServer, connect, type AddressInfo } from 'node:net';

export interface Backend {
  name: string;
  port: number;
  /** Requests served other than health checks. */
  hits: number;
  /** Health checks received. */
  checks: number;
  /** Status answered to GET /health from now on. */
  setHealth(status: number): void;
  close(): Promise<void>;
}

/**
 * An HTTP backend answering every request with its name (body and
 * `x-backend`), `/health` with a settable status, and `/slow?ms=N` after N ms.
 */
export async function startBackend(name: string): Promise<Backend> {
  let health = 200;
  const backend: Backend = {
    name,
    port: 0,
    hits: 0,
    checks: 0,
    setHealth: (status) => {
      health = status;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === '/health') {
      backend.checks++;
      res.writeHead(health, { 'content-type': 'text/plain' });
      res.end(String(health));
      return;
    }
    backend.hits++;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(name);
    };
    const delay = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 1000) : 0;
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  return backend;
}

/** A TCP backend that writes `<name>:` followed by what it receives back (an echo). */
export async function startTcpBackend(name: string): Promise<{ name: string; port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(`${name}:`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Sends `payload` over TCP and resolves with what came back before the peer closed or `ms` passed. */
export function tcpExchange(port: number, payload: string, ms = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got.endsWith(payload)) socket.end();
    });
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', reject);
  });
}

export interface Answer {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/** One request on a fresh connection (or the given agent). */
export function get(
  url: string,
  options: { method?: string; headers?: Record<string, string>; agent?: Agent | false; localAddress?: string; ca?: string; servername?: string } = {},
): Promise<Answer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
        ...(u.protocol === 'https:' ? { ca: options.ca, servername: options.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadReport {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
}

/**
 * Steady load: `concurrency` keep-alive clients each sending requests back to
 * back until `stop` is called. Every answer other than 2xx and every
 * connection error counts as a failure.
 */
export function startLoad(url: string, concurrency = 8): { stop(): Promise<LoadReport>; report(): LoadReport } {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const report: LoadReport = { ok: 0, failed: 0, failures: [] };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const a = await get(url, { agent });
        if (a.status >= 200 && a.status < 300) report.ok++;
        else {
          report.failed++;
          if (report.failures.length < 10) report.failures.push(`HTTP ${a.status} ${a.body.slice(0, 80)}`);
        }
      } catch (err) {
        report.failed++;
        if (report.failures.length < 10) report.failures.push(String(err));
      }
    }
  });
  return {
    report: () => ({ ...report, failures: [...report.failures] }),
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return report;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

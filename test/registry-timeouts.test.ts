import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand, GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { startTestServer } from './helpers.js';
import { RegistryClient, ecrClient, sha256 } from './registry-helpers.js';

/** Short timeouts keep the test fast; the defaults are minutes (`DEFAULT_HTTP_TIMEOUTS`). */
const IDLE_MS = 1500;

/** Sends `head` (and `body`) on a raw connection and resolves with what came back and when the server closed it. */
function rawExchange(port: number, head: string, body = ''): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let response = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(head + body));
    socket.on('data', (d) => (response += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ response, closedAfterMs: Date.now() - started });
    });
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept an idle connection open for 15 s (got ${JSON.stringify(response.slice(0, 100))})`));
    }, 15_000);
  });
}

describe('registry request timeouts', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let ecr: ECRClient;
  let reg: RegistryClient;
  let basic: string;

  before(async () => {
    server = await startTestServer({
      options: {
        httpTimeouts: { idleMs: IDLE_MS, headersMs: IDLE_MS, apiBodyMs: IDLE_MS },
      },
    });
    ecr = ecrClient(server.url);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'slow/app' }));
    reg = await RegistryClient.login(server.url, ecr);
    basic = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!}`;
  });
  after(async () => {
    ecr.destroy();
    await server.stop();
  });

  it('lets a slow but steady chunked upload run far longer than the idle timeout, and stores it whole', async () => {
    const start = await reg.fetch('/v2/slow/app/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location')!;
    const pieces = 16;
    const piece = 16 * 1024;
    const content = Buffer.alloc(pieces * piece);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) % 251;
    const started = Date.now();
    // One PATCH whose body trickles in over about 4 s: 16 KiB every 250 ms.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(server.url + location, { method: 'PATCH', headers: { authorization: basic, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let i = 0;
      const timer = setInterval(() => {
        req.write(content.subarray(i * piece, (i + 1) * piece));
        if (++i === pieces) {
          clearInterval(timer);
          req.end();
        }
      }, 250);
    });
    const tookMs = Date.now() - started;
    assert.equal(status, 202);
    assert.ok(tookMs > 2 * IDLE_MS, `the upload took ${tookMs} ms, longer than the idle timeout, and was not cut`);
    const done = await reg.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha256(content)}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    const get = await reg.fetch(`/v2/slow/app/blobs/${sha256(content)}`);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
  });

  it('closes a connection whose upload body stalls', async () => {
    const start = await reg.fetch('/v2/slow/app/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location')!;
    const port = Number(new URL(server.url).port);
    const { closedAfterMs } = await rawExchange(
      port,
      `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`,
      'only the first bytes',
    );
    assert.ok(closedAfterMs >= IDLE_MS - 100, `closed after ${closedAfterMs} ms`);
  });

  it('closes a connection whose headers never finish, and an idle keep-alive connection', async () => {
    const port = Number(new URL(server.url).port);
    const partial = await rawExchange(port, 'GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow');
    assert.ok(partial.closedAfterMs >= IDLE_MS - 100, `closed after ${partial.closedAfterMs} ms`);
    const idle = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.match(idle.response, /^HTTP\/1.1 200/);
    assert.ok(idle.closedAfterMs >= IDLE_MS - 100, `closed after ${idle.closedAfterMs} ms`);
  });

  it('cuts an API request whose small body dribbles in for longer than its deadline', async () => {
    const port = Number(new URL(server.url).port);
    const head = 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\nContent-Length: 1000\r\n\r\n';
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
    socket.on('error', () => undefined);
    socket.write(head);
    // A byte every 500 ms keeps the connection from being idle, but the body never completes in time.
    const drip = setInterval(() => socket.write('{'), 500);
    const guard = setTimeout(() => socket.destroy(), 15_000);
    const after = await closed;
    clearInterval(drip);
    clearTimeout(guard);
    assert.ok(after >= IDLE_MS - 100 && after < 10_000, `closed after ${after} ms`);
  });
});

/**
 * The channel client against a small WebSocket server in the test, which
 * checks the SigV4 signature of the upgrade like the real server does.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { SigV4Verifier } from '../../api/auth/sigv4.js';
import { makeTask, TEST_CLUSTER_ARN } from '../engine/fixtures.js';
import { AGENT_CONNECT_PATH, type AgentTask } from '../../protocol/agent.js';
import { ChannelClient, type ChannelOptions } from './client.js';

const CREDS = { accessKeyId: 'AKIACHANNELTEST00001', secretAccessKey: 'channel-test-secret' };
const INSTANCE_ARN = 'arn:aws:ecs:us-east-1:000000000000:container-instance/agent-test/abc';
const FAST = { baseMs: 20, capMs: 100 };

interface FakeServer {
  url: string;
  connections: WebSocket[];
  received: unknown[];
  refusals: string[];
  /** Resolves with the next connection. */
  nextConnection(): Promise<WebSocket>;
  close(): Promise<void>;
}

async function fakeServer(opts: { refuse?: () => boolean } = {}): Promise<FakeServer> {
  const verifier = new SigV4Verifier({ secretFor: (id) => (id === CREDS.accessKeyId ? CREDS.secretAccessKey : undefined) }, 'us-east-1');
  const wss = new WebSocketServer({ noServer: true });
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const state: FakeServer = {
    url: '',
    connections: [],
    received: [],
    refusals: [],
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const c of state.connections) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  const waiters: ((ws: WebSocket) => void)[] = [];
  http.on('upgrade', (req, socket, head) => {
    // An upgrade socket has no error handler of its own: a client that resets it after a refusal must not crash the server.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    void verifier
      .verify({ method: 'GET', path: url.pathname, query: url.search.slice(1), headers: req.headers, body: Buffer.alloc(0) })
      .then(() => {
        if (url.pathname !== AGENT_CONNECT_PATH) throw new Error('wrong path');
        if (url.searchParams.get('cluster') !== TEST_CLUSTER_ARN || url.searchParams.get('containerInstance') !== INSTANCE_ARN) {
          throw new Error('wrong query');
        }
        if (opts.refuse?.()) throw new Error('refused by test');
        wss.handleUpgrade(req, socket, head, (ws) => {
          state.connections.push(ws);
          ws.on('message', (d) => state.received.push(JSON.parse(String(d))));
          waiters.shift()?.(ws);
        });
      })
      .catch((err: unknown) => {
        state.refusals.push(String(err));
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return state;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(server: FakeServer, extra: Partial<ChannelOptions> = {}): { client: ChannelClient; pushes: { seq: number; tasks: AgentTask[] }[]; connects: () => number } {
  const pushes: { seq: number; tasks: AgentTask[] }[] = [];
  let connects = 0;
  const c = new ChannelClient({
    endpoint: server.url,
    clusterArn: TEST_CLUSTER_ARN,
    containerInstanceArn: INSTANCE_ARN,
    region: 'us-east-1',
    credentials: CREDS,
    backoff: FAST,
    onTasks: async (tasks, seq) => void pushes.push({ seq, tasks }),
    onConnect: () => void connects++,
    ...extra,
  });
  cleanups.push(() => c.stop());
  c.start();
  return { client: c, pushes, connects: () => connects };
}

const acks = (s: FakeServer) => s.received.filter((m): m is { type: 'ack'; seq: number } => (m as { type: string }).type === 'ack').map((m) => m.seq);

describe('channel client', () => {
  it('connects with a signed upgrade, stores pushes in order and acknowledges them', async () => {
    const server = await fakeServer();
    cleanups.push(() => server.close());
    const conn = server.nextConnection();
    const { pushes, client: c } = client(server);
    const ws = await conn;
    const task = makeTask({ containers: [{ name: 'a' }] });
    ws.send(JSON.stringify({ type: 'tasks', seq: 1, tasks: [task] }));
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'tasks', seq: 'two', tasks: [] }));
    ws.send(JSON.stringify({ type: 'tasks', seq: 2, tasks: [{ taskArn: 'broken' }] }));
    ws.send(JSON.stringify({ type: 'surprise' }));
    ws.send(JSON.stringify({ type: 'tasks', seq: 1, tasks: [] }));
    ws.send(JSON.stringify({ type: 'tasks', seq: 3, tasks: [] }));
    await waitFor('two acks', () => acks(server).length === 2);
    assert.deepEqual(acks(server), [1, 3]);
    assert.deepEqual(pushes.map((p) => [p.seq, p.tasks.length]), [[1, 1], [3, 0]]);
    assert.equal(pushes[0]?.tasks[0]?.taskArn, task.taskArn);
    assert.ok(server.received.some((m) => (m as { type: string }).type === 'heartbeat'), 'the client sends heartbeats');
    assert.equal(c.send({ type: 'health', taskArn: task.taskArn, healthStatus: 'HEALTHY', containers: [] }), true);
    await waitFor('health message', () => server.received.some((m) => (m as { type: string }).type === 'health'));
  });

  it('does not acknowledge a push it could not store', async () => {
    const server = await fakeServer();
    cleanups.push(() => server.close());
    const conn = server.nextConnection();
    let calls = 0;
    client(server, {
      onTasks: async () => {
        if (++calls === 1) throw new Error('disk full');
      },
    });
    const ws = await conn;
    ws.send(JSON.stringify({ type: 'tasks', seq: 1, tasks: [] }));
    ws.send(JSON.stringify({ type: 'tasks', seq: 2, tasks: [] }));
    await waitFor('ack of 2', () => acks(server).includes(2));
    assert.deepEqual(acks(server), [2]);
  });

  it('reconnects after the server drops the connection, and after refusals', async () => {
    let refuseNext = 0;
    const server = await fakeServer({ refuse: () => refuseNext-- > 0 });
    cleanups.push(() => server.close());
    const first = server.nextConnection();
    const { connects } = client(server);
    (await first).terminate();
    refuseNext = 2;
    const second = await server.nextConnection();
    await waitFor('second connect', () => connects() === 2);
    assert.equal(server.refusals.length, 2);
    assert.equal(second.readyState, second.OPEN);
  });

  it('drops a silent connection after the heartbeat timeout and reconnects', async () => {
    const server = await fakeServer();
    cleanups.push(() => server.close());
    const first = server.nextConnection();
    const { connects } = client(server, { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 300 });
    const ws = await first;
    const closed = new Promise<number>((r) => ws.on('close', () => r(Date.now())));
    const opened = Date.now();
    const second = server.nextConnection();
    const closedAt = await closed;
    assert.ok(closedAt - opened >= 250, 'not before the timeout');
    await second;
    await waitFor('reconnect', () => connects() === 2);
  });

  it('refuses to connect with a wrong secret and keeps trying without throwing', async () => {
    const server = await fakeServer();
    cleanups.push(() => server.close());
    const { client: c } = client(server, { credentials: { ...CREDS, secretAccessKey: 'wrong' } });
    await waitFor('two refusals', () => server.refusals.length >= 2);
    assert.match(server.refusals[0] ?? '', /signature/i);
    assert.equal(c.connected, false);
  });
});

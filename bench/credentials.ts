// Task credentials benchmark: fetches per second from the agent's task
// credentials endpoint, beside a bare Node HTTP server answering the same JSON.
//
//   node dist/bench/credentials.js [--seconds 3] [--rounds 3] [--concurrency 16] [--tasks 200]
//
// Both listen on 169.254.170.2 (the agent adds it to `lo`; needs root) in
// this process, on ports of their own. The agent's endpoint holds `--tasks`
// tasks' credentials and checks each request's id and authorization token
// (FULL_URI mode, as when port 80 is taken); the peer answers one fixed
// document to any request. Clients on keep-alive connections fetch in a
// closed loop, the two servers in alternating rounds so that drift hits both
// alike; the figure is the best round of each.
import { createServer, Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/core/log.js';
import { CREDENTIALS_HOST, CredentialsEndpoint, credentialsDocument, TaskRoleCredentials } from '../src/agent/credentials/taskRoles.js';
import type { AgentTaskCredentials } from '../src/protocol/agent.js';
import { fmt, printRow } from './lib.js';

export interface CredentialsBenchResult {
  endpointPerSecond: number;
  barePerSecond: number;
}

/** Fetches per second of `path` with `concurrency` closed-loop keep-alive clients for `seconds`. */
async function rate(port: number, path: string, headers: Record<string, string>, concurrency: number, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: CREDENTIALS_HOST, port, path, agent, headers }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode ?? 0}`));
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return done / elapsed;
}

export async function runCredentialsBench(opts: { seconds?: number; rounds?: number; concurrency?: number; tasks?: number } = {}): Promise<CredentialsBenchResult> {
  const seconds = opts.seconds ?? 3;
  const rounds = opts.rounds ?? 3;
  const concurrency = opts.concurrency ?? 16;
  const tasks = opts.tasks ?? 200;

  const held = new TaskRoleCredentials(Buffer.alloc(32, 7));
  const set: AgentTaskCredentials[] = Array.from({ length: tasks }, (_, i) => ({
    taskArn: `arn:aws:ecs:us-east-1:000000000000:task/bench/${i.toString(16).padStart(32, '0')}`,
    role: 'task',
    roleArn: 'arn:aws:iam::000000000000:role/bench',
    accessKeyId: `ASIABENCH${String(i).padStart(11, '0')}`,
    secretAccessKey: 'x'.repeat(40),
    sessionToken: 'IQoJb3JpZ2luX2Vj' + 'y'.repeat(128),
    expiration: Date.now() + 6 * 3600_000,
  }));
  held.replace(set);
  const endpoint = new CredentialsEndpoint({ credentials: held, log: silentLogger() });
  if (!(await endpoint.listen(0))) throw new Error(`cannot listen on ${CREDENTIALS_HOST} (the benchmark needs root and iproute2)`);
  const target = set[Math.floor(tasks / 2)]!;
  const env = endpoint.environmentFor(target.taskArn);
  const full = new URL(env['AWS_CONTAINER_CREDENTIALS_FULL_URI']!);
  const ourHeaders = { authorization: env['AWS_CONTAINER_AUTHORIZATION_TOKEN']! };

  const body = JSON.stringify(credentialsDocument(target));
  const bare: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  bare.keepAliveTimeout = 5_000;
  const barePort = await new Promise<number>((resolve) => bare.listen(0, CREDENTIALS_HOST, () => resolve((bare.address() as AddressInfo).port)));

  let ours = 0;
  let peer = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      ours = Math.max(ours, await rate(Number(full.port), full.pathname, ourHeaders, concurrency, seconds));
      peer = Math.max(peer, await rate(barePort, full.pathname, {}, concurrency, seconds));
    }
  } finally {
    await endpoint.close();
    await new Promise<void>((resolve) => bare.close(() => resolve()));
  }
  console.log(`task credential fetches, ${concurrency} keep-alive clients, ${tasks} tasks held, best of ${rounds} rounds of ${seconds} s`);
  printRow('fetches/s from the agent endpoint', ours, peer, '/s', 'bare node http');
  console.log(`  (the endpoint serves ${fmt((ours / peer) * 100, 0)}% of a bare server's rate)`);
  return { endpointPerSecond: ours, barePerSecond: peer };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, concurrency: { type: 'string' }, tasks: { type: 'string' } } });
  await runCredentialsBench({
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.tasks ? { tasks: Number(values.tasks) } : {}),
  });
}

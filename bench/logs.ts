// Container logs benchmark.
//
// 1. Ingest: a container writes N lines as fast as it can; Berth (a server
//    and an agent, child processes, on the real Docker Engine) ships them
//    with awslogs until the last one is queryable with GetLogEvents. Peer:
//    `docker run -d` of the same image and command, its output appended to
//    a local file by `docker logs -f` until the container exits (the
//    physical limit of reading a container's output).
// 2. Query: FilterLogEvents over 1,000,000 stored events (p50 of a full
//    query, following nextToken), a term pattern and a JSON pattern. Peer:
//    `grep` over the same messages in a local file.
//
//   node dist/bench/logs.js [--lines 200000] [--events 1000000] [--runs 7] [--only ingest|query]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateClusterCommand, ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { startServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import { DEFAULT_IMAGE, dockerOk } from './docker-baseline.js';
import { fmt, printRow, spawnUntil, stats } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000003', secretAccessKey: 'bench-secret-key-0000000000000000000003' };
const CLUSTER = 'bench-logs';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The container's script: N numbered lines as fast as the shell writes them, then a moment to be read. */
const script = (lines: number) => `seq 1 ${lines} | sed 's/^/log line number /'; sleep 1`;

async function ingestBerth(lines: number): Promise<number> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-logs-'));
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const children: ChildProcess[] = [];
  let taskArn: string | undefined;
  let url = '';
  try {
    const server = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(dir, 'server')], /listening on (http:\/\/\S+)/, env);
    children.push(server.child);
    url = server.match[1]!;
    const ecs = new ECSClient({ endpoint: url, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    const logs = new CloudWatchLogsClient({ endpoint: url, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/bench/ingest' }));
    const agent = await spawnUntil(
      process.execPath,
      [join(root, 'bin/berth.js'), 'agent', '--endpoint', url, '--cluster', CLUSTER, '--data-dir', join(dir, 'agent'), '--memory', '1024', '--cpu', '1024'],
      /registered as/,
      { ...env, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey },
    );
    children.push(agent.child);
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'bench-logs',
        containerDefinitions: [
          {
            name: 'app',
            image: DEFAULT_IMAGE,
            memory: 64,
            essential: true,
            command: ['sh', '-c', script(lines)],
            logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/bench/ingest', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'b' } },
          },
        ],
      }),
    );
    const started = performance.now();
    const out = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'bench-logs' }));
    taskArn = out.tasks![0]!.taskArn!;
    const stream = `b/app/${taskArn.slice(taskArn.lastIndexOf('/') + 1)}`;
    const last = `log line number ${lines}`;
    let seen: string | undefined;
    for (;;) {
      if (performance.now() - started > 600_000) throw new Error(`the last line did not arrive within 10 minutes; the stream ends with '${seen ?? '(nothing)'}'`);
      const page = await logs.send(new GetLogEventsCommand({ logGroupName: '/bench/ingest', logStreamName: stream, limit: 1 })).catch(() => undefined);
      seen = page?.events?.[0]?.message ?? seen;
      if (seen === last) break;
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: taskArn })).catch(() => undefined);
    ecs.destroy();
    logs.destroy();
    return lines / seconds;
  } finally {
    for (const c of children.reverse()) c.kill('SIGTERM');
    await sleep(500);
    if (taskArn) {
      const ids = spawnSync('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${taskArn}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (ids.length) spawnSync('docker', ['rm', '-f', ...ids]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ingestDockerLogs(lines: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-dockerlogs-'));
  let id = '';
  try {
    const started = performance.now();
    id = (await dockerOk(['run', '-d', '--label', 'berth.bench=logs', DEFAULT_IMAGE, 'sh', '-c', script(lines)])).trim();
    const file = createWriteStream(join(dir, 'out.log'));
    const follower = spawn('docker', ['logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    follower.stdout.pipe(file);
    await new Promise<void>((resolve) => follower.on('exit', () => resolve()));
    await new Promise<void>((resolve) => file.end(() => resolve()));
    return lines / ((performance.now() - started) / 1000);
  } finally {
    if (id) spawnSync('docker', ['rm', '-f', id]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A realistic JSON access-log line; one in 1,000 is an error, one in 100 is slow. */
function message(i: number): string {
  const level = i % 1000 === 7 ? 'error' : 'info';
  const latency = i % 100 === 3 ? 1000 + (i % 997) : 5 + (i % 900);
  return JSON.stringify({ level, method: i % 5 ? 'GET' : 'POST', path: `/api/items/${i % 5000}`, status: level === 'error' ? 503 : 200, latency, request: `req-${i.toString(16)}` });
}

async function queryBench(events: number, runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-filter-'));
  process.env.BERTH_ACCESS_KEY_ID = CREDS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = CREDS.secretAccessKey;
  const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'server'), region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal' });
  const logs = new CloudWatchLogsClient({ endpoint: server.url, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/bench/query' }));
    const streams = 10;
    for (let s = 0; s < streams; s++) await logs.send(new CreateLogStreamCommand({ logGroupName: '/bench/query', logStreamName: `s${s}` }));
    const base = Date.now() - 3_600_000;
    const text: string[] = [];
    const loadStarted = performance.now();
    for (let i = 0; i < events; i += 5_000) {
      const batch = [];
      for (let j = i; j < Math.min(events, i + 5_000); j++) {
        const m = message(j);
        batch.push({ timestamp: base + Math.floor(j / 300), message: m });
        text.push(m);
      }
      await logs.send(new PutLogEventsCommand({ logGroupName: '/bench/query', logStreamName: `s${(i / 5_000) % streams}`, logEvents: batch }));
    }
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const file = join(dir, 'messages.log');
    writeFileSync(file, text.join('\n') + '\n');
    console.log(`  stored ${events} events in ${streams} streams through PutLogEvents: ${fmt(events / loadSeconds, 0)} events/s`);

    const filterAll = async (pattern: string): Promise<{ ms: number; found: number }> => {
      const started = performance.now();
      let found = 0;
      let token: string | undefined;
      do {
        const page = await logs.send(new FilterLogEventsCommand({ logGroupName: '/bench/query', filterPattern: pattern, ...(token ? { nextToken: token } : {}) }));
        found += page.events?.length ?? 0;
        token = page.nextToken;
      } while (token);
      return { ms: performance.now() - started, found };
    };
    const grep = (args: string[]): { ms: number; found: number } => {
      const started = performance.now();
      const r = spawnSync('grep', [...args, file], { encoding: 'utf8' });
      return { ms: performance.now() - started, found: Number(r.stdout.trim()) };
    };
    const cases: { label: string; pattern: string; grepArgs: string[] }[] = [
      { label: 'FilterLogEvents "error" (term, 0.1% match)', pattern: '"\\"level\\":\\"error\\""', grepArgs: ['-c', '-F', '"level":"error"'] },
      { label: 'FilterLogEvents { $.latency > 1990 } (JSON)', pattern: '{ $.latency > 1990 }', grepArgs: ['-c', '-E', '"latency":(199[1-9]|[2-9][0-9]{3})[,}]'] },
    ];
    for (const c of cases) {
      const ours: number[] = [];
      const peer: number[] = [];
      let found = 0;
      let peerFound = 0;
      // One untimed run of each first: both then read from a warm page cache.
      await filterAll(c.pattern);
      grep(c.grepArgs);
      for (let r = 0; r < runs; r++) {
        const a = await filterAll(c.pattern);
        ours.push(a.ms);
        found = a.found;
        const b = grep(c.grepArgs);
        peer.push(b.ms);
        peerFound = b.found;
      }
      printRow(`${c.label} p50`, stats(ours).p50, stats(peer).p50, 'ms', 'grep');
      console.log(`    matches: Berth ${found}, grep ${peerFound}${found === peerFound ? '' : '  (DIFFERENT)'}`);
    }
  } finally {
    logs.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLogsBench(opts: { lines: number; events: number; runs: number; only?: 'ingest' | 'query' }): Promise<void> {
  if (opts.only !== 'query') {
    console.log(`container output to queryable events (${opts.lines} lines):`);
    const peer = await ingestDockerLogs(opts.lines);
    const ours = await ingestBerth(opts.lines);
    printRow('awslogs ingest, lines/s (higher is better)', ours, peer, 'line/s', 'docker logs -f > file');
  }
  if (opts.only !== 'ingest') {
    console.log(`FilterLogEvents over ${opts.events} stored events (${opts.runs} runs):`);
    await queryBench(opts.events, opts.runs);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { lines: { type: 'string', default: '200000' }, events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '7' }, only: { type: 'string' } },
  });
  const only = values.only === 'ingest' || values.only === 'query' ? values.only : undefined;
  await runLogsBench({ lines: Number(values.lines), events: Number(values.events), runs: Number(values.runs), ...(only ? { only } : {}) });
}

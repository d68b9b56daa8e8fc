// PutMetricData throughput with the metric journal. Figures: acknowledged
// writes per second over HTTP (the AWS SDK, several requests in flight, 20
// data points each) when every write is journaled before it is answered
// (page cache: survives kill -9), and journaled and fdatasynced (group
// commit: survives power loss, the server's default). Peer in the same run:
// the same server with the journal detached (memory only, what Berth did
// before the journal: a kill -9 lost up to a minute of data).
//
//   node dist/bench/metrics.js [--seconds 5] [--concurrency 16] [--rounds 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { startServer, type RunningServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import type { JournalSink } from '../src/metrics/storage.js';
import { printRow } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000004', secretAccessKey: 'bench-secret-key-0000000000000000000004' };

async function throughput(server: RunningServer, seconds: number, concurrency: number): Promise<number> {
  const cw = new CloudWatchClient({ endpoint: server.url, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let i = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const n = i++;
      await cw.send(
        new PutMetricDataCommand({
          Namespace: 'Bench',
          MetricData: Array.from({ length: 20 }, (_, k) => ({ MetricName: `m${k}`, Dimensions: [{ Name: 'Service', Value: `s${n % 50}` }], Value: n, Unit: 'Count' })),
        }),
      );
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const rate = done / ((performance.now() - started) / 1000);
  cw.destroy();
  return rate;
}

export async function runMetricsBench(opts: { seconds: number; concurrency: number; rounds: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-metrics-'));
  process.env.BERTH_ACCESS_KEY_ID = CREDS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = CREDS.secretAccessKey;
  const base = { host: '127.0.0.1', port: 0, region: 'us-east-1', accountId: '000000000000', log: silentLogger() };
  const full = await startServer({ ...base, dataDir: join(dir, 'full'), synchronous: 'full' });
  const normal = await startServer({ ...base, dataDir: join(dir, 'normal'), synchronous: 'normal' });
  try {
    console.log(`PutMetricData (20 data points each, ${opts.concurrency} in flight, ${opts.seconds} s a round, median of ${opts.rounds} rounds):`);
    // Warm both servers (JIT, connections) before timing.
    await throughput(full, 1, opts.concurrency);
    await throughput(normal, 1, opts.concurrency);
    const journal = (normal.metrics.storage as unknown as { journal: JournalSink | undefined }).journal;
    // Rounds alternate the three modes so that load from elsewhere on the machine hits them alike; medians are printed.
    const memory: number[] = [];
    const journaled: number[] = [];
    const synced: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      normal.metrics.storage.attachJournal(undefined);
      memory.push(await throughput(normal, opts.seconds, opts.concurrency));
      normal.metrics.storage.attachJournal(journal);
      journaled.push(await throughput(normal, opts.seconds, opts.concurrency));
      synced.push(await throughput(full, opts.seconds, opts.concurrency));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    printRow('journaled (survives kill -9), req/s', median(journaled), median(memory), 'req/s', 'memory only');
    printRow('journaled + fdatasync (default), req/s', median(synced), median(memory), 'req/s', 'memory only');
  } finally {
    await full.close();
    await normal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' } } });
  await runMetricsBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), rounds: Number(values.rounds) });
}

// Target health writes as the data plane will make them: batches of health
// observations for targets of one large target group, through the one writer
// (`reportTargetHealth`, one row per target), on a real SQLite store synced on
// every commit. Peer in the same run: the design Berth did not take, where
// the target group's document holds its targets and every batch rewrites it.
//   node dist/bench/target-health.js [--targets 1000] [--batch 50] [--rounds 200]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseSqliteDriver, openSqliteStore } from '../src/store/sqlite.js';
import { withRetry } from '../src/store/store.js';
import { createTargetGroup } from '../src/elbv2/targetGroups.js';
import { registerTargets } from '../src/elbv2/targets.js';
import type { Elbv2Context, TargetHealthReport } from '../src/elbv2/model.js';
import { reportTargetHealth } from '../src/elbv2/writers/targetHealth.js';
import { printRow, stats } from './lib.js';

export interface TargetHealthBenchOptions {
  targets: number;
  batch: number;
  rounds: number;
}

interface EmbeddedGroup {
  targets: { id: string; port: number; health?: TargetHealthReport }[];
}

export async function runTargetHealthBench(opts: TargetHealthBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-health-'));
  const store = await openSqliteStore({ path: join(dir, 'state.db'), synchronous: 'full', driver: chooseSqliteDriver().driver });
  try {
    let clock = Date.now();
    const ctx: Elbv2Context = { store, region: 'us-east-1', accountId: '000000000000', now: () => clock };
    const tg = ((await createTargetGroup(ctx, { Name: 'bench', Protocol: 'HTTP', Port: 8080, TargetType: 'ip' })) as { TargetGroups: { TargetGroupArn: string }[] }).TargetGroups[0]!.TargetGroupArn;
    const ids = Array.from({ length: opts.targets }, (_, i) => `10.${Math.floor(i / 65536) % 256}.${Math.floor(i / 256) % 256}.${i % 256}`);
    for (let i = 0; i < ids.length; i += 500) await registerTargets(ctx, { TargetGroupArn: tg, Targets: ids.slice(i, i + 500).map((Id) => ({ Id })) });
    const embeddedArn = `${tg}-embedded`;
    await store.transaction((tx) =>
      tx.insert<EmbeddedGroup>('targetGroup', { arn: embeddedArn, cluster: '', name: 'bench-embedded', status: 'active', seq: 0, doc: { targets: ids.map((id) => ({ id, port: 8080 })) } }),
    );

    const pick = (round: number): string[] => Array.from({ length: opts.batch }, (_, k) => ids[(round * opts.batch + k * 7919) % ids.length]!);
    const state = (round: number): TargetHealthReport['State'] => (round % 2 === 0 ? 'healthy' : 'unhealthy');

    const ours: number[] = [];
    const peer: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      clock += 1000;
      const batch = pick(round);
      // Alternate which design goes first so neither always meets a warm cache.
      const runOurs = async (): Promise<void> => {
        const t = process.hrtime.bigint();
        await reportTargetHealth(store, batch.map((id) => ({ targetGroupArn: tg, id, port: 8080, health: { State: state(round), at: clock } })));
        ours.push(Number(process.hrtime.bigint() - t) / 1e6);
      };
      const runPeer = async (): Promise<void> => {
        const t = process.hrtime.bigint();
        const wanted = new Set(batch);
        await withRetry(store, async (tx) => {
          const row = (await tx.get<EmbeddedGroup>('targetGroup', embeddedArn))!;
          const targets = row.doc.targets.map((x) => (wanted.has(x.id) ? { ...x, health: { State: state(round), at: clock } } : x));
          await tx.update<EmbeddedGroup>('targetGroup', { ...row, doc: { targets } });
        });
        peer.push(Number(process.hrtime.bigint() - t) / 1e6);
      };
      if (round % 2 === 0) {
        await runOurs();
        await runPeer();
      } else {
        await runPeer();
        await runOurs();
      }
    }
    const o = stats(ours);
    const p = stats(peer);
    console.log(`target health: ${opts.rounds} batches of ${opts.batch} observations in a target group of ${opts.targets} targets (SQLite, synced commits)`);
    printRow('health batch latency p50', o.p50, p.p50, 'ms', 'group-doc rewrite');
    printRow('health batch latency p99', o.p99, p.p99, 'ms', 'group-doc rewrite');
    printRow('observations written per second', (opts.batch * 1000) / o.mean, (opts.batch * 1000) / p.mean, '/s', 'group-doc rewrite');
    const rowBytes = JSON.stringify((await store.get('target', `${tg}#${ids[0]!}:8080`))!.doc).length;
    const docBytes = JSON.stringify((await store.get('targetGroup', embeddedArn))!.doc).length;
    printRow('document bytes rewritten per batch', rowBytes * opts.batch, docBytes, 'B', 'group-doc rewrite');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(process.argv[i + 1]) : def;
    return Number.isFinite(v) && v > 0 ? v : def;
  };
  await runTargetHealthBench({ targets: arg('targets', 1000), batch: arg('batch', 50), rounds: arg('rounds', 200) });
}

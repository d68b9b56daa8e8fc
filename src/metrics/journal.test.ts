import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../core/log.js';
import { MetricJournal } from './journal.js';
import { aggregateByPeriod, MetricStorage, statisticValue } from './storage.js';

const metric = { namespace: 'App', metricName: 'Requests', dimensions: [{ Name: 'Service', Value: 'web' }] };

function sumOf(s: MetricStorage, t0: number): number {
  const series = s.get('App', 'Requests', metric.dimensions);
  if (!series) return 0;
  const periods = aggregateByPeriod(s.range(series, t0 - 3600, t0 + 3600), t0 - 3600, 7200);
  return statisticValue('Sum', periods.get(t0 - 3600)!) ?? 0;
}

describe('metric journal', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-metric-journal-'));
    dirs.push(d);
    return d;
  };
  const t0 = Math.floor(Date.now() / 1000);

  it('replays writes that no snapshot holds, and counts none twice across compactions and restarts', async () => {
    const d = dir();
    const first = new MetricStorage();
    const { journal } = MetricJournal.open({ dir: d, storage: first, sync: true, log: silentLogger() });
    for (let i = 1; i <= 10; i++) first.put(metric, t0, { kind: 'values', values: [i] }, 'Count', 60);
    await journal.compact();
    for (let i = 11; i <= 20; i++) first.put(metric, t0, { kind: 'values', values: [i] }, 'Count', 60);
    await journal.durable();
    // No close: the process "dies" here, with 10 writes in the snapshot and 10 only in the journal.
    const second = new MetricStorage();
    const reopened = MetricJournal.open({ dir: d, storage: second, sync: true, log: silentLogger() });
    assert.equal(reopened.replayed, 10);
    assert.equal(sumOf(second, t0), 210);
    second.put(metric, t0, { kind: 'values', values: [100] }, 'Count', 60);
    const third = new MetricStorage();
    MetricJournal.open({ dir: d, storage: third, sync: false, log: silentLogger() });
    assert.equal(sumOf(third, t0), 310);
  });

  it('skips a line cut short by a crash and keeps the journal bounded', async () => {
    const d = dir();
    const s = new MetricStorage();
    MetricJournal.open({ dir: d, storage: s, sync: false, log: silentLogger(), maxBytes: 4096 });
    for (let i = 0; i < 200; i++) s.put(metric, t0, { kind: 'values', values: [1] }, 'Count', 60);
    await new Promise((r) => setTimeout(r, 50));
    s.put(metric, t0, { kind: 'values', values: [1] }, 'Count', 60);
    assert.ok(statSync(join(d, 'metrics.wal')).size < 4096, 'the journal compacts itself past its bound');
    appendFileSync(join(d, 'metrics.wal'), '[999,[[{"namespace":"App"');
    const again = new MetricStorage();
    MetricJournal.open({ dir: d, storage: again, sync: false, log: silentLogger() });
    assert.equal(sumOf(again, t0), 201);
    assert.deepEqual(readdirSync(d).sort(), ['metrics.jsonl', 'metrics.wal']);
  });
});

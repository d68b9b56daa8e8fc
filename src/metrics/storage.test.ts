import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateByPeriod, MetricStorage, statisticValue } from './storage.js';

const metric = { namespace: 'App', metricName: 'Latency', dimensions: [{ Name: 'B', Value: '2' }, { Name: 'A', Value: '1' }] };

describe('metric storage', () => {
  it('finds a series whatever the order of its dimensions, and aggregates by period', () => {
    const s = new MetricStorage();
    const t0 = 1_800_000_000;
    s.put(metric, t0 + 1, { kind: 'values', values: [10] }, 'Milliseconds', 1);
    s.put(metric, t0 + 5, { kind: 'values', values: [20, 30], counts: [1, 2] }, 'Milliseconds', 1);
    s.put(metric, t0 + 65, { kind: 'set', count: 4, sum: 40, min: 5, max: 15 }, 'Milliseconds', 60);
    const series = s.get('App', 'Latency', [{ Name: 'A', Value: '1' }, { Name: 'B', Value: '2' }]);
    assert.ok(series);
    const periods = aggregateByPeriod(s.range(series, t0, t0 + 120), t0, 60);
    const first = periods.get(t0)!;
    assert.equal(statisticValue('SampleCount', first), 4);
    assert.equal(statisticValue('Sum', first), 90);
    assert.equal(statisticValue('Average', first), 22.5);
    assert.equal(statisticValue('Minimum', first), 10);
    assert.equal(statisticValue('Maximum', first), 30);
    assert.equal(statisticValue('p50', first), 20);
    assert.equal(statisticValue('p99', first), 30);
    const second = periods.get(t0 + 60)!;
    assert.equal(statisticValue('Average', second), 10);
    assert.equal(statisticValue('p90', second), undefined, 'a statistic set carries no percentiles');
  });

  it('keeps buckets sorted when data arrives out of order', () => {
    const s = new MetricStorage();
    for (const t of [50, 10, 30, 20, 40]) s.put(metric, 1_800_000_000 + t, { kind: 'values', values: [t] }, undefined, 1);
    const series = s.get('App', 'Latency', metric.dimensions)!;
    assert.deepEqual(series.buckets.map((b) => b.t - 1_800_000_000), [10, 20, 30, 40, 50]);
    assert.deepEqual(s.range(series, 1_800_000_020, 1_800_000_040).map((b) => b.sum), [20, 30]);
  });

  it('rolls high-resolution data older than three hours into minutes and drops data older than 15 days', () => {
    const s = new MetricStorage();
    const now = 1_800_000_000_000;
    const old = now / 1000 - 4 * 3600;
    s.put(metric, old, { kind: 'values', values: [1] }, undefined, 1);
    s.put(metric, old + 10, { kind: 'values', values: [3] }, undefined, 1);
    s.put({ ...metric, metricName: 'Gone' }, now / 1000 - 16 * 86400, { kind: 'values', values: [1] }, undefined, 60);
    s.prune(now);
    const series = s.get('App', 'Latency', metric.dimensions)!;
    assert.equal(series.buckets.length, 1);
    assert.equal(series.buckets[0]!.t % 60, 0);
    assert.equal(series.buckets[0]!.count, 2);
    assert.equal(s.get('App', 'Gone', metric.dimensions), undefined);
  });

  it('carries its series across a snapshot and restore', () => {
    const s = new MetricStorage();
    s.put(metric, 1_800_000_000, { kind: 'values', values: [4, 6] }, 'Count', 1);
    s.put({ ...metric, metricName: 'Other', dimensions: [] }, 1_800_000_060, { kind: 'set', count: 2, sum: 3, min: 1, max: 2 }, undefined, 60);
    const copy = new MetricStorage();
    assert.equal(copy.restore(s.snapshot() + '\n{torn'), 2);
    const series = copy.get('App', 'Latency', metric.dimensions)!;
    assert.deepEqual(series.buckets, s.get('App', 'Latency', metric.dimensions)!.buckets);
    assert.equal(copy.get('App', 'Other', [])!.buckets[0]!.unit, undefined);
  });
});

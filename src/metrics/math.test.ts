import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MathError, evaluateExpression, type TimeSeries } from './math.js';
import { getMetricData, putMetricData } from './metrics.js';
import { MetricStorage } from './storage.js';
import type { MetricsContext } from './context.js';

const ts = (pairs: [number, number][]): TimeSeries => new Map(pairs);

describe('metric math', () => {
  const series = new Map([
    ['m1', ts([[0, 1], [60, 2], [120, 3]])],
    ['m2', ts([[0, 10], [60, 20]])],
  ]);
  it('does arithmetic on series matched by timestamp and with numbers', () => {
    assert.deepEqual([...evaluateExpression('m1 + m2', series, ['m1', 'm2'])], [[0, 11], [60, 22]]);
    assert.deepEqual([...evaluateExpression('(m1 * 100) / m2', series, [])], [[0, 10], [60, 10]]);
    assert.deepEqual([...evaluateExpression('-m1 + 1', series, [])], [[0, 0], [60, -1], [120, -2]]);
  });
  it('aggregates across series with SUM, AVG, MIN, MAX over METRICS() or a list', () => {
    assert.deepEqual([...evaluateExpression('SUM(METRICS())', series, ['m1', 'm2'])], [[0, 11], [60, 22], [120, 3]]);
    assert.deepEqual([...evaluateExpression('MAX([m1, m2])', series, [])], [[0, 10], [60, 20], [120, 3]]);
    assert.deepEqual([...evaluateExpression('AVG(m1)', series, [])], [[0, 1], [60, 2], [120, 3]]);
  });
  it('says what is wrong with a bad expression', () => {
    assert.throws(() => evaluateExpression('m1 +', series, []), MathError);
    assert.throws(() => evaluateExpression('m3', series, []), /Unknown metric or expression id 'm3'/);
    assert.throws(() => evaluateExpression('RATE(m1)', series, []), /Unsupported function RATE/);
  });
  it('serves expressions in GetMetricData', () => {
    const ctx: MetricsContext = { store: undefined as never, storage: new MetricStorage(), region: 'us-east-1', accountId: '000000000000', now: () => 1_800_000_030_000 };
    putMetricData(ctx, { Namespace: 'App', MetricData: [{ MetricName: 'Errors', Value: 5, Timestamp: 1_800_000_000 }, { MetricName: 'Requests', Value: 50, Timestamp: 1_800_000_000 }] });
    const stat = (name: string) => ({ Metric: { Namespace: 'App', MetricName: name }, Period: 60, Stat: 'Sum' });
    const out = getMetricData(ctx, {
      StartTime: 1_799_999_940,
      EndTime: 1_800_000_060,
      MetricDataQueries: [
        { Id: 'rate', Expression: '100 * e / r', Label: 'Error rate' },
        { Id: 'e', MetricStat: stat('Errors'), ReturnData: false },
        { Id: 'r', MetricStat: stat('Requests'), ReturnData: false },
      ],
    });
    assert.deepEqual(out.MetricDataResults, [{ Id: 'rate', Label: 'Error rate', Timestamps: [1_800_000_000], Values: [10], StatusCode: 'Complete', Messages: [] }]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateAlarm, formatDate, type AlarmRule, type PeriodValue } from './evaluate.js';

const rule = (extra: Partial<AlarmRule> = {}): AlarmRule => ({ Threshold: 70, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, Period: 60, Stat: 'Average', ...extra });
const T0 = Date.UTC(2026, 11, 1, 20, 0, 0) / 1000;
const range = (...values: (number | undefined)[]): PeriodValue[] => values.map((value, i) => ({ t: T0 + i * 60, value }));

describe('alarm evaluator', () => {
  it('goes to ALARM when every period of the range breaches, with CloudWatch reason wording', () => {
    const e = evaluateAlarm(rule(), 'OK', range(80, 90, 75.5), T0 + 180);
    assert.equal(e.state, 'ALARM');
    assert.equal(e.changed, true);
    assert.equal(e.reason, 'Threshold Crossed: 3 datapoints [75.5 (01/12/26 20:02:00), 90.0 (01/12/26 20:01:00), 80.0 (01/12/26 20:00:00)] were greater than the threshold (70.0).');
    assert.equal(e.latest, 75.5);
    const data = JSON.parse(e.reasonData) as { threshold: number; period: number; recentDatapoints: number[] };
    assert.equal(data.threshold, 70);
    assert.deepEqual(data.recentDatapoints, [75.5, 90, 80]);
  });

  it('stays OK when fewer than EvaluationPeriods periods breach', () => {
    const e = evaluateAlarm(rule(), 'OK', range(80, 60, 90), T0 + 180);
    assert.equal(e.state, 'OK');
    assert.equal(e.changed, false);
  });

  it('uses DatapointsToAlarm (M out of N)', () => {
    const e = evaluateAlarm(rule({ DatapointsToAlarm: 2 }), 'OK', range(80, 60, 90), T0 + 180);
    assert.equal(e.state, 'ALARM');
    assert.match(e.reason, /^Threshold Crossed: 2 out of the last 3 datapoints \[90\.0 .*, 80\.0 .*\] were greater than the threshold \(70\.0\) \(minimum 2 datapoints for OK -> ALARM transition\)\.$/);
  });

  it('compares with each operator', () => {
    const one = (op: AlarmRule['ComparisonOperator'], v: number) => evaluateAlarm(rule({ ComparisonOperator: op, EvaluationPeriods: 1 }), 'OK', range(v), T0).state;
    assert.equal(one('GreaterThanOrEqualToThreshold', 70), 'ALARM');
    assert.equal(one('GreaterThanThreshold', 70), 'OK');
    assert.equal(one('LessThanThreshold', 69.9), 'ALARM');
    assert.equal(one('LessThanOrEqualToThreshold', 70), 'ALARM');
    assert.equal(one('LessThanThreshold', 70), 'OK');
  });

  it('treats missing data as CloudWatch does', () => {
    const empty = range(undefined, undefined, undefined);
    const missing = evaluateAlarm(rule(), 'OK', empty, T0);
    assert.equal(missing.state, 'INSUFFICIENT_DATA');
    assert.equal(missing.reason, 'Insufficient Data: 3 datapoints were unknown.');
    assert.equal(evaluateAlarm(rule({ TreatMissingData: 'ignore' }), 'ALARM', empty, T0).state, 'ALARM');
    assert.equal(evaluateAlarm(rule({ TreatMissingData: 'ignore' }), 'INSUFFICIENT_DATA', empty, T0).state, 'INSUFFICIENT_DATA');
    assert.equal(evaluateAlarm(rule({ TreatMissingData: 'breaching' }), 'OK', empty, T0).state, 'ALARM');
    assert.equal(evaluateAlarm(rule({ TreatMissingData: 'notBreaching' }), 'ALARM', empty, T0).state, 'OK');
    // Partly missing: 'breaching' fills the gaps with breaches, 'missing' evaluates what is there.
    assert.equal(evaluateAlarm(rule({ TreatMissingData: 'breaching' }), 'OK', range(80, undefined, 90), T0).state, 'ALARM');
    assert.equal(evaluateAlarm(rule(), 'ALARM', range(80, undefined, 90), T0).state, 'OK');
    assert.equal(evaluateAlarm(rule({ DatapointsToAlarm: 2 }), 'OK', range(80, undefined, 90), T0).state, 'ALARM');
  });

  it('formats dates as dd/MM/yy HH:mm:ss in UTC', () => {
    assert.equal(formatDate(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), '02/01/26 03:04:05');
  });
});

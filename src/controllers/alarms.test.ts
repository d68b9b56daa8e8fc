import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeAlarmHistory, describeAlarms, putMetricAlarm } from '../metrics/alarms.js';
import type { MetricsContext } from '../metrics/context.js';
import { putMetricData } from '../metrics/metrics.js';
import { MetricStorage } from '../metrics/storage.js';
import { openSqliteStore } from '../store/sqlite.js';
import { AlarmController } from './alarms.js';

const POLICY = 'arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1a2b:resource/ecs/service/c1/api:policyName/cpu';
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:ops';

describe('alarm controller', () => {
  it('moves an alarm to ALARM with history, runs scaling actions at every evaluation and other actions on change only', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    let clock = Date.UTC(2026, 11, 1, 12, 0, 30);
    const ctx: MetricsContext = { store, storage: new MetricStorage(), region: 'us-east-1', accountId: '000000000000', now: () => clock };
    const calls: [string, number | undefined][] = [];
    const controller = new AlarmController(ctx, {
      intervalMs: 3_600_000,
      runAction: (action, _alarm, value) => {
        calls.push([action, value]);
        return Promise.resolve(action === POLICY ? { ok: true, detail: 'Setting desired count from 1 to 2.' } : undefined);
      },
    });
    controller.start();
    await controller.idle();
    await putMetricAlarm(ctx, { AlarmName: 'cpu-high', Namespace: 'App', MetricName: 'Cpu', Statistic: 'Average', Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [POLICY, TOPIC] });
    // Created with no data: evaluated at once, it stays INSUFFICIENT_DATA and runs nothing.
    await new Promise((r) => setTimeout(r, 50));
    await controller.idle();
    assert.deepEqual(calls, []);
    putMetricData(ctx, { Namespace: 'App', MetricData: [{ MetricName: 'Cpu', Value: 20, Timestamp: clock / 1000 - 60 }, { MetricName: 'Cpu', Value: 30, Timestamp: clock / 1000 - 50 }] });
    controller.evaluateNow('cpu-high');
    await controller.idle();
    const [alarm] = (await describeAlarms(ctx, { AlarmNames: ['cpu-high'] })).MetricAlarms;
    assert.equal(alarm!.StateValue, 'ALARM');
    assert.match(alarm!.StateReason, /^Threshold Crossed: 1 datapoint \[25\.0 \(01\/12\/26 11:59:00\)\] was greater than the threshold \(10\.0\)\.$/);
    assert.deepEqual(calls, [[POLICY, 25], [TOPIC, 25]]);

    // Still breaching a minute later: the scaling action runs again, the topic is not notified again.
    clock += 60_000;
    putMetricData(ctx, { Namespace: 'App', MetricData: [{ MetricName: 'Cpu', Value: 40, Timestamp: clock / 1000 - 60 }] });
    controller.evaluateNow('cpu-high');
    await controller.idle();
    assert.deepEqual(calls.slice(2), [[POLICY, 40]]);

    // No data: INSUFFICIENT_DATA.
    clock += 120_000;
    controller.evaluateNow('cpu-high');
    await controller.idle();
    assert.equal((await describeAlarms(ctx, { AlarmNames: ['cpu-high'] })).MetricAlarms[0]!.StateValue, 'INSUFFICIENT_DATA');
    const history = (await describeAlarmHistory(ctx, { AlarmName: 'cpu-high', ScanBy: 'TimestampAscending' })).AlarmHistoryItems.map((h) => h.HistorySummary);
    assert.deepEqual(history, [
      'Alarm "cpu-high" created',
      'Alarm updated from INSUFFICIENT_DATA to ALARM',
      `Successfully executed action ${POLICY}`,
      `Failed to execute action ${TOPIC}`,
      `Successfully executed action ${POLICY}`,
      'Alarm updated from ALARM to INSUFFICIENT_DATA',
    ]);
    await controller.stop();
    await store.close();
  });
});

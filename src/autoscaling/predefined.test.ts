import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationException } from '../core/errors.js';
import { checkPredefinedMetric, predefinedMetric } from './predefined.js';

const LABEL = 'app/web/0123456789abcdef/targetgroup/api/fedcba9876543210';

describe('predefined target tracking metrics', () => {
  it('tracks RequestCountPerTarget of the target group the resource label names, with Sum', () => {
    checkPredefinedMetric({ PredefinedMetricType: 'ALBRequestCountPerTarget', ResourceLabel: LABEL });
    assert.deepEqual(predefinedMetric({ PredefinedMetricType: 'ALBRequestCountPerTarget', ResourceLabel: LABEL }, 'service/c/s'), {
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'RequestCountPerTarget',
      Dimensions: [{ Name: 'TargetGroup', Value: 'targetgroup/api/fedcba9876543210' }],
      Statistic: 'Sum',
    });
  });

  it('tracks the service CPU and memory of AWS/ECS', () => {
    assert.deepEqual(predefinedMetric({ PredefinedMetricType: 'ECSServiceAverageMemoryUtilization' }, 'service/c/s').Dimensions, [
      { Name: 'ClusterName', Value: 'c' },
      { Name: 'ServiceName', Value: 's' },
    ]);
  });

  it('requires a well-formed resource label for ALBRequestCountPerTarget only', () => {
    const refused = (spec: { PredefinedMetricType: string; ResourceLabel?: string }, message: RegExp) =>
      assert.throws(() => checkPredefinedMetric(spec), (err: Error) => err instanceof ValidationException && message.test(err.message));
    refused({ PredefinedMetricType: 'ALBRequestCountPerTarget' }, /^ResourceLabel is required/);
    for (const bad of ['app/web/0123456789abcdef', 'net/web/0123456789abcdef/targetgroup/api/fedcba9876543210', 'app/web/0123/targetgroup/api/fedcba9876543210', `${LABEL}/x`, 'app/-web/0123456789abcdef/targetgroup/api/fedcba9876543210']) {
      refused({ PredefinedMetricType: 'ALBRequestCountPerTarget', ResourceLabel: bad }, /^Invalid ResourceLabel/);
    }
    refused({ PredefinedMetricType: 'ECSServiceAverageCPUUtilization', ResourceLabel: LABEL }, /ResourceLabel is not supported/);
    refused({ PredefinedMetricType: 'ASGAverageCPUUtilization' }, /^Unsupported predefined metric type 'ASGAverageCPUUtilization'/);
  });
});

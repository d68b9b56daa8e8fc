import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepCapacity, targetTrackingCapacity } from './math.js';

describe('target tracking arithmetic', () => {
  it('scales out to bring the metric to the target: ceil(current × metric / target)', () => {
    assert.equal(targetTrackingCapacity(2, 90, 50, 'out'), 4);
    assert.equal(targetTrackingCapacity(3, 60, 50, 'out'), 4);
    assert.equal(targetTrackingCapacity(1, 400, 50, 'out'), 8);
  });

  it('adds at least one task when above the target, none when not', () => {
    assert.equal(targetTrackingCapacity(10, 50.1, 50, 'out'), 11);
    assert.equal(targetTrackingCapacity(4, 50, 50, 'out'), 4);
    assert.equal(targetTrackingCapacity(0, 80, 50, 'out'), 1);
  });

  it('scales in slowly: at most half the tasks at once, never below one while there is load', () => {
    assert.equal(targetTrackingCapacity(10, 10, 50, 'in'), 5);
    assert.equal(targetTrackingCapacity(4, 40, 50, 'in'), 4);
    assert.equal(targetTrackingCapacity(8, 30, 50, 'in'), 5);
    assert.equal(targetTrackingCapacity(2, 0.5, 50, 'in'), 1);
    assert.equal(targetTrackingCapacity(1, 0, 50, 'in'), 1);
    assert.equal(targetTrackingCapacity(3, 60, 50, 'in'), 3);
  });
});

describe('step scaling arithmetic', () => {
  const steps = [
    { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 10, ScalingAdjustment: 1 },
    { MetricIntervalLowerBound: 10, ScalingAdjustment: 3 },
    { MetricIntervalUpperBound: 0, ScalingAdjustment: -1 },
  ];
  it('picks the step whose interval holds the breach', () => {
    assert.equal(stepCapacity(2, 5, { AdjustmentType: 'ChangeInCapacity', StepAdjustments: steps }), 3);
    assert.equal(stepCapacity(2, 10, { AdjustmentType: 'ChangeInCapacity', StepAdjustments: steps }), 5);
    assert.equal(stepCapacity(2, -3, { AdjustmentType: 'ChangeInCapacity', StepAdjustments: steps }), 1);
  });
  it('applies exact and percent adjustments with MinAdjustmentMagnitude', () => {
    assert.equal(stepCapacity(2, 5, { AdjustmentType: 'ExactCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 6 }] }), 6);
    assert.equal(stepCapacity(10, 5, { AdjustmentType: 'PercentChangeInCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 25 }] }), 12);
    assert.equal(stepCapacity(2, 5, { AdjustmentType: 'PercentChangeInCapacity', MinAdjustmentMagnitude: 2, StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 10 }] }), 4);
  });
});

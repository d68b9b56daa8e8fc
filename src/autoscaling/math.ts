/**
 * Scaling arithmetic, pure: what capacity a policy asks for.
 */
import type { StepConfiguration } from './model.js';

/**
 * Target tracking: the capacity that brings the metric to the target,
 * assuming the load spreads evenly over the tasks:
 * ceil(current × metric / target). Scale-out never asks for less than
 * current + 1 when the metric is above the target; scale-in never removes
 * more than half the capacity at once (scales in slowly) and never goes
 * below one task while load remains.
 */
export function targetTrackingCapacity(current: number, metric: number, target: number, direction: 'out' | 'in'): number {
  if (current <= 0) return direction === 'out' && metric > target ? 1 : current;
  const wanted = Math.ceil((current * metric) / target - 1e-9);
  if (direction === 'out') return metric > target ? Math.max(current + 1, wanted) : current;
  if (metric >= target) return current;
  return Math.min(current, Math.max(wanted, Math.ceil(current / 2), metric > 0 ? 1 : 0));
}

/** Step scaling: the capacity a step adjustment asks for, given the breach (metric − threshold). */
export function stepCapacity(current: number, breach: number, config: StepConfiguration): number | undefined {
  const step = (config.StepAdjustments ?? []).find(
    (s) => (s.MetricIntervalLowerBound === undefined || breach >= s.MetricIntervalLowerBound) && (s.MetricIntervalUpperBound === undefined || breach < s.MetricIntervalUpperBound),
  );
  if (!step) return undefined;
  switch (config.AdjustmentType ?? 'ChangeInCapacity') {
    case 'ExactCapacity':
      return step.ScalingAdjustment;
    case 'ChangeInCapacity':
      return current + step.ScalingAdjustment;
    case 'PercentChangeInCapacity': {
      let change = (current * step.ScalingAdjustment) / 100;
      change = change > 0 ? Math.floor(change) : Math.ceil(change);
      const magnitude = config.MinAdjustmentMagnitude ?? 0;
      if (Math.abs(change) < magnitude) change = Math.sign(step.ScalingAdjustment) * magnitude;
      if (change === 0 && step.ScalingAdjustment !== 0) change = Math.sign(step.ScalingAdjustment);
      return current + change;
    }
  }
}

export const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

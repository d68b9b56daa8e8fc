/**
 * Application Auto Scaling's stored documents. A scalable target is keyed by
 * (service namespace, resource id, scalable dimension); its policies and
 * scheduled actions are rows whose `cluster` column holds that key.
 *
 * Who writes what: the API operations write targets' bounds and suspension,
 * policies and scheduled actions; the scaler (`scale.ts`) writes the
 * service's desiredCount, the target's scaling bookkeeping (`lastScaleOut`,
 * `lastScaleIn`) and its activities; the scheduled-action loop writes each
 * action's `lastFiredAt`.
 */
import type { Store } from '../store/store.js';

export interface AutoScalingContext {
  store: Store;
  region: string;
  accountId: string;
  now(): number;
}

export interface SuspendedState {
  DynamicScalingInSuspended: boolean;
  DynamicScalingOutSuspended: boolean;
  ScheduledScalingSuspended: boolean;
}

export interface ScalingActivityDoc {
  ActivityId: string;
  ServiceNamespace: string;
  ResourceId: string;
  ScalableDimension: string;
  Description: string;
  Cause: string;
  StartTime: number;
  EndTime?: number;
  StatusCode: 'Pending' | 'InProgress' | 'Successful' | 'Overridden' | 'Unfulfilled' | 'Failed';
  StatusMessage?: string;
}

export interface ScalableTargetDoc {
  target: {
    ServiceNamespace: string;
    ResourceId: string;
    ScalableDimension: string;
    MinCapacity: number;
    MaxCapacity: number;
    RoleARN: string;
    CreationTime: number;
    SuspendedState: SuspendedState;
    ScalableTargetARN: string;
  };
  /** Newest first, at most MAX_ACTIVITIES. */
  activities: ScalingActivityDoc[];
  /** Epoch ms of the last scale-out / scale-in a policy made (cooldowns). */
  lastScaleOut?: number;
  lastScaleIn?: number;
  /** The capacity before the step scale-out that started the current cooldown (what a further scale-out during it counts from). */
  lastScaleOutFrom?: number;
}

export interface StepAdjustment {
  MetricIntervalLowerBound?: number;
  MetricIntervalUpperBound?: number;
  ScalingAdjustment: number;
}

export interface StepConfiguration {
  AdjustmentType?: 'ChangeInCapacity' | 'ExactCapacity' | 'PercentChangeInCapacity';
  StepAdjustments?: StepAdjustment[];
  MinAdjustmentMagnitude?: number;
  Cooldown?: number;
  MetricAggregationType?: 'Average' | 'Maximum' | 'Minimum';
}

export interface TargetTrackingConfiguration {
  TargetValue: number;
  PredefinedMetricSpecification?: { PredefinedMetricType: string; ResourceLabel?: string };
  CustomizedMetricSpecification?: { MetricName?: string; Namespace?: string; Dimensions?: { Name: string; Value: string }[]; Statistic?: string; Unit?: string };
  ScaleOutCooldown?: number;
  ScaleInCooldown?: number;
  DisableScaleIn?: boolean;
}

export interface ScalingPolicyDoc {
  policy: {
    PolicyARN: string;
    PolicyName: string;
    ServiceNamespace: string;
    ResourceId: string;
    ScalableDimension: string;
    PolicyType: 'StepScaling' | 'TargetTrackingScaling';
    StepScalingPolicyConfiguration?: StepConfiguration;
    TargetTrackingScalingPolicyConfiguration?: TargetTrackingConfiguration;
    Alarms: { AlarmName: string; AlarmARN: string }[];
    CreationTime: number;
  };
}

export interface ScheduledActionDoc {
  action: {
    ScheduledActionName: string;
    ScheduledActionARN: string;
    ServiceNamespace: string;
    Schedule: string;
    Timezone?: string;
    ResourceId: string;
    ScalableDimension: string;
    StartTime?: number;
    EndTime?: number;
    ScalableTargetAction?: { MinCapacity?: number; MaxCapacity?: number };
    CreationTime: number;
  };
  /** Epoch ms of the last time the action fired. */
  lastFiredAt?: number;
}

export const MAX_ACTIVITIES = 100;

/** The key of a scalable target, held in the `cluster` column of its rows. */
export const targetKey = (namespace: string, resourceId: string, dimension: string) => `${namespace}|${resourceId}|${dimension}`;

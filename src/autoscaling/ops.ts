/**
 * Application Auto Scaling operations for ECS services
 * (`ecs:service:DesiredCount`, resource id `service/<cluster>/<service>`):
 * scalable targets, target tracking and step scaling policies (with the
 * CloudWatch alarms they own), scheduled actions and scaling activities,
 * with Application Auto Scaling's errors and messages.
 */
import { checkPredefinedMetric, predefinedMetric } from './predefined.js';
import { randomUUID } from 'node:crypto';
import { InvalidNextTokenException, ObjectNotFoundException, ValidationException } from '../core/errors.js';
import type { StoredService } from '../ecs/model.js';
import { alarmArn, putAlarm, removeAlarms } from '../metrics/alarms.js';
import type { MetricsContext } from '../metrics/context.js';
import { withRetry, type Row } from '../store/store.js';
import {
  targetKey,
  type AutoScalingContext,
  type ScalableTargetDoc,
  type ScalingPolicyDoc,
  type ScheduledActionDoc,
  type StepConfiguration,
  type SuspendedState,
  type TargetTrackingConfiguration,
} from './model.js';
import { parseSchedule, ScheduleError } from './schedule.js';
import { activity, ECS_DIMENSION, ECS_NAMESPACE, findTarget, scaleTo, serviceArnOf, withActivity } from './scale.js';

/** How target tracking alarms evaluate: AWS's one-minute periods, 3 for AlarmHigh and 15 for AlarmLow (shorter through the environment for tests and benchmarks). */
export function targetTrackingAlarmSettings(): { period: number; high: number; low: number } {
  const num = (name: string, def: number) => {
    const v = Number(process.env[name]);
    return Number.isInteger(v) && v > 0 ? v : def;
  };
  return { period: num('BERTH_TARGET_TRACKING_PERIOD_SECONDS', 60), high: num('BERTH_TARGET_TRACKING_HIGH_PERIODS', 3), low: num('BERTH_TARGET_TRACKING_LOW_PERIODS', 15) };
}

function checkEcsTarget(ctx: AutoScalingContext, namespace: string, resourceId: string, dimension: string): void {
  if (namespace !== ECS_NAMESPACE) throw new ValidationException(`Berth supports the ecs service namespace only; got ${namespace}.`);
  if (dimension !== ECS_DIMENSION) throw new ValidationException(`Unsupported scalable dimension '${dimension}' for service namespace 'ecs'. Supported: ecs:service:DesiredCount`);
  if (!serviceArnOf(ctx, resourceId)) throw new ValidationException(`Unsupported resource ID format '${resourceId}' for service namespace 'ecs'. Expected: service/<cluster-name>/<service-name>`);
}

const notRegistered = (ns: string, id: string, dim: string) =>
  new ObjectNotFoundException(`No scalable target registered for service namespace: ${ns}, resource ID: ${id}, scalable dimension: ${dim}`);

function checkCapacity(v: number | undefined, name: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new ValidationException(`1 validation error detected: Value '${v}' at '${name}' failed to satisfy constraint: Member must have value greater than or equal to 0`);
}

export async function registerScalableTarget(
  ctx: AutoScalingContext,
  input: { ServiceNamespace: string; ResourceId: string; ScalableDimension: string; MinCapacity?: number; MaxCapacity?: number; RoleARN?: string; SuspendedState?: Partial<SuspendedState>; Tags?: Record<string, string> },
) {
  checkEcsTarget(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
  checkCapacity(input.MinCapacity, 'minCapacity');
  checkCapacity(input.MaxCapacity, 'maxCapacity');
  const row = await withRetry(ctx.store, async (tx) => {
    const serviceArn = serviceArnOf(ctx, input.ResourceId)!;
    const service = await tx.get<StoredService>('service', serviceArn);
    if (!service || service.doc.service.status !== 'ACTIVE') throw new ValidationException(`ECS service doesn't exist: ${input.ResourceId}`);
    const cur = await findTarget(tx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    const min = input.MinCapacity ?? cur?.doc.target.MinCapacity;
    const max = input.MaxCapacity ?? cur?.doc.target.MaxCapacity;
    if (min === undefined || max === undefined) throw new ValidationException('MinCapacity and MaxCapacity are required when registering a new scalable target.');
    if (min > max) throw new ValidationException('Minimum capacity cannot be greater than maximum capacity');
    const suspended: SuspendedState = {
      DynamicScalingInSuspended: input.SuspendedState?.DynamicScalingInSuspended ?? cur?.doc.target.SuspendedState.DynamicScalingInSuspended ?? false,
      DynamicScalingOutSuspended: input.SuspendedState?.DynamicScalingOutSuspended ?? cur?.doc.target.SuspendedState.DynamicScalingOutSuspended ?? false,
      ScheduledScalingSuspended: input.SuspendedState?.ScheduledScalingSuspended ?? cur?.doc.target.SuspendedState.ScheduledScalingSuspended ?? false,
    };
    const roleArn = input.RoleARN ?? `arn:aws:iam::${ctx.accountId}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`;
    if (cur) {
      return tx.update<ScalableTargetDoc>('scalableTarget', { ...cur, doc: { ...cur.doc, target: { ...cur.doc.target, MinCapacity: min, MaxCapacity: max, SuspendedState: suspended, RoleARN: roleArn } } });
    }
    const arn = `arn:aws:application-autoscaling:${ctx.region}:${ctx.accountId}:scalable-target/${randomUUID().replace(/-/g, '').slice(0, 28)}`;
    const doc: ScalableTargetDoc = {
      target: {
        ServiceNamespace: input.ServiceNamespace,
        ResourceId: input.ResourceId,
        ScalableDimension: input.ScalableDimension,
        MinCapacity: min,
        MaxCapacity: max,
        RoleARN: roleArn,
        CreationTime: ctx.now() / 1000,
        SuspendedState: suspended,
        ScalableTargetARN: arn,
      },
      activities: [],
    };
    return tx.insert<ScalableTargetDoc>('scalableTarget', { arn, cluster: targetKey(input.ServiceNamespace, input.ResourceId, input.ScalableDimension), name: input.ResourceId, status: 'ACTIVE', seq: 0, doc });
  });
  await enforceBounds(ctx, row.arn, `minimum capacity was set to ${row.doc.target.MinCapacity}`, `maximum capacity was set to ${row.doc.target.MaxCapacity}`);
  return { ScalableTargetARN: row.arn };
}

/** Brings the service within its target's bounds (after the bounds changed). */
export async function enforceBounds(ctx: AutoScalingContext, targetArn: string, minCause: string, maxCause: string): Promise<void> {
  let cause = '';
  await scaleTo(
    ctx,
    targetArn,
    () => cause,
    (current, doc) => {
      if (current < doc.target.MinCapacity) {
        cause = minCause;
        return doc.target.MinCapacity;
      }
      if (current > doc.target.MaxCapacity) {
        cause = maxCause;
        return doc.target.MaxCapacity;
      }
      return undefined;
    },
  );
}

export async function deregisterScalableTarget(ctx: AutoScalingContext & MetricsContext, input: { ServiceNamespace: string; ResourceId: string; ScalableDimension: string }) {
  await withRetry(ctx.store, async (tx) => {
    const cur = await findTarget(tx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    if (!cur) throw new ObjectNotFoundException(`No scalable target found for service namespace: ${input.ServiceNamespace}, resource ID: ${input.ResourceId}, scalable dimension: ${input.ScalableDimension}`);
    // Its policies (and their alarms) and scheduled actions go with it, as on AWS.
    for (const p of await tx.find<ScalingPolicyDoc>('scalingPolicy', { cluster: cur.cluster })) {
      await removeAlarms(ctx, tx, p.doc.policy.Alarms.map((a) => a.AlarmName));
      await tx.remove('scalingPolicy', p.arn, p.version);
    }
    for (const a of await tx.find('scheduledAction', { cluster: cur.cluster })) await tx.remove('scheduledAction', a.arn, a.version);
    await tx.remove('scalableTarget', cur.arn, cur.version);
  });
  return {};
}

function page<T>(items: readonly T[], scope: string, maxResults: number | undefined, token: string | undefined, key: (t: T) => string) {
  const max = maxResults ?? 50;
  if (!Number.isInteger(max) || max < 1 || max > 50) throw new ValidationException(`1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`);
  let after: string | undefined;
  if (token !== undefined) {
    try {
      const p = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: string; a?: string };
      if (p.s !== scope || typeof p.a !== 'string') throw new Error('scope');
      after = p.a;
    } catch {
      throw new InvalidNextTokenException('Invalid token');
    }
  }
  const sorted = [...items].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0)).filter((t) => after === undefined || key(t) > after);
  const out = sorted.slice(0, max);
  return { items: out, next: sorted.length > max ? Buffer.from(JSON.stringify({ s: scope, a: key(out[out.length - 1]!) })).toString('base64url') : undefined };
}

export async function describeScalableTargets(ctx: AutoScalingContext, input: { ServiceNamespace: string; ResourceIds?: string[]; ScalableDimension?: string; MaxResults?: number; NextToken?: string }) {
  const rows = await ctx.store.find<ScalableTargetDoc>('scalableTarget');
  const matching = rows
    .map((r) => r.doc.target)
    .filter((t) => t.ServiceNamespace === input.ServiceNamespace && (input.ResourceIds === undefined || input.ResourceIds.length === 0 || input.ResourceIds.includes(t.ResourceId)) && (input.ScalableDimension === undefined || t.ScalableDimension === input.ScalableDimension));
  const { items, next } = page(matching, 'targets', input.MaxResults, input.NextToken, (t) => `${t.ResourceId}|${t.ScalableDimension}`);
  return { ScalableTargets: items, ...(next ? { NextToken: next } : {}) };
}

export async function describeScalingActivities(ctx: AutoScalingContext, input: { ServiceNamespace: string; ResourceId?: string; ScalableDimension?: string; MaxResults?: number; NextToken?: string }) {
  const rows = await ctx.store.find<ScalableTargetDoc>('scalableTarget');
  const all = rows
    .filter((r) => r.doc.target.ServiceNamespace === input.ServiceNamespace && (input.ResourceId === undefined || r.doc.target.ResourceId === input.ResourceId) && (input.ScalableDimension === undefined || r.doc.target.ScalableDimension === input.ScalableDimension))
    .flatMap((r) => r.doc.activities)
    .sort((a, b) => b.StartTime - a.StartTime);
  const max = input.MaxResults ?? 50;
  let offset = 0;
  if (input.NextToken !== undefined) {
    const m = /^a(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
    if (!m) throw new InvalidNextTokenException('Invalid token');
    offset = Number(m[1]);
  }
  const items = all.slice(offset, offset + max);
  return { ScalingActivities: items, ...(all.length > offset + max ? { NextToken: Buffer.from(`a${offset + max}`).toString('base64url') } : {}) };
}


export async function putScalingPolicy(
  ctx: AutoScalingContext & MetricsContext,
  input: {
    PolicyName: string;
    ServiceNamespace: string;
    ResourceId: string;
    ScalableDimension: string;
    PolicyType?: string;
    StepScalingPolicyConfiguration?: StepConfiguration;
    TargetTrackingScalingPolicyConfiguration?: TargetTrackingConfiguration;
  },
) {
  checkEcsTarget(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
  const type = input.PolicyType ?? 'StepScaling';
  if (input.PolicyName.length < 1 || input.PolicyName.length > 256 || /[:/]/.test(input.PolicyName)) {
    throw new ValidationException(`1 validation error detected: Value '${input.PolicyName}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{Print}+ without ':' or '/'`);
  }
  if (type === 'PredictiveScaling') throw new ValidationException('Predictive scaling is not supported by Berth yet.');
  if (type === 'TargetTrackingScaling') {
    const c = input.TargetTrackingScalingPolicyConfiguration;
    if (!c) throw new ValidationException('TargetTrackingScalingPolicyConfiguration is required for a policy of type TargetTrackingScaling');
    if (input.StepScalingPolicyConfiguration) throw new ValidationException('StepScalingPolicyConfiguration is not allowed for a policy of type TargetTrackingScaling');
    if ((c.PredefinedMetricSpecification === undefined) === (c.CustomizedMetricSpecification === undefined)) {
      throw new ValidationException('Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified');
    }
    if (c.PredefinedMetricSpecification) checkPredefinedMetric(c.PredefinedMetricSpecification);
    const cm = c.CustomizedMetricSpecification;
    if (cm && (cm.MetricName === undefined || cm.Namespace === undefined || cm.Statistic === undefined)) {
      throw new ValidationException('CustomizedMetricSpecification needs MetricName, Namespace and Statistic (metric math queries are not supported by Berth yet)');
    }
    if (!(c.TargetValue > 0) || c.TargetValue > 1e9) throw new ValidationException('The target value must be greater than 0 and at most 1e9');
    for (const [k, v] of [['ScaleOutCooldown', c.ScaleOutCooldown], ['ScaleInCooldown', c.ScaleInCooldown]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 86400)) throw new ValidationException(`${k} must be between 0 and 86400 seconds`);
    }
  } else {
    const c = input.StepScalingPolicyConfiguration;
    if (!c) throw new ValidationException('StepScalingPolicyConfiguration is required for a policy of type StepScaling');
    if (input.TargetTrackingScalingPolicyConfiguration) throw new ValidationException('TargetTrackingScalingPolicyConfiguration is not allowed for a policy of type StepScaling');
    if ((c.StepAdjustments ?? []).length === 0) throw new ValidationException('StepAdjustments must contain at least one step adjustment');
    if (c.AdjustmentType === undefined) throw new ValidationException('AdjustmentType is required for a step scaling policy');
  }
  return withRetry(ctx.store, async (tx) => {
    const target = await findTarget(tx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    if (!target) throw notRegistered(input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    const key = target.cluster;
    const cur = (await tx.find<ScalingPolicyDoc>('scalingPolicy', { cluster: key, name: input.PolicyName }))[0];
    const id = cur ? cur.doc.policy.PolicyARN : `arn:aws:autoscaling:${ctx.region}:${ctx.accountId}:scalingPolicy:${randomUUID()}:resource/${input.ServiceNamespace}/${input.ResourceId}:policyName/${input.PolicyName}`;
    if (cur && cur.doc.policy.PolicyType !== type) {
      await removeAlarms(ctx, tx, cur.doc.policy.Alarms.map((a) => a.AlarmName));
    }
    let alarms: { AlarmName: string; AlarmARN: string }[] = [];
    if (type === 'TargetTrackingScaling') {
      const c = input.TargetTrackingScalingPolicyConfiguration!;
      const settings = targetTrackingAlarmSettings();
      const metric = c.PredefinedMetricSpecification
        ? predefinedMetric(c.PredefinedMetricSpecification, input.ResourceId)
        : { Namespace: c.CustomizedMetricSpecification!.Namespace!, MetricName: c.CustomizedMetricSpecification!.MetricName!, Dimensions: c.CustomizedMetricSpecification!.Dimensions ?? [], Statistic: c.CustomizedMetricSpecification!.Statistic!, ...(c.CustomizedMetricSpecification!.Unit !== undefined ? { Unit: c.CustomizedMetricSpecification!.Unit } : {}) };
      // An update keeps the policy's alarm names (their uuid), as AWS does.
      const existingHigh = cur?.doc.policy.Alarms.find((a) => a.AlarmName.includes('-AlarmHigh-'))?.AlarmName;
      const existingLow = cur?.doc.policy.Alarms.find((a) => a.AlarmName.includes('-AlarmLow-'))?.AlarmName;
      const highName = existingHigh ?? `TargetTracking-${input.ResourceId}-AlarmHigh-${randomUUID()}`;
      const lowName = existingLow ?? `TargetTracking-${input.ResourceId}-AlarmLow-${randomUUID()}`;
      const description = `DO NOT EDIT OR DELETE. For TargetTrackingScaling policy ${id}.`;
      await putAlarm(ctx, tx, { AlarmName: highName, AlarmDescription: description, AlarmActions: [id], ...metric, Period: settings.period, EvaluationPeriods: settings.high, DatapointsToAlarm: settings.high, Threshold: c.TargetValue, ComparisonOperator: 'GreaterThanThreshold' });
      alarms.push({ AlarmName: highName, AlarmARN: alarmArn(ctx, highName) });
      if (c.DisableScaleIn === true) {
        if (existingLow) await removeAlarms(ctx, tx, [existingLow]);
      } else {
        await putAlarm(ctx, tx, { AlarmName: lowName, AlarmDescription: description, AlarmActions: [id], ...metric, Period: settings.period, EvaluationPeriods: settings.low, DatapointsToAlarm: settings.low, Threshold: c.TargetValue * 0.9, ComparisonOperator: 'LessThanThreshold' });
        alarms.push({ AlarmName: lowName, AlarmARN: alarmArn(ctx, lowName) });
      }
    } else {
      alarms = cur?.doc.policy.PolicyType === 'StepScaling' ? cur.doc.policy.Alarms : [];
    }
    const policy: ScalingPolicyDoc['policy'] = {
      PolicyARN: id,
      PolicyName: input.PolicyName,
      ServiceNamespace: input.ServiceNamespace,
      ResourceId: input.ResourceId,
      ScalableDimension: input.ScalableDimension,
      PolicyType: type as 'StepScaling' | 'TargetTrackingScaling',
      ...(type === 'StepScaling' ? { StepScalingPolicyConfiguration: input.StepScalingPolicyConfiguration! } : { TargetTrackingScalingPolicyConfiguration: input.TargetTrackingScalingPolicyConfiguration! }),
      Alarms: alarms,
      CreationTime: cur?.doc.policy.CreationTime ?? ctx.now() / 1000,
    };
    if (cur) await tx.update<ScalingPolicyDoc>('scalingPolicy', { ...cur, doc: { policy } });
    else await tx.insert<ScalingPolicyDoc>('scalingPolicy', { arn: id, cluster: key, name: input.PolicyName, status: 'ACTIVE', seq: 0, doc: { policy } });
    return { PolicyARN: id, ...(type === 'TargetTrackingScaling' ? { Alarms: alarms } : {}) };
  });
}

export async function describeScalingPolicies(ctx: AutoScalingContext, input: { PolicyNames?: string[]; ServiceNamespace: string; ResourceId?: string; ScalableDimension?: string; MaxResults?: number; NextToken?: string }) {
  const rows = await ctx.store.find<ScalingPolicyDoc>('scalingPolicy');
  const matching = rows
    .map((r) => r.doc.policy)
    .filter(
      (p) =>
        p.ServiceNamespace === input.ServiceNamespace &&
        (input.ResourceId === undefined || p.ResourceId === input.ResourceId) &&
        (input.ScalableDimension === undefined || p.ScalableDimension === input.ScalableDimension) &&
        (input.PolicyNames === undefined || input.PolicyNames.length === 0 || input.PolicyNames.includes(p.PolicyName)),
    );
  const { items, next } = page(matching, 'policies', input.MaxResults, input.NextToken, (p) => `${p.ResourceId}|${p.PolicyName}`);
  return { ScalingPolicies: items, ...(next ? { NextToken: next } : {}) };
}

export async function deleteScalingPolicy(ctx: AutoScalingContext & MetricsContext, input: { PolicyName: string; ServiceNamespace: string; ResourceId: string; ScalableDimension: string }) {
  await withRetry(ctx.store, async (tx) => {
    const cur = (await tx.find<ScalingPolicyDoc>('scalingPolicy', { cluster: targetKey(input.ServiceNamespace, input.ResourceId, input.ScalableDimension), name: input.PolicyName }))[0];
    if (!cur) {
      throw new ObjectNotFoundException(`No scaling policy found for service namespace: ${input.ServiceNamespace}, resource ID: ${input.ResourceId}, scalable dimension: ${input.ScalableDimension}, policy name: ${input.PolicyName}`);
    }
    if (cur.doc.policy.PolicyType === 'TargetTrackingScaling') await removeAlarms(ctx, tx, cur.doc.policy.Alarms.map((a) => a.AlarmName));
    await tx.remove('scalingPolicy', cur.arn, cur.version);
  });
  return {};
}

export async function putScheduledAction(
  ctx: AutoScalingContext,
  input: { ServiceNamespace: string; Schedule?: string; Timezone?: string; ScheduledActionName: string; ResourceId: string; ScalableDimension: string; StartTime?: number; EndTime?: number; ScalableTargetAction?: { MinCapacity?: number; MaxCapacity?: number } },
) {
  checkEcsTarget(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
  if (input.ScheduledActionName.length < 1 || input.ScheduledActionName.length > 256 || /[:/|]/.test(input.ScheduledActionName)) {
    throw new ValidationException(`1 validation error detected: Value '${input.ScheduledActionName}' at 'scheduledActionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!((^[ ]+.*)|(.*([\\u0000-\\u001f]|[\\u007f-\\u009f]|[:/|])+.*)|(.*[ ]+$))).+`);
  }
  checkCapacity(input.ScalableTargetAction?.MinCapacity, 'scalableTargetAction.minCapacity');
  checkCapacity(input.ScalableTargetAction?.MaxCapacity, 'scalableTargetAction.maxCapacity');
  const a = input.ScalableTargetAction;
  if (a?.MinCapacity !== undefined && a.MaxCapacity !== undefined && a.MinCapacity > a.MaxCapacity) throw new ValidationException('Minimum capacity cannot be greater than maximum capacity');
  if (input.StartTime !== undefined && input.EndTime !== undefined && input.StartTime >= input.EndTime) throw new ValidationException('The start time must be before the end time');
  return withRetry(ctx.store, async (tx) => {
    const target = await findTarget(tx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    if (!target) throw notRegistered(input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    const cur = (await tx.find<ScheduledActionDoc>('scheduledAction', { cluster: target.cluster, name: input.ScheduledActionName }))[0];
    const schedule = input.Schedule ?? cur?.doc.action.Schedule;
    if (schedule === undefined) throw new ValidationException('Schedule is required when creating a scheduled action');
    const timezone = input.Timezone ?? cur?.doc.action.Timezone;
    try {
      parseSchedule(schedule, timezone ?? 'UTC');
    } catch (err) {
      if (err instanceof ScheduleError) throw new ValidationException(`Schedule expression '${schedule}' is invalid: ${err.message}`);
      throw err;
    }
    const arn = cur?.arn ?? `arn:aws:autoscaling:${ctx.region}:${ctx.accountId}:scheduledAction:${randomUUID()}:resource/${input.ServiceNamespace}/${input.ResourceId}:scheduledActionName/${input.ScheduledActionName}`;
    const action: ScheduledActionDoc['action'] = {
      ScheduledActionName: input.ScheduledActionName,
      ScheduledActionARN: arn,
      ServiceNamespace: input.ServiceNamespace,
      Schedule: schedule,
      ...(timezone !== undefined ? { Timezone: timezone } : {}),
      ResourceId: input.ResourceId,
      ScalableDimension: input.ScalableDimension,
      ...(input.StartTime !== undefined ? { StartTime: input.StartTime } : cur?.doc.action.StartTime !== undefined ? { StartTime: cur.doc.action.StartTime } : {}),
      ...(input.EndTime !== undefined ? { EndTime: input.EndTime } : cur?.doc.action.EndTime !== undefined ? { EndTime: cur.doc.action.EndTime } : {}),
      ...(a !== undefined ? { ScalableTargetAction: a } : cur?.doc.action.ScalableTargetAction !== undefined ? { ScalableTargetAction: cur.doc.action.ScalableTargetAction } : {}),
      CreationTime: cur?.doc.action.CreationTime ?? ctx.now() / 1000,
    };
    // A changed schedule starts counting from now.
    const doc: ScheduledActionDoc = { action, ...(cur?.doc.lastFiredAt !== undefined && cur.doc.action.Schedule === schedule ? { lastFiredAt: cur.doc.lastFiredAt } : {}) };
    if (cur) await tx.update<ScheduledActionDoc>('scheduledAction', { ...cur, doc });
    else await tx.insert<ScheduledActionDoc>('scheduledAction', { arn, cluster: target.cluster, name: input.ScheduledActionName, status: 'ACTIVE', seq: 0, doc });
    return {};
  });
}

export async function describeScheduledActions(ctx: AutoScalingContext, input: { ScheduledActionNames?: string[]; ServiceNamespace: string; ResourceId?: string; ScalableDimension?: string; MaxResults?: number; NextToken?: string }) {
  const rows = await ctx.store.find<ScheduledActionDoc>('scheduledAction');
  const matching = rows
    .map((r) => r.doc.action)
    .filter(
      (a) =>
        a.ServiceNamespace === input.ServiceNamespace &&
        (input.ResourceId === undefined || a.ResourceId === input.ResourceId) &&
        (input.ScalableDimension === undefined || a.ScalableDimension === input.ScalableDimension) &&
        (input.ScheduledActionNames === undefined || input.ScheduledActionNames.length === 0 || input.ScheduledActionNames.includes(a.ScheduledActionName)),
    );
  const { items, next } = page(matching, 'scheduled', input.MaxResults, input.NextToken, (a) => `${a.ResourceId}|${a.ScheduledActionName}`);
  return { ScheduledActions: items, ...(next ? { NextToken: next } : {}) };
}

export async function deleteScheduledAction(ctx: AutoScalingContext, input: { ServiceNamespace: string; ScheduledActionName: string; ResourceId: string; ScalableDimension: string }) {
  await withRetry(ctx.store, async (tx) => {
    const cur = (await tx.find('scheduledAction', { cluster: targetKey(input.ServiceNamespace, input.ResourceId, input.ScalableDimension), name: input.ScheduledActionName }))[0];
    if (!cur) {
      throw new ObjectNotFoundException(`No scheduled action found for service namespace: ${input.ServiceNamespace}, resource ID: ${input.ResourceId}, scalable dimension: ${input.ScalableDimension}, scheduled action name: ${input.ScheduledActionName}`);
    }
    await tx.remove('scheduledAction', cur.arn, cur.version);
  });
  return {};
}

/**
 * Runs a scheduled action that is due: sets the target's bounds from
 * ScalableTargetAction and brings the service within them, recording
 * activities as AWS words them.
 */
export async function fireScheduledAction(ctx: AutoScalingContext, row: Row<ScheduledActionDoc>, firedAt: number): Promise<void> {
  const a = row.doc.action;
  const cause = `scheduled action name ${a.ScheduledActionName} was triggered`;
  const targetArn = await withRetry(ctx.store, async (tx) => {
    const cur = await tx.get<ScheduledActionDoc>('scheduledAction', row.arn);
    if (!cur) return undefined;
    await tx.update<ScheduledActionDoc>('scheduledAction', { ...cur, doc: { ...cur.doc, lastFiredAt: firedAt } });
    const target = await findTarget(tx, a.ServiceNamespace, a.ResourceId, a.ScalableDimension);
    if (!target || target.doc.target.SuspendedState.ScheduledScalingSuspended) return undefined;
    const t = target.doc.target;
    const min = a.ScalableTargetAction?.MinCapacity ?? t.MinCapacity;
    const max = a.ScalableTargetAction?.MaxCapacity ?? t.MaxCapacity;
    const parts = [a.ScalableTargetAction?.MinCapacity !== undefined ? `min capacity to ${min}` : '', a.ScalableTargetAction?.MaxCapacity !== undefined ? `max capacity to ${max}` : ''].filter(Boolean);
    if (min > max) {
      const failed = activity(ctx, t, `Setting ${parts.join(' and ')}`, cause, 'Failed', 'Failed to set capacity: minimum capacity cannot be greater than maximum capacity');
      await tx.update<ScalableTargetDoc>('scalableTarget', { ...target, doc: { ...target.doc, activities: withActivity(target.doc, failed) } });
      return undefined;
    }
    const done = activity(ctx, t, `Setting ${parts.join(' and ')}`, cause, 'Successful', `Successfully set ${parts.join(' and ')}`);
    await tx.update<ScalableTargetDoc>('scalableTarget', { ...target, doc: { ...target.doc, target: { ...t, MinCapacity: min, MaxCapacity: max }, activities: withActivity(target.doc, done) } });
    return target.arn;
  });
  if (targetArn) await enforceBounds(ctx, targetArn, `minimum capacity was set to ${a.ScalableTargetAction?.MinCapacity ?? ''} by ${cause}`.replace(' to  by', ' by'), `maximum capacity was set to ${a.ScalableTargetAction?.MaxCapacity ?? ''} by ${cause}`.replace(' to  by', ' by'));
}

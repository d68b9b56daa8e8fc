/**
 * The scaler: the one place Application Auto Scaling changes capacity. It
 * reads the service and its scalable target in one transaction, computes
 * the new desiredCount, keeps it within [MinCapacity, MaxCapacity], writes
 * it through the ECS services writer (a version conflict with a concurrent
 * UpdateService retries on the new state, so neither update is lost) and
 * records a scaling activity with Application Auto Scaling's wording.
 */
import { randomUUID } from 'node:crypto';
import type { StoredService } from '../ecs/model.js';
import { writeDesiredCount } from '../ecs/writers/services.js';
import { withRetry, type Row, type Transaction } from '../store/store.js';
import { clamp, stepCapacity, targetTrackingCapacity } from './math.js';
import { MAX_ACTIVITIES, targetKey, type AutoScalingContext, type ScalableTargetDoc, type ScalingActivityDoc, type ScalingPolicyDoc } from './model.js';

export const ECS_NAMESPACE = 'ecs';
export const ECS_DIMENSION = 'ecs:service:DesiredCount';

/** `service/<cluster>/<service>` to the service's ARN, or undefined for another resource id. */
export function serviceArnOf(ctx: AutoScalingContext, resourceId: string): string | undefined {
  const m = /^service\/([^/]+)\/([^/]+)$/.exec(resourceId);
  return m ? `arn:aws:ecs:${ctx.region}:${ctx.accountId}:service/${m[1]}/${m[2]}` : undefined;
}

export async function findTarget(tx: Pick<Transaction, 'find'>, namespace: string, resourceId: string, dimension: string): Promise<Row<ScalableTargetDoc> | undefined> {
  return (await tx.find<ScalableTargetDoc>('scalableTarget', { cluster: targetKey(namespace, resourceId, dimension) }))[0];
}

export function activity(ctx: AutoScalingContext, t: ScalableTargetDoc['target'], description: string, cause: string, status: ScalingActivityDoc['StatusCode'], message?: string): ScalingActivityDoc {
  const now = ctx.now() / 1000;
  return {
    ActivityId: randomUUID(),
    ServiceNamespace: t.ServiceNamespace,
    ResourceId: t.ResourceId,
    ScalableDimension: t.ScalableDimension,
    Description: description,
    Cause: cause,
    StartTime: now,
    ...(status === 'Successful' || status === 'Failed' ? { EndTime: now } : {}),
    StatusCode: status,
    ...(message !== undefined ? { StatusMessage: message } : {}),
  };
}

export const withActivity = (doc: ScalableTargetDoc, a: ScalingActivityDoc): ScalingActivityDoc[] => [a, ...doc.activities].slice(0, MAX_ACTIVITIES);

export interface ScaleResult {
  from: number;
  to: number;
  changed: boolean;
}

/**
 * Sets the service of `target` to `decide(current)` clamped to the target's
 * bounds, recording an activity with `cause`. `decide` returning undefined
 * (or the current count) changes nothing.
 */
export async function scaleTo(
  ctx: AutoScalingContext,
  targetArn: string,
  cause: string | (() => string),
  decide: (current: number, target: ScalableTargetDoc) => number | undefined,
  bookkeeping: (doc: ScalableTargetDoc, result: ScaleResult) => Partial<ScalableTargetDoc> = () => ({}),
): Promise<ScaleResult | undefined> {
  return withRetry(
    ctx.store,
    async (tx) => {
      const trow = await tx.get<ScalableTargetDoc>('scalableTarget', targetArn);
      if (!trow) return undefined;
      const t = trow.doc.target;
      const serviceArn = serviceArnOf(ctx, t.ResourceId);
      const srow = serviceArn ? await tx.get<StoredService>('service', serviceArn) : undefined;
      if (!srow || srow.doc.service.status !== 'ACTIVE') {
        const a = activity(ctx, t, 'Setting desired count.', typeof cause === 'string' ? cause : cause(), 'Failed', `Failed to set desired count. Reason: ECS service doesn't exist: ${t.ResourceId}`);
        await tx.update<ScalableTargetDoc>('scalableTarget', { ...trow, doc: { ...trow.doc, activities: withActivity(trow.doc, a) } });
        return undefined;
      }
      const current = srow.doc.service.desiredCount;
      const wanted = decide(current, trow.doc);
      if (wanted === undefined) return { from: current, to: current, changed: false };
      const to = clamp(Math.round(wanted), t.MinCapacity, t.MaxCapacity);
      const result = { from: current, to, changed: to !== current };
      if (!result.changed) return result;
      await writeDesiredCount(tx, srow, to);
      const a = activity(ctx, t, `Setting desired count to ${to}.`, typeof cause === 'string' ? cause : cause(), 'Successful', `Successfully set desired count to ${to}. Change successfully fulfilled by ecs.`);
      await tx.update<ScalableTargetDoc>('scalableTarget', { ...trow, doc: { ...trow.doc, ...bookkeeping(trow.doc, result), activities: withActivity(trow.doc, a) } });
      return result;
    },
    10,
  );
}

/**
 * Executes a scaling policy for an alarm in ALARM (the alarm controller's
 * action). `value` is the newest value of the alarm's evaluation range.
 * Returns a sentence for the alarm's history, or '' when nothing was done.
 */
export async function executePolicy(
  ctx: AutoScalingContext,
  policyArn: string,
  alarm: { AlarmName: string; ComparisonOperator: string; Threshold: number; StateValue: string },
  value: number | undefined,
): Promise<{ ok: boolean; detail: string }> {
  const prow = await ctx.store.get<ScalingPolicyDoc>('scalingPolicy', policyArn);
  if (!prow) return { ok: false, detail: `Scaling policy ${policyArn} does not exist.` };
  const p = prow.doc.policy;
  const trow = await findTarget(ctx.store, p.ServiceNamespace, p.ResourceId, p.ScalableDimension);
  if (!trow) return { ok: false, detail: `No scalable target registered for ${p.ResourceId}.` };
  if (value === undefined) return { ok: true, detail: '' };
  const cause = `monitor alarm ${alarm.AlarmName} in state ${alarm.StateValue} triggered policy ${p.PolicyName}`;
  const now = ctx.now();
  const suspended = trow.doc.target.SuspendedState;
  let result: ScaleResult | undefined;
  if (p.PolicyType === 'TargetTrackingScaling' && p.TargetTrackingScalingPolicyConfiguration) {
    const c = p.TargetTrackingScalingPolicyConfiguration;
    const direction = alarm.ComparisonOperator.startsWith('Greater') ? 'out' : 'in';
    if (direction === 'out' && suspended.DynamicScalingOutSuspended) return { ok: true, detail: '' };
    if (direction === 'in' && (suspended.DynamicScalingInSuspended || c.DisableScaleIn === true)) return { ok: true, detail: '' };
    const outCooldown = (c.ScaleOutCooldown ?? 300) * 1000;
    const inCooldown = (c.ScaleInCooldown ?? 300) * 1000;
    result = await scaleTo(
      ctx,
      trow.arn,
      cause,
      (current, doc) => {
        if (direction === 'out' && doc.lastScaleOut !== undefined && now - doc.lastScaleOut < outCooldown) return undefined;
        // Scale-in waits for both cooldowns: never undo a recent scale-out.
        if (direction === 'in' && ((doc.lastScaleIn !== undefined && now - doc.lastScaleIn < inCooldown) || (doc.lastScaleOut !== undefined && now - doc.lastScaleOut < outCooldown))) return undefined;
        return targetTrackingCapacity(current, value, c.TargetValue, direction);
      },
      (_doc, r) => (r.to > r.from ? { lastScaleOut: now } : { lastScaleIn: now }),
    );
  } else if (p.PolicyType === 'StepScaling' && p.StepScalingPolicyConfiguration) {
    const c = p.StepScalingPolicyConfiguration;
    const cooldown = (c.Cooldown ?? 0) * 1000;
    result = await scaleTo(
      ctx,
      trow.arn,
      cause,
      (current, doc) => {
        const breach = value - alarm.Threshold;
        const inScaleOutCooldown = doc.lastScaleOut !== undefined && now - doc.lastScaleOut < cooldown;
        // During a scale-out's cooldown, the capacity it added counts toward the next scale-out: only a larger one adds more (as AWS does).
        const base = inScaleOutCooldown && doc.lastScaleOutFrom !== undefined ? doc.lastScaleOutFrom : current;
        const outward = stepCapacity(base, breach, c);
        if (outward !== undefined && outward > current) return suspended.DynamicScalingOutSuspended ? undefined : outward;
        const wanted = stepCapacity(current, breach, c);
        if (wanted === undefined || wanted >= current) return undefined;
        if (suspended.DynamicScalingInSuspended) return undefined;
        // Scale-in waits for the cooldown of the last scaling activity either way.
        const last = Math.max(doc.lastScaleOut ?? 0, doc.lastScaleIn ?? 0);
        if (now - last < cooldown) return undefined;
        return wanted;
      },
      (doc, r) =>
        r.to > r.from
          ? { lastScaleOut: now, lastScaleOutFrom: doc.lastScaleOut !== undefined && now - doc.lastScaleOut < cooldown && doc.lastScaleOutFrom !== undefined ? doc.lastScaleOutFrom : r.from }
          : { lastScaleIn: now },
    );
  }
  if (!result?.changed) return { ok: true, detail: '' };
  return { ok: true, detail: `Setting desired count from ${result.from} to ${result.to}.` };
}

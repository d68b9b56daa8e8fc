/**
 * The alarm controller: evaluates every metric alarm once per evaluation
 * interval (CloudWatch evaluates each minute; Berth's interval can be
 * shortened with BERTH_ALARM_EVALUATION_INTERVAL_MS), records state changes
 * with their history, and runs the alarm's actions.
 *
 * Actions run when the state changes; Application Auto Scaling policy
 * actions also run at every evaluation while the alarm stays in the state
 * (as CloudWatch does for scaling actions), so a policy keeps adjusting
 * until the metric comes back.
 */
import type { Logger } from '../core/log.js';
import { alarmArn, recordAction, recordState, type AlarmDoc, type MetricAlarmDoc } from '../metrics/alarms.js';
import type { MetricsContext } from '../metrics/context.js';
import { evaluateAlarm, type PeriodValue, type StateValue } from '../metrics/evaluate.js';
import { metricStatValues } from '../metrics/metrics.js';
import { withRetry, type Change } from '../store/store.js';
import { Controller } from './runtime.js';

/** What running an alarm action did: `detail` goes into the alarm's history. */
export interface ActionOutcome {
  ok: boolean;
  detail: string;
}

/**
 * Runs one alarm action; `value` is the newest value of the evaluation range.
 * Returns undefined for an action it does not handle.
 */
export type AlarmActionRunner = (action: string, alarm: MetricAlarmDoc, value: number | undefined) => Promise<ActionOutcome | undefined>;

export interface AlarmControllerOptions {
  /** Default 60 s, or BERTH_ALARM_EVALUATION_INTERVAL_MS. */
  intervalMs?: number;
  runAction?: AlarmActionRunner;
  log?: Logger;
}

export const DEFAULT_EVALUATION_INTERVAL_MS = 60_000;

const isScalingAction = (arn: string) => /^arn:aws[a-z-]*:autoscaling:[^:]*:\d{12}:scalingPolicy:/.test(arn);

/** The last `n` complete periods of length `period` (s) before `nowS`, oldest first, with the alarm's statistic. */
export function evaluationRange(ctx: MetricsContext, alarm: MetricAlarmDoc, nowS: number): PeriodValue[] {
  const end = Math.floor(nowS / alarm.Period) * alarm.Period;
  const start = end - alarm.EvaluationPeriods * alarm.Period;
  const stat = alarm.Statistic ?? alarm.ExtendedStatistic ?? 'Average';
  const values = metricStatValues(ctx, { Metric: { Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: alarm.Dimensions }, Period: alarm.Period, Stat: stat, ...(alarm.Unit !== undefined ? { Unit: alarm.Unit } : {}) }, start, end);
  const range: PeriodValue[] = [];
  for (let t = start; t < end; t += alarm.Period) range.push({ t, value: values.get(t) });
  return range;
}

export class AlarmController {
  private readonly runtime: Controller;
  readonly intervalMs: number;

  constructor(
    private readonly ctx: MetricsContext,
    private readonly opts: AlarmControllerOptions = {},
  ) {
    const env = Number(process.env.BERTH_ALARM_EVALUATION_INTERVAL_MS);
    this.intervalMs = opts.intervalMs ?? (Number.isFinite(env) && env > 0 ? env : DEFAULT_EVALUATION_INTERVAL_MS);
    this.runtime = new Controller({
      name: 'alarms',
      watch: { feed: ctx.store, onChanges: (changes) => this.onChanges(changes) },
      // Picks up what changed while the server was down.
      resyncOnStart: true,
      concurrency: 4,
      sync: (arn) => this.sync(arn),
      keys: async () => (await ctx.store.find('metricAlarm')).map((r) => r.arn),
      resyncEveryMs: this.intervalMs,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  start(): void {
    this.runtime.start();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }

  /** Waits until no evaluation is queued or running (tests). */
  idle(): Promise<void> {
    return this.runtime.idle();
  }

  /** Evaluates an alarm now (for example one just created). */
  evaluateNow(name: string): void {
    this.runtime.enqueue(alarmArn(this.ctx, name));
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) if (c.kind === 'metricAlarm' && c.op === 'insert') this.runtime.enqueue(c.arn);
  }

  private async sync(arn: string): Promise<void> {
    const row = await this.ctx.store.get<AlarmDoc>('metricAlarm', arn);
    if (!row) return;
    const alarm = row.doc.alarm;
    const nowMs = this.ctx.now();
    const range = evaluationRange(this.ctx, alarm, nowMs / 1000);
    const result = evaluateAlarm(
      {
        Threshold: alarm.Threshold,
        ComparisonOperator: alarm.ComparisonOperator,
        EvaluationPeriods: alarm.EvaluationPeriods,
        ...(alarm.DatapointsToAlarm !== undefined ? { DatapointsToAlarm: alarm.DatapointsToAlarm } : {}),
        ...(alarm.TreatMissingData !== undefined ? { TreatMissingData: alarm.TreatMissingData } : {}),
        Period: alarm.Period,
        Stat: alarm.Statistic ?? alarm.ExtendedStatistic ?? 'Average',
      },
      alarm.StateValue,
      range,
      nowMs / 1000,
    );
    let changed = false;
    let state: StateValue = alarm.StateValue;
    let current: MetricAlarmDoc = alarm;
    if (result.changed) {
      const written = await withRetry(this.ctx.store, (tx) => recordState(this.ctx, tx, arn, { state: result.state, reason: result.reason, reasonData: result.reasonData }));
      if (!written) return;
      changed = written.changed;
      state = written.row.doc.alarm.StateValue;
      current = written.row.doc.alarm;
      if (changed) this.opts.log?.info({ alarm: alarm.AlarmName, from: written.previous, to: state }, 'alarm state changed');
    }
    if (!current.ActionsEnabled || !this.opts.runAction) return;
    const actions = state === 'ALARM' ? current.AlarmActions : state === 'OK' ? current.OKActions : current.InsufficientDataActions;
    for (const action of actions) {
      if (!changed && !isScalingAction(action)) continue;
      try {
        const outcome = await this.opts.runAction(action, current, result.latest);
        if (outcome && outcome.detail !== '' && (changed || outcome.ok)) await recordAction(this.ctx, arn, action, outcome.ok, outcome.detail);
        else if (!outcome && changed) await recordAction(this.ctx, arn, action, false, `Berth does not deliver actions of this kind: ${action}`);
      } catch (err) {
        this.opts.log?.warn({ err, alarm: alarm.AlarmName, action }, 'alarm action failed');
        await recordAction(this.ctx, arn, action, false, err instanceof Error ? err.message : String(err));
      }
    }
  }
}

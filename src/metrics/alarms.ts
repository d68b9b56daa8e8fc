/**
 * CloudWatch metric alarms: the stored alarm (`AlarmDoc`), its operations,
 * and the writer the alarm controller records evaluations through.
 *
 * Who writes what: PutMetricAlarm writes the configuration (state kept on
 * update, INSUFFICIENT_DATA on creation); the alarm controller and
 * SetAlarmState write the state; Enable/DisableAlarmActions write
 * `ActionsEnabled`. History items (newest first, at most MAX_HISTORY) are
 * written with the change they record.
 */
import { randomUUID } from 'node:crypto';
import {
  InvalidFormatFault,
  InvalidNextToken,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  LimitExceededFault,
  MissingRequiredParameterException,
  ResourceNotFound,
} from '../core/errors.js';
import { withRetry, type Row, type Transaction } from '../store/store.js';
import type { MetricsContext } from './context.js';
import { COMPARISON_OPERATORS, TREAT_MISSING_DATA, type ComparisonOperator, type StateValue, type TreatMissingData } from './evaluate.js';
import { percentileOf, sortDimensions, type Dimension } from './storage.js';
import { validPeriod } from './metrics.js';

export const MAX_HISTORY = 100;
export const MAX_ALARMS = 10_000;
export const MAX_ACTIONS = 5;

export interface AlarmHistoryItem {
  AlarmName: string;
  AlarmType: 'MetricAlarm';
  Timestamp: number;
  HistoryItemType: 'ConfigurationUpdate' | 'StateUpdate' | 'Action';
  HistorySummary: string;
  HistoryData: string;
}

/** A metric alarm as DescribeAlarms returns it (timestamps in epoch seconds). */
export interface MetricAlarmDoc {
  AlarmName: string;
  AlarmArn: string;
  AlarmDescription?: string;
  AlarmConfigurationUpdatedTimestamp: number;
  ActionsEnabled: boolean;
  OKActions: string[];
  AlarmActions: string[];
  InsufficientDataActions: string[];
  StateValue: StateValue;
  StateReason: string;
  StateReasonData?: string;
  StateUpdatedTimestamp: number;
  StateTransitionedTimestamp: number;
  MetricName: string;
  Namespace: string;
  Statistic?: string;
  ExtendedStatistic?: string;
  Dimensions: Dimension[];
  Period: number;
  Unit?: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  Threshold: number;
  ComparisonOperator: ComparisonOperator;
  TreatMissingData?: TreatMissingData;
  EvaluateLowSampleCountPercentile?: string;
}

export interface AlarmDoc {
  alarm: MetricAlarmDoc;
  history: AlarmHistoryItem[];
  /** Epoch ms of the last evaluation (the controller's bookkeeping). */
  evaluatedAt?: number;
}

export const alarmArn = (ctx: Pick<MetricsContext, 'region' | 'accountId'>, name: string) => `arn:aws:cloudwatch:${ctx.region}:${ctx.accountId}:alarm:${name}`;

export interface PutMetricAlarmInput {
  AlarmName: string;
  AlarmDescription?: string;
  ActionsEnabled?: boolean;
  OKActions?: string[];
  AlarmActions?: string[];
  InsufficientDataActions?: string[];
  MetricName?: string;
  Namespace?: string;
  Statistic?: string;
  ExtendedStatistic?: string;
  Dimensions?: Dimension[];
  Period?: number;
  Unit?: string;
  EvaluationPeriods?: number;
  DatapointsToAlarm?: number;
  Threshold?: number;
  ComparisonOperator?: string;
  TreatMissingData?: string;
  EvaluateLowSampleCountPercentile?: string;
  Metrics?: unknown[];
  ThresholdMetricId?: string;
}

const invalid = (value: unknown, parameter: string) => new InvalidParameterValueException(`The value ${String(value)} for parameter ${parameter} is invalid.`);

const ACTION_ARN = /^arn:aws[a-z-]*:(sns|autoscaling|automate|ssm|ssm-incidents|lambda|swf|ec2|opsworks):/;

function checkActions(actions: readonly string[] | undefined, parameter: string): string[] {
  const list = actions ?? [];
  if (list.length > MAX_ACTIONS) throw new InvalidParameterValueException(`The collection ${parameter} must not have a size greater than ${MAX_ACTIONS}.`);
  list.forEach((a, i) => {
    if (!ACTION_ARN.test(a)) throw new InvalidParameterValueException(`Invalid arn syntax: ${a}`);
    if (a.length > 1024) throw invalid(a, `${parameter}.member.${i + 1}`);
  });
  return [...list];
}

/** Checks a PutMetricAlarm request and returns the configuration it sets. */
export function alarmConfiguration(input: PutMetricAlarmInput): Omit<MetricAlarmDoc, 'AlarmArn' | 'AlarmConfigurationUpdatedTimestamp' | 'StateValue' | 'StateReason' | 'StateUpdatedTimestamp' | 'StateTransitionedTimestamp'> {
  if (input.AlarmName.length < 1 || input.AlarmName.length > 255) throw invalid(input.AlarmName, 'AlarmName');
  if (input.Metrics !== undefined || input.ThresholdMetricId !== undefined) {
    throw new InvalidParameterValueException('Alarms on metric math expressions (Metrics, ThresholdMetricId) are not supported by Berth yet.');
  }
  if (input.MetricName === undefined) throw new MissingRequiredParameterException('The parameter MetricName is required.');
  if (input.Namespace === undefined) throw new MissingRequiredParameterException('The parameter Namespace is required.');
  if (input.Period === undefined) throw new MissingRequiredParameterException('The parameter Period is required.');
  if (input.EvaluationPeriods === undefined) throw new MissingRequiredParameterException('The parameter EvaluationPeriods is required.');
  if (input.Threshold === undefined) throw new MissingRequiredParameterException('The parameter Threshold is required.');
  if (input.ComparisonOperator === undefined) throw new MissingRequiredParameterException('The parameter ComparisonOperator is required.');
  if ((input.Statistic === undefined) === (input.ExtendedStatistic === undefined)) {
    throw new InvalidParameterCombinationException('Exactly one of Statistic and ExtendedStatistic must be specified.');
  }
  if (input.ExtendedStatistic !== undefined && percentileOf(input.ExtendedStatistic) === undefined) throw invalid(input.ExtendedStatistic, 'ExtendedStatistic');
  if (!validPeriod(input.Period) || input.Period === 1 || input.Period === 5) {
    throw new InvalidParameterValueException('Period must be 10, 20, 30 or a multiple of 60.');
  }
  if (!Number.isInteger(input.EvaluationPeriods) || input.EvaluationPeriods < 1) throw invalid(input.EvaluationPeriods, 'EvaluationPeriods');
  if (input.Period * input.EvaluationPeriods > 7 * 86400) {
    throw new InvalidParameterCombinationException('The product of EvaluationPeriods and Period must not exceed 604800 seconds (7 days).');
  }
  if (input.DatapointsToAlarm !== undefined && (!Number.isInteger(input.DatapointsToAlarm) || input.DatapointsToAlarm < 1 || input.DatapointsToAlarm > input.EvaluationPeriods)) {
    throw new InvalidParameterValueException('DatapointsToAlarm must be between 1 and EvaluationPeriods.');
  }
  if (!(COMPARISON_OPERATORS as readonly string[]).includes(input.ComparisonOperator)) {
    throw new InvalidParameterValueException(`Comparison operator ${input.ComparisonOperator} is only supported for anomaly detection alarms, which Berth does not support yet.`);
  }
  if (input.TreatMissingData !== undefined && !(TREAT_MISSING_DATA as readonly string[]).includes(input.TreatMissingData)) {
    throw new InvalidParameterValueException(`The value ${input.TreatMissingData} for parameter TreatMissingData is invalid. Valid values are breaching, notBreaching, ignore, missing.`);
  }
  if ((input.Dimensions ?? []).length > 30) throw new InvalidParameterValueException('The collection Dimensions must not have a size greater than 30.');
  return {
    AlarmName: input.AlarmName,
    ...(input.AlarmDescription !== undefined ? { AlarmDescription: input.AlarmDescription } : {}),
    ActionsEnabled: input.ActionsEnabled ?? true,
    OKActions: checkActions(input.OKActions, 'OKActions'),
    AlarmActions: checkActions(input.AlarmActions, 'AlarmActions'),
    InsufficientDataActions: checkActions(input.InsufficientDataActions, 'InsufficientDataActions'),
    MetricName: input.MetricName,
    Namespace: input.Namespace,
    ...(input.Statistic !== undefined ? { Statistic: input.Statistic } : {}),
    ...(input.ExtendedStatistic !== undefined ? { ExtendedStatistic: input.ExtendedStatistic } : {}),
    Dimensions: sortDimensions(input.Dimensions ?? []),
    Period: input.Period,
    ...(input.Unit !== undefined ? { Unit: input.Unit } : {}),
    EvaluationPeriods: input.EvaluationPeriods,
    ...(input.DatapointsToAlarm !== undefined ? { DatapointsToAlarm: input.DatapointsToAlarm } : {}),
    Threshold: input.Threshold,
    ComparisonOperator: input.ComparisonOperator as ComparisonOperator,
    ...(input.TreatMissingData !== undefined ? { TreatMissingData: input.TreatMissingData as TreatMissingData } : {}),
    ...(input.EvaluateLowSampleCountPercentile !== undefined ? { EvaluateLowSampleCountPercentile: input.EvaluateLowSampleCountPercentile } : {}),
  };
}

function historyItem(name: string, at: number, type: AlarmHistoryItem['HistoryItemType'], summary: string, data: unknown): AlarmHistoryItem {
  return { AlarmName: name, AlarmType: 'MetricAlarm', Timestamp: at, HistoryItemType: type, HistorySummary: summary, HistoryData: JSON.stringify(data) };
}

const withHistory = (doc: AlarmDoc, item: AlarmHistoryItem): AlarmHistoryItem[] => [item, ...doc.history].slice(0, MAX_HISTORY);

/** Creates or replaces an alarm inside `tx` (also used by Application Auto Scaling for the alarms it owns). */
export async function putAlarm(ctx: MetricsContext, tx: Transaction, input: PutMetricAlarmInput): Promise<Row<AlarmDoc>> {
  const config = alarmConfiguration(input);
  const arn = alarmArn(ctx, input.AlarmName);
  const now = ctx.now() / 1000;
  const cur = await tx.get<AlarmDoc>('metricAlarm', arn);
  if (cur) {
    const alarm: MetricAlarmDoc = {
      ...config,
      AlarmArn: arn,
      AlarmConfigurationUpdatedTimestamp: now,
      StateValue: cur.doc.alarm.StateValue,
      StateReason: cur.doc.alarm.StateReason,
      ...(cur.doc.alarm.StateReasonData !== undefined ? { StateReasonData: cur.doc.alarm.StateReasonData } : {}),
      StateUpdatedTimestamp: cur.doc.alarm.StateUpdatedTimestamp,
      StateTransitionedTimestamp: cur.doc.alarm.StateTransitionedTimestamp,
    };
    const item = historyItem(input.AlarmName, now, 'ConfigurationUpdate', `Alarm "${input.AlarmName}" updated`, { type: 'Update', version: '1.0', updatedAlarm: alarm });
    return tx.update<AlarmDoc>('metricAlarm', { ...cur, doc: { ...cur.doc, alarm, history: withHistory(cur.doc, item) } });
  }
  if ((await tx.count('metricAlarm')) >= MAX_ALARMS) throw new LimitExceededFault(`The maximum number of alarms (${MAX_ALARMS}) has been reached.`);
  const alarm: MetricAlarmDoc = {
    ...config,
    AlarmArn: arn,
    AlarmConfigurationUpdatedTimestamp: now,
    StateValue: 'INSUFFICIENT_DATA',
    StateReason: 'Unchecked: Initial alarm creation',
    StateUpdatedTimestamp: now,
    StateTransitionedTimestamp: now,
  };
  const item = historyItem(input.AlarmName, now, 'ConfigurationUpdate', `Alarm "${input.AlarmName}" created`, { type: 'Create', version: '1.0', createdAlarm: alarm });
  return tx.insert<AlarmDoc>('metricAlarm', { arn, cluster: '', name: input.AlarmName, status: 'INSUFFICIENT_DATA', seq: 0, doc: { alarm, history: [item] } });
}

export async function putMetricAlarm(ctx: MetricsContext, input: PutMetricAlarmInput): Promise<Record<string, never>> {
  alarmConfiguration(input);
  await withRetry(ctx.store, (tx) => putAlarm(ctx, tx, input));
  return {};
}

/** Deletes alarms by name inside `tx`; names that do not exist are reported back. */
export async function removeAlarms(ctx: MetricsContext, tx: Transaction, names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    const row = await tx.get<AlarmDoc>('metricAlarm', alarmArn(ctx, name));
    if (row) await tx.remove('metricAlarm', row.arn, row.version);
    else missing.push(name);
  }
  return missing;
}

export async function deleteAlarms(ctx: MetricsContext, input: { AlarmNames: string[] }): Promise<Record<string, never>> {
  if (input.AlarmNames.length > 100) throw new InvalidParameterValueException('The collection AlarmNames must not have a size greater than 100.');
  await withRetry(ctx.store, async (tx) => {
    const missing: string[] = [];
    for (const name of input.AlarmNames) if (!(await tx.get('metricAlarm', alarmArn(ctx, name)))) missing.push(name);
    if (missing.length > 0) throw new ResourceNotFound(`The following alarms were not found: ${missing.join(', ')}`);
    await removeAlarms(ctx, tx, input.AlarmNames);
  });
  return {};
}

function checkMaxRecords(max: number | undefined): number {
  if (max === undefined) return 50;
  if (!Number.isInteger(max) || max < 1 || max > 100) throw invalid(max, 'MaxRecords');
  return max;
}

function decodeAfter(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const p = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { alarmsAfter?: unknown };
    if (typeof p.alarmsAfter === 'string') return p.alarmsAfter;
  } catch {
    // refused below
  }
  throw new InvalidNextToken('The NextToken is not valid.');
}

export async function describeAlarms(
  ctx: MetricsContext,
  input: { AlarmNames?: string[]; AlarmNamePrefix?: string; AlarmTypes?: string[]; StateValue?: string; ActionPrefix?: string; MaxRecords?: number; NextToken?: string; ChildrenOfAlarmName?: string; ParentsOfAlarmName?: string },
) {
  if (input.AlarmNames !== undefined && input.AlarmNamePrefix !== undefined) {
    throw new InvalidParameterCombinationException('AlarmNames and AlarmNamePrefix cannot be specified together.');
  }
  if ((input.AlarmNames ?? []).length > 100) throw new InvalidParameterValueException('The collection AlarmNames must not have a size greater than 100.');
  const max = checkMaxRecords(input.MaxRecords);
  const after = decodeAfter(input.NextToken);
  const wantsMetric = input.AlarmTypes === undefined || input.AlarmTypes.includes('MetricAlarm');
  if (!wantsMetric || input.ChildrenOfAlarmName !== undefined || input.ParentsOfAlarmName !== undefined) return { MetricAlarms: [], CompositeAlarms: [] };
  let rows: Row<AlarmDoc>[];
  if (input.AlarmNames !== undefined) {
    rows = [];
    for (const name of [...new Set(input.AlarmNames)].sort()) {
      const r = await ctx.store.get<AlarmDoc>('metricAlarm', alarmArn(ctx, name));
      if (r) rows.push(r);
    }
  } else {
    rows = await ctx.store.find<AlarmDoc>('metricAlarm', input.StateValue !== undefined ? { status: input.StateValue } : {});
  }
  const matching = rows
    .filter((r) => input.AlarmNamePrefix === undefined || r.name.startsWith(input.AlarmNamePrefix))
    .filter((r) => input.StateValue === undefined || r.doc.alarm.StateValue === input.StateValue)
    .filter((r) => input.ActionPrefix === undefined || [...r.doc.alarm.AlarmActions, ...r.doc.alarm.OKActions, ...r.doc.alarm.InsufficientDataActions].some((a) => a.startsWith(input.ActionPrefix!)))
    .filter((r) => after === undefined || r.name > after)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = matching.slice(0, max);
  return {
    MetricAlarms: page.map((r) => r.doc.alarm),
    CompositeAlarms: [],
    ...(matching.length > max ? { NextToken: Buffer.from(JSON.stringify({ alarmsAfter: page[page.length - 1]!.name })).toString('base64url') } : {}),
  };
}

export async function describeAlarmsForMetric(
  ctx: MetricsContext,
  input: { MetricName: string; Namespace: string; Statistic?: string; ExtendedStatistic?: string; Dimensions?: Dimension[]; Period?: number; Unit?: string },
) {
  const dims = JSON.stringify(sortDimensions(input.Dimensions ?? []));
  const rows = await ctx.store.find<AlarmDoc>('metricAlarm');
  const found = rows
    .map((r) => r.doc.alarm)
    .filter(
      (a) =>
        a.MetricName === input.MetricName &&
        a.Namespace === input.Namespace &&
        (input.Dimensions === undefined || JSON.stringify(a.Dimensions) === dims) &&
        (input.Statistic === undefined || a.Statistic === input.Statistic) &&
        (input.ExtendedStatistic === undefined || a.ExtendedStatistic === input.ExtendedStatistic) &&
        (input.Period === undefined || a.Period === input.Period) &&
        (input.Unit === undefined || a.Unit === input.Unit),
    );
  return { MetricAlarms: found };
}

export async function describeAlarmHistory(
  ctx: MetricsContext,
  input: { AlarmName?: string; AlarmTypes?: string[]; HistoryItemType?: string; StartDate?: number; EndDate?: number; MaxRecords?: number; NextToken?: string; ScanBy?: string },
) {
  const max = checkMaxRecords(input.MaxRecords);
  let offset = 0;
  if (input.NextToken !== undefined) {
    const m = /^h(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
    if (!m) throw new InvalidNextToken('The NextToken is not valid.');
    offset = Number(m[1]);
  }
  const rows =
    input.AlarmName !== undefined
      ? [await ctx.store.get<AlarmDoc>('metricAlarm', alarmArn(ctx, input.AlarmName))].filter((r): r is Row<AlarmDoc> => r !== undefined)
      : await ctx.store.find<AlarmDoc>('metricAlarm');
  const ascending = input.ScanBy === 'TimestampAscending';
  // Each alarm keeps its history newest first; the sort is stable, so items of one instant keep their order.
  const items = rows
    .flatMap((r) => (ascending ? [...r.doc.history].reverse() : r.doc.history))
    .filter((h) => input.HistoryItemType === undefined || h.HistoryItemType === input.HistoryItemType)
    .filter((h) => input.AlarmTypes === undefined || input.AlarmTypes.includes('MetricAlarm'))
    .filter((h) => (input.StartDate === undefined || h.Timestamp >= input.StartDate) && (input.EndDate === undefined || h.Timestamp <= input.EndDate))
    .sort((a, b) => (ascending ? a.Timestamp - b.Timestamp : b.Timestamp - a.Timestamp));
  const page = items.slice(offset, offset + max);
  return {
    AlarmHistoryItems: page,
    ...(items.length > offset + max ? { NextToken: Buffer.from(`h${offset + max}`).toString('base64url') } : {}),
  };
}

/**
 * Records a state for an alarm (an evaluation or SetAlarmState) inside `tx`:
 * a StateUpdate history item when the state changes; the same state only
 * refreshes the reason. Returns the row written, or undefined when the alarm is gone.
 */
export async function recordState(
  ctx: MetricsContext,
  tx: Transaction,
  arn: string,
  next: { state: StateValue; reason: string; reasonData?: string },
  extra: { evaluatedAt?: number } = {},
): Promise<{ row: Row<AlarmDoc>; changed: boolean; previous: StateValue } | undefined> {
  const cur = await tx.get<AlarmDoc>('metricAlarm', arn);
  if (!cur) return undefined;
  const a = cur.doc.alarm;
  const now = ctx.now() / 1000;
  const changed = a.StateValue !== next.state;
  if (!changed && a.StateReason === next.reason && extra.evaluatedAt === undefined) return { row: cur, changed, previous: a.StateValue };
  const alarm: MetricAlarmDoc = {
    ...a,
    StateValue: next.state,
    StateReason: next.reason,
    ...(next.reasonData !== undefined ? { StateReasonData: next.reasonData } : {}),
    ...(changed ? { StateUpdatedTimestamp: now, StateTransitionedTimestamp: now } : {}),
  };
  const history = changed
    ? withHistory(
        cur.doc,
        historyItem(a.AlarmName, now, 'StateUpdate', `Alarm updated from ${a.StateValue} to ${next.state}`, {
          version: '1.0',
          oldState: { stateValue: a.StateValue, stateReason: a.StateReason },
          newState: { stateValue: next.state, stateReason: next.reason, ...(next.reasonData !== undefined ? { stateReasonData: JSON.parse(next.reasonData) as unknown } : {}) },
        }),
      )
    : cur.doc.history;
  const row = await tx.update<AlarmDoc>('metricAlarm', { ...cur, status: next.state, doc: { ...cur.doc, alarm, history, ...(extra.evaluatedAt !== undefined ? { evaluatedAt: extra.evaluatedAt } : {}) } });
  return { row, changed, previous: a.StateValue };
}

/** Records the outcome of an alarm action in the alarm's history. */
export async function recordAction(ctx: MetricsContext, arn: string, action: string, ok: boolean, detail: string): Promise<void> {
  await withRetry(ctx.store, async (tx) => {
    const cur = await tx.get<AlarmDoc>('metricAlarm', arn);
    if (!cur) return;
    const now = ctx.now() / 1000;
    const summary = ok ? `Successfully executed action ${action}` : `Failed to execute action ${action}`;
    const item = historyItem(cur.doc.alarm.AlarmName, now, 'Action', summary, { actionState: ok ? 'Succeeded' : 'Failed', stateUpdateTimestamp: cur.doc.alarm.StateUpdatedTimestamp, notificationResource: action, error: ok ? undefined : detail, publishedMessage: ok ? detail : undefined });
    await tx.update<AlarmDoc>('metricAlarm', { ...cur, doc: { ...cur.doc, history: withHistory(cur.doc, item) } });
  });
}

export async function setAlarmState(ctx: MetricsContext, input: { AlarmName: string; StateValue: string; StateReason: string; StateReasonData?: string }): Promise<Record<string, never>> {
  if (input.StateReason.length > 1023) throw invalid(input.StateReason, 'StateReason');
  if (input.StateReasonData !== undefined) {
    try {
      JSON.parse(input.StateReasonData);
    } catch {
      throw new InvalidFormatFault('StateReasonData is not valid JSON.');
    }
  }
  const done = await withRetry(ctx.store, (tx) =>
    recordState(ctx, tx, alarmArn(ctx, input.AlarmName), {
      state: input.StateValue as StateValue,
      reason: input.StateReason,
      ...(input.StateReasonData !== undefined ? { reasonData: input.StateReasonData } : {}),
    }),
  );
  if (!done) throw new ResourceNotFound(`Alarm ${input.AlarmName} not found`);
  return {};
}

export async function setActionsEnabled(ctx: MetricsContext, names: readonly string[], enabled: boolean): Promise<Record<string, never>> {
  if (names.length > 100) throw new InvalidParameterValueException('The collection AlarmNames must not have a size greater than 100.');
  await withRetry(ctx.store, async (tx) => {
    for (const name of names) {
      const cur = await tx.get<AlarmDoc>('metricAlarm', alarmArn(ctx, name));
      if (!cur || cur.doc.alarm.ActionsEnabled === enabled) continue;
      const now = ctx.now() / 1000;
      const alarm = { ...cur.doc.alarm, ActionsEnabled: enabled, AlarmConfigurationUpdatedTimestamp: now };
      const item = historyItem(name, now, 'ConfigurationUpdate', `Alarm "${name}" updated`, { type: 'Update', version: '1.0', updatedAlarm: alarm });
      await tx.update<AlarmDoc>('metricAlarm', { ...cur, doc: { ...cur.doc, alarm, history: withHistory(cur.doc, item) } });
    }
  });
  return {};
}

export const newAlarmId = (): string => randomUUID();

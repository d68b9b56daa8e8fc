/**
 * The alarm evaluator: given an alarm's configuration, its current state
 * and the values of its most recent periods, the state CloudWatch would put
 * it in and the reason it would give. Pure: no clock, no store.
 *
 * The rules (CloudWatch's "Evaluating an alarm"):
 * - The evaluation range is the last `EvaluationPeriods` periods. A period
 *   breaches when its value compared with the threshold by the comparison
 *   operator is true. The alarm goes to ALARM when at least
 *   `DatapointsToAlarm` (default `EvaluationPeriods`) periods breach.
 * - Missing periods are treated per `TreatMissingData`: `breaching` and
 *   `notBreaching` count them as such; `missing` (the default) and `ignore`
 *   leave them out. When every period is missing, `missing` goes to
 *   INSUFFICIENT_DATA and `ignore` keeps the current state.
 * - Otherwise the alarm is OK.
 */

export type StateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type ComparisonOperator = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';
export type TreatMissingData = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'];
export const TREAT_MISSING_DATA: readonly TreatMissingData[] = ['breaching', 'notBreaching', 'ignore', 'missing'];

export interface AlarmRule {
  Threshold: number;
  ComparisonOperator: ComparisonOperator;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData?: TreatMissingData;
  Period: number;
  /** Statistic or extended statistic name, for the reason data. */
  Stat: string;
}

/** The value of one period of the evaluation range; `value` undefined when the period has no data. */
export interface PeriodValue {
  /** Epoch seconds of the period's start. */
  t: number;
  value: number | undefined;
}

export interface Evaluation {
  state: StateValue;
  /** Whether `state` differs from the current state. */
  changed: boolean;
  reason: string;
  /** StateReasonData (JSON), as CloudWatch writes it. */
  reasonData: string;
  /** The newest value in the range, if any (what scaling policies act on). */
  latest: number | undefined;
}

const WORDS: Record<ComparisonOperator, string> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

export function breaches(op: ComparisonOperator, value: number, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

/** CloudWatch's number format in reasons: at least one decimal (70 is "70.0"). */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/** CloudWatch's date format in reasons: dd/MM/yy HH:mm:ss (UTC). */
export function formatDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * Evaluates `range` (the last EvaluationPeriods periods, oldest first) for an
 * alarm now in `current`; `queryDate` (epoch seconds) goes into the reason data.
 */
export function evaluateAlarm(rule: AlarmRule, current: StateValue, range: readonly PeriodValue[], queryDate: number): Evaluation {
  const n = rule.EvaluationPeriods;
  const m = rule.DatapointsToAlarm ?? n;
  const treat = rule.TreatMissingData ?? 'missing';
  const present = range.filter((p): p is { t: number; value: number } => p.value !== undefined);
  const newestFirst = [...present].sort((a, b) => b.t - a.t);
  const latest = newestFirst[0]?.value;
  const missing = range.length - present.length;
  const breachingPresent = present.filter((p) => breaches(rule.ComparisonOperator, p.value, rule.Threshold));
  const breachCount = breachingPresent.length + (treat === 'breaching' ? missing : 0);
  const words = WORDS[rule.ComparisonOperator];
  const threshold = formatNumber(rule.Threshold);
  const listed = (ps: readonly { t: number; value: number }[]) => ps.map((p) => `${formatNumber(p.value)} (${formatDate(p.t)})`).join(', ');
  const data = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      version: '1.0',
      queryDate: new Date(queryDate * 1000).toISOString().replace('Z', '+0000'),
      ...(range.length > 0 ? { startDate: new Date(range[0]!.t * 1000).toISOString().replace('Z', '+0000') } : {}),
      statistic: rule.Stat,
      period: rule.Period,
      recentDatapoints: newestFirst.map((p) => p.value),
      threshold: rule.Threshold,
      evaluatedDatapoints: newestFirst.map((p) => ({ timestamp: new Date(p.t * 1000).toISOString().replace('Z', '+0000'), sampleCount: 1, value: p.value })),
      ...extra,
    });
  const result = (state: StateValue, reason: string, reasonData = data()): Evaluation => ({ state, changed: state !== current, reason, reasonData, latest });

  if (present.length === 0 && (treat === 'missing' || treat === 'ignore')) {
    if (treat === 'ignore' && current !== 'INSUFFICIENT_DATA') return result(current, 'Alarm state kept: no datapoints in the evaluation range and missing data is ignored.');
    return result('INSUFFICIENT_DATA', `Insufficient Data: ${range.length} ${plural(range.length, 'datapoint was', 'datapoints were')} unknown.`);
  }
  if (breachCount >= m) {
    const shown = breachingPresent.sort((a, b) => b.t - a.t);
    const list = shown.length > 0 ? ` [${listed(shown)}]` : '';
    const head =
      m === n
        ? `${breachCount} ${plural(breachCount, 'datapoint', 'datapoints')}${list} ${plural(breachCount, 'was', 'were')} ${words} the threshold (${threshold}).`
        : `${breachCount} out of the last ${n} datapoints${list} ${plural(breachCount, 'was', 'were')} ${words} the threshold (${threshold}) (minimum ${m} ${plural(m, 'datapoint', 'datapoints')} for ${current} -> ALARM transition).`;
    return result('ALARM', `Threshold Crossed: ${head}`);
  }
  const okShown = newestFirst.filter((p) => !breaches(rule.ComparisonOperator, p.value, rule.Threshold));
  const count = okShown.length + (treat === 'notBreaching' ? missing : 0);
  return result(
    'OK',
    `Threshold Crossed: ${count} ${plural(count, 'datapoint', 'datapoints')}${okShown.length > 0 ? ` [${listed(okShown)}]` : ''} ${plural(count, 'was', 'were')} not ${words} the threshold (${threshold}).`,
  );
}

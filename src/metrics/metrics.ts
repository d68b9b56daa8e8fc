/**
 * CloudWatch metric operations: PutMetricData, GetMetricStatistics,
 * GetMetricData and ListMetrics, with CloudWatch's limits and messages.
 * Inputs have passed the CloudWatch model's validator (types, required
 * members, enums); the checks here are the ones the model cannot express.
 */
import {
  InvalidNextToken,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  MissingRequiredParameterException,
} from '../core/errors.js';
import type { MetricsContext } from './context.js';
import { evaluateExpression, MathError, type TimeSeries } from './math.js';
import {
  aggregateByPeriod,
  isSupportedStat,
  percentileOf,
  seriesKey,
  sortDimensions,
  statisticValue,
  type Dimension,
  type Sample,
  type Series,
} from './storage.js';

export const MAX_METRIC_DATA = 1000;
export const MAX_DIMENSIONS = 30;
export const MAX_VALUES = 150;
export const MAX_DATAPOINTS_PER_STATISTICS = 1440;
export const MAX_QUERIES = 500;
export const DEFAULT_MAX_DATAPOINTS = 100_800;
export const LIST_METRICS_PAGE = 500;

export interface MetricDatumInput {
  MetricName: string;
  Dimensions?: Dimension[];
  Timestamp?: number;
  Value?: number;
  StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  Values?: number[];
  Counts?: number[];
  Unit?: string;
  StorageResolution?: number;
}

const invalid = (value: unknown, parameter: string) => new InvalidParameterValueException(`The value ${String(value)} for parameter ${parameter} is invalid.`);

function checkDimensions(dimensions: readonly Dimension[] | undefined, at: string): void {
  if (!dimensions) return;
  if (dimensions.length > MAX_DIMENSIONS) throw new InvalidParameterValueException(`The collection ${at} must not have a size greater than ${MAX_DIMENSIONS}.`);
  const names = new Set<string>();
  dimensions.forEach((d, i) => {
    if (d.Name.length < 1 || d.Name.length > 255) throw invalid(d.Name, `${at}.member.${i + 1}.Name`);
    if (d.Value.length < 1 || d.Value.length > 1024) throw invalid(d.Value, `${at}.member.${i + 1}.Value`);
    if (names.has(d.Name)) throw new InvalidParameterValueException(`No metric may have duplicate dimension names: ${d.Name}.`);
    names.add(d.Name);
  });
}

function finite(v: number, parameter: string): void {
  if (!Number.isFinite(v) || Math.abs(v) > 2 ** 360 || (v !== 0 && Math.abs(v) < 2 ** -260)) throw invalid(v, parameter);
}

/** Writes metric data points; an internal publisher may use an `AWS/` namespace. */
export function putMetricData(ctx: MetricsContext, input: { Namespace: string; MetricData?: MetricDatumInput[] }, opts: { internal?: boolean } = {}): Record<string, never> {
  const ns = input.Namespace;
  if (ns.length < 1 || ns.length > 255 || /^\s*$/.test(ns) || ns.includes(':')) throw invalid(ns, 'Namespace');
  if (!opts.internal && ns.startsWith('AWS/')) throw new InvalidParameterValueException(`The value ${ns} for parameter Namespace is invalid. Namespaces beginning with AWS/ are reserved.`);
  const data = input.MetricData ?? [];
  if (data.length === 0) throw new MissingRequiredParameterException('The parameter MetricData is required.');
  if (data.length > MAX_METRIC_DATA) throw new InvalidParameterValueException(`The collection MetricData must not have a size greater than ${MAX_METRIC_DATA}.`);
  const now = ctx.now();
  const samples: { d: MetricDatumInput; t: number; sample: Sample }[] = [];
  data.forEach((d, i) => {
    const at = `MetricData.member.${i + 1}`;
    if (d.MetricName.length < 1 || d.MetricName.length > 255) throw invalid(d.MetricName, `${at}.MetricName`);
    checkDimensions(d.Dimensions, `${at}.Dimensions`);
    const given = [d.Value !== undefined, d.StatisticValues !== undefined, d.Values !== undefined].filter(Boolean).length;
    if (given > 1) {
      const which = [d.Value !== undefined ? 'Value' : '', d.StatisticValues !== undefined ? 'StatisticValues' : '', d.Values !== undefined ? 'Values' : ''].filter(Boolean);
      throw new InvalidParameterCombinationException(`The parameters ${at}.${which[0]} and ${at}.${which[1]} are mutually exclusive and you have specified both.`);
    }
    if (given === 0) throw new MissingRequiredParameterException(`At least one of the parameters ${at}.Value, ${at}.StatisticValues or ${at}.Values must be specified.`);
    if (d.StorageResolution !== undefined && d.StorageResolution !== 1 && d.StorageResolution !== 60) throw invalid(d.StorageResolution, `${at}.StorageResolution`);
    const t = d.Timestamp ?? now / 1000;
    if (t < now / 1000 - 14 * 86400 || t > now / 1000 + 2 * 3600) {
      throw new InvalidParameterValueException(`The parameter ${at}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.`);
    }
    let sample: Sample;
    if (d.StatisticValues) {
      const s = d.StatisticValues;
      for (const [k, v] of Object.entries(s)) finite(v, `${at}.StatisticValues.${k}`);
      if (s.SampleCount <= 0) throw invalid(s.SampleCount, `${at}.StatisticValues.SampleCount`);
      if (s.Minimum > s.Maximum) throw new InvalidParameterValueException(`The parameter ${at}.StatisticValues.Maximum must be greater than ${at}.StatisticValues.Minimum.`);
      sample = { kind: 'set', count: s.SampleCount, sum: s.Sum, min: s.Minimum, max: s.Maximum };
    } else if (d.Values) {
      if (d.Values.length > MAX_VALUES) throw new InvalidParameterValueException(`The collection ${at}.Values must not have a size greater than ${MAX_VALUES}.`);
      if (d.Counts !== undefined && d.Counts.length !== d.Values.length) {
        throw new InvalidParameterValueException(`The parameters ${at}.Values and ${at}.Counts must be of the same size.`);
      }
      d.Values.forEach((v, k) => finite(v, `${at}.Values.member.${k + 1}`));
      d.Counts?.forEach((c, k) => {
        if (!Number.isFinite(c) || c < 0) throw invalid(c, `${at}.Counts.member.${k + 1}`);
      });
      sample = { kind: 'values', values: d.Values, ...(d.Counts ? { counts: d.Counts } : {}) };
    } else {
      finite(d.Value!, `${at}.Value`);
      sample = { kind: 'values', values: [d.Value!] };
    }
    samples.push({ d, t, sample });
  });
  // All or nothing: only a request that passed every check is stored.
  ctx.storage.putAll(samples.map(({ d, t, sample }) => [{ namespace: ns, metricName: d.MetricName, dimensions: d.Dimensions ?? [] }, t, sample, d.Unit ?? null, d.StorageResolution ?? 60, now]));
  return {};
}

/** Periods CloudWatch accepts: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60. */
export function validPeriod(period: number): boolean {
  return Number.isInteger(period) && (period === 1 || period === 5 || period === 10 || period === 20 || period === 30 || (period > 0 && period % 60 === 0));
}

/** Period starts in [start, end), aligned to the period as CloudWatch aligns them. */
function alignedStart(start: number, period: number): number {
  return period <= 3600 ? Math.floor(start / period) * period : Math.floor(start / 60) * 60;
}

export interface StatisticsInput {
  Namespace: string;
  MetricName: string;
  Dimensions?: Dimension[];
  StartTime: number;
  EndTime: number;
  Period: number;
  Statistics?: string[];
  ExtendedStatistics?: string[];
  Unit?: string;
}

export function getMetricStatistics(ctx: MetricsContext, input: StatisticsInput) {
  const stats = input.Statistics ?? [];
  const extended = input.ExtendedStatistics ?? [];
  if (stats.length === 0 && extended.length === 0) throw new MissingRequiredParameterException('Must specify either Statistics or ExtendedStatistics.');
  if (stats.length > 0 && extended.length > 0) throw new InvalidParameterCombinationException('Must specify either Statistics or ExtendedStatistics, but not both.');
  if (stats.length > 5) throw new InvalidParameterValueException('The collection Statistics must not have a size greater than 5.');
  if (extended.length > 10) throw new InvalidParameterValueException('The collection ExtendedStatistics must not have a size greater than 10.');
  for (const [i, e] of extended.entries()) if (percentileOf(e) === undefined) throw invalid(e, `ExtendedStatistics.member.${i + 1}`);
  checkDimensions(input.Dimensions, 'Dimensions');
  if (!validPeriod(input.Period)) throw new InvalidParameterValueException('The parameter Period must be a multiple of 60.');
  if (input.StartTime >= input.EndTime) throw new InvalidParameterValueException('The parameter StartTime must be less than the parameter EndTime.');
  const start = alignedStart(input.StartTime, input.Period);
  const requested = Math.ceil((input.EndTime - start) / input.Period) * stats.length + Math.ceil((input.EndTime - start) / input.Period) * extended.length;
  if (requested > MAX_DATAPOINTS_PER_STATISTICS) {
    throw new InvalidParameterCombinationException(
      `You have requested up to ${requested.toLocaleString('en-US')} datapoints, which exceeds the limit of ${MAX_DATAPOINTS_PER_STATISTICS.toLocaleString('en-US')}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
    );
  }
  const series = ctx.storage.get(input.Namespace, input.MetricName, input.Dimensions ?? []);
  const datapoints: Record<string, unknown>[] = [];
  if (series) {
    const buckets = ctx.storage.range(series, start, input.EndTime, input.Unit);
    for (const [t, agg] of aggregateByPeriod(buckets, start, input.Period)) {
      const unit = input.Unit ?? buckets.find((b) => b.t >= t && b.t < t + input.Period)?.unit ?? 'None';
      const dp: Record<string, unknown> = { Timestamp: t, Unit: unit };
      for (const s of stats) dp[s] = statisticValue(s, agg);
      if (extended.length > 0) {
        const ext: Record<string, number> = {};
        for (const e of extended) {
          const v = statisticValue(e, agg);
          if (v !== undefined) ext[e] = v;
        }
        dp['ExtendedStatistics'] = ext;
      }
      datapoints.push(dp);
    }
  }
  return { Label: input.MetricName, Datapoints: datapoints };
}

export interface MetricDataQueryInput {
  Id: string;
  MetricStat?: { Metric: { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] }; Period: number; Stat: string; Unit?: string };
  Expression?: string;
  Label?: string;
  ReturnData?: boolean;
  Period?: number;
}

/** One series of values by period start (epoch seconds), for one MetricStat. */
export function metricStatValues(ctx: MetricsContext, stat: NonNullable<MetricDataQueryInput['MetricStat']>, start: number, end: number): Map<number, number> {
  const out = new Map<number, number>();
  const m = stat.Metric;
  const series = m.Namespace !== undefined && m.MetricName !== undefined ? ctx.storage.get(m.Namespace, m.MetricName, m.Dimensions ?? []) : undefined;
  if (!series) return out;
  const from = alignedStart(start, stat.Period);
  for (const [t, agg] of aggregateByPeriod(ctx.storage.range(series, from, end, stat.Unit), from, stat.Period)) {
    const v = statisticValue(stat.Stat, agg);
    if (v !== undefined && t >= from) out.set(t, v);
  }
  return out;
}

const QUERY_ID = /^[a-z][a-zA-Z0-9_]*$/;

interface DataPosition {
  /** Index of the query result the page starts in, and the datapoint within it. */
  q: number;
  i: number;
}

export function getMetricData(
  ctx: MetricsContext,
  input: { MetricDataQueries: MetricDataQueryInput[]; StartTime: number; EndTime: number; NextToken?: string; ScanBy?: string; MaxDatapoints?: number },
) {
  const queries = input.MetricDataQueries;
  if (queries.length === 0) throw new MissingRequiredParameterException('The parameter MetricDataQueries is required.');
  if (queries.length > MAX_QUERIES) throw new InvalidParameterValueException(`The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`);
  if (input.StartTime >= input.EndTime) throw new InvalidParameterValueException('The parameter StartTime must be less than the parameter EndTime.');
  const max = input.MaxDatapoints ?? DEFAULT_MAX_DATAPOINTS;
  if (!Number.isInteger(max) || max < 1) throw invalid(max, 'MaxDatapoints');
  const ids = new Set<string>();
  queries.forEach((q, i) => {
    const at = `MetricDataQueries.member.${i + 1}`;
    if (!QUERY_ID.test(q.Id) || q.Id.length > 255) throw new InvalidParameterValueException(`Invalid metric data query id ${q.Id} at ${at}.Id: it must start with a lower-case letter and contain only letters, numbers and underscores.`);
    if (ids.has(q.Id)) throw new InvalidParameterValueException(`The value ${q.Id} for parameter ${at}.Id is not unique.`);
    ids.add(q.Id);
    if ((q.MetricStat === undefined) === (q.Expression === undefined)) {
      throw new InvalidParameterCombinationException(`Exactly one element of the ${at}.MetricStat and ${at}.Expression parameters must be specified.`);
    }
    if (q.Expression !== undefined) {
      if (q.Expression.length < 1 || q.Expression.length > 2048) throw invalid(q.Expression, `${at}.Expression`);
      return;
    }
    const s = q.MetricStat!;
    if (!validPeriod(s.Period)) throw new InvalidParameterValueException(`The parameter ${at}.MetricStat.Period must be 1, 5, 10, 20, 30 or a multiple of 60.`);
    if (!isSupportedStat(s.Stat)) throw invalid(s.Stat, `${at}.MetricStat.Stat`);
    checkDimensions(s.Metric.Dimensions, `${at}.MetricStat.Metric.Dimensions`);
  });
  const descending = (input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
  const scope = `gmd:${JSON.stringify([queries, input.StartTime, input.EndTime, input.ScanBy ?? ''])}`.slice(0, 2000);
  let pos: DataPosition = { q: 0, i: 0 };
  if (input.NextToken !== undefined) {
    const p = decodePosition<DataPosition>(scope, input.NextToken);
    if (!p) throw new InvalidNextToken('The service returned an error with Error Code InvalidNextToken: the token is not valid for this request.');
    pos = p;
  }
  const series = computeSeries(ctx, queries, input.StartTime, input.EndTime);
  const results: Record<string, unknown>[] = [];
  let budget = max;
  let next: DataPosition | undefined;
  const returned = queries.filter((q) => q.ReturnData !== false);
  for (let qi = pos.q; qi < returned.length; qi++) {
    const q = returned[qi]!;
    const values = [...series.get(q.Id)!].sort((a, b) => (descending ? b[0] - a[0] : a[0] - b[0]));
    const from = qi === pos.q ? pos.i : 0;
    const page = values.slice(from, from + budget);
    budget -= page.length;
    const complete = from + page.length >= values.length;
    results.push({
      Id: q.Id,
      Label: q.Label ?? q.MetricStat?.Metric.MetricName ?? q.Id,
      Timestamps: page.map(([t]) => t),
      Values: page.map(([, v]) => v),
      StatusCode: complete ? 'Complete' : 'PartialData',
      Messages: [],
    });
    if (!complete) {
      next = { q: qi, i: from + page.length };
      break;
    }
    if (budget === 0 && qi + 1 < returned.length) {
      next = { q: qi + 1, i: 0 };
      break;
    }
  }
  return { MetricDataResults: results, Messages: [], ...(next ? { NextToken: encodePosition(scope, next) } : {}) };
}

/**
 * The series of every query: MetricStat queries from storage, then
 * expressions in dependency order (an expression may use any other query).
 */
function computeSeries(ctx: MetricsContext, queries: readonly MetricDataQueryInput[], start: number, end: number): Map<string, TimeSeries> {
  const out = new Map<string, TimeSeries>();
  const statIds: string[] = [];
  for (const q of queries) {
    if (q.MetricStat) {
      out.set(q.Id, metricStatValues(ctx, q.MetricStat, start, end));
      statIds.push(q.Id);
    }
  }
  let pending = queries.filter((q) => q.Expression !== undefined);
  while (pending.length > 0) {
    const next: MetricDataQueryInput[] = [];
    let lastError: MathError | undefined;
    for (const q of pending) {
      try {
        out.set(q.Id, evaluateExpression(q.Expression!, out, statIds));
      } catch (err) {
        if (!(err instanceof MathError)) throw err;
        lastError = err;
        next.push(q);
      }
    }
    if (next.length === pending.length) {
      throw new InvalidParameterValueException(`Error in expression ${next[0]!.Id}: ${lastError?.message ?? 'it cannot be evaluated'}`);
    }
    pending = next;
  }
  return out;
}

function encodePosition(scope: string, p: unknown): string {
  return Buffer.from(JSON.stringify({ s: hashScope(scope), p })).toString('base64url');
}

function decodePosition<T>(scope: string, token: string): T | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; p?: T };
    return parsed.s === hashScope(scope) ? parsed.p : undefined;
  } catch {
    return undefined;
  }
}

function hashScope(scope: string): number {
  let h = 0;
  for (let i = 0; i < scope.length; i++) h = (Math.imul(h, 31) + scope.charCodeAt(i)) | 0;
  return h;
}

export function listMetrics(
  ctx: MetricsContext,
  input: { Namespace?: string; MetricName?: string; Dimensions?: { Name: string; Value?: string }[]; NextToken?: string; RecentlyActive?: string },
) {
  if ((input.Dimensions ?? []).length > 10) throw new InvalidParameterValueException('The collection Dimensions must not have a size greater than 10.');
  const after = input.NextToken !== undefined ? decodePosition<string>('listMetrics', input.NextToken) : undefined;
  if (input.NextToken !== undefined && after === undefined) throw new InvalidNextToken('The nextToken is not valid.');
  const recentCut = input.RecentlyActive === 'PT3H' ? ctx.now() - 3 * 3600 * 1000 : -Infinity;
  const matches = (s: Series) =>
    (input.Namespace === undefined || s.namespace === input.Namespace) &&
    (input.MetricName === undefined || s.metricName === input.MetricName) &&
    (input.Dimensions ?? []).every((f) => s.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value))) &&
    s.lastWrite >= recentCut &&
    (after === undefined || s.key > after);
  const found = [...ctx.storage.all()].filter(matches).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const page = found.slice(0, LIST_METRICS_PAGE);
  const more = found.length > LIST_METRICS_PAGE;
  return {
    Metrics: page.map((s) => ({ Namespace: s.namespace, MetricName: s.metricName, Dimensions: sortDimensions(s.dimensions) })),
    ...(more ? { NextToken: encodePosition('listMetrics', page[page.length - 1]!.key) } : {}),
  };
}

export { seriesKey };

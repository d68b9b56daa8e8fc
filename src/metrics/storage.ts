/**
 * Berth's metric time series: what PutMetricData stores and every metric
 * query, alarm and ECS figure reads.
 *
 * Contract:
 * - A series is one metric: namespace, metric name and its exact set of
 *   dimensions (order does not matter), as CloudWatch defines it.
 * - Values are aggregated into buckets as they arrive: one-second buckets
 *   for high-resolution data (storage resolution 1), one-minute buckets for
 *   standard data. A bucket keeps the sample count, sum, minimum, maximum
 *   and up to `MAX_BUCKET_VALUES` values for percentiles (a statistic set
 *   contributes its count, sum, minimum and maximum only).
 * - As on CloudWatch, high-resolution buckets older than three hours are
 *   rolled up into minute buckets, and everything older than 15 days is
 *   dropped (`prune`, which the server runs every minute).
 * - Buckets of a series are kept sorted by time; a query does a binary
 *   search and reads only the buckets of its range.
 *
 * It lives in memory; `snapshot` / `restore` carry it across restarts, and
 * an attached journal (journal.ts) receives every write before it is
 * applied, so a server killed outright loses nothing it acknowledged.
 */

export interface Dimension {
  Name: string;
  Value: string;
}

export interface MetricId {
  namespace: string;
  metricName: string;
  /** Sorted by name. */
  dimensions: Dimension[];
}

export interface Bucket {
  /** Epoch seconds of the bucket's start. */
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Raw values for percentiles (at most MAX_BUCKET_VALUES). */
  values: number[];
  unit: string | undefined;
}

export interface Series extends MetricId {
  key: string;
  buckets: Bucket[];
  /** Epoch ms of the newest PutMetricData to the series (ListMetrics RecentlyActive). */
  lastWrite: number;
}

/** Values a bucket keeps for percentile statistics. */
export const MAX_BUCKET_VALUES = 1000;
/** High-resolution data keeps its resolution for three hours, as on CloudWatch. */
export const HIGH_RESOLUTION_RETENTION_S = 3 * 3600;
/** One-minute data is kept for 15 days, as on CloudWatch. */
export const RETENTION_S = 15 * 24 * 3600;

/** The canonical key of a metric; dimensions in name order. */
export function seriesKey(namespace: string, metricName: string, dimensions: readonly Dimension[]): string {
  return JSON.stringify([namespace, metricName, sortDimensions(dimensions).map((d) => [d.Name, d.Value])]);
}

export function sortDimensions(dimensions: readonly Dimension[]): Dimension[] {
  return [...dimensions].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0)).map((d) => ({ Name: d.Name, Value: d.Value }));
}

/** A sample to store: one value repeated `count` times, or a statistic set. */
export type Sample =
  | { kind: 'values'; values: readonly number[]; counts?: readonly number[] }
  | { kind: 'set'; count: number; sum: number; min: number; max: number };

/** First index in `buckets` whose start is >= t. */
function lowerBound(buckets: readonly Bucket[], t: number): number {
  let lo = 0;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buckets[mid]!.t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One write as the journal records it: what `put` was called with. */
export type JournalEntry = [metric: MetricId, timestamp: number, sample: Sample, unit: string | null, storageResolution: number, now: number];

/** Where writes go before they are applied (the metric journal). */
export interface JournalSink {
  append(entries: readonly JournalEntry[]): void;
  durable(): Promise<void>;
}

export class MetricStorage {
  private readonly series = new Map<string, Series>();
  private journal: JournalSink | undefined;

  /** Sends every later write through `journal` first (undefined: memory only). */
  attachJournal(journal: JournalSink | undefined): void {
    this.journal = journal;
  }

  /** Resolves once every write so far is as durable as the journal makes it. */
  durable(): Promise<void> {
    return this.journal ? this.journal.durable() : Promise.resolve();
  }

  /** Journals `entries` as one record, then applies them (all or nothing: the journal write comes first). */
  putAll(entries: readonly JournalEntry[]): void {
    if (entries.length === 0) return;
    this.journal?.append(entries);
    this.apply(entries);
  }

  /** Applies journaled writes without journaling them again (replay). */
  apply(entries: readonly JournalEntry[]): void {
    for (const [metric, timestamp, sample, unit, resolution, now] of entries) this.putInMemory(metric, timestamp, sample, unit ?? undefined, resolution, now);
  }

  /** Number of series stored. */
  get size(): number {
    return this.series.size;
  }

  /**
   * Adds a sample at `timestamp` (epoch seconds) with the given storage
   * resolution (1: kept per second; otherwise per minute).
   */
  put(metric: MetricId, timestamp: number, sample: Sample, unit: string | undefined, storageResolution: number, now = Date.now()): void {
    this.putAll([[metric, timestamp, sample, unit ?? null, storageResolution, now]]);
  }

  private putInMemory(metric: MetricId, timestamp: number, sample: Sample, unit: string | undefined, storageResolution: number, now: number): void {
    const key = seriesKey(metric.namespace, metric.metricName, metric.dimensions);
    let s = this.series.get(key);
    if (!s) {
      s = { key, namespace: metric.namespace, metricName: metric.metricName, dimensions: sortDimensions(metric.dimensions), buckets: [], lastWrite: now };
      this.series.set(key, s);
    }
    s.lastWrite = now;
    const step = storageResolution === 1 ? 1 : 60;
    const t = Math.floor(timestamp / step) * step;
    const bucket = this.bucketAt(s, t, unit);
    if (sample.kind === 'set') {
      addSet(bucket, sample.count, sample.sum, sample.min, sample.max);
      return;
    }
    for (let i = 0; i < sample.values.length; i++) {
      const v = sample.values[i]!;
      const c = sample.counts?.[i] ?? 1;
      addSet(bucket, c, v * c, v, v);
      for (let k = 0; k < c && bucket.values.length < MAX_BUCKET_VALUES; k++) bucket.values.push(v);
    }
  }

  private bucketAt(s: Series, t: number, unit: string | undefined): Bucket {
    const last = s.buckets[s.buckets.length - 1];
    if (last && last.t === t) return last;
    if (!last || last.t < t) {
      const b = emptyBucket(t, unit);
      s.buckets.push(b);
      return b;
    }
    const i = lowerBound(s.buckets, t);
    const found = s.buckets[i];
    if (found && found.t === t) return found;
    const b = emptyBucket(t, unit);
    s.buckets.splice(i, 0, b);
    return b;
  }

  get(namespace: string, metricName: string, dimensions: readonly Dimension[]): Series | undefined {
    return this.series.get(seriesKey(namespace, metricName, dimensions));
  }

  /** Every series, in no particular order. */
  all(): IterableIterator<Series> {
    return this.series.values();
  }

  /**
   * The buckets of a series with start in [start, end) (epoch seconds),
   * optionally only those of `unit`.
   */
  range(s: Series, start: number, end: number, unit?: string): Bucket[] {
    const from = lowerBound(s.buckets, start);
    const to = lowerBound(s.buckets, end);
    const out = s.buckets.slice(from, to);
    return unit === undefined ? out : out.filter((b) => b.unit === unit);
  }

  /** Every series as one JSON line each (see `restore`). */
  snapshot(): string {
    const lines: string[] = [];
    for (const s of this.series.values()) {
      lines.push(JSON.stringify({ n: s.namespace, m: s.metricName, d: s.dimensions, w: s.lastWrite, b: s.buckets.map((b) => [b.t, b.count, b.sum, b.min, b.max, b.values, b.unit ?? null]) }));
    }
    return lines.join('\n');
  }

  /** Adds the series of a snapshot; lines it cannot read are skipped. Returns the number of series restored. */
  restore(text: string): number {
    let n = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const o = JSON.parse(line) as { n: string; m: string; d: Dimension[]; w: number; b: [number, number, number, number, number, number[], string | null][] };
        const key = seriesKey(o.n, o.m, o.d);
        const buckets = o.b
          .map(([t, count, sum, min, max, values, unit]) => ({ t, count, sum, min, max, values, unit: unit ?? undefined }))
          .sort((a, b) => a.t - b.t);
        this.series.set(key, { key, namespace: o.n, metricName: o.m, dimensions: sortDimensions(o.d), buckets, lastWrite: o.w });
        n++;
      } catch {
        // a torn or foreign line: skip it
      }
    }
    return n;
  }

  /**
   * Rolls high-resolution buckets older than three hours into minute
   * buckets and drops data older than 15 days; series left empty go.
   */
  prune(now = Date.now()): void {
    const nowS = now / 1000;
    const hiCut = nowS - HIGH_RESOLUTION_RETENTION_S;
    const cut = nowS - RETENTION_S;
    for (const [key, s] of this.series) {
      let firstKept = lowerBound(s.buckets, cut);
      if (firstKept > 0) s.buckets.splice(0, firstKept);
      firstKept = lowerBound(s.buckets, hiCut);
      if (s.buckets.slice(0, firstKept).some((b) => b.t % 60 !== 0)) {
        const merged: Bucket[] = [];
        for (const b of s.buckets.slice(0, firstKept)) {
          const t = Math.floor(b.t / 60) * 60;
          const last = merged[merged.length - 1];
          if (last && last.t === t) mergeInto(last, b);
          else merged.push({ ...b, t, values: [...b.values] });
        }
        s.buckets.splice(0, firstKept, ...merged);
      }
      if (s.buckets.length === 0) this.series.delete(key);
    }
  }
}

function emptyBucket(t: number, unit: string | undefined): Bucket {
  return { t, count: 0, sum: 0, min: Infinity, max: -Infinity, values: [], unit };
}

function addSet(b: Bucket, count: number, sum: number, min: number, max: number): void {
  b.count += count;
  b.sum += sum;
  if (min < b.min) b.min = min;
  if (max > b.max) b.max = max;
}

function mergeInto(into: Bucket, b: Bucket): void {
  addSet(into, b.count, b.sum, b.min, b.max);
  for (const v of b.values) {
    if (into.values.length >= MAX_BUCKET_VALUES) break;
    into.values.push(v);
  }
}

/** Aggregated statistics of the buckets of one period. */
export interface PeriodAggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
  values: number[];
}

/** Groups buckets (sorted) into periods starting at `start`; only periods with data are returned, by period start. */
export function aggregateByPeriod(buckets: readonly Bucket[], start: number, period: number): Map<number, PeriodAggregate> {
  const out = new Map<number, PeriodAggregate>();
  for (const b of buckets) {
    const p = start + Math.floor((b.t - start) / period) * period;
    let a = out.get(p);
    if (!a) {
      a = { count: 0, sum: 0, min: Infinity, max: -Infinity, values: [] };
      out.set(p, a);
    }
    a.count += b.count;
    a.sum += b.sum;
    if (b.min < a.min) a.min = b.min;
    if (b.max > a.max) a.max = b.max;
    for (const v of b.values) a.values.push(v);
  }
  return out;
}

/**
 * The value of statistic `stat` over an aggregate: SampleCount, Average,
 * Sum, Minimum, Maximum, or a percentile `pNN` / `pNN.NN` (nearest rank over
 * the kept values; undefined when only statistic sets were stored).
 */
export function statisticValue(stat: string, a: PeriodAggregate): number | undefined {
  switch (stat) {
    case 'SampleCount':
      return a.count;
    case 'Sum':
      return a.sum;
    case 'Average':
      return a.count === 0 ? undefined : a.sum / a.count;
    case 'Minimum':
      return a.min;
    case 'Maximum':
      return a.max;
    default: {
      const p = percentileOf(stat);
      if (p === undefined || a.values.length === 0) return undefined;
      const sorted = [...a.values].sort((x, y) => x - y);
      const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
      return sorted[Math.min(rank, sorted.length) - 1];
    }
  }
}

/** The percentile of a `pNN` / `pNN.NN` statistic, or undefined when `stat` is not one. */
export function percentileOf(stat: string): number | undefined {
  const m = /^p(\d{1,2}(?:\.\d{1,2})?|100)$/.exec(stat);
  if (!m) return undefined;
  const p = Number(m[1]);
  return p >= 0 && p <= 100 ? p : undefined;
}

export const BASIC_STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;

/** Whether `stat` is a statistic Berth computes. */
export function isSupportedStat(stat: string): boolean {
  return (BASIC_STATISTICS as readonly string[]).includes(stat) || percentileOf(stat) !== undefined;
}

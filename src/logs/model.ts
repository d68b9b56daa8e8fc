/**
 * CloudWatch Logs as Berth stores it: log groups hold log streams, streams
 * hold events ordered by (timestamp, sequence). The sequence is a number the
 * log store gives each event as it is stored, increasing across the whole
 * store: events of equal timestamp keep the order they arrived in, and a
 * position (timestamp, sequence) names a place in a stream that later
 * inserts never move (the basis of GetLogEvents' forward and backward
 * tokens and of FilterLogEvents' next token).
 *
 * Writers: only `ops.ts` (API calls) and the retention loop
 * (`controllers/logRetention.ts`, through `LogStore.expire`) change the log
 * store.
 */

/** A log group as stored. Times are epoch milliseconds. */
export interface LogGroupRecord {
  id: number;
  name: string;
  createdAt: number;
  /** Days events are kept; undefined: forever. */
  retentionInDays?: number;
  logGroupClass: string;
  tags: Record<string, string>;
  storedBytes: number;
}

/** A log stream as stored. Times are epoch milliseconds. */
export interface LogStreamRecord {
  id: number;
  groupId: number;
  name: string;
  createdAt: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
}

/** A stored event. */
export interface StoredEvent {
  streamId: number;
  timestamp: number;
  seq: number;
  ingestionTime: number;
  message: string;
}

/** A place between events of a stream or group: events sort by (timestamp, seq). */
export interface Position {
  timestamp: number;
  seq: number;
}

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy `retentionInDays`). */
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** PutLogEvents limits, as CloudWatch Logs documents them. */
export const PUT_LIMITS = {
  /** Events per call. */
  maxEvents: 10_000,
  /** Bytes per call: the UTF-8 size of the messages plus 26 bytes per event. */
  maxBatchBytes: 1_048_576,
  /** Overhead counted for every event. */
  eventOverheadBytes: 26,
  /** The largest event (message bytes + overhead). */
  maxEventBytes: 1_048_576,
  /** The events of one call span at most 24 hours. */
  maxSpanMs: 24 * 60 * 60 * 1000,
  /** Events more than 2 hours in the future are rejected. */
  maxFutureMs: 2 * 60 * 60 * 1000,
  /** Events older than 14 days (or the group's retention) are rejected. */
  maxAgeMs: 14 * 24 * 60 * 60 * 1000,
} as const;

/** GetLogEvents and FilterLogEvents answer at most this many events, and at most 1 MB. */
export const READ_LIMITS = { maxEvents: 10_000, maxBytes: 1_048_576 } as const;

const DAY_MS = 24 * 60 * 60 * 1000;

/** The oldest timestamp a group with `retentionInDays` keeps at `now`. */
export function retentionCutoff(retentionInDays: number, now: number): number {
  return now - retentionInDays * DAY_MS;
}

/** `arn:aws:logs:<region>:<account>:log-group:<name>` (DescribeLogGroups' `logGroupArn`). */
export function logGroupArn(region: string, accountId: string, name: string): string {
  return `arn:aws:logs:${region}:${accountId}:log-group:${name}`;
}

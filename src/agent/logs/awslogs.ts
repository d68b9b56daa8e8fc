/**
 * The `awslogs` log driver's options as ECS task definitions give them,
 * and the pure parts of shipping: reading the engine's timestamped lines,
 * joining multi-line events, and cutting batches within PutLogEvents'
 * limits.
 */

export interface AwslogsConfig {
  group: string;
  /** `prefix/container-name/task-id` with a prefix; the container id without. */
  stream: string;
  createGroup: boolean;
  /** `blocking` (default): never drop a line; `non-blocking`: drop lines once `maxBufferBytes` are waiting. */
  mode: 'blocking' | 'non-blocking';
  maxBufferBytes: number;
  /** A new event starts at a line matching this (awslogs-multiline-pattern or awslogs-datetime-format); else every line is an event. */
  eventStart?: RegExp;
}

/** Docker's default max-buffer-size for non-blocking mode (1 MiB); blocking mode holds this much in memory before it stops reading. */
export const DEFAULT_MAX_BUFFER_BYTES = 1024 * 1024;

/** Parses Docker's size notation (`4m`, `512k`, `1g`, bytes). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * mult);
}

const STRFTIME: Record<string, string> = {
  a: '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)',
  A: '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)',
  b: '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)',
  B: '(?:January|February|March|April|May|June|July|August|September|October|November|December)',
  d: '(?:0[1-9]|[12][0-9]|3[01])',
  e: '(?: [1-9]|[12][0-9]|3[01])',
  H: '(?:[01][0-9]|2[0-3])',
  I: '(?:0[0-9]|1[0-2])',
  j: '(?:[0-2][0-9][0-9]|3[0-5][0-9]|36[0-6])',
  k: '(?: [0-9]|1[0-9]|2[0-3])',
  l: '(?: [0-9]|1[0-2])',
  L: '\\d{3}',
  m: '(?:0[1-9]|1[0-2])',
  M: '[0-5][0-9]',
  N: '\\d{9}',
  p: '[AP]M',
  S: '[0-5][0-9]',
  T: '(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]',
  y: '\\d{2}',
  Y: '\\d{4}',
  z: '[+-]\\d{4}',
  Z: '[A-Z]{1,5}',
  f: '\\d{1,9}',
  '%': '%',
};

/** awslogs-datetime-format (strftime) as the regular expression Docker's awslogs driver builds: anchored at the line start. */
export function datetimeFormatToRegExp(format: string): RegExp {
  let out = '^';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c === '%' && i + 1 < format.length) {
      const d = format[++i]!;
      out += STRFTIME[d] ?? d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(out);
}

/**
 * The driver settings of a container, or an error sentence as Docker's
 * awslogs driver words it for options it refuses.
 */
export function awslogsConfig(
  options: Record<string, string>,
  names: { containerName: string; taskId: string; containerId: string },
): AwslogsConfig | { error: string } {
  const group = options['awslogs-group'];
  if (!group) return { error: "must specify a value for log opt 'awslogs-group'" };
  if (options['awslogs-datetime-format'] && options['awslogs-multiline-pattern']) {
    return { error: 'you cannot configure log opt \'awslogs-datetime-format\' and \'awslogs-multiline-pattern\' at the same time' };
  }
  const mode = options['mode'] ?? 'blocking';
  if (mode !== 'blocking' && mode !== 'non-blocking') return { error: `unknown mode ${mode}` };
  let maxBufferBytes = DEFAULT_MAX_BUFFER_BYTES;
  if (options['max-buffer-size'] !== undefined) {
    const n = parseSize(options['max-buffer-size']);
    if (n === undefined || n <= 0) return { error: `could not parse max-buffer-size: ${options['max-buffer-size']}` };
    maxBufferBytes = n;
  }
  let eventStart: RegExp | undefined;
  try {
    if (options['awslogs-multiline-pattern']) eventStart = new RegExp('^' + options['awslogs-multiline-pattern']);
    else if (options['awslogs-datetime-format']) eventStart = datetimeFormatToRegExp(options['awslogs-datetime-format']);
  } catch (err) {
    return { error: `awslogs-multiline-pattern is not a valid regular expression: ${(err as Error).message}` };
  }
  const prefix = options['awslogs-stream-prefix'];
  return {
    group,
    stream: prefix ? `${prefix}/${names.containerName}/${names.taskId}` : names.containerId,
    createGroup: options['awslogs-create-group'] === 'true',
    mode,
    maxBufferBytes,
    ...(eventStart ? { eventStart } : {}),
  };
}

/** One line of the engine's timestamped output. */
export interface LogLine {
  /** Epoch nanoseconds from the engine's timestamp. */
  nanos: bigint;
  text: string;
}

/**
 * Splits `<RFC 3339 timestamp> <text>` (the engine's `timestamps=1`
 * format; the fraction has up to 9 digits, trailing zeros dropped).
 */
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
/** The last whole second parsed, as epoch nanoseconds: lines come many to a second. */
let lastSecond: { text: string; nanos: bigint } | undefined;

export function parseLogLine(line: string): LogLine | undefined {
  const sp = line.indexOf(' ');
  const stamp = sp >= 0 ? line.slice(0, sp) : line;
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const second = `${m[1]}${m[3]}`;
  let base: bigint;
  if (lastSecond?.text === second) base = lastSecond.nanos;
  else {
    const ms = Date.parse(second);
    if (Number.isNaN(ms)) return undefined;
    base = BigInt(ms) * 1_000_000n;
    lastSecond = { text: second, nanos: base };
  }
  const frac = m[2] === undefined ? 0n : BigInt(m[2].padEnd(9, '0'));
  return { nanos: base + frac, text: sp >= 0 ? line.slice(sp + 1) : '' };
}

/** A position in a container's output: the last line taken, and how many lines carry exactly that timestamp. */
export interface OutputPosition {
  nanos: bigint;
  sameNanos: number;
}

export function advance(p: OutputPosition | undefined, nanos: bigint): OutputPosition {
  return p && p.nanos === nanos ? { nanos, sameNanos: p.sameNanos + 1 } : { nanos, sameNanos: 1 };
}

/** Whether a line at `nanos` read from `since` comes at or before `p` (was taken already). `seenAtP` counts lines at p.nanos read so far. */
export function alreadyTaken(p: OutputPosition | undefined, nanos: bigint, seenAtP: number): boolean {
  if (!p) return false;
  if (nanos < p.nanos) return true;
  return nanos === p.nanos && seenAtP <= p.sameNanos;
}

/** A log event on its way: its lines' text joined, its first line's time, and where its last line ends. */
export interface PendingEvent {
  timestamp: number;
  message: string;
  /** Bytes counted against PutLogEvents' limit (message + 26). */
  bytes: number;
  /** Output position after this event's last line. */
  end: OutputPosition;
  /** Lines of output it holds. */
  lines: number;
}

/** Docker's awslogs driver caps an event at 256 KiB minus the 26 bytes of overhead; longer lines are split. */
export const MAX_EVENT_MESSAGE_BYTES = 262_144 - 26;

/**
 * Takes the longest prefix of `events` that fits one PutLogEvents call:
 * at most 10,000 events, 1,048,576 bytes, a 24-hour span.
 */
export function takeBatch(events: readonly PendingEvent[]): number {
  let bytes = 0;
  let n = 0;
  const first = events[0]?.timestamp ?? 0;
  for (const e of events) {
    if (n >= 10_000 || bytes + e.bytes > 1_048_576 || e.timestamp - first > 24 * 60 * 60 * 1000) break;
    bytes += e.bytes;
    n++;
  }
  return n;
}

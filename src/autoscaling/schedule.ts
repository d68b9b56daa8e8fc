/**
 * Scheduled-action schedules as Application Auto Scaling writes them:
 * `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` and
 * `cron(minutes hours day-of-month month day-of-week year)`, each in the
 * action's time zone (UTC by default). Pure: callers pass the time.
 *
 * Cron fields follow the AWS format: day-of-week 1-7 is SUN-SAT, `?` means
 * "any" in the day fields, and the sixth field is the year. Parsing and
 * stepping through times is done by cron-parser.
 */
import { CronExpressionParser } from 'cron-parser';

export type Schedule =
  | { kind: 'at'; /** Epoch ms. */ at: number }
  | { kind: 'rate'; everyMs: number }
  | { kind: 'cron'; expression: string; years: ((y: number) => boolean) | undefined };

export class ScheduleError extends Error {}

const RATE_UNITS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** The UTC offset (ms) of `zone` at `epochMs`. */
function zoneOffset(zone: string, epochMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(epochMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

export function validTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** AWS day-of-week numbers (1 = SUN ... 7 = SAT) to cron-parser's (0 = SUN ... 6 = SAT). */
function dayOfWeek(field: string): string {
  return field.replace(/(^|[,\-/#])(\d+)/g, (m: string, sep: string, n: string, offset: number, whole: string) => {
    // A step value (after '/') is a count, not a day.
    if (sep === '/') return m;
    void offset;
    void whole;
    const d = Number(n);
    if (d < 1 || d > 7) throw new ScheduleError(`day-of-week ${n} is outside 1-7`);
    return `${sep}${d - 1}`;
  });
}

function yearMatcher(field: string): ((y: number) => boolean) | undefined {
  if (field === '*' || field === '?') return undefined;
  const parts = field.split(',').map((p) => {
    const m = /^(\d{4})(?:-(\d{4}))?(?:\/(\d+))?$/.exec(p);
    if (!m) throw new ScheduleError(`year field '${field}' is invalid`);
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? 2199 : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (to < from || step < 1 || from < 1970 || to > 2199) throw new ScheduleError(`year field '${field}' is invalid`);
    return (y: number) => y >= from && y <= to && (y - from) % step === 0;
  });
  return (y) => parts.some((f) => f(y));
}

/** Parses a schedule; throws ScheduleError saying what is wrong. */
export function parseSchedule(schedule: string, timezone = 'UTC'): Schedule {
  if (!validTimezone(timezone)) throw new ScheduleError(`time zone ${timezone} is not a valid IANA time zone`);
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(schedule);
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map(Number) as [number, number, number, number, number, number];
    const local = Date.UTC(y, mo - 1, d, h, mi, s);
    const check = new Date(local);
    if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw new ScheduleError(`at() time ${schedule} is not a valid date and time`);
    // The wall-clock time in the zone: subtract the zone's offset at that moment (twice, to settle across a DST change).
    let epoch = local - zoneOffset(timezone, local);
    epoch = local - zoneOffset(timezone, epoch);
    return { kind: 'at', at: epoch };
  }
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2]!;
    if (n < 1) throw new ScheduleError('rate() value must be a positive integer');
    if ((n === 1) !== !unit.endsWith('s')) throw new ScheduleError(`rate() unit must be ${n === 1 ? unit.replace(/s$/, '') : `${unit.replace(/s$/, '')}s`} for a value of ${n}`);
    return { kind: 'rate', everyMs: n * RATE_UNITS[unit]! };
  }
  const cron = /^cron\((.*)\)$/.exec(schedule);
  if (cron) {
    const fields = cron[1]!.trim().split(/\s+/);
    if (fields.length !== 6) throw new ScheduleError('cron() needs six fields: minutes hours day-of-month month day-of-week year');
    const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
    if (dom === '?' && dow === '?') throw new ScheduleError("cron() cannot use '?' in both day-of-month and day-of-week");
    if (dom !== '?' && dow !== '?' && !(dom === '*' && dow === '*')) throw new ScheduleError("cron() must use '?' in day-of-month or day-of-week");
    const expression = [min, hour, dom === '?' ? '*' : dom, month, dow === '?' ? '*' : dayOfWeek(dow)].join(' ');
    try {
      CronExpressionParser.parse(expression, { tz: timezone, strict: false });
    } catch (err) {
      throw new ScheduleError(err instanceof Error ? err.message : String(err));
    }
    return { kind: 'cron', expression, years: yearMatcher(year) };
  }
  throw new ScheduleError('a schedule is at(...), rate(...) or cron(...)');
}

/**
 * The first time the schedule fires strictly after `afterMs` (epoch ms), or
 * undefined when it never fires again. `originMs` anchors rate() schedules
 * (the action's start time or creation).
 */
export function nextFire(s: Schedule, afterMs: number, originMs: number, timezone = 'UTC'): number | undefined {
  switch (s.kind) {
    case 'at':
      return s.at > afterMs ? s.at : undefined;
    case 'rate': {
      if (afterMs < originMs) return originMs + s.everyMs;
      const n = Math.floor((afterMs - originMs) / s.everyMs) + 1;
      return originMs + n * s.everyMs;
    }
    case 'cron': {
      const it = CronExpressionParser.parse(s.expression, { tz: timezone, currentDate: new Date(afterMs) });
      for (let i = 0; i < 5000; i++) {
        let next: number;
        try {
          next = it.next().getTime();
        } catch {
          return undefined;
        }
        if (next <= afterMs) continue;
        if (!s.years || s.years(new Date(next).getUTCFullYear())) return next;
      }
      return undefined;
    }
  }
}

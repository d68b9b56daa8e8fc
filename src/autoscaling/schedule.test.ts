import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextFire, parseSchedule, ScheduleError } from './schedule.js';

const utc = (s: string) => Date.parse(`${s}Z`);

describe('scheduled action schedules', () => {
  it('at() fires once, in the action time zone', () => {
    const s = parseSchedule('at(2026-12-24T18:00:00)');
    assert.equal(nextFire(s, utc('2026-12-01T00:00:00'), 0), utc('2026-12-24T18:00:00'));
    assert.equal(nextFire(s, utc('2026-12-24T18:00:00'), 0), undefined);
    const paris = parseSchedule('at(2026-12-24T18:00:00)', 'Europe/Paris');
    assert.equal(nextFire(paris, 0, 0, 'Europe/Paris'), utc('2026-12-24T17:00:00'));
  });

  it('rate() fires every interval from its origin', () => {
    const s = parseSchedule('rate(5 minutes)');
    const origin = utc('2026-12-01T10:00:00');
    assert.equal(nextFire(s, origin, origin), utc('2026-12-01T10:05:00'));
    assert.equal(nextFire(s, utc('2026-12-01T10:07:00'), origin), utc('2026-12-01T10:10:00'));
    assert.throws(() => parseSchedule('rate(1 minutes)'), ScheduleError);
    assert.throws(() => parseSchedule('rate(0 hours)'), ScheduleError);
  });

  it('cron() takes AWS fields: day-of-week 1-7 from Sunday, ? and a year', () => {
    // 09:30 every Monday (2 in AWS numbering); 2026-12-07 is a Monday.
    const s = parseSchedule('cron(30 9 ? * 2 *)');
    assert.equal(nextFire(s, utc('2026-12-01T00:00:00'), 0), utc('2026-12-07T09:30:00'));
    const named = parseSchedule('cron(0 12 ? * MON-FRI *)');
    assert.equal(nextFire(named, utc('2026-12-05T13:00:00'), 0), utc('2026-12-07T12:00:00'));
    const yearly = parseSchedule('cron(0 0 1 1 ? 2028)');
    assert.equal(nextFire(yearly, utc('2026-12-01T00:00:00'), 0), utc('2028-01-01T00:00:00'));
  });

  it('cron() honours the time zone', () => {
    const s = parseSchedule('cron(0 8 * * ? *)', 'America/New_York');
    assert.equal(nextFire(s, utc('2026-12-01T00:00:00'), 0, 'America/New_York'), utc('2026-12-01T13:00:00'));
  });

  it('refuses malformed schedules', () => {
    for (const bad of ['cron(99 * * * ? *)', 'cron(0 12 * * *)', 'cron(0 12 * * 1 *)', 'cron(0 12 ? * ? *)', 'cron(0 12 ? * 8 *)', 'every day', 'at(2026-02-30T00:00:00)']) {
      assert.throws(() => parseSchedule(bad), ScheduleError, bad);
    }
    assert.throws(() => parseSchedule('rate(1 hour)', 'Mars/Olympus'), ScheduleError);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './main.js';

describe('durations on the command line', () => {
  it('reads hours, minutes, seconds and milliseconds; a bare number is seconds', () => {
    assert.equal(parseDuration('--wait', '3h'), 3 * 3_600_000);
    assert.equal(parseDuration('--wait', '90m'), 90 * 60_000);
    assert.equal(parseDuration('--wait', '1.5s'), 1500);
    assert.equal(parseDuration('--wait', '45'), 45_000);
    assert.equal(parseDuration('--wait', '250ms'), 250);
    assert.equal(parseDuration('--wait', undefined), undefined);
    assert.throws(() => parseDuration('--wait', '-1h'), /--wait takes a duration/);
  });
});

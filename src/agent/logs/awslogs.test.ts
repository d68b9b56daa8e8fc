import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advance, alreadyTaken, awslogsConfig, datetimeFormatToRegExp, parseLogLine, parseSize, takeBatch, type PendingEvent } from './awslogs.js';

const names = { containerName: 'web', taskId: 'abc123', containerId: 'c0ffee' };

describe('awslogs options', () => {
  it('names the stream prefix/container-name/task-id, or after the container without a prefix', () => {
    const a = awslogsConfig({ 'awslogs-group': 'g', 'awslogs-stream-prefix': 'svc' }, names);
    assert.ok(!('error' in a));
    assert.equal(a.stream, 'svc/web/abc123');
    assert.equal(a.mode, 'blocking');
    assert.equal(a.createGroup, false);
    const b = awslogsConfig({ 'awslogs-group': 'g', 'awslogs-create-group': 'true', mode: 'non-blocking', 'max-buffer-size': '4m' }, names);
    assert.ok(!('error' in b));
    assert.equal(b.stream, 'c0ffee');
    assert.equal(b.createGroup, true);
    assert.equal(b.maxBufferBytes, 4 * 1024 * 1024);
  });
  it('refuses what Docker refuses', () => {
    assert.deepEqual(awslogsConfig({}, names), { error: "must specify a value for log opt 'awslogs-group'" });
    assert.ok('error' in awslogsConfig({ 'awslogs-group': 'g', mode: 'sometimes' }, names));
    assert.ok('error' in awslogsConfig({ 'awslogs-group': 'g', 'awslogs-datetime-format': '%Y', 'awslogs-multiline-pattern': 'x' }, names));
    assert.ok('error' in awslogsConfig({ 'awslogs-group': 'g', 'max-buffer-size': 'lots' }, names));
  });
  it('reads sizes as Docker writes them', () => {
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.equal(parseSize('100'), 100);
    assert.equal(parseSize('x'), undefined);
  });
  it('turns awslogs-datetime-format into a line-start pattern', () => {
    const re = datetimeFormatToRegExp('%Y-%m-%d %H:%M:%S');
    assert.ok(re.test('2026-12-01 20:34:04 started'));
    assert.ok(!re.test('  at frame 2026-12-01 20:34:04'));
    assert.ok(datetimeFormatToRegExp('[%b %d, %Y %H:%M:%S]').test('[Dec 01, 2026 20:34:04] x'));
  });
});

describe('engine output lines', () => {
  it('reads the timestamp to the nanosecond, trailing zeros dropped or not', () => {
    assert.deepEqual(parseLogLine('2026-12-01T20:34:04.123456789Z hello world'), { nanos: 1796157244123456789n, text: 'hello world' });
    assert.deepEqual(parseLogLine('2026-12-01T20:34:04.5Z x'), { nanos: 1796157244500000000n, text: 'x' });
    assert.deepEqual(parseLogLine('2026-12-01T20:34:04Z '), { nanos: 1796157244000000000n, text: '' });
    assert.equal(parseLogLine('no timestamp'), undefined);
  });
  it('skips exactly the lines taken before, also among lines of one timestamp', () => {
    let p = advance(undefined, 10n);
    p = advance(p, 10n);
    assert.deepEqual(p, { nanos: 10n, sameNanos: 2 });
    assert.ok(alreadyTaken(p, 9n, 0));
    assert.ok(alreadyTaken(p, 10n, 1));
    assert.ok(alreadyTaken(p, 10n, 2));
    assert.ok(!alreadyTaken(p, 10n, 3));
    assert.ok(!alreadyTaken(p, 11n, 0));
    assert.ok(!alreadyTaken(undefined, 1n, 0));
  });
});

describe('batches', () => {
  const ev = (timestamp: number, bytes = 27): PendingEvent => ({ timestamp, message: 'x', bytes, end: { nanos: 0n, sameNanos: 1 }, lines: 1 });
  it('stay within 10,000 events, 1 MiB and 24 hours', () => {
    assert.equal(takeBatch(Array.from({ length: 12_000 }, () => ev(0))), 10_000);
    assert.equal(takeBatch([ev(0, 600_000), ev(0, 600_000)]), 1);
    assert.equal(takeBatch([ev(0), ev(24 * 3600 * 1000), ev(24 * 3600 * 1000 + 1)]), 2);
    assert.equal(takeBatch([]), 0);
  });
});

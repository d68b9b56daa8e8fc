import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ops from './ops.js';
import { LogStore } from './storage.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function context(now = NOW): ops.LogsContext & { clock: { now: number } } {
  const clock = { now };
  return { logs: LogStore.open({ path: ':memory:' }), region: 'us-east-1', accountId: '000000000000', now: () => clock.now, clock };
}

async function rejects(p: () => unknown, name: string, message?: RegExp | string): Promise<void> {
  await assert.rejects(
    async () => p(),
    (err: Error & { type?: string }) => {
      assert.equal(err.type, name);
      if (typeof message === 'string') assert.equal(err.message, message);
      else if (message) assert.match(err.message, message);
      return true;
    },
  );
}

async function withStream(ctx: ops.LogsContext, group = 'g', stream = 's'): Promise<void> {
  await ops.createLogGroup(ctx, { logGroupName: group });
  await ops.createLogStream(ctx, { logGroupName: group, logStreamName: stream });
}

const put = (ctx: ops.LogsContext, events: { timestamp: number; message: string }[], group = 'g', stream = 's') =>
  ops.putLogEvents(ctx, { logGroupName: group, logStreamName: stream, logEvents: events }) as Promise<{ rejectedLogEventsInfo?: Record<string, number> }>;

type Page = { events: { message: string; timestamp: number }[]; nextForwardToken: string; nextBackwardToken: string };
const get = (ctx: ops.LogsContext, extra: Partial<Parameters<typeof ops.getLogEvents>[1]> = {}) =>
  ops.getLogEvents(ctx, { logGroupName: 'g', logStreamName: 's', ...extra }) as Promise<Page>;

describe('log groups and streams', () => {
  it('creates, refuses duplicates and bad names as CloudWatch Logs words it', async () => {
    const ctx = context();
    await ops.createLogGroup(ctx, { logGroupName: '/ecs/web' });
    await rejects(() => ops.createLogGroup(ctx, { logGroupName: '/ecs/web' }), 'ResourceAlreadyExistsException', 'The specified log group already exists');
    await rejects(() => ops.createLogGroup(ctx, { logGroupName: 'bad name' }), 'InvalidParameterException', /regular expression pattern/);
    await rejects(() => ops.createLogStream(ctx, { logGroupName: 'nope', logStreamName: 's' }), 'ResourceNotFoundException', 'The specified log group does not exist.');
    await ops.createLogStream(ctx, { logGroupName: '/ecs/web', logStreamName: 'a' });
    await rejects(() => ops.createLogStream(ctx, { logGroupName: '/ecs/web', logStreamName: 'a' }), 'ResourceAlreadyExistsException', 'The specified log stream already exists');
    await rejects(() => ops.createLogStream(ctx, { logGroupName: '/ecs/web', logStreamName: 'a:b' }), 'InvalidParameterException');
  });

  it('lists groups by prefix and pattern, a page at a time', async () => {
    const ctx = context();
    for (const n of ['/a/1', '/a/2', '/a/3', '/b/Web']) await ops.createLogGroup(ctx, { logGroupName: n });
    const names = async (input: Parameters<typeof ops.describeLogGroups>[1]) => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = (await ops.describeLogGroups(ctx, { ...input, ...(token ? { nextToken: token } : {}) })) as { logGroups: { logGroupName: string }[]; nextToken?: string };
        out.push(...page.logGroups.map((g) => g.logGroupName));
        token = page.nextToken;
      } while (token);
      return out;
    };
    assert.deepEqual(await names({ logGroupNamePrefix: '/a/', limit: 2 }), ['/a/1', '/a/2', '/a/3']);
    assert.deepEqual(await names({ logGroupNamePattern: 'web' }), ['/b/Web']);
    await rejects(() => ops.describeLogGroups(ctx, { limit: 51 }), 'InvalidParameterException', /less than or equal to 50/);
  });

  it('orders streams by name or last event time, either way, with pages', async () => {
    const ctx = context();
    await ops.createLogGroup(ctx, { logGroupName: 'g' });
    for (const [name, t] of [['a', 3], ['b', 1], ['c', 2]] as const) {
      await ops.createLogStream(ctx, { logGroupName: 'g', logStreamName: name });
      await put(ctx, [{ timestamp: NOW - t * HOUR, message: name }], 'g', name);
    }
    const list = async (input: Partial<Parameters<typeof ops.describeLogStreams>[1]>) => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = (await ops.describeLogStreams(ctx, { logGroupName: 'g', limit: 1, ...input, ...(token ? { nextToken: token } : {}) })) as {
          logStreams: { logStreamName: string }[];
          nextToken?: string;
        };
        out.push(...page.logStreams.map((s) => s.logStreamName));
        token = page.nextToken;
      } while (token);
      return out;
    };
    assert.deepEqual(await list({}), ['a', 'b', 'c']);
    assert.deepEqual(await list({ descending: true }), ['c', 'b', 'a']);
    assert.deepEqual(await list({ orderBy: 'LastEventTime' }), ['a', 'c', 'b']);
    assert.deepEqual(await list({ orderBy: 'LastEventTime', descending: true }), ['b', 'c', 'a']);
    await rejects(() => ops.describeLogStreams(ctx, { logGroupName: 'g', orderBy: 'LastEventTime', logStreamNamePrefix: 'a' }), 'InvalidParameterException');
    const one = (await ops.describeLogStreams(ctx, { logGroupName: 'g', logStreamNamePrefix: 'b' })) as { logStreams: Record<string, number>[] };
    assert.equal(one.logStreams[0]!['firstEventTimestamp'], NOW - HOUR);
    assert.equal(one.logStreams[0]!['lastEventTimestamp'], NOW - HOUR);
    assert.equal(one.logStreams[0]!['lastIngestionTime'], NOW);
    assert.equal(one.logStreams[0]!['storedBytes'], 1 + 26);
  });

  it('accepts only CloudWatch Logs retention periods', async () => {
    const ctx = context();
    await ops.createLogGroup(ctx, { logGroupName: 'g' });
    await ops.putRetentionPolicy(ctx, { logGroupName: 'g', retentionInDays: 7 });
    await rejects(() => ops.putRetentionPolicy(ctx, { logGroupName: 'g', retentionInDays: 2 }), 'InvalidParameterException', /enum value set: \[1, 3, 5, 7/);
    const g = (await ops.describeLogGroups(ctx, {})) as { logGroups: { retentionInDays?: number }[] };
    assert.equal(g.logGroups[0]!.retentionInDays, 7);
    await ops.deleteRetentionPolicy(ctx, { logGroupName: 'g' });
    const h = (await ops.describeLogGroups(ctx, {})) as { logGroups: { retentionInDays?: number }[] };
    assert.equal(h.logGroups[0]!.retentionInDays, undefined);
  });

  it('tags groups by ARN and by name', async () => {
    const ctx = context();
    await ops.createLogGroup(ctx, { logGroupName: 'g', tags: { team: 'a' } });
    const arn = 'arn:aws:logs:us-east-1:000000000000:log-group:g';
    await ops.tagResource(ctx, { resourceArn: arn, tags: { env: 'prod' } });
    assert.deepEqual(await ops.listTagsForResource(ctx, { resourceArn: arn }), { tags: { team: 'a', env: 'prod' } });
    await ops.untagResource(ctx, { resourceArn: arn, tagKeys: ['team'] });
    assert.deepEqual(await ops.listTagsLogGroup(ctx, { logGroupName: 'g' }), { tags: { env: 'prod' } });
    await rejects(() => ops.listTagsForResource(ctx, { resourceArn: 'arn:aws:logs:us-east-1:000000000000:log-group:nope' }), 'ResourceNotFoundException');
  });
});

describe('PutLogEvents', () => {
  it('needs the group, then the stream', async () => {
    const ctx = context();
    await rejects(() => put(ctx, [{ timestamp: NOW, message: 'x' }]), 'ResourceNotFoundException', 'The specified log group does not exist.');
    await ops.createLogGroup(ctx, { logGroupName: 'g' });
    await rejects(() => put(ctx, [{ timestamp: NOW, message: 'x' }]), 'ResourceNotFoundException', 'The specified log stream does not exist.');
  });

  it('enforces the count, size, order and span limits', async () => {
    const ctx = context();
    await withStream(ctx);
    await rejects(() => put(ctx, []), 'InvalidParameterException', /greater than or equal to 1/);
    await rejects(() => put(ctx, Array.from({ length: 10_001 }, () => ({ timestamp: NOW, message: 'x' }))), 'InvalidParameterException', /less than or equal to 10000/);
    // 1,048,576 bytes counting 26 per event: two events of 524,262 bytes fit exactly, one byte more does not.
    await put(ctx, [{ timestamp: NOW, message: 'a'.repeat(524_262) }, { timestamp: NOW, message: 'b'.repeat(524_262) }]);
    await rejects(() => put(ctx, [{ timestamp: NOW, message: 'a'.repeat(524_262) }, { timestamp: NOW, message: 'b'.repeat(524_263) }]), 'InvalidParameterException', /Upload too large/);
    await rejects(
      () => put(ctx, [{ timestamp: NOW, message: 'late' }, { timestamp: NOW - 1, message: 'early' }]),
      'InvalidParameterException',
      'Log events in a single PutLogEvents request must be in chronological order.',
    );
    await rejects(
      () => put(ctx, [{ timestamp: NOW - 25 * HOUR, message: 'a' }, { timestamp: NOW, message: 'b' }]),
      'InvalidParameterException',
      'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.',
    );
  });

  it('reports too old, expired and too new events and stores the rest', async () => {
    const ctx = context();
    await withStream(ctx);
    const a = await put(ctx, [{ timestamp: NOW - 14 * DAY - HOUR, message: 'too old' }, { timestamp: NOW - 14 * DAY + HOUR, message: 'kept 1' }]);
    assert.deepEqual(a.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 0 });
    const b = await put(ctx, [{ timestamp: NOW, message: 'kept 2' }, { timestamp: NOW + 2 * HOUR + 1, message: 'too new' }]);
    assert.deepEqual(b.rejectedLogEventsInfo, { tooNewLogEventStartIndex: 1 });
    await ops.putRetentionPolicy(ctx, { logGroupName: 'g', retentionInDays: 1 });
    const c = await put(ctx, [{ timestamp: NOW - 25 * HOUR, message: 'expired' }, { timestamp: NOW - 2 * HOUR, message: 'kept 3' }]);
    assert.deepEqual(c.rejectedLogEventsInfo, { expiredLogEventEndIndex: 0 });
    const all = await get(ctx, { startFromHead: true });
    assert.deepEqual(all.events.map((e) => e.message), ['kept 1', 'kept 3', 'kept 2']);
  });

  it('accepts and ignores sequence tokens', async () => {
    const ctx = context();
    await withStream(ctx);
    await ops.putLogEvents(ctx, { logGroupName: 'g', logStreamName: 's', logEvents: [{ timestamp: NOW, message: 'a' }], sequenceToken: 'whatever' });
    await ops.putLogEvents(ctx, { logGroupName: 'g', logStreamName: 's', logEvents: [{ timestamp: NOW, message: 'b' }], sequenceToken: 'whatever' });
    assert.equal((await get(ctx)).events.length, 2);
  });
});

describe('GetLogEvents tokens', () => {
  it('pages forward and backward with f/ and b/ tokens and returns the same token at the end', async () => {
    const ctx = context();
    await withStream(ctx);
    await put(ctx, Array.from({ length: 10 }, (_, i) => ({ timestamp: NOW - 1000 + i, message: `m${i}` })));
    const last = await get(ctx, { limit: 3 });
    assert.deepEqual(last.events.map((e) => e.message), ['m7', 'm8', 'm9']);
    assert.match(last.nextForwardToken, /^f\/\d{56}\/s$/);
    assert.match(last.nextBackwardToken, /^b\/\d{56}\/s$/);
    const before = await get(ctx, { limit: 3, nextToken: last.nextBackwardToken });
    assert.deepEqual(before.events.map((e) => e.message), ['m4', 'm5', 'm6']);
    const end = await get(ctx, { nextToken: last.nextForwardToken });
    assert.deepEqual(end.events, []);
    assert.equal(end.nextForwardToken, last.nextForwardToken);

    const head = await get(ctx, { startFromHead: true, limit: 4 });
    assert.deepEqual(head.events.map((e) => e.message), ['m0', 'm1', 'm2', 'm3']);
    const next = await get(ctx, { nextToken: head.nextForwardToken, limit: 4 });
    assert.deepEqual(next.events.map((e) => e.message), ['m4', 'm5', 'm6', 'm7']);
    const start = await get(ctx, { nextToken: head.nextBackwardToken });
    assert.deepEqual(start.events, []);
    assert.equal(start.nextBackwardToken, head.nextBackwardToken);

    // New events appear after the forward token that ended the stream.
    await put(ctx, [{ timestamp: NOW, message: 'new' }]);
    assert.deepEqual((await get(ctx, { nextToken: last.nextForwardToken })).events.map((e) => e.message), ['new']);
  });

  it('keeps events of equal timestamp in arrival order and honours startTime/endTime', async () => {
    const ctx = context();
    await withStream(ctx);
    await put(ctx, [{ timestamp: NOW - 10, message: 'a' }, { timestamp: NOW - 10, message: 'b' }]);
    await put(ctx, [{ timestamp: NOW - 10, message: 'c' }, { timestamp: NOW - 5, message: 'd' }]);
    assert.deepEqual((await get(ctx, { startFromHead: true })).events.map((e) => e.message), ['a', 'b', 'c', 'd']);
    assert.deepEqual((await get(ctx, { startTime: NOW - 9 })).events.map((e) => e.message), ['d']);
    assert.deepEqual((await get(ctx, { endTime: NOW - 5 })).events.map((e) => e.message), ['a', 'b', 'c']);
  });

  it('refuses a token that is not one', async () => {
    const ctx = context();
    await withStream(ctx);
    await rejects(() => get(ctx, { nextToken: 'x/123' }), 'InvalidParameterException');
  });
});

describe('FilterLogEvents', () => {
  it('interleaves streams by time, filters by pattern and stream, and pages', async () => {
    const ctx = context();
    await withStream(ctx, 'g', 'web/1');
    await ops.createLogStream(ctx, { logGroupName: 'g', logStreamName: 'web/2' });
    await ops.createLogStream(ctx, { logGroupName: 'g', logStreamName: 'db/1' });
    await put(ctx, [{ timestamp: NOW - 30, message: 'ERROR one' }, { timestamp: NOW - 10, message: 'INFO two' }], 'g', 'web/1');
    await put(ctx, [{ timestamp: NOW - 20, message: 'ERROR three' }], 'g', 'web/2');
    await put(ctx, [{ timestamp: NOW - 15, message: '{"level":"error","latency":500}' }], 'g', 'db/1');
    type Out = { events: { message: string; logStreamName: string; eventId: string }[]; nextToken?: string };
    const f = (input: Partial<Parameters<typeof ops.filterLogEvents>[1]>, budget?: number) => ops.filterLogEvents(ctx, { logGroupName: 'g', ...input }, budget) as Promise<Out>;
    assert.deepEqual((await f({})).events.map((e) => e.message), ['ERROR one', 'ERROR three', '{"level":"error","latency":500}', 'INFO two']);
    assert.deepEqual((await f({ filterPattern: 'ERROR' })).events.map((e) => e.logStreamName), ['web/1', 'web/2']);
    assert.deepEqual((await f({ filterPattern: '{ $.latency > 100 }' })).events.map((e) => e.logStreamName), ['db/1']);
    assert.deepEqual((await f({ logStreamNamePrefix: 'web/' })).events.length, 3);
    assert.deepEqual((await f({ logStreamNames: ['web/2', 'db/1'] })).events.length, 2);
    assert.deepEqual((await f({ startTime: NOW - 20, endTime: NOW - 15 })).events.length, 2);
    // Pages of one, and pages cut by the scan budget, see every event once.
    for (const [limit, budget] of [[1, undefined], [10, 1]] as const) {
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await f({ limit, ...(token ? { nextToken: token } : {}) }, budget);
        seen.push(...page.events.map((e) => e.message));
        token = page.nextToken;
      } while (token);
      assert.equal(seen.length, 4);
      assert.equal(new Set(seen).size, 4);
    }
    await rejects(() => f({ logStreamNames: ['a'], logStreamNamePrefix: 'a' }), 'InvalidParameterException');
  });
});

describe('FilterLogEvents pre-selection in the store', () => {
  it('finds exactly what the pattern alone finds', async () => {
    const ctx = context();
    await withStream(ctx);
    const messages = [
      '{"level":"error","latency":150,"code":"500","user":{"id":"u-1"}}',
      '{"level":"info","latency":"250","code":500}',
      '{"level":"info","latency":5e2,"tags":[3,4]}',
      '{"level":"ERROR","latency":true}',
      'level=error latency=900',
      '{broken json "level":"error"',
      '{"level":"warn","latency":null}',
      '[1,2,3]',
    ];
    await put(ctx, messages.map((message, i) => ({ timestamp: NOW - 100 + i, message })));
    const { compileFilterPattern } = await import('./filterPattern.js');
    for (const pattern of [
      'error',
      '"level\\":\\"error"',
      '{ $.latency > 100 }',
      '{ $.latency >= 250 && $.level = "info" }',
      '{ $.level = "error" || $.latency > 400 }',
      '{ $.code = 500 }',
      '{ $.code = "5*" }',
      '{ $.tags[1] = 4 }',
      '{ $.user.id = "u-1" }',
      '{ $.latency IS NULL || $.latency < 10 }',
    ]) {
      const expected = messages.filter((m) => compileFilterPattern(pattern).matches(m));
      const out = (await ops.filterLogEvents(ctx, { logGroupName: 'g', filterPattern: pattern })) as { events: { message: string }[] };
      assert.deepEqual(out.events.map((e) => e.message), expected, pattern);
    }
  });
});

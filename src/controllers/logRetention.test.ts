import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ops from '../logs/ops.js';
import { LogStore } from '../logs/storage.js';
import { expireLogEventsOnce } from './logRetention.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

function context(now = NOW): ops.LogsContext & { clock: { now: number } } {
  const clock = { now };
  return { logs: LogStore.open({ path: ':memory:' }), region: 'us-east-1', accountId: '000000000000', now: () => clock.now, clock };
}

async function withStream(ctx: ops.LogsContext): Promise<void> {
  await ops.createLogGroup(ctx, { logGroupName: 'g' });
  await ops.createLogStream(ctx, { logGroupName: 'g', logStreamName: 's' });
}

const put = (ctx: ops.LogsContext, events: { timestamp: number; message: string }[]) => ops.putLogEvents(ctx, { logGroupName: 'g', logStreamName: 's', logEvents: events });
const get = (ctx: ops.LogsContext) => ops.getLogEvents(ctx, { logGroupName: 'g', logStreamName: 's' }) as Promise<{ events: { message: string }[] }>;

describe('retention', () => {
  it('deletes events older than the group keeps, and only those', async () => {
    const ctx = context();
    await withStream(ctx);
    await ops.putRetentionPolicy(ctx, { logGroupName: 'g', retentionInDays: 1 });
    await put(ctx, [{ timestamp: NOW - 20 * HOUR, message: 'old' }, { timestamp: NOW - HOUR, message: 'new' }]);
    assert.equal(await expireLogEventsOnce(ctx), 0);
    ctx.clock.now = NOW + 5 * HOUR;
    assert.equal(await expireLogEventsOnce(ctx), 1);
    assert.deepEqual((await get(ctx)).events.map((e) => e.message), ['new']);
    const s = (await ops.describeLogStreams(ctx, { logGroupName: 'g' })) as { logStreams: Record<string, number>[] };
    assert.equal(s.logStreams[0]!['firstEventTimestamp'], NOW - HOUR);
    assert.equal(s.logStreams[0]!['storedBytes'], 3 + 26);
  });
});


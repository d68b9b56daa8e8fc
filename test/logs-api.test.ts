/**
 * The CloudWatch Logs API on the wire: the AWS SDK against a Berth server,
 * errors as the SDK sees them, paginators, and the retention loop deleting
 * expired events on its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  StartQueryCommand,
  paginateDescribeLogStreams,
  paginateFilterLogEvents,
} from '@aws-sdk/client-cloudwatch-logs';
import { TEST_CREDENTIALS, startTestServer, waitFor } from './helpers.js';

describe('CloudWatch Logs API over the wire', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let logs: CloudWatchLogsClient;

  before(async () => {
    process.env.BERTH_LOG_RETENTION_INTERVAL_MS = '200';
    server = await startTestServer();
    delete process.env.BERTH_LOG_RETENTION_INTERVAL_MS;
    logs = new CloudWatchLogsClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    logs.destroy();
    await server.stop();
  });

  const errorOf = async (p: Promise<unknown>): Promise<{ name: string; message: string }> => {
    try {
      await p;
    } catch (err) {
      return { name: (err as Error).name, message: (err as Error).message };
    }
    throw new Error('expected an error');
  };

  it('answers with the exceptions and messages the SDK knows', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/wire/a' }));
    assert.deepEqual(await errorOf(logs.send(new CreateLogGroupCommand({ logGroupName: '/wire/a' }))), {
      name: 'ResourceAlreadyExistsException',
      message: 'The specified log group already exists',
    });
    assert.deepEqual(await errorOf(logs.send(new PutLogEventsCommand({ logGroupName: '/wire/a', logStreamName: 'none', logEvents: [{ timestamp: Date.now(), message: 'x' }] }))), {
      name: 'ResourceNotFoundException',
      message: 'The specified log stream does not exist.',
    });
    assert.equal((await errorOf(logs.send(new GetLogEventsCommand({ logGroupName: '/wire/none', logStreamName: 's' })))).name, 'ResourceNotFoundException');
    assert.equal((await errorOf(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/wire/a', retentionInDays: 4 })))).name, 'InvalidParameterException');
    assert.match((await errorOf(logs.send(new StartQueryCommand({ logGroupName: '/wire/a', startTime: 0, endTime: 1, queryString: 'fields @message' })))).message, /does not implement StartQuery/);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: '/wire/a' }));
    assert.deepEqual((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/wire/a' }))).logGroups, []);
  });

  it('pages streams and filtered events with the SDK paginators', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/wire/pages' }));
    const now = Date.now();
    for (let s = 0; s < 7; s++) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: '/wire/pages', logStreamName: `s${s}` }));
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: '/wire/pages',
          logStreamName: `s${s}`,
          logEvents: Array.from({ length: 30 }, (_, i) => ({ timestamp: now - 60_000 + i, message: `${i % 3 === 0 ? 'ERROR' : 'INFO'} s${s} e${i}` })),
        }),
      );
    }
    const streams: string[] = [];
    for await (const page of paginateDescribeLogStreams({ client: logs, pageSize: 2 }, { logGroupName: '/wire/pages' })) streams.push(...(page.logStreams ?? []).map((s) => s.logStreamName!));
    assert.deepEqual(streams, ['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
    const events: string[] = [];
    for await (const page of paginateFilterLogEvents({ client: logs, pageSize: 4 }, { logGroupName: '/wire/pages', filterPattern: 'ERROR' })) events.push(...(page.events ?? []).map((e) => e.message!));
    assert.equal(events.length, 70);
    assert.equal(new Set(events).size, 70);
    assert.ok(events.every((m) => m.startsWith('ERROR')));
  });

  it('deletes events once they are older than the group keeps them, by itself', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/wire/retention' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/wire/retention', logStreamName: 's' }));
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/wire/retention', retentionInDays: 1 }));
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    const put = await logs.send(
      new PutLogEventsCommand({
        logGroupName: '/wire/retention',
        logStreamName: 's',
        logEvents: [
          { timestamp: now - day + 3000, message: 'expires in 3 s' },
          { timestamp: now, message: 'stays' },
        ],
      }),
    );
    assert.equal(put.rejectedLogEventsInfo, undefined);
    const read = async () => (await logs.send(new GetLogEventsCommand({ logGroupName: '/wire/retention', logStreamName: 's', startFromHead: true }))).events!.map((e) => e.message);
    assert.deepEqual(await read(), ['expires in 3 s', 'stays']);
    await waitFor('the expired event to go', async () => ((await read()).length === 1 ? true : undefined), 30_000);
    assert.deepEqual(await read(), ['stays']);
  });
});

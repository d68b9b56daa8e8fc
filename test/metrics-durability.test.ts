import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloudWatchClient, GetMetricStatisticsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { spawnServer, tempDir, TEST_CREDENTIALS } from './helpers.js';

function cloudWatch(url: string): CloudWatchClient {
  return new CloudWatchClient({ endpoint: url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
}

describe('metric durability', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('keeps every acknowledged PutMetricData across kill -9 and restart', async () => {
    const dataDir = join(dir.path, 'data');
    const first = await spawnServer(dataDir);
    const cw = cloudWatch(first.url);
    const now = new Date();
    let acknowledged = 0;
    let sent = 0;
    // Four writers race with the kill: every value the server answered for must be there after restart.
    const writer = async () => {
      for (let i = 0; i < 5000; i++) {
        sent++;
        try {
          await cw.send(new PutMetricDataCommand({ Namespace: 'Durable', MetricData: [{ MetricName: 'Orders', Value: 1, Timestamp: now, Unit: 'Count' }] }));
          acknowledged++;
        } catch {
          return;
        }
      }
    };
    const writers = Promise.all([writer(), writer(), writer(), writer()]);
    const deadline = Date.now() + 30_000;
    while (acknowledged < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await first.kill('SIGKILL');
    await writers;
    cw.destroy();
    assert.ok(acknowledged >= 300, `only ${acknowledged} writes were answered before the kill`);

    const second = await spawnServer(dataDir);
    const cw2 = cloudWatch(second.url);
    try {
      const out = await cw2.send(
        new GetMetricStatisticsCommand({
          Namespace: 'Durable',
          MetricName: 'Orders',
          StartTime: new Date(now.getTime() - 3_600_000),
          EndTime: new Date(now.getTime() + 3_600_000),
          Period: 7200,
          Statistics: ['SampleCount', 'Sum'],
        }),
      );
      const count = out.Datapoints?.[0]?.SampleCount ?? 0;
      // Nothing acknowledged is lost; a write in flight at the kill may have been kept without an answer.
      assert.ok(count >= acknowledged, `${count} values survived, ${acknowledged} were acknowledged`);
      assert.ok(count <= sent, `${count} values survived but only ${sent} were sent`);
      assert.equal(out.Datapoints?.[0]?.Sum, count);
    } finally {
      cw2.destroy();
      await second.kill('SIGTERM');
    }
  });
});

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnServer, tempDir, TEST_CREDENTIALS, type ServerProcess } from './helpers.js';

/**
 * The AWS CLI version 2 that scripts/ensure-awscli.sh provides (Debian's
 * /usr/bin/aws, which speaks the query protocol to CloudWatch); a CLI v1
 * earlier on PATH is passed over.
 */
function awsCliV2(): string | undefined {
  for (const bin of ['/usr/bin/aws', 'aws', '/usr/local/bin/aws']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0 && /^aws-cli\/2\./.test(`${r.stdout}${r.stderr}`)) return bin;
  }
  return undefined;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the AWS CLI drives CloudWatch metrics and alarms over the query protocol', { timeout: 300_000 }, () => {
  const dir = tempDir('berth-cw-cli-');
  const aws = awsCliV2();
  let server: ServerProcess;

  before(async () => {
    server = await spawnServer(join(dir.path, 'data'));
  });
  after(async () => {
    await server?.kill();
    dir.remove();
  });

  function cli(...args: string[]): Promise<CliResult> {
    assert.ok(aws, 'no AWS CLI version 2 on this machine: scripts/setup.sh (ensure-awscli.sh) installs one');
    return new Promise((resolve) => {
      execFile(
        aws,
        ['cloudwatch', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'],
        {
          timeout: 60_000,
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
            AWS_CONFIG_FILE: join(dir.path, 'no-config'),
            AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'no-credentials'),
            AWS_PAGER: '',
          },
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }
  async function ok(...args: string[]): Promise<Record<string, unknown>> {
    const r = await cli(...args);
    assert.equal(r.code, 0, `aws cloudwatch ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  }

  // A whole minute a few minutes back, so that every sample lands in one period.
  const minute = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

  it('put-metric-data, then get-metric-statistics and list-metrics show what was put', async () => {
    await ok(
      'put-metric-data',
      '--namespace',
      'Berth/CliTest',
      '--metric-data',
      JSON.stringify([{ MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'web' }], Timestamp: iso(minute + 10_000), Values: [10, 30], Counts: [1, 3], Unit: 'Milliseconds' }]),
    );
    await ok('put-metric-data', '--namespace', 'Berth/CliTest', '--metric-name', 'Hits', '--value', '5', '--dimensions', 'Service=web', '--timestamp', iso(minute + 20_000));

    const stats = await ok(
      'get-metric-statistics',
      '--namespace',
      'Berth/CliTest',
      '--metric-name',
      'Latency',
      '--dimensions',
      'Name=Service,Value=web',
      '--start-time',
      iso(minute - 600_000),
      '--end-time',
      iso(minute + 600_000),
      '--period',
      '60',
      '--statistics',
      'Average',
      'Maximum',
      'SampleCount',
    );
    assert.equal(stats.Label, 'Latency');
    const [point, ...rest] = stats.Datapoints as Record<string, unknown>[];
    assert.deepEqual(rest, []);
    assert.equal(Date.parse(String(point?.Timestamp)), minute);
    assert.equal(point?.SampleCount, 4);
    assert.equal(point?.Average, 25);
    assert.equal(point?.Maximum, 30);
    assert.equal(point?.Unit, 'Milliseconds');

    const listed = await ok('list-metrics', '--namespace', 'Berth/CliTest');
    assert.deepEqual(
      (listed.Metrics as { MetricName: string }[]).map((m) => m.MetricName).sort(),
      ['Hits', 'Latency'],
    );
    const byDimension = await ok('list-metrics', '--namespace', 'Berth/CliTest', '--metric-name', 'Hits', '--dimensions', 'Name=Service,Value=web');
    assert.deepEqual(byDimension.Metrics, [{ Namespace: 'Berth/CliTest', MetricName: 'Hits', Dimensions: [{ Name: 'Service', Value: 'web' }] }]);
  });

  it('put-metric-alarm, describe-alarms, set-alarm-state and delete-alarms manage an alarm', async () => {
    await ok(
      'put-metric-alarm',
      '--alarm-name',
      'cli-slow',
      '--namespace',
      'Berth/CliTest',
      '--metric-name',
      'Latency',
      '--dimensions',
      'Name=Service,Value=web',
      '--statistic',
      'Average',
      '--period',
      '60',
      '--evaluation-periods',
      '2',
      '--threshold',
      '100',
      '--comparison-operator',
      'GreaterThanThreshold',
    );
    await ok('set-alarm-state', '--alarm-name', 'cli-slow', '--state-value', 'ALARM', '--state-reason', 'set from the CLI');
    const described = await ok('describe-alarms', '--alarm-names', 'cli-slow');
    const [alarm] = described.MetricAlarms as Record<string, unknown>[];
    assert.equal(alarm?.AlarmName, 'cli-slow');
    assert.equal(alarm?.StateValue, 'ALARM');
    assert.equal(alarm?.StateReason, 'set from the CLI');
    assert.equal(alarm?.EvaluationPeriods, 2);
    assert.equal(alarm?.Threshold, 100);
    assert.deepEqual(alarm?.Dimensions, [{ Name: 'Service', Value: 'web' }]);
    assert.ok(!Number.isNaN(Date.parse(String(alarm?.StateUpdatedTimestamp))));

    await ok('delete-alarms', '--alarm-names', 'cli-slow');
    assert.deepEqual((await ok('describe-alarms')).MetricAlarms, []);
  });

  it('prints the CloudWatch error code and message for bad requests and exits 254', async () => {
    const badPeriod = await cli(
      'get-metric-statistics',
      '--namespace',
      'Berth/CliTest',
      '--metric-name',
      'Latency',
      '--start-time',
      iso(minute - 600_000),
      '--end-time',
      iso(minute + 600_000),
      '--period',
      '61',
      '--statistics',
      'Average',
    );
    assert.equal(badPeriod.code, 254);
    assert.equal(badPeriod.stderr.trim(), 'An error occurred (InvalidParameterValue) when calling the GetMetricStatistics operation: The parameter Period must be a multiple of 60.');

    const missing = await cli('set-alarm-state', '--alarm-name', 'no-such-alarm', '--state-value', 'OK', '--state-reason', 'x');
    assert.equal(missing.code, 254);
    assert.match(missing.stderr, /An error occurred \(ResourceNotFound\) when calling the SetAlarmState operation: /);
  });
});

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  InvalidNextToken,
  InvalidParameterValueException,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  ResourceNotFound,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { AwsQueryProtocol } from '@aws-sdk/core/protocols';
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';
import { decodeQuery } from '../awsQuery.js';
import { CLOUDWATCH_MODEL } from '../models/cloudwatch.generated.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { cloudWatchProtocols } from './service.js';
import { openSqliteStore } from '../../store/sqlite.js';
import { MetricStorage } from '../../metrics/storage.js';
import type { MetricsContext } from '../../metrics/context.js';

const params = (q: string): [string, string][] => [...new URLSearchParams(q)];

describe('CloudWatch query parameters (CloudWatch model)', () => {
  it('decodes MetricData members, their dimensions, values, counts, statistic sets and ISO 8601 timestamps', () => {
    const input = decodeQuery(
      CLOUDWATCH_MODEL,
      'PutMetricData',
      params(
        'Action=PutMetricData&Version=2010-08-01&Namespace=App%2FWeb' +
          '&MetricData.member.1.MetricName=Latency&MetricData.member.1.Unit=Milliseconds' +
          '&MetricData.member.1.Timestamp=2026-03-04T05%3A06%3A07Z' +
          '&MetricData.member.1.Dimensions.member.1.Name=Service&MetricData.member.1.Dimensions.member.1.Value=web' +
          '&MetricData.member.1.Dimensions.member.2.Name=Stage&MetricData.member.1.Dimensions.member.2.Value=prod' +
          '&MetricData.member.1.Values.member.1=10&MetricData.member.1.Values.member.2=2.5e1' +
          '&MetricData.member.1.Counts.member.1=1&MetricData.member.1.Counts.member.2=3' +
          '&MetricData.member.2.MetricName=Hits&MetricData.member.2.StatisticValues.SampleCount=4' +
          '&MetricData.member.2.StatisticValues.Sum=10&MetricData.member.2.StatisticValues.Minimum=1&MetricData.member.2.StatisticValues.Maximum=4' +
          '&MetricData.member.2.StorageResolution=1',
      ),
    );
    assert.deepEqual(input, {
      Namespace: 'App/Web',
      MetricData: [
        {
          MetricName: 'Latency',
          Dimensions: [
            { Name: 'Service', Value: 'web' },
            { Name: 'Stage', Value: 'prod' },
          ],
          Timestamp: Date.UTC(2026, 2, 4, 5, 6, 7) / 1000,
          Values: [10, 25],
          Counts: [1, 3],
          Unit: 'Milliseconds',
        },
        { MetricName: 'Hits', StatisticValues: { SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4 }, StorageResolution: 1 },
      ],
    });
  });

  it('decodes MetricDataQueries down to MetricStat.Metric.Dimensions, beside expressions', () => {
    const input = decodeQuery(
      CLOUDWATCH_MODEL,
      'GetMetricData',
      params(
        'StartTime=2026-03-04T05%3A00%3A00.000Z&EndTime=2026-03-04T06%3A00%3A00Z&ScanBy=TimestampAscending' +
          '&MetricDataQueries.member.1.Id=m1&MetricDataQueries.member.1.MetricStat.Metric.Namespace=App' +
          '&MetricDataQueries.member.1.MetricStat.Metric.MetricName=Latency' +
          '&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name=Service' +
          '&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value=web' +
          '&MetricDataQueries.member.1.MetricStat.Period=60&MetricDataQueries.member.1.MetricStat.Stat=p99' +
          '&MetricDataQueries.member.1.ReturnData=false' +
          '&MetricDataQueries.member.2.Id=e1&MetricDataQueries.member.2.Expression=m1*2',
      ),
    );
    assert.deepEqual(input, {
      StartTime: Date.UTC(2026, 2, 4, 5) / 1000,
      EndTime: Date.UTC(2026, 2, 4, 6) / 1000,
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [
        { Id: 'm1', MetricStat: { Metric: { Namespace: 'App', MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'web' }] }, Period: 60, Stat: 'p99' }, ReturnData: false },
        { Id: 'e1', Expression: 'm1*2' },
      ],
    });
  });
});

describe('CloudWatch over the AWS query protocol (in process: the SDK query serializer and XML parser against the real operations)', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  let clock = Date.UTC(2026, 2, 4, 5, 30);
  const ctx: MetricsContext = { store, storage: new MetricStorage(), region: 'us-east-1', accountId: '000000000000', now: () => clock };
  const protocols = cloudWatchProtocols(ctx);
  const seen: { contentType: string; body: string }[] = [];
  const responses: string[] = [];

  async function call(req: ApiRequest): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const protocol = protocols.find((p: ServiceProtocol) => p.matches(req));
    assert.ok(protocol, 'a CloudWatch protocol claims the request');
    const res = await protocol.handle(req);
    return { status: res.status, headers: res.headers, body: String(res.body) };
  }

  const requestHandler = {
    async handle(request: HttpRequest) {
      const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
      seen.push({ contentType: headers['content-type'] ?? '', body });
      const res = await call({ method: request.method, path: request.path, query: '', headers, body: Buffer.from(body), requestId: 'rq-1', principal: { accessKeyId: 'AK', service: 'monitoring', region: 'us-east-1' } });
      responses.push(res.body);
      return { response: new HttpResponse({ statusCode: res.status, headers: res.headers, body: Readable.from([Buffer.from(res.body)]) }) };
    },
  };
  const client = new CloudWatchClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    maxAttempts: 1,
    protocol: AwsQueryProtocol,
    requestHandler,
  });
  after(async () => {
    client.destroy();
    await store.close();
  });

  const minute = Date.UTC(2026, 2, 4, 5, 20);
  const dimensions = [{ Name: 'Service', Value: 'web' }];

  it('stores metric data sent as form parameters and answers statistics, metric data and metric lists in XML', async () => {
    await client.send(new PutMetricDataCommand({ Namespace: 'App/Web', MetricData: [{ MetricName: 'Latency', Dimensions: dimensions, Timestamp: new Date(minute + 5_000), Values: [10, 30], Counts: [1, 2], Unit: 'Milliseconds' }] }));
    assert.match(seen.at(-1)!.contentType, /^application\/x-www-form-urlencoded/);
    assert.match(seen.at(-1)!.body, /Action=PutMetricData&Version=2010-08-01/);
    assert.match(seen.at(-1)!.body, /MetricData\.member\.1\.Dimensions\.member\.1\.Name=Service/);

    const stats = await client.send(
      new GetMetricStatisticsCommand({ Namespace: 'App/Web', MetricName: 'Latency', Dimensions: dimensions, StartTime: new Date(minute - 600_000), EndTime: new Date(minute + 600_000), Period: 60, Statistics: ['Average', 'Maximum', 'SampleCount'] }),
    );
    assert.deepEqual(stats.Datapoints, [{ Timestamp: new Date(minute), SampleCount: 3, Average: 70 / 3, Maximum: 30, Unit: 'Milliseconds' }]);
    assert.match(
      responses.at(-1)!,
      /^<GetMetricStatisticsResponse xmlns="http:\/\/monitoring\.amazonaws\.com\/doc\/2010-08-01\/"><GetMetricStatisticsResult><Label>Latency<\/Label><Datapoints><member><Timestamp>2026-03-04T05:20:00\.000Z<\/Timestamp>/,
    );

    const data = await client.send(
      new GetMetricDataCommand({
        StartTime: new Date(minute - 600_000),
        EndTime: new Date(minute + 600_000),
        MetricDataQueries: [
          { Id: 'm1', MetricStat: { Metric: { Namespace: 'App/Web', MetricName: 'Latency', Dimensions: dimensions }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'e1', Expression: 'm1 * 2' },
        ],
      }),
    );
    assert.deepEqual(
      data.MetricDataResults?.map((r) => [r.Id, r.Timestamps, r.Values, r.StatusCode]),
      [['e1', [new Date(minute)], [140], 'Complete']],
    );

    const listed = await client.send(new ListMetricsCommand({ Namespace: 'App/Web' }));
    assert.deepEqual(listed.Metrics, [{ Namespace: 'App/Web', MetricName: 'Latency', Dimensions: dimensions }]);
  });

  it('creates, describes, sets and deletes alarms', async () => {
    await client.send(
      new PutMetricAlarmCommand({
        AlarmName: 'slow',
        Namespace: 'App/Web',
        MetricName: 'Latency',
        Dimensions: dimensions,
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    clock += 1000;
    await client.send(new SetAlarmStateCommand({ AlarmName: 'slow', StateValue: 'ALARM', StateReason: 'by hand' }));
    const described = await client.send(new DescribeAlarmsCommand({ AlarmNames: ['slow'] }));
    const alarm = described.MetricAlarms?.[0];
    assert.equal(alarm?.StateValue, 'ALARM');
    assert.equal(alarm?.StateReason, 'by hand');
    assert.deepEqual(alarm?.Dimensions, dimensions);
    assert.equal(alarm?.Threshold, 100);
    assert.equal(alarm?.StateUpdatedTimestamp?.getTime(), clock);
    await client.send(new DeleteAlarmsCommand({ AlarmNames: ['slow'] }));
    assert.deepEqual((await client.send(new DescribeAlarmsCommand({}))).MetricAlarms, []);
  });

  it("answers errors with the model's query codes and statuses, which the SDK turns back into its exceptions", async () => {
    await assert.rejects(
      client.send(new GetMetricStatisticsCommand({ Namespace: 'App/Web', MetricName: 'Latency', StartTime: new Date(minute), EndTime: new Date(minute + 600_000), Period: 61, Statistics: ['Average'] })),
      (err: unknown) => err instanceof InvalidParameterValueException && err.message === 'The parameter Period must be a multiple of 60.' && err.$metadata.httpStatusCode === 400,
    );
    assert.match(responses.at(-1)!, /^<ErrorResponse xmlns="http:\/\/monitoring\.amazonaws\.com\/doc\/2010-08-01\/"><Error><Type>Sender<\/Type><Code>InvalidParameterValue<\/Code>/);
    await assert.rejects(client.send(new SetAlarmStateCommand({ AlarmName: 'missing', StateValue: 'OK', StateReason: 'x' })), (err: unknown) => err instanceof ResourceNotFound && err.$metadata.httpStatusCode === 404);
    assert.match(responses.at(-1)!, /<Code>ResourceNotFound<\/Code>/);
    await assert.rejects(client.send(new DescribeAlarmsCommand({ NextToken: 'bogus' })), (err: unknown) => err instanceof InvalidNextToken && err.$metadata.httpStatusCode === 400);
  });

  it('refuses input the model forbids with ValidationError naming the member, before any operation runs', async () => {
    const res = await call({
      method: 'POST',
      path: '/',
      query: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from('Action=PutMetricData&Version=2010-08-01&MetricData.member.1.MetricName=x&MetricData.member.1.Value=1'),
      requestId: 'rq-2',
      principal: { accessKeyId: 'AK', service: 'monitoring', region: 'us-east-1' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'text/xml');
    assert.match(res.body, /<Code>ValidationError<\/Code><Message>1 validation error detected: Value null at 'namespace' failed to satisfy constraint: Member must not be null<\/Message>/);
    const unserved = await call({
      method: 'POST',
      path: '/',
      query: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from('Action=ListDashboards&Version=2010-08-01'),
      requestId: 'rq-3',
      principal: { accessKeyId: 'AK', service: 'monitoring', region: 'us-east-1' },
    });
    assert.equal(unserved.status, 400);
    assert.match(unserved.body, /<Code>ValidationError<\/Code><Message>Berth does not implement ListDashboards yet\./);
    const list = await client.send(new ListMetricsCommand({ MetricName: 'x' }));
    assert.deepEqual(list.Metrics, []);
  });
});

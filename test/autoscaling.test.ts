// Metrics, alarms and service auto scaling end to end on the real Docker
// Engine: a Berth server and a real `berth agent`, the AWS SDK clients for
// CloudWatch (JSON 1.0 and Smithy RPC v2 CBOR) and Application Auto Scaling.
// Alarm periods and sampling intervals are shortened through the
// environment so that a scale-out and scale-in take seconds, not minutes.
import assert from 'node:assert/strict';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  PutScheduledActionCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, GetMetricStatisticsCommand, ListMetricsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { SmithyRpcV2CborProtocol } from '@smithy/core/cbor';
import { ecsClient, freePort, spawnAgent, spawnServer, tempDir, TEST_CREDENTIALS, waitFor, type AgentProcess, type ServerProcess, drainScalableService, serviceProbes, tearDown } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'scale';
const SERVICE = 'burn';
const RESOURCE = `service/${CLUSTER}/${SERVICE}`;

describe('metrics, alarms and service auto scaling on the real Docker Engine', { timeout: 600_000 }, () => {
  const dir = tempDir('berth-autoscaling-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let ecs: ECSClient;
  let aas: ApplicationAutoScalingClient;
  let cwJson: CloudWatchClient;
  let cwCbor: CloudWatchClient;
  const cborProtocols: string[] = [];
  const taskArns = new Set<string>();

  const { desiredCount, runningTasks } = serviceProbes(() => ecs, CLUSTER, SERVICE, taskArns);

  let port = 0;
  const serverEnv = {
    BERTH_ALARM_EVALUATION_INTERVAL_MS: '2000',
    BERTH_ECS_METRICS_INTERVAL_MS: '2000',
    BERTH_TARGET_TRACKING_PERIOD_SECONDS: '10',
    BERTH_TARGET_TRACKING_HIGH_PERIODS: '1',
    BERTH_TARGET_TRACKING_LOW_PERIODS: '2',
    BERTH_SCHEDULED_ACTION_INTERVAL_MS: '1000',
  };

  before(async () => {
    port = await freePort();
    server = await spawnServer(join(dir.path, 'server'), [], serverEnv, port);
    const creds = { endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    ecs = ecsClient(server.url);
    aas = new ApplicationAutoScalingClient(creds);
    cwJson = new CloudWatchClient(creds);
    cwCbor = new CloudWatchClient({ ...creds, protocol: SmithyRpcV2CborProtocol, protocolSettings: { defaultNamespace: 'com.amazonaws.cloudwatch' } });
    cwCbor.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        cborProtocols.push(`${headers['smithy-protocol'] ?? ''} ${headers['content-type'] ?? ''}`);
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER, settings: [{ name: 'containerInsights', value: 'enhanced' }] }));
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: CLUSTER, cpu: 4096, memory: 2048, taskCleanupWait: '10s', env: { BERTH_AGENT_STATS_INTERVAL_MS: '2000' } });
  });

  after(async () => {
    await drainScalableService(aas, ecs, CLUSTER, SERVICE, taskArns);
    await tearDown({ ecs, cluster: CLUSTER, taskArns, clients: [aas, cwJson, cwCbor], processes: [agent, server], dir });
  });

  it('target tracking adds a task while a busy loop drives CPUUtilization up, and removes it once the load stops', async () => {
    // Every task burns CPU until END (epoch seconds), then idles.
    const end = Math.floor(Date.now() / 1000) + 45;
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: SERVICE,
        containerDefinitions: [
          {
            name: 'burn',
            image: IMAGE,
            cpu: 256,
            memory: 32,
            environment: [{ name: 'END', value: String(end) }],
            command: ['sh', '-c', 'now=$(date +%s); while [ $now -lt $END ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; now=$(date +%s); done; exec sleep 3600'],
            stopTimeout: 1,
          },
        ],
      }),
    );
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: SERVICE, taskDefinition: SERVICE, desiredCount: 1 }));
    await waitFor('the first task RUNNING', async () => ((await runningTasks()).length === 1 ? true : undefined), 60_000);

    const registered = await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2 }));
    assert.match(registered.ScalableTargetARN ?? '', /^arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target\//);
    const policy = await aas.send(
      new PutScalingPolicyCommand({
        PolicyName: 'cpu50',
        ServiceNamespace: 'ecs',
        ResourceId: RESOURCE,
        ScalableDimension: 'ecs:service:DesiredCount',
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 50,
          PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
          ScaleOutCooldown: 0,
          ScaleInCooldown: 0,
        },
      }),
    );
    const names = (policy.Alarms ?? []).map((a) => a.AlarmName ?? '');
    assert.equal(names.length, 2);
    assert.match(names[0]!, /^TargetTracking-service\/scale\/burn-AlarmHigh-[0-9a-f-]{36}$/);
    assert.match(names[1]!, /^TargetTracking-service\/scale\/burn-AlarmLow-[0-9a-f-]{36}$/);
    const alarms = (await cwJson.send(new DescribeAlarmsCommand({ AlarmNames: names }))).MetricAlarms ?? [];
    const high = alarms.find((a) => a.AlarmName === names[0])!;
    assert.equal(high.Namespace, 'AWS/ECS');
    assert.equal(high.MetricName, 'CPUUtilization');
    assert.deepEqual(high.AlarmActions, [policy.PolicyARN]);
    assert.equal(high.Threshold, 50);
    assert.equal(alarms.find((a) => a.AlarmName === names[1])!.Threshold, 45);

    // The agent's samples make CPUUtilization of the service, readable over CBOR.
    const busy = await waitFor(
      'CPUUtilization of the service above 50 %',
      async () => {
        const now = Date.now();
        const out = await cwCbor.send(
          new GetMetricDataCommand({
            StartTime: new Date(now - 120_000),
            EndTime: new Date(now + 10_000),
            MetricDataQueries: [{ Id: 'cpu', MetricStat: { Metric: { Namespace: 'AWS/ECS', MetricName: 'CPUUtilization', Dimensions: [{ Name: 'ClusterName', Value: CLUSTER }, { Name: 'ServiceName', Value: SERVICE }] }, Period: 10, Stat: 'Average' } }],
          }),
        );
        const v = out.MetricDataResults?.[0]?.Values?.[0];
        return v !== undefined && v > 50 ? v : undefined;
      },
      60_000,
    );
    assert.ok(busy > 50);
    assert.ok(cborProtocols.length > 0 && cborProtocols.every((p) => p === 'rpc-v2-cbor application/cbor'), `CBOR requests: ${cborProtocols.join(', ')}`);

    await waitFor('scale-out to 2 tasks', async () => ((await desiredCount()) === 2 && (await runningTasks()).length === 2 ? true : undefined), 90_000);
    const activities = (await aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE }))).ScalingActivities ?? [];
    const out = activities.find((a) => a.Description === 'Setting desired count to 2.');
    assert.ok(out, JSON.stringify(activities));
    assert.equal(out.StatusCode, 'Successful');
    assert.equal(out.StatusMessage, 'Successfully set desired count to 2. Change successfully fulfilled by ecs.');
    assert.match(out.Cause ?? '', /^monitor alarm TargetTracking-service\/scale\/burn-AlarmHigh-.* in state ALARM triggered policy cpu50$/);

    // Never above MaxCapacity, even while the load lasts.
    assert.equal(await desiredCount(), 2);

    // The load stops at END: AlarmLow fires and the service scales back in.
    await waitFor('scale-in to 1 task after the load stopped', async () => ((await desiredCount()) === 1 ? true : undefined), 150_000);
    assert.ok(Date.now() / 1000 >= end, 'scaled in only after the load stopped');
    const policies = (await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE }))).ScalingPolicies ?? [];
    assert.equal(policies[0]?.PolicyName, 'cpu50');

    // Container Insights (enhanced on this cluster): per service and per container.
    const insights = (await cwJson.send(new ListMetricsCommand({ Namespace: 'ECS/ContainerInsights' }))).Metrics ?? [];
    const has = (name: string, dims: string[]) => insights.some((m) => m.MetricName === name && dims.every((d) => (m.Dimensions ?? []).some((x) => x.Name === d)) && (m.Dimensions ?? []).length === dims.length);
    assert.ok(has('CpuUtilized', ['ClusterName', 'ServiceName']), JSON.stringify(insights));
    assert.ok(has('RunningTaskCount', ['ClusterName']));
    assert.ok(has('ContainerCpuUtilized', ['ClusterName', 'TaskDefinitionFamily', 'TaskId', 'ContainerName']));

    // Prometheus carries the same figures, labelled by cluster and service.
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /berth_ecs_service_cpu_utilization_percent\{cluster="scale",service="burn"\} [\d.]+/);
    assert.match(text, /berth_ecs_cluster_cpu_reservation_percent\{cluster="scale"\} [\d.]+/);
  });

  it('a scheduled action changes the bounds and the service follows them', async () => {
    const at = new Date(Date.now() + 3000).toISOString().slice(0, 19);
    await aas.send(
      new PutScheduledActionCommand({
        ServiceNamespace: 'ecs',
        ResourceId: RESOURCE,
        ScalableDimension: 'ecs:service:DesiredCount',
        ScheduledActionName: 'busy-hours',
        Schedule: `at(${at})`,
        ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 3 },
      }),
    );
    await waitFor(
      'the scheduled bounds',
      async () => {
        const t = (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [RESOURCE] }))).ScalableTargets?.[0];
        return t?.MinCapacity === 2 && t.MaxCapacity === 3 ? true : undefined;
      },
      30_000,
    );
    await waitFor('desiredCount raised to the new minimum', async () => ((await desiredCount()) === 2 ? true : undefined), 30_000);
    const activities = (await aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE }))).ScalingActivities ?? [];
    assert.ok(activities.some((a) => a.Description === 'Setting min capacity to 2 and max capacity to 3' && a.Cause === 'scheduled action name busy-hours was triggered'), JSON.stringify(activities));
  });

  it('refuses an invalid cron schedule with ValidationException', async () => {
    await assert.rejects(
      aas.send(
        new PutScheduledActionCommand({
          ServiceNamespace: 'ecs',
          ResourceId: RESOURCE,
          ScalableDimension: 'ecs:service:DesiredCount',
          ScheduledActionName: 'bad',
          Schedule: 'cron(99 * * * ? *)',
          ScalableTargetAction: { MinCapacity: 1 },
        }),
      ),
      (err: Error) => err.name === 'ValidationException' && /cron\(99 \* \* \* \? \*\)/.test(err.message),
    );
    await assert.rejects(
      aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: 'service/scale/nope', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 2 })),
      (err: Error) => err.name === 'ValidationException' && err.message === "ECS service doesn't exist: service/scale/nope",
    );
  });

  it('answers a raw AWS JSON 1.0 request with the awsQuery error code', async () => {
    const url = new URL(server.url);
    const call = async (target: string, body: string) => {
      const headers = { host: url.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `GraniteServiceVersion20100801.${target}` };
      const signer = new SignatureV4({ credentials: TEST_CREDENTIALS, region: 'us-east-1', service: 'monitoring', sha256: Hash.bind(null, 'sha256') });
      const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body }));
      const send = { ...(signed.headers as Record<string, string>) };
      delete send.host;
      const res = await fetch(`${server.url}/`, { method: 'POST', headers: send, body });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    const ok = await call('PutMetricData', JSON.stringify({ Namespace: 'Raw', MetricData: [{ MetricName: 'm', Value: 1.5, Unit: 'Count' }] }));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/x-amz-json-1.0');
    const listed = await call('ListMetrics', JSON.stringify({ Namespace: 'Raw' }));
    assert.deepEqual(listed.body['Metrics'], [{ Namespace: 'Raw', MetricName: 'm', Dimensions: [] }]);
    const missing = await call('SetAlarmState', JSON.stringify({ AlarmName: 'none', StateValue: 'OK', StateReason: 'r' }));
    assert.equal(missing.status, 404);
    assert.equal(missing.body['__type'], 'ResourceNotFound');
    assert.equal(missing.headers.get('x-amzn-query-error'), 'ResourceNotFound;Sender');
    const reserved = await call('PutMetricData', JSON.stringify({ Namespace: 'AWS/ECS', MetricData: [{ MetricName: 'm', Value: 1 }] }));
    assert.equal(reserved.status, 400);
    assert.equal(reserved.body['__type'], 'InvalidParameterValueException');
    assert.equal(reserved.headers.get('x-amzn-query-error'), 'InvalidParameterValue;Sender');
  });

  it('keeps metric data and alarms across a server restart', async () => {
    const now = new Date();
    await cwJson.send(new PutMetricDataCommand({ Namespace: 'Restart', MetricData: [{ MetricName: 'Kept', Value: 42, Timestamp: now }] }));
    await server.kill('SIGTERM');
    server = await spawnServer(join(dir.path, 'server'), [], serverEnv, port);
    const stats = await cwJson.send(
      new GetMetricStatisticsCommand({ Namespace: 'Restart', MetricName: 'Kept', StartTime: new Date(+now - 120_000), EndTime: new Date(+now + 60_000), Period: 60, Statistics: ['Maximum'] }),
    );
    assert.deepEqual(stats.Datapoints?.map((d) => d.Maximum), [42]);
    const alarms = (await cwJson.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'TargetTracking-service/scale/burn-' }))).MetricAlarms ?? [];
    assert.equal(alarms.length, 2);
  });
});

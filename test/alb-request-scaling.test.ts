// Target tracking on ALBRequestCountPerTarget end to end (`berth up` on the
// real Docker Engine): a service behind an application load balancer scales
// out while requests pour in and back in once they stop. Metric intervals
// and alarm periods are shortened through the environment.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ApplicationAutoScalingClient, DeregisterScalableTargetCommand, PutScalingPolicyCommand, RegisterScalableTargetCommand, ValidationException } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateTargetGroupCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateServiceCommand, DescribeServicesCommand, ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TEST_CREDENTIALS, ecsClient, freePort, removeTaskContainers, spawnUp, tempDir, waitFor, type ServerProcess } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const RESOURCE = 'service/default/busy-web';
const DIMENSION = 'ecs:service:DesiredCount';

function get(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/index.html', headers: { connection: 'close' }, timeout: 5000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

describe('target tracking on ALBRequestCountPerTarget', { timeout: 500_000 }, () => {
  const dir = tempDir('berth-alb-scaling-');
  const taskArns = new Set<string>();
  let up: ServerProcess;
  let ecs: ECSClient;
  let elb: ElasticLoadBalancingV2Client;
  let aas: ApplicationAutoScalingClient;
  let cw: CloudWatchClient;
  let listenerPort: number;
  let resourceLabel: string;

  const desiredCount = async () => (await ecs.send(new DescribeServicesCommand({ services: ['busy-web'] }))).services![0]!.desiredCount ?? -1;
  const remember = async () => {
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) for (const a of (await ecs.send(new ListTasksCommand({ desiredStatus }))).taskArns ?? []) taskArns.add(a);
  };

  before(async () => {
    up = await spawnUp(
      dir.path,
      {
        BERTH_ELB_METRICS_INTERVAL_MS: '1000',
        BERTH_ALARM_EVALUATION_INTERVAL_MS: '2000',
        BERTH_TARGET_TRACKING_PERIOD_SECONDS: '10',
        BERTH_TARGET_TRACKING_HIGH_PERIODS: '1',
        BERTH_TARGET_TRACKING_LOW_PERIODS: '2',
      },
      await freePort(),
    );
    const client = { endpoint: up.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    ecs = ecsClient(up.url);
    elb = new ElasticLoadBalancingV2Client(client);
    aas = new ApplicationAutoScalingClient(client);
    cw = new CloudWatchClient(client);
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'busy-web',
        containerDefinitions: [{ name: 'web', image: IMAGE, memory: 32, command: ['sh', '-c', 'echo hello > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'], portMappings: [{ containerPort: 8080, hostPort: 0 }], stopTimeout: 1 }],
      }),
    );
    const tg = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'busy-web', Protocol: 'HTTP', Port: 8080, TargetType: 'instance', HealthCheckPath: '/index.html', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'busy-edge' }))).LoadBalancers![0]!.LoadBalancerArn!;
    listenerPort = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: listenerPort, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    resourceLabel = `${lb.slice(lb.indexOf(':loadbalancer/') + ':loadbalancer/'.length)}/${tg.slice(tg.lastIndexOf(':') + 1)}`;
    await ecs.send(new CreateServiceCommand({ serviceName: 'busy-web', taskDefinition: 'busy-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }] }));
    await waitFor(
      'the first task to be a healthy target',
      async () => {
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? [];
        return h.some((t) => t.TargetHealth?.State === 'healthy') ? true : undefined;
      },
      150_000,
    );
    await waitFor('the listener to answer', async () => ((await get(listenerPort)) === 200 ? true : undefined), 30_000);
  });

  after(async () => {
    await aas?.send(new DeregisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE, ScalableDimension: DIMENSION })).catch(() => undefined);
    try {
      await ecs.send(new UpdateServiceCommand({ service: 'busy-web', desiredCount: 0 }));
      await remember();
    } catch {
      // setup failed before the service existed
    }
    for (const c of [ecs, elb, aas, cw]) c?.destroy();
    await up?.kill('SIGTERM');
    await removeTaskContainers([...taskArns]);
    dir.remove();
  });

  it('refuses a missing or malformed ResourceLabel as Application Auto Scaling does', async () => {
    await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE, ScalableDimension: DIMENSION, MinCapacity: 1, MaxCapacity: 3 }));
    const put = (ResourceLabel: string | undefined) =>
      aas.send(
        new PutScalingPolicyCommand({
          PolicyName: 'requests',
          ServiceNamespace: 'ecs',
          ResourceId: RESOURCE,
          ScalableDimension: DIMENSION,
          PolicyType: 'TargetTrackingScaling',
          TargetTrackingScalingPolicyConfiguration: { TargetValue: 20, PredefinedMetricSpecification: { PredefinedMetricType: 'ALBRequestCountPerTarget', ...(ResourceLabel !== undefined ? { ResourceLabel } : {}) } },
        }),
      );
    await assert.rejects(put(undefined), (err: Error) => err instanceof ValidationException && /ResourceLabel is required/.test(err.message));
    await assert.rejects(put(resourceLabel.replace('app/', 'net/')), (err: Error) => err instanceof ValidationException && /^Invalid ResourceLabel/.test(err.message));
  });

  it('adds tasks while requests pour in, and removes them once the requests stop', async () => {
    const policy = await aas.send(
      new PutScalingPolicyCommand({
        PolicyName: 'requests',
        ServiceNamespace: 'ecs',
        ResourceId: RESOURCE,
        ScalableDimension: DIMENSION,
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: { TargetValue: 20, ScaleOutCooldown: 0, ScaleInCooldown: 0, PredefinedMetricSpecification: { PredefinedMetricType: 'ALBRequestCountPerTarget', ResourceLabel: resourceLabel } },
      }),
    );
    const alarms = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: policy.Alarms!.map((a) => a.AlarmName!) }))).MetricAlarms ?? [];
    assert.equal(alarms.length, 2);
    for (const a of alarms) {
      assert.deepEqual([a.Namespace, a.MetricName, a.Statistic, a.Dimensions], ['AWS/ApplicationELB', 'RequestCountPerTarget', 'Sum', [{ Name: 'TargetGroup', Value: resourceLabel.slice(resourceLabel.indexOf('targetgroup/')) }]]);
    }

    // Load: several clients in a loop until the service has scaled out (bounded).
    let loading = true;
    let served = 0;
    const client = async () => {
      while (loading) if ((await get(listenerPort)) === 200) served++;
    };
    const clients = Promise.all([client(), client(), client()]);
    try {
      await waitFor('the service to scale out under load', async () => ((await desiredCount()) >= 2 ? true : undefined), 150_000);
    } finally {
      loading = false;
      await clients;
    }
    assert.ok(served > 100, `requests were served (${served})`);
    await remember();
    await waitFor('the service to scale back in once the load stopped', async () => ((await desiredCount()) === 1 ? true : undefined), 150_000);
    await remember();
  });
});

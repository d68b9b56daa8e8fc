// Step scaling end to end on the real Docker Engine: CloudWatch alarms on a
// metric the test publishes (PutMetricData) run step scaling policies that
// change an ECS service's desired count, and the agent starts and stops its
// tasks. Alarms use 10-second periods, evaluated every second.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApplicationAutoScalingClient,
  DescribeScalingActivitiesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { ecsClient, spawnAgent, spawnServer, tempDir, TEST_CREDENTIALS, waitFor, type AgentProcess, type ServerProcess, drainScalableService, serviceProbes, tearDown } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'step';
const SERVICE = 'worker';
const RESOURCE = `service/${CLUSTER}/${SERVICE}`;
const DIMENSION = 'ecs:service:DesiredCount';

describe('step scaling on the real Docker Engine', { timeout: 600_000 }, () => {
  const dir = tempDir('berth-step-scaling-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let ecs: ECSClient;
  let aas: ApplicationAutoScalingClient;
  let cw: CloudWatchClient;
  const taskArns = new Set<string>();
  let queueDepth = 0;
  let publishing = true;
  let publisher: Promise<void> | undefined;

  const { desiredCount, runningTasks } = serviceProbes(() => ecs, CLUSTER, SERVICE, taskArns);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    server = await spawnServer(join(dir.path, 'server'), [], { BERTH_ALARM_EVALUATION_INTERVAL_MS: '1000' });
    const creds = { endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    ecs = ecsClient(server.url);
    aas = new ApplicationAutoScalingClient(creds);
    cw = new CloudWatchClient(creds);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: CLUSTER, cpu: 4096, memory: 2048, taskCleanupWait: '10s' });
    // The application's queue depth, once a second at one-second resolution.
    publisher = (async () => {
      while (publishing) {
        await cw
          .send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: 'QueueDepth', Dimensions: [{ Name: 'Queue', Value: 'jobs' }], Value: queueDepth, StorageResolution: 1 }] }))
          .catch(() => undefined);
        await sleep(1000);
      }
    })();
  });

  after(async () => {
    publishing = false;
    await publisher;
    await drainScalableService(aas, ecs, CLUSTER, SERVICE, taskArns);
    await tearDown({ ecs, cluster: CLUSTER, taskArns, clients: [aas, cw], processes: [agent, server], dir });
  });

  it('scales out by the step the breach falls in, counts a cooldown scale-out toward a larger one, and scales in with MinAdjustmentMagnitude', async () => {
    await ecs.send(
      new RegisterTaskDefinitionCommand({ family: SERVICE, containerDefinitions: [{ name: 'worker', image: IMAGE, memory: 32, command: ['sleep', '3600'], stopTimeout: 1 }] }),
    );
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: SERVICE, taskDefinition: SERVICE, desiredCount: 1 }));
    await waitFor('the first task RUNNING', async () => ((await runningTasks()).length === 1 ? true : undefined), 60_000);
    await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE, ScalableDimension: DIMENSION, MinCapacity: 1, MaxCapacity: 5 }));

    // Scale-out: threshold 100; a breach under 50 adds one task, 50 or more adds two; a long cooldown.
    const out = await aas.send(
      new PutScalingPolicyCommand({
        ServiceNamespace: 'ecs',
        ResourceId: RESOURCE,
        ScalableDimension: DIMENSION,
        PolicyName: 'queue-out',
        PolicyType: 'StepScaling',
        StepScalingPolicyConfiguration: {
          AdjustmentType: 'ChangeInCapacity',
          Cooldown: 600,
          MetricAggregationType: 'Maximum',
          StepAdjustments: [
            { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 50, ScalingAdjustment: 1 },
            { MetricIntervalLowerBound: 50, ScalingAdjustment: 2 },
          ],
        },
      }),
    );
    // Scale-in: below 50, remove 10% of the tasks, but at least two at a time.
    const inward = await aas.send(
      new PutScalingPolicyCommand({
        ServiceNamespace: 'ecs',
        ResourceId: RESOURCE,
        ScalableDimension: DIMENSION,
        PolicyName: 'queue-in',
        PolicyType: 'StepScaling',
        StepScalingPolicyConfiguration: {
          AdjustmentType: 'PercentChangeInCapacity',
          MinAdjustmentMagnitude: 2,
          Cooldown: 0,
          MetricAggregationType: 'Maximum',
          StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: -10 }],
        },
      }),
    );
    const alarm = (name: string, op: 'GreaterThanOrEqualToThreshold' | 'LessThanThreshold', threshold: number, action: string) =>
      cw.send(
        new PutMetricAlarmCommand({
          AlarmName: name,
          Namespace: 'App',
          MetricName: 'QueueDepth',
          Dimensions: [{ Name: 'Queue', Value: 'jobs' }],
          Statistic: 'Maximum',
          Period: 10,
          EvaluationPeriods: 1,
          Threshold: threshold,
          ComparisonOperator: op,
          AlarmActions: [action],
        }),
      );

    // A breach of 20: one step of +1.
    queueDepth = 120;
    await alarm('queue-high', 'GreaterThanOrEqualToThreshold', 100, out.PolicyARN!);
    await waitFor('desiredCount 2', async () => ((await desiredCount()) === 2 ? true : undefined), 60_000);
    await waitFor('two tasks RUNNING', async () => ((await runningTasks()).length === 2 ? true : undefined), 60_000);
    // The alarm stays in ALARM and runs the policy every evaluation; the cooldown holds the same step back.
    await sleep(8000);
    assert.equal(await desiredCount(), 2, 'no second +1 during the cooldown');

    // A breach of 80 during the cooldown: the +2 step counts the task the +1 added, so one more task, not two.
    queueDepth = 180;
    await waitFor('desiredCount 3', async () => ((await desiredCount()) === 3 ? true : undefined), 60_000);
    await sleep(8000);
    assert.equal(await desiredCount(), 3, 'the +2 step is satisfied at 3 tasks during the cooldown');
    await waitFor('three tasks RUNNING', async () => ((await runningTasks()).length === 3 ? true : undefined), 60_000);

    // Load gone: -10% of 3 rounds to 0, MinAdjustmentMagnitude makes it -2.
    queueDepth = 10;
    await alarm('queue-low', 'LessThanThreshold', 50, inward.PolicyARN!);
    await waitFor('desiredCount 1', async () => ((await desiredCount()) === 1 ? true : undefined), 60_000);
    await waitFor('one task RUNNING', async () => ((await runningTasks()).length === 1 ? true : undefined), 60_000);

    const activities = (await aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: RESOURCE }))).ScalingActivities ?? [];
    const descriptions = activities.map((a) => a.Description).reverse();
    assert.deepEqual(
      descriptions.filter((d) => d?.startsWith('Setting desired count to')),
      ['Setting desired count to 2.', 'Setting desired count to 3.', 'Setting desired count to 1.'],
      JSON.stringify(activities),
    );
    assert.ok(activities.some((a) => a.Cause?.includes('monitor alarm queue-low in state ALARM triggered policy queue-in')), JSON.stringify(activities));
  });
});

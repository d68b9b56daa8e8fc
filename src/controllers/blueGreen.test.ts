import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCluster } from '../ecs/clusters.js';
import type { StoredService } from '../ecs/model.js';
import { createService, describeServiceDeployments, listServiceDeployments, stopServiceDeployment, updateService } from '../ecs/services.js';
import { registerTaskDefinition } from '../ecs/taskDefinitions.js';
import { describeTasks, listTasks, submitTaskStateChange } from '../ecs/tasks.js';
import { connectedInstance, memoryContext } from '../ecs/testing.js';
import { createListener } from '../elbv2/listeners.js';
import { createLoadBalancer } from '../elbv2/loadBalancers.js';
import type { RuleDoc, TargetDoc } from '../elbv2/model.js';
import { createRule } from '../elbv2/rules.js';
import { createTargetGroup } from '../elbv2/targetGroups.js';
import { registerTargets } from '../elbv2/targets.js';
import { putMetricAlarm, setAlarmState } from '../metrics/alarms.js';
import type { MetricsContext } from '../metrics/context.js';
import { BlueGreenController } from './blueGreen.js';
import { ServiceController } from './services/controller.js';

const SERVICE = 'arn:aws:ecs:us-east-1:000000000000:service/c1/web';

/**
 * One instance, the ELBv2 resources of a blue/green service, a clock the test
 * moves, and both controllers driven by hand. The test plays the agent (task
 * states) and the data plane (targets and their health).
 */
async function fixture() {
  let now = Date.parse('2026-12-01T12:00:00Z');
  const { ctx, close } = await memoryContext(() => now);
  const store = ctx.store;
  await createCluster(ctx, { clusterName: 'c1' });
  await connectedInstance(ctx, 'c1', { memory: 2048 });
  for (const v of ['v1', 'v2', 'v3']) {
    await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 64, command: [v], portMappings: [{ containerPort: 8080, hostPort: 0 }] }] });
  }
  const tg = async (name: string) => ((await createTargetGroup(ctx, { Name: name, Protocol: 'HTTP', Port: 8080, TargetType: 'instance' })) as { TargetGroups: { TargetGroupArn: string }[] }).TargetGroups[0]!.TargetGroupArn;
  const a = await tg('a');
  const b = await tg('b');
  const lb = ((await createLoadBalancer(ctx, { Name: 'edge' })) as { LoadBalancers: { LoadBalancerArn: string }[] }).LoadBalancers[0]!.LoadBalancerArn;
  const listener = ((await createListener(ctx, { LoadBalancerArn: lb, Protocol: 'HTTP', Port: 8080, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })) as {
    Listeners: { ListenerArn: string }[];
  }).Listeners[0]!.ListenerArn;
  const forward = [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: a, Weight: 1 }, { TargetGroupArn: b, Weight: 0 }] } }];
  const rule = async (priority: number) =>
    ((await createRule(ctx, { ListenerArn: listener, Priority: priority, Conditions: [{ Field: 'path-pattern', Values: [`/${priority}/*`] }], Actions: forward })) as { Rules: { RuleArn: string }[] }).Rules[0]!.RuleArn;
  const prod = await rule(1);
  const test = await rule(2);
  const services = new ServiceController(ctx);
  const blueGreen = new BlueGreenController(ctx, { minuteMs: 60_000, testTrafficHoldMs: 0 });
  let port = 32000;

  /** Plays the agent and the data plane: every pending task of the service runs on a new host port, registered and healthy in `tg`. */
  const runPending = async (tgArn: string) => {
    const arns = (await listTasks(ctx, { cluster: 'c1', serviceName: 'web' })).taskArns;
    for (const t of (await describeTasks(ctx, { cluster: 'c1', tasks: arns })).tasks as { taskArn: string; lastStatus: string }[]) {
      if (t.lastStatus === 'RUNNING') continue;
      const hostPort = ++port;
      await submitTaskStateChange(ctx, { cluster: 'c1', task: t.taskArn, status: 'RUNNING', containers: [{ containerName: 'web', status: 'RUNNING', networkBindings: [{ containerPort: 8080, hostPort, protocol: 'tcp' }] }] });
      await registerTargets(ctx, { TargetGroupArn: tgArn, Targets: [{ Id: 'i-00000001', Port: hostPort }] });
    }
    await store.transaction(async (tx) => {
      for (const r of await tx.find<TargetDoc>('target', { where: { targetGroup: tgArn } })) await tx.update<TargetDoc>('target', { ...r, doc: { ...r.doc, health: { State: 'healthy', at: now } } });
    });
  };
  /** Plays the agent: every task not yet running fails to start. */
  const failPending = async () => {
    const arns = (await listTasks(ctx, { cluster: 'c1', serviceName: 'web' })).taskArns;
    for (const t of (await describeTasks(ctx, { cluster: 'c1', tasks: arns })).tasks as { taskArn: string; lastStatus: string }[]) {
      if (t.lastStatus !== 'RUNNING') await submitTaskStateChange(ctx, { cluster: 'c1', task: t.taskArn, status: 'STOPPED', reason: 'CannotPullContainerError: no such image', berthStopCode: 'TaskFailedToStart' } as Parameters<typeof submitTaskStateChange>[1]);
    }
  };
  /** Plays the agent: tasks the service controller stopped are reported STOPPED. */
  const reportStopped = async () => {
    const arns = (await listTasks(ctx, { cluster: 'c1', serviceName: 'web', desiredStatus: 'STOPPED' })).taskArns;
    for (const t of (await describeTasks(ctx, { cluster: 'c1', tasks: arns })).tasks as { taskArn: string; lastStatus: string }[]) {
      if (t.lastStatus !== 'STOPPED') await submitTaskStateChange(ctx, { cluster: 'c1', task: t.taskArn, status: 'STOPPED' });
    }
  };
  const round = async () => {
    await services.sync(SERVICE);
    await blueGreen.sync(SERVICE);
    await services.sync(SERVICE);
  };
  const weights = async (ruleArn: string) => ((await store.get<RuleDoc>('listenerRule', ruleArn))!.doc.Actions[0]!.ForwardConfig!.TargetGroups ?? []).map((t) => [t.TargetGroupArn, t.Weight]);
  const running = async () => {
    const arns = (await listTasks(ctx, { cluster: 'c1', serviceName: 'web', desiredStatus: 'RUNNING' })).taskArns;
    return ((await describeTasks(ctx, { cluster: 'c1', tasks: arns })).tasks as { taskDefinitionArn: string }[]).map((t) => t.taskDefinitionArn.split(':').pop()).sort();
  };
  const stored = async () => (await store.get<StoredService>('service', SERVICE))!.doc;
  const record = async () => {
    const arn = (await listServiceDeployments(ctx, { cluster: 'c1', service: 'web' })).serviceDeployments[0]!.serviceDeploymentArn;
    return (await describeServiceDeployments(ctx, { serviceDeploymentArns: [arn] })).serviceDeployments[0] as { serviceDeploymentArn: string; status: string; lifecycleStage?: string };
  };
  /**
   * Creates the service `web` on web:1 behind the blue/green pair (a live, b
   * alternate, the test listener rule when `testRule`) and brings its first
   * tasks up healthy in a.
   */
  const startBlue = async (desiredCount: number, deploymentConfiguration: Parameters<typeof createService>[1]['deploymentConfiguration'], testRule = false) => {
    await createService(ctx, {
      cluster: 'c1',
      serviceName: 'web',
      taskDefinition: 'web:1',
      desiredCount,
      deploymentConfiguration,
      loadBalancers: [{ targetGroupArn: a, containerName: 'web', containerPort: 8080, advancedConfiguration: { alternateTargetGroupArn: b, productionListenerRule: prod, ...(testRule ? { testListenerRule: test } : {}) } }],
    });
    await round();
    await runPending(a);
    await round();
  };
  // Alarm operations read and write only the store; no metric data is needed here.
  const metrics: MetricsContext = { store, storage: undefined as unknown as MetricsContext['storage'], region: 'us-east-1', accountId: '000000000000', now: () => now };
  return {
    ctx,
    metrics,
    a,
    b,
    prod,
    test,
    runPending,
    reportStopped,
    failPending,
    round,
    weights,
    running,
    stored,
    record,
    startBlue,
    advance: (ms: number) => (now += ms),
    close,
  };
}

describe('blue/green controller', () => {
  it('LINEAR: scales green up beside blue, moves the production weights step by step, bakes, cleans up, and swaps the target groups for the next deployment', async () => {
    const f = await fixture();
    await f.startBlue(2, { strategy: 'LINEAR', linearConfiguration: { stepPercent: 50, stepBakeTimeInMinutes: 2 }, bakeTimeInMinutes: 3 }, true);
    assert.deepEqual(await f.running(), ['1', '1']);

    await updateService(f.ctx, { cluster: 'c1', service: 'web', taskDefinition: 'web:2' });
    await f.round();
    assert.deepEqual(await f.running(), ['1', '1', '2', '2'], 'green at full count beside blue');
    assert.equal((await f.record()).lifecycleStage, 'SCALE_UP');
    assert.deepEqual(await f.weights(f.prod), [[f.a, 1], [f.b, 0]], 'no traffic to green before it is healthy');

    await f.runPending(f.b);
    await f.round();
    assert.equal((await f.record()).lifecycleStage, 'PRODUCTION_TRAFFIC_SHIFT');
    assert.deepEqual(await f.weights(f.test), [[f.a, 0], [f.b, 1]], 'test traffic on green');
    assert.deepEqual(await f.weights(f.prod), [[f.a, 500], [f.b, 500]], 'first linear step');
    f.advance(60_000);
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.a, 500], [f.b, 500]], 'the step holds for its bake time');
    f.advance(60_000);
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.a, 0], [f.b, 1]]);
    assert.equal((await f.record()).lifecycleStage, 'BAKE_TIME');
    assert.deepEqual(await f.running(), ['1', '1', '2', '2'], 'blue runs through the bake');

    f.advance(3 * 60_000);
    await f.round();
    assert.equal((await f.record()).lifecycleStage, 'CLEAN_UP');
    assert.deepEqual(await f.running(), ['2', '2'], 'blue scaled down');
    await f.reportStopped();
    await f.round();
    await f.round();
    const done = await f.stored();
    assert.equal(done.blueGreen?.progress, undefined);
    assert.equal(done.blueGreen?.liveOnAlternate, true, 'the alternate target group now serves production');
    assert.deepEqual(done.service.deployments.map((d) => [d.status, d.rolloutState]), [['PRIMARY', 'COMPLETED']]);
    assert.equal((await f.record()).status, 'SUCCESSFUL');

    // The next deployment's green goes to the first target group, and a rollback puts traffic back on blue.
    await updateService(f.ctx, { cluster: 'c1', service: 'web', taskDefinition: 'web:3', deploymentConfiguration: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 } } });
    await f.round();
    await f.runPending(f.a);
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.b, 900], [f.a, 100]], 'canary share on the first target group');
    await stopServiceDeployment(f.ctx, { serviceDeploymentArn: (await f.record()).serviceDeploymentArn, stopType: 'ROLLBACK' });
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.b, 1], [f.a, 0]]);
    assert.deepEqual(await f.weights(f.test), [[f.b, 1], [f.a, 0]]);
    assert.deepEqual(await f.running(), ['2', '2'], 'green stopped, blue kept');
    const back = await f.stored();
    assert.deepEqual(back.service.deployments.map((d) => [d.status, d.taskDefinition.split(':').pop()]).slice(0, 1), [['PRIMARY', '2']]);
    assert.equal(back.service.taskDefinition?.split(':').pop(), '2');
    assert.equal((await f.record()).status, 'ROLLBACK_SUCCESSFUL');
    await f.close();
  });

  it('rolls back when a watched CloudWatch alarm goes into ALARM during the bake', async () => {
    const f = await fixture();
    await f.startBlue(1, { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 10, alarms: { alarmNames: ['web-5xx'], enable: true, rollback: true } });
    await putMetricAlarm(f.metrics, { AlarmName: 'web-5xx', MetricName: 'HTTPCode_Target_5XX_Count', Namespace: 'AWS/ApplicationELB', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    await updateService(f.ctx, { cluster: 'c1', service: 'web', taskDefinition: 'web:2' });
    await f.round();
    await f.runPending(f.b);
    await f.round();
    assert.equal((await f.record()).lifecycleStage, 'BAKE_TIME');
    assert.deepEqual(await f.weights(f.prod), [[f.a, 0], [f.b, 1]]);
    f.advance(60_000);
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.a, 0], [f.b, 1]], 'an alarm not in ALARM changes nothing');

    await setAlarmState(f.metrics, { AlarmName: 'web-5xx', StateValue: 'ALARM', StateReason: 'test' });
    await f.round();
    assert.deepEqual(await f.weights(f.prod), [[f.a, 1], [f.b, 0]], 'production back on blue');
    assert.deepEqual(await f.running(), ['1']);
    const r = (await f.record()) as { status: string; statusReason?: string };
    assert.equal(r.status, 'ROLLBACK_SUCCESSFUL');
    assert.equal(r.statusReason, 'CloudWatch alarm(s) in ALARM state: web-5xx.');
    assert.deepEqual((r as unknown as { alarms: unknown }).alarms, { status: 'TRIGGERED', alarmNames: ['web-5xx'], triggeredAlarmNames: ['web-5xx'] });
    await f.close();
  });

  it('the circuit breaker keeps production on blue: failed green tasks end the deployment in a rollback to blue, not in a new deployment', async () => {
    const f = await fixture();
    await f.startBlue(1, { strategy: 'BLUE_GREEN', deploymentCircuitBreaker: { enable: true, rollback: true } });
    await updateService(f.ctx, { cluster: 'c1', service: 'web', taskDefinition: 'web:2' });
    for (let i = 0; i < 10 && (await f.stored()).blueGreen?.progress !== undefined; i++) {
      await f.round();
      await f.failPending();
      f.advance(15 * 60_000);
    }
    const s = await f.stored();
    assert.equal(s.blueGreen?.progress, undefined, 'the deployment ended');
    assert.deepEqual(await f.weights(f.prod), [[f.a, 1], [f.b, 0]], 'production never left blue');
    await f.round();
    assert.deepEqual(await f.running(), ['1'], 'blue kept');
    assert.deepEqual((await f.stored()).service.deployments.map((d) => [d.status, d.rolloutState, d.taskDefinition.split(':').pop()]).slice(0, 1), [['PRIMARY', 'COMPLETED', '1']]);
    const r = (await f.record()) as { status: string; statusReason?: string };
    assert.equal(r.status, 'ROLLBACK_SUCCESSFUL');
    assert.equal(r.statusReason, 'ECS deployment circuit breaker: task failed to start.');
    await f.close();
  });
});

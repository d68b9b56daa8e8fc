// ECS blue/green and canary deployments through ELBv2 listener rules, on the real Docker Engine and HAProxy (`berth up`).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateServiceCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListServiceDeploymentsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { TEST_CREDENTIALS, ecsClient, freePort, spawnUp, tempDir, waitFor, type ServerProcess, tearDown } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
/** A configuration minute lasts this long on the test server (BERTH_DEPLOYMENT_MINUTE_MS). */
const MINUTE_MS = 1000;
/** Test traffic alone reaches green this long before production shifts (BERTH_DEPLOYMENT_TEST_TRAFFIC_MS). */
const TEST_TRAFFIC_MS = 8000;

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/index.html', headers: { connection: 'close' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `status ${res.statusCode}`));
      res.on('error', (e) => resolve(`error ${e.message}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end();
  });
}

describe('ECS blue/green, canary and rollback deployments behind ELBv2 listener rules', { timeout: 1_200_000 }, () => {
  const dir = tempDir('berth-bluegreen-');
  let up: ServerProcess;
  let ecs: ECSClient;
  let elb: ElasticLoadBalancingV2Client;
  let tgA: string;
  let tgB: string;
  let prodPort: number;
  let testPort: number;
  let prodRule: string;
  let testRule: string;

  const service = async () => (await ecs.send(new DescribeServicesCommand({ services: ['bg'] }))).services![0]!;
  const newestDeployment = async () => {
    const arn = (await ecs.send(new ListServiceDeploymentsCommand({ service: 'bg' }))).serviceDeployments![0]!.serviceDeploymentArn!;
    return (await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).serviceDeployments![0]!;
  };
  const runningRevisions = async () => {
    const arns = (await ecs.send(new ListTasksCommand({ serviceName: 'bg', desiredStatus: 'RUNNING' }))).taskArns ?? [];
    if (arns.length === 0) return [];
    const tasks = (await ecs.send(new DescribeTasksCommand({ tasks: arns }))).tasks ?? [];
    return tasks.map((t) => `${t.taskDefinitionArn!.split(':').pop()}:${t.lastStatus}`).sort();
  };
  const weights = async (rule: string) =>
    ((await elb.send(new DescribeRulesCommand({ RuleArns: [rule] }))).Rules![0]!.Actions![0]!.ForwardConfig!.TargetGroups ?? []).map((t) => [t.TargetGroupArn, t.Weight]);
  /** Waits until `port` answers `body` several times in a row. */
  const serves = (port: number, body: string, ms: number) => {
    let streak = 0;
    let last = '';
    return waitFor(
      `port ${port} to serve ${body}`,
      async () => {
        last = await get(port);
        streak = last === body ? streak + 1 : 0;
        return streak >= 5 ? true : undefined;
      },
      ms,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message} (last answer: ${last}); ${await diagnosis()}`);
    });
  };
  /** What a failed wait shows: the deployment's stage, the rules' weights, target health, tasks, the server's last words. */
  const diagnosis = async () => {
    const health = async (tg: string) =>
      ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).map((t) => `${t.Target?.Port}:${t.TargetHealth?.State}`);
    return JSON.stringify({
      stage: (await newestDeployment().catch(() => undefined))?.lifecycleStage,
      prod: await weights(prodRule),
      test: await weights(testRule),
      a: await health(tgA),
      b: await health(tgB),
      tasks: await runningRevisions(),
      events: (await service()).events?.slice(0, 8).map((e) => e.message),
      stderr: up.stderr().slice(-1500),
    });
  };

  before(async () => {
    up = await spawnUp(dir.path, { BERTH_DEPLOYMENT_MINUTE_MS: String(MINUTE_MS), BERTH_DEPLOYMENT_TEST_TRAFFIC_MS: String(TEST_TRAFFIC_MS) }, await freePort());
    ecs = ecsClient(up.url);
    elb = new ElasticLoadBalancingV2Client({ endpoint: up.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    for (const v of ['v1', 'v2', 'v3']) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'bg-web',
          containerDefinitions: [
            { name: 'web', image: IMAGE, memory: 32, command: ['sh', '-c', `echo ${v} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp`], portMappings: [{ containerPort: 8080, hostPort: 0 }], stopTimeout: 1 },
          ],
        }),
      );
    }
    const tg = async (name: string) => {
      const arn = (
        await elb.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 8080, TargetType: 'instance', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2 }))
      ).TargetGroups![0]!.TargetGroupArn!;
      await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '2' }] }));
      return arn;
    };
    tgA = await tg('bg-a');
    tgB = await tg('bg-b');
    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'bg-edge' }))).LoadBalancers![0]!.LoadBalancerArn!;
    const both = [{ Type: 'forward' as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgA, Weight: 1 }, { TargetGroupArn: tgB, Weight: 0 }] } }];
    prodPort = await freePort();
    testPort = await freePort();
    const prodListener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: prodPort, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] }))).Listeners![0]!.ListenerArn!;
    prodRule = (await elb.send(new CreateRuleCommand({ ListenerArn: prodListener, Priority: 10, Conditions: [{ Field: 'path-pattern', Values: ['/*'] }], Actions: both }))).Rules![0]!.RuleArn!;
    const testListener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: testPort, DefaultActions: both }))).Listeners![0]!.ListenerArn!;
    testRule = (await elb.send(new DescribeRulesCommand({ ListenerArn: testListener }))).Rules!.find((r) => r.IsDefault)!.RuleArn!;
  });
  after(() => tearDown({ ecs, clients: [elb], processes: [up], dir }));

  it('refuses blue/green settings ECS refuses: no advancedConfiguration, the same target group twice, a rule that does not forward to both, lifecycle hooks', async () => {
    const create = (lb: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      ecs.send(
        new CreateServiceCommand({
          serviceName: 'refused',
          taskDefinition: 'bg-web:1',
          desiredCount: 1,
          deploymentConfiguration: { strategy: 'BLUE_GREEN', ...extra },
          loadBalancers: [{ targetGroupArn: tgA, containerName: 'web', containerPort: 8080, ...lb }],
        }),
      );
    const refused = (p: Promise<unknown>, message: RegExp) => assert.rejects(p, (err: Error) => err instanceof InvalidParameterException && message.test(err.message));
    await refused(create({}), /advancedConfiguration is required/);
    await refused(create({ advancedConfiguration: { alternateTargetGroupArn: tgA, productionListenerRule: prodRule } }), /must be different/);
    const other = (await elb.send(new CreateTargetGroupCommand({ Name: 'bg-other', Protocol: 'HTTP', Port: 8080, TargetType: 'instance' }))).TargetGroups![0]!.TargetGroupArn!;
    await refused(create({ advancedConfiguration: { alternateTargetGroupArn: other, productionListenerRule: prodRule } }), /must forward to both/);
    await refused(
      create(
        { advancedConfiguration: { alternateTargetGroupArn: tgB, productionListenerRule: prodRule } },
        { lifecycleHooks: [{ hookTargetArn: 'arn:aws:lambda:us-east-1:000000000000:function:check', roleArn: 'arn:aws:iam::000000000000:role/r', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] }] },
      ),
      /lifecycle hooks are not supported/,
    );
  });

  it('BLUE_GREEN: green takes test traffic while production stays blue, then all production traffic with no failed request, and blue stops after the bake', async () => {
    await ecs.send(
      new CreateServiceCommand({
        serviceName: 'bg',
        taskDefinition: 'bg-web:1',
        desiredCount: 1,
        deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 6 },
        loadBalancers: [
          {
            targetGroupArn: tgA,
            containerName: 'web',
            containerPort: 8080,
            advancedConfiguration: { alternateTargetGroupArn: tgB, productionListenerRule: prodRule, testListenerRule: testRule, roleArn: 'arn:aws:iam::000000000000:role/ecsInfrastructure' },
          },
        ],
      }),
    );
    await serves(prodPort, 'v1', 300_000);

    // A load generator on production for the whole deployment.
    const answers = new Map<string, number>();
    let loading = true;
    const load = (async () => {
      while (loading) {
        const a = await get(prodPort);
        answers.set(a, (answers.get(a) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    await ecs.send(new UpdateServiceCommand({ service: 'bg', taskDefinition: 'bg-web:2' }));
    await serves(testPort, 'v2', 300_000);
    assert.equal(await get(prodPort), 'v1', 'production still serves blue while the test listener serves green');
    assert.ok(['TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT'].includes((await newestDeployment()).lifecycleStage ?? ''), (await newestDeployment()).lifecycleStage);
    assert.deepEqual(await runningRevisions(), ['1:RUNNING', '2:RUNNING'], 'blue and green both run at full count');

    await serves(prodPort, 'v2', 60_000);
    const baking = await newestDeployment();
    assert.equal(baking.lifecycleStage, 'BAKE_TIME');
    assert.deepEqual(await weights(prodRule), [
      [tgA, 0],
      [tgB, 1],
    ]);
    assert.deepEqual(await runningRevisions(), ['1:RUNNING', '2:RUNNING'], 'blue keeps running during the bake');

    await waitFor('blue to stop after the bake', async () => ((await runningRevisions()).join() === '2:RUNNING' ? true : undefined), 60_000);
    await waitFor('the deployment to complete', async () => ((await newestDeployment()).status === 'SUCCESSFUL' ? true : undefined), 30_000);
    const s = await service();
    assert.deepEqual(s.deployments!.map((d) => [d.status, d.rolloutState, d.taskDefinition!.split(':').pop()]), [['PRIMARY', 'COMPLETED', '2']]);
    loading = false;
    await load;
    const failed = [...answers].filter(([a]) => a !== 'v1' && a !== 'v2');
    assert.deepEqual(failed, [], `every production request answered: ${JSON.stringify([...answers])}`);
    assert.ok((answers.get('v1') ?? 0) > 0 && (answers.get('v2') ?? 0) > 0, JSON.stringify([...answers]));
  });

  it('CANARY: the production rule carries the canary weights (the target groups swapped roles), and a rollback puts traffic back on blue and stops green', async () => {
    await ecs.send(
      new UpdateServiceCommand({
        service: 'bg',
        taskDefinition: 'bg-web:3',
        deploymentConfiguration: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 20, canaryBakeTimeInMinutes: 120 }, bakeTimeInMinutes: 1 },
      }),
    );
    // Blue now lives in the alternate target group: green goes to the first one.
    await waitFor(
      'the canary weights',
      async () => {
        const w = await weights(prodRule);
        return JSON.stringify(w) === JSON.stringify([[tgB, 800], [tgA, 200]]) ? true : undefined;
      },
      180_000,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await weights(prodRule))}; ${(await newestDeployment()).lifecycleStage}; stderr: ${up.stderr().slice(-1500)}`);
    });
    assert.equal((await newestDeployment()).lifecycleStage, 'PRODUCTION_TRAFFIC_SHIFT');
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(await get(prodPort));
    assert.deepEqual([...seen].sort(), ['v2', 'v3'], 'production traffic is split between blue and the canary');

    const record = await newestDeployment();
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: record.serviceDeploymentArn!, stopType: 'ROLLBACK' }));
    await waitFor(
      'production traffic back on blue',
      async () => (JSON.stringify(await weights(prodRule)) === JSON.stringify([[tgB, 1], [tgA, 0]]) ? true : undefined),
      30_000,
    );
    await serves(prodPort, 'v2', 30_000);
    await serves(testPort, 'v2', 30_000);
    await waitFor('the canary tasks to stop', async () => ((await runningRevisions()).join() === '2:RUNNING' ? true : undefined), 60_000);
    const rolled = (await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [record.serviceDeploymentArn!] }))).serviceDeployments![0]!;
    assert.equal(rolled.status, 'ROLLBACK_SUCCESSFUL');
    assert.equal(rolled.rollback?.reason, 'Service deployment rollback requested.');
    const s = await service();
    assert.equal(s.taskDefinition!.split(':').pop(), '2');
    assert.deepEqual(s.deployments!.map((d) => [d.status, d.taskDefinition!.split(':').pop()]), [['PRIMARY', '2']]);
  });
});

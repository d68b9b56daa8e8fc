// ECS services behind an ELBv2 target group, on the real Docker Engine (`berth up`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateServiceCommand, DescribeServicesCommand, DescribeTasksCommand, InvalidParameterException, ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TEST_CREDENTIALS, ecsClient, freePort, removeTaskContainers, spawnUp, tempDir, waitFor, type ServerProcess, httpGet } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';

const get = (port: number, path: string) => httpGet(port, path);

describe('ECS services registered with ELBv2 target groups', { timeout: 400_000 }, () => {
  const dir = tempDir('berth-lb-services-');
  let up: ServerProcess;
  let ecs: ECSClient;
  let elb: ElasticLoadBalancingV2Client;
  let tgArn: string;
  let listenerPort: number;

  before(async () => {
    up = await spawnUp(dir.path, {}, await freePort());
    ecs = ecsClient(up.url);
    elb = new ElasticLoadBalancingV2Client({ endpoint: up.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'lb-web',
        containerDefinitions: [{ name: 'web', image: IMAGE, memory: 32, command: ['sh', '-c', 'echo hello-from-task > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'], portMappings: [{ containerPort: 8080, hostPort: 0 }], stopTimeout: 1 }],
      }),
    );
    tgArn = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'svc-web', Protocol: 'HTTP', Port: 8080, TargetType: 'instance', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tgArn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  });
  after(async () => {
    const arns: string[] = [];
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) arns.push(...((await ecs.send(new ListTasksCommand({ cluster: 'default', desiredStatus })).catch(() => ({ taskArns: [] }))).taskArns ?? []));
    ecs.destroy();
    elb.destroy();
    await up.kill('SIGTERM');
    await removeTaskContainers(arns);
    dir.remove();
  });

  it('refuses a target group no load balancer uses, and a container port the task definition lacks, as ECS does', async () => {
    await assert.rejects(
      ecs.send(new CreateServiceCommand({ serviceName: 'nolb', taskDefinition: 'lb-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }] })),
      (err: Error) => err instanceof InvalidParameterException && err.message === `The target group with targetGroupArn ${tgArn} does not have an associated load balancer.`,
    );
    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'svc-edge' }))).LoadBalancers![0]!.LoadBalancerArn!;
    listenerPort = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: listenerPort, DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }] }));
    await assert.rejects(
      ecs.send(new CreateServiceCommand({ serviceName: 'badport', taskDefinition: 'lb-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 9999 }] })),
      (err: Error) => err instanceof InvalidParameterException && err.message === 'The container web did not have a container port 9999 defined.',
    );
  });

  it('registers the running task on its host port, serves it through the load balancer, and deregisters it when the service scales in', async () => {
    const created = await ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'lb-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }] }));
    assert.deepEqual(created.service?.loadBalancers, [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }]);
    let seen: unknown;
    const healthy = await waitFor(
      'the task to be a healthy target',
      async () => {
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? [];
        seen = h;
        return h.length === 1 && h[0]!.TargetHealth?.State === 'healthy' ? h[0] : undefined;
      },
      150_000,
    ).catch(async (err: Error) => {
      const tasks = (await ecs.send(new ListTasksCommand({ cluster: 'default' }))).taskArns ?? [];
      const d = tasks.length ? await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks })) : undefined;
      throw new Error(`${err.message}; targets: ${JSON.stringify(seen)}; tasks: ${JSON.stringify(d?.tasks?.map((t) => [t.lastStatus, t.containers?.map((c) => c.networkBindings)]))}; stderr: ${up.stderr().slice(-2000)}`);
    });
    assert.match(healthy.Target?.Id ?? '', /^i-/);
    assert.ok((healthy.Target?.Port ?? 0) >= 1024, 'the dynamic host port Docker bound');
    await waitFor('the listener to reach the task', async () => ((await get(listenerPort, '/index.html')).body === 'hello-from-task\n' ? true : undefined), 30_000);
    const events = async () => ((await ecs.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!.events ?? []).map((e) => e.message ?? '');
    assert.ok((await events()).includes(`(service web) registered 1 targets in (target-group ${tgArn})`), (await events()).join('\n'));

    await ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 0 }));
    await waitFor(
      'the target to be deregistered',
      async () => {
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? [];
        return h.length === 0 || h.every((t) => t.TargetHealth?.State === 'draining') ? true : undefined;
      },
      60_000,
    );
    await waitFor('the deregistration event', async () => ((await events()).includes(`(service web) deregistered 1 targets in (target-group ${tgArn})`) ? true : undefined), 30_000);
  });
});

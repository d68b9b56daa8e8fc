// ECS services behind an ALB through their life, on the real Docker Engine and HAProxy (`berth up`):
// draining before a task stops (across a server restart), rolling deployments without a failed request,
// replacement of tasks that fail ELB health checks, and the health check grace period.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateServiceCommand,
  CreateTaskSetCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  UpdateTaskSetCommand,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';
import { TEST_CREDENTIALS, ecsClient, freePort, spawnUp, tempDir, waitFor, type ServerProcess, httpGet, tearDown, healthCheckedTargetGroup } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const run = promisify(execFile);

const get = (port: number, path: string, host = 'web') => httpGet(port, path, host);

/** Whether Docker runs the task's container now. */
async function containerRunning(task: Task): Promise<boolean> {
  const id = task.containers?.[0]?.runtimeId;
  if (id === undefined) return false;
  const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Running}}', id]).catch(() => ({ stdout: 'false' }));
  return stdout.trim() === 'true';
}

/** A web server task definition answering `body` at / and 200 at /health. */
function webDefinition(family: string, body: string, health = true) {
  const script = `echo ${body} > /tmp/index.html && ${health ? 'echo ok > /tmp/health && ' : ''}exec httpd -f -p 8080 -h /tmp`;
  return new RegisterTaskDefinitionCommand({
    family,
    containerDefinitions: [{ name: 'web', image: IMAGE, memory: 32, command: ['sh', '-c', script], portMappings: [{ containerPort: 8080, hostPort: 0 }], stopTimeout: 1 }],
  });
}

describe('ECS services behind an ALB: draining, rolling deployments, ELB health', { timeout: 900_000 }, () => {
  const dir = tempDir('berth-lb-lifecycle-');
  const port = 0;
  let apiPort: number;
  let up: ServerProcess;
  let ecs: ECSClient;
  let elb: ElasticLoadBalancingV2Client;
  let listenerPort: number;
  let listenerArn: string;

  const connect = async () => {
    up = await spawnUp(dir.path, {}, apiPort);
    ecs = ecsClient(up.url);
    elb = new ElasticLoadBalancingV2Client({ endpoint: up.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  };
  const targetGroup = (name: string, delaySeconds: number) => healthCheckedTargetGroup(elb, { Name: name, Port: 8080, TargetType: 'instance' }, delaySeconds);
  const route = async (host: string, tgArn: string, priority: number) => {
    await elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: priority, Conditions: [{ Field: 'host-header', Values: [host] }], Actions: [{ Type: 'forward', TargetGroupArn: tgArn }] }));
  };
  const tasksOf = async (service: string, desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING'): Promise<Task[]> => {
    const arns = (await ecs.send(new ListTasksCommand({ serviceName: service, desiredStatus }))).taskArns ?? [];
    return arns.length ? ((await ecs.send(new DescribeTasksCommand({ tasks: arns }))).tasks ?? []) : [];
  };
  const describeTask = async (arn: string): Promise<Task> => (await ecs.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks![0]!;
  const events = async (service: string) => ((await ecs.send(new DescribeServicesCommand({ services: [service] }))).services![0]!.events ?? []).map((e) => e.message ?? '');
  const healthyTargets = async (tgArn: string, n: number) =>
    waitFor(
      `${n} healthy targets`,
      async () => {
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? [];
        return h.length === n && h.every((t) => t.TargetHealth?.State === 'healthy') ? h : undefined;
      },
      180_000,
    );

  before(async () => {
    apiPort = port || (await freePort());
    await connect();
    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'lifecycle' }))).LoadBalancers![0]!.LoadBalancerArn!;
    listenerPort = await freePort();
    listenerArn = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: listenerPort, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })))
      .Listeners![0]!.ListenerArn!;
  });
  after(() => tearDown({ ecs, clients: [elb], processes: [up], dir }));

  it('drains a task before its container stops: DEACTIVATING while its target drains, STOPPED after, even across a server restart', async () => {
    const tgArn = await targetGroup('drain', 12);
    await route('drain', tgArn, 10);
    await ecs.send(webDefinition('drain-web', 'drain-v1'));
    await ecs.send(new CreateServiceCommand({ serviceName: 'drain', taskDefinition: 'drain-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }] }));
    await healthyTargets(tgArn, 1);
    const [task] = await tasksOf('drain');
    assert.ok(task?.taskArn);

    await ecs.send(new UpdateServiceCommand({ service: 'drain', desiredCount: 0 }));
    const deactivating = await waitFor('the task to be DEACTIVATING', async () => {
      const t = await describeTask(task.taskArn!);
      return t.lastStatus === 'DEACTIVATING' ? t : undefined;
    });
    assert.equal(deactivating.desiredStatus, 'STOPPED');
    const draining = await waitFor('the target to drain', async () => {
      const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? [];
      return h.length === 1 && h[0]!.TargetHealth?.State === 'draining' ? h : undefined;
    });
    assert.equal(draining[0]!.TargetHealth?.Reason, 'Target.DeregistrationInProgress');
    assert.ok(await containerRunning(deactivating), 'the container runs while its target drains');
    const said = await events('drain');
    assert.ok(said.includes('(service drain) has begun draining connections on 1 tasks.'), said.join('\n'));
    assert.ok(said.includes(`(service drain) deregistered 1 targets in (target-group ${tgArn})`), said.join('\n'));

    // The server dies in the middle of the drain; the next one finishes it, no sooner than the delay.
    await up.kill('SIGKILL');
    await connect();
    assert.equal((await describeTask(task.taskArn!)).lastStatus, 'DEACTIVATING');
    assert.ok(await containerRunning(deactivating), 'the container still runs after the restart');
    const stopped = await waitFor('the task to stop after draining', async () => {
      const t = await describeTask(task.taskArn!);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);
    const drainedFor = stopped.stoppedAt!.getTime() - stopped.stoppingAt!.getTime();
    assert.ok(drainedFor >= 11_000, `stopped ${drainedFor} ms after it began draining; the delay is 12 s`);
    assert.equal(await containerRunning(stopped), false);
  });

  it('rolls a service behind the ALB to a new task definition without a failed request', async (t) => {
    const tgArn = await targetGroup('roll', 3);
    await route('roll', tgArn, 20);
    await ecs.send(webDefinition('roll-web', 'roll-v1'));
    await ecs.send(
      new CreateServiceCommand({
        serviceName: 'roll',
        taskDefinition: 'roll-web:1',
        desiredCount: 2,
        deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
        loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }],
      }),
    );
    await healthyTargets(tgArn, 2);
    await waitFor('the listener to serve v1', async () => ((await get(listenerPort, '/index.html', 'roll')).body === 'roll-v1\n' ? true : undefined));

    // Load: one request at a time, without a pause, until the deployment is done.
    let running = true;
    const answers = new Map<string, number>();
    const load = (async () => {
      while (running) {
        const r = await get(listenerPort, '/index.html', 'roll');
        const key = r.status === 200 ? r.body.trim() : `status ${r.status}`;
        answers.set(key, (answers.get(key) ?? 0) + 1);
      }
    })();
    try {
      await ecs.send(webDefinition('roll-web', 'roll-v2'));
      await ecs.send(new UpdateServiceCommand({ service: 'roll', taskDefinition: 'roll-web:2' }));
      await waitFor(
        'the deployment to complete with the old tasks stopped',
        async () => {
          const s = (await ecs.send(new DescribeServicesCommand({ services: ['roll'] }))).services![0]!;
          const tasks = await tasksOf('roll');
          const done = s.deployments?.length === 1 && s.deployments[0]!.rolloutState === 'COMPLETED' && tasks.length === 2 && tasks.every((t) => t.taskDefinitionArn?.endsWith(':2') && t.lastStatus === 'RUNNING');
          return done ? true : undefined;
        },
        400_000,
      );
      // Requests keep going a little while the last old task is gone.
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      running = false;
      await load;
    }
    const seen = JSON.stringify([...answers]);
    t.diagnostic(`answers during the deployment: ${seen}`);
    assert.deepEqual([...answers.keys()].sort(), ['roll-v1', 'roll-v2'], seen);
    assert.ok((answers.get('roll-v2') ?? 0) > 10, seen);
    const stopped = await tasksOf('roll', 'STOPPED');
    assert.ok(stopped.length >= 2 && stopped.every((t) => t.taskDefinitionArn?.endsWith(':1')), 'the old tasks stopped');
  });

  it('keeps a task failing ELB health checks through the grace period, then replaces it as ECS says', async () => {
    const tgArn = await targetGroup('sick', 1);
    await route('sick', tgArn, 30);
    await ecs.send(webDefinition('sick-web', 'sick', false));
    const grace = 40;
    await ecs.send(
      new CreateServiceCommand({
        serviceName: 'sick',
        taskDefinition: 'sick-web',
        desiredCount: 1,
        healthCheckGracePeriodSeconds: grace,
        loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }],
      }),
    );
    const unhealthy = await waitFor(
      'the target to be unhealthy',
      async () => {
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? [];
        return h.length === 1 && h[0]!.TargetHealth?.State === 'unhealthy' ? h[0] : undefined;
      },
      120_000,
    );
    const [first] = await tasksOf('sick');
    assert.ok(first?.startedAt);
    const unhealthyAfter = Date.now() - first.startedAt.getTime();
    if (unhealthyAfter < (grace - 5) * 1000) {
      // Within the grace period the task is not replaced.
      assert.equal((await describeTask(first.taskArn!)).desiredStatus, 'RUNNING', `unhealthy ${unhealthyAfter} ms after its start`);
    }
    const stopped = await waitFor(
      'the task to be stopped for failing ELB health checks',
      async () => {
        const t = await describeTask(first.taskArn!);
        return t.desiredStatus === 'STOPPED' ? t : undefined;
      },
      180_000,
    );
    assert.equal(stopped.stoppedReason, `Task failed ELB health checks in (target-group ${tgArn})`);
    assert.equal(stopped.stopCode, 'ServiceSchedulerInitiated');
    assert.ok(stopped.stoppingAt!.getTime() - first.startedAt.getTime() >= grace * 1000 - 1000, 'not replaced within the grace period');
    const said = await events('sick');
    const instance = unhealthy.Target!.Id!;
    const port = unhealthy.Target!.Port!;
    assert.ok(
      said.includes(`(service sick) (task ${first.taskArn!.split('/').pop()}) (instance ${instance}) (port ${port}) is unhealthy in (target-group ${tgArn}) due to (reason Health checks failed).`),
      said.join('\n'),
    );
    await waitFor('a replacement task', async () => ((await tasksOf('sick')).some((t) => t.taskArn !== first.taskArn) ? true : undefined), 60_000);
    await ecs.send(new UpdateServiceCommand({ service: 'sick', desiredCount: 0 }));
  });

  it('UpdateService moves a service to another target group and, with an empty list, out of every one; old tasks leave theirs as they stop', async () => {
    const first = await targetGroup('move-1', 2);
    const second = await targetGroup('move-2', 2);
    await route('move-1', first, 40);
    await route('move-2', second, 41);
    await ecs.send(webDefinition('move-web', 'move'));
    await ecs.send(new CreateServiceCommand({ serviceName: 'move', taskDefinition: 'move-web', desiredCount: 1, loadBalancers: [{ targetGroupArn: first, containerName: 'web', containerPort: 8080 }] }));
    await healthyTargets(first, 1);
    const [old] = await tasksOf('move');

    await assert.rejects(
      ecs.send(new UpdateServiceCommand({ service: 'move', loadBalancers: [{ targetGroupArn: second, containerName: 'web', containerPort: 9999 }] })),
      (err: Error) => err instanceof InvalidParameterException && err.message === 'The container web did not have a container port 9999 defined.',
    );
    const updated = await ecs.send(new UpdateServiceCommand({ service: 'move', loadBalancers: [{ targetGroupArn: second, containerName: 'web', containerPort: 8080 }] }));
    assert.deepEqual(updated.service?.loadBalancers, [{ targetGroupArn: second, containerName: 'web', containerPort: 8080 }]);
    assert.equal(updated.service?.deployments?.length, 2, 'a new deployment');
    await healthyTargets(second, 1);
    await waitFor('the old task to leave the first target group', async () => ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: first }))).TargetHealthDescriptions ?? []).length === 0 ? true : undefined, 120_000);
    assert.equal((await describeTask(old!.taskArn!)).desiredStatus, 'STOPPED');
    const said = await events('move');
    assert.ok(said.includes(`(service move) deregistered 1 targets in (target-group ${first})`), said.join('\n'));
    assert.ok(said.includes(`(service move) registered 1 targets in (target-group ${second})`), said.join('\n'));

    const removed = await ecs.send(new UpdateServiceCommand({ service: 'move', loadBalancers: [] }));
    assert.deepEqual(removed.service?.loadBalancers, []);
    await waitFor(
      'a task in no target group, and none left in the second',
      async () => {
        const s = (await ecs.send(new DescribeServicesCommand({ services: ['move'] }))).services![0]!;
        const h = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: second }))).TargetHealthDescriptions ?? [];
        const tasks = await tasksOf('move');
        return s.deployments?.length === 1 && s.deployments[0]!.rolloutState === 'COMPLETED' && h.length === 0 && tasks.length === 1 && tasks[0]!.lastStatus === 'RUNNING' ? true : undefined;
      },
      180_000,
    );
    await ecs.send(new UpdateServiceCommand({ service: 'move', desiredCount: 0 }));
  });

  it('registers the tasks of a task set with its target group, and follows its scale', async () => {
    const tgArn = await targetGroup('set', 1);
    await route('set', tgArn, 50);
    await ecs.send(webDefinition('set-web', 'set'));
    await ecs.send(new CreateServiceCommand({ serviceName: 'ext', desiredCount: 2, deploymentController: { type: 'EXTERNAL' } }));
    await assert.rejects(
      ecs.send(new UpdateServiceCommand({ service: 'ext', loadBalancers: [{ targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 }] })),
      (err: Error) => err instanceof InvalidParameterException && err.message === 'LoadBalancers must be blank',
    );
    const lb = { targetGroupArn: tgArn, containerName: 'web', containerPort: 8080 };
    await assert.rejects(ecs.send(new CreateTaskSetCommand({ service: 'ext', cluster: 'default', taskDefinition: 'set-web', loadBalancers: [lb, lb] })), InvalidParameterException);
    const ts = (await ecs.send(new CreateTaskSetCommand({ service: 'ext', cluster: 'default', taskDefinition: 'set-web', loadBalancers: [lb], scale: { value: 100, unit: 'PERCENT' } }))).taskSet!;
    assert.deepEqual(ts.loadBalancers, [lb]);
    await healthyTargets(tgArn, 2);
    await waitFor('the listener to serve the task set', async () => ((await get(listenerPort, '/index.html', 'set')).body === 'set\n' ? true : undefined));
    const said = await events('ext');
    assert.ok(said.includes(`(service ext, taskSet ${ts.id}) registered 1 targets in (target-group ${tgArn})`), said.join('\n'));

    await ecs.send(new UpdateTaskSetCommand({ service: 'ext', cluster: 'default', taskSet: ts.taskSetArn!, scale: { value: 50, unit: 'PERCENT' } }));
    await waitFor('one target left', async () => ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions ?? []).length === 1 ? true : undefined, 120_000);
    assert.equal((await tasksOf('ext')).length, 1);
    await ecs.send(new UpdateServiceCommand({ service: 'ext', desiredCount: 0 }));
  });
});

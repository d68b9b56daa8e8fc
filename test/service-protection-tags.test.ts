// Task scale-in protection and tags on services, end to end: a Berth server,
// a real `berth agent` on the Docker Engine, and the AWS SDK as the user.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  GetTaskProtectionCommand,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  ListContainerInstancesCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  UpdateTaskProtectionCommand,
  waitUntilServicesStable,
  type ECSClient,
  type Tag,
} from '@aws-sdk/client-ecs';
import { freePort, spawnAgent, spawnServer, tempDir, ecsClient, waitFor, type AgentProcess, type ServerProcess, tearDown } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'svc-extras';


const sortTags = (tags: readonly Tag[] | undefined) => [...(tags ?? [])].sort((a, b) => (a.key ?? '').localeCompare(b.key ?? ''));

describe('task scale-in protection and service tags on the real Docker Engine', { timeout: 300_000 }, () => {
  const dir = tempDir('berth-svc-extras-');
  let server: ServerProcess;
  let agent: AgentProcess | undefined;
  let ecs: ECSClient;

  const running = async (serviceName: string) =>
    ((await ecs.send(new ListTasksCommand({ cluster: CLUSTER, serviceName, desiredStatus: 'RUNNING' }))).taskArns ?? []).sort();
  const stable = (name: string) => waitUntilServicesStable({ client: ecs, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { cluster: CLUSTER, services: [name] });

  before(async () => {
    server = await spawnServer(join(dir.path, 'server'), [], {}, await freePort());
    ecs = ecsClient(server.url);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: CLUSTER, taskCleanupWait: '30s' });
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'extras-sleep',
        containerDefinitions: [{ name: 'app', image: IMAGE, memory: 16, command: ['sleep', '3600'], stopTimeout: 1 }],
        tags: [{ key: 'team', value: 'platform' }],
      }),
    );
  });

  after(() => tearDown({ ecs, cluster: CLUSTER, processes: [agent, server], dir }));

  it('keeps protected tasks running when a service of 3 is scaled in to 1, and scales in once protection is removed', async () => {
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'guarded', taskDefinition: 'extras-sleep', desiredCount: 3 }));
    assert.equal((await stable('guarded')).state, 'SUCCESS');
    const tasks = await running('guarded');
    assert.equal(tasks.length, 3);
    const [a, b, c] = tasks as [string, string, string];

    const set = await ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [a, b], protectionEnabled: true, expiresInMinutes: 30 }));
    assert.deepEqual(set.failures, []);
    assert.deepEqual(set.protectedTasks?.map((p) => [p.taskArn, p.protectionEnabled]), [[a, true], [b, true]]);
    const expires = set.protectedTasks![0]!.expirationDate!.getTime();
    assert.ok(Math.abs(expires - (Date.now() + 30 * 60_000)) < 60_000, `expires in 30 minutes: ${new Date(expires).toISOString()}`);
    const got = await ecs.send(new GetTaskProtectionCommand({ cluster: CLUSTER, tasks: [a, c] }));
    assert.deepEqual(got.protectedTasks?.map((p) => [p.taskArn, p.protectionEnabled, p.expirationDate?.getTime()]), [
      [a, true, expires],
      [c, false, undefined],
    ]);

    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'guarded', desiredCount: 1 }));
    await waitFor('the unprotected task to stop', async () => ((await running('guarded')).includes(c) ? undefined : true));
    const stopped = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [c] }))).tasks![0]!;
    assert.equal(stopped.stopCode, 'ServiceSchedulerInitiated');
    // The protected tasks stay, though the service wants one: give the controller time to act wrongly.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await running('guarded'), [a, b].sort());
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['guarded'] }))).services![0]!;
    assert.deepEqual([s.desiredCount, s.runningCount], [1, 2]);

    await ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [b], protectionEnabled: false }));
    await waitFor('scale-in of the task no longer protected', async () => {
      const left = await running('guarded');
      return left.length === 1 ? left : undefined;
    });
    assert.deepEqual(await running('guarded'), [a], 'the task still protected is the one kept');
    assert.equal((await stable('guarded')).state, 'SUCCESS');
  });

  it('answers per-task failures for tasks outside a service and tasks it does not hold', async () => {
    const standalone = (await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'extras-sleep' }))).tasks![0]!.taskArn!;
    const ghost = `${standalone.slice(0, standalone.lastIndexOf('/'))}/0123456789abcdef0123456789abcdef`;
    const out = await ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [standalone, ghost], protectionEnabled: true }));
    assert.deepEqual(out.protectedTasks, []);
    assert.deepEqual(out.failures?.map((f) => [f.arn, f.reason]), [
      [standalone, 'TASK_NOT_VALID'],
      [ghost, 'MISSING'],
    ]);
    await assert.rejects(
      ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [standalone], protectionEnabled: true, expiresInMinutes: 2881 })),
      { name: 'InvalidParameterException' },
    );
  });

  it('tags a service, shows its tags in DescribeServices, and propagates service or task definition tags and ECS managed tags to its tasks', async () => {
    const created = await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: 'tagged',
        taskDefinition: 'extras-sleep',
        desiredCount: 0,
        tags: [{ key: 'env', value: 'test' }],
        propagateTags: 'SERVICE',
        enableECSManagedTags: true,
      }),
    );
    const serviceArn = created.service!.serviceArn!;
    await ecs.send(new TagResourceCommand({ resourceArn: serviceArn, tags: [{ key: 'owner', value: 'ops' }, { key: 'tmp', value: 'x' }] }));
    await ecs.send(new UntagResourceCommand({ resourceArn: serviceArn, tagKeys: ['tmp'] }));
    const serviceTags = [{ key: 'env', value: 'test' }, { key: 'owner', value: 'ops' }];
    assert.deepEqual(sortTags((await ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArn }))).tags), serviceTags);
    const described = await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['tagged'], include: ['TAGS'] }));
    assert.deepEqual(sortTags(described.services![0]!.tags), serviceTags);
    const plain = await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['tagged'] }));
    assert.equal(plain.services![0]!.tags, undefined, 'tags only when asked for');

    // Tasks take the service's tags as they are when the task starts (as on ECS).
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'tagged', desiredCount: 1 }));
    assert.equal((await stable('tagged')).state, 'SUCCESS');
    const [taskArn] = await running('tagged');
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn!], include: ['TAGS'] }))).tasks![0]!;
    assert.deepEqual(sortTags(task.tags), [
      { key: 'aws:ecs:clusterName', value: CLUSTER },
      { key: 'aws:ecs:serviceName', value: 'tagged' },
      ...serviceTags,
    ]);

    // Tags on a task itself.
    await ecs.send(new TagResourceCommand({ resourceArn: taskArn!, tags: [{ key: 'debug', value: 'on' }] }));
    assert.ok((await ecs.send(new ListTagsForResourceCommand({ resourceArn: taskArn! }))).tags?.some((t) => t.key === 'debug' && t.value === 'on'));

    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'from-definition', taskDefinition: 'extras-sleep', desiredCount: 1, propagateTags: 'TASK_DEFINITION' }));
    assert.equal((await stable('from-definition')).state, 'SUCCESS');
    const [other] = await running('from-definition');
    const otherTask = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [other!], include: ['TAGS'] }))).tasks![0]!;
    assert.deepEqual(otherTask.tags, [{ key: 'team', value: 'platform' }]);
  });
  it('tags standalone tasks from their task definition and with the ECS managed cluster tag, and refuses SERVICE for RunTask', async () => {
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: CLUSTER,
        taskDefinition: 'extras-sleep',
        tags: [{ key: 'job', value: 'nightly' }],
        propagateTags: 'TASK_DEFINITION',
        enableECSManagedTags: true,
      }),
    );
    assert.deepEqual(run.failures, []);
    const taskArn = run.tasks![0]!.taskArn!;
    const described = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn], include: ['TAGS'] }))).tasks![0]!;
    const expected = [{ key: 'aws:ecs:clusterName', value: CLUSTER }, { key: 'job', value: 'nightly' }, { key: 'team', value: 'platform' }];
    assert.deepEqual(sortTags(described.tags), expected);
    assert.deepEqual(sortTags((await ecs.send(new ListTagsForResourceCommand({ resourceArn: taskArn }))).tags), expected);

    const plain = (await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'extras-sleep' }))).tasks![0]!;
    assert.deepEqual((await ecs.send(new ListTagsForResourceCommand({ resourceArn: plain.taskArn! }))).tags, [], 'nothing propagated unless asked');

    const [instance] = (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }))).containerInstanceArns!;
    const started = await ecs.send(
      new StartTaskCommand({ cluster: CLUSTER, taskDefinition: 'extras-sleep', containerInstances: [instance!], propagateTags: 'TASK_DEFINITION', enableECSManagedTags: true }),
    );
    assert.deepEqual(sortTags((await ecs.send(new ListTagsForResourceCommand({ resourceArn: started.tasks![0]!.taskArn! }))).tags), [
      { key: 'aws:ecs:clusterName', value: CLUSTER },
      { key: 'team', value: 'platform' },
    ]);

    await assert.rejects(ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'extras-sleep', propagateTags: 'SERVICE' })), (err: Error) => {
      assert.equal(err.name, 'InvalidParameterException');
      assert.match(err.message, /SERVICE value for propagateTags is only supported for tasks that belong to a service/);
      return true;
    });
  });

  it('keeps a protected task of the older deployment through a rolling deployment until its protection is removed', async () => {
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'rolling', taskDefinition: 'extras-sleep', desiredCount: 2 }));
    assert.equal((await stable('rolling')).state, 'SUCCESS');
    const [kept, other] = (await running('rolling')) as [string, string];
    await ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [kept], protectionEnabled: true, expiresInMinutes: 30 }));
    const next = await ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'extras-sleep', containerDefinitions: [{ name: 'app', image: IMAGE, memory: 24, command: ['sleep', '3600'], stopTimeout: 1 }] }),
    );
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'rolling', taskDefinition: next.taskDefinition!.taskDefinitionArn! }));
    await waitFor('the unprotected old task to be replaced', async () => ((await running('rolling')).includes(other) ? undefined : true), 90_000);
    const service = async () => (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['rolling'] }))).services![0]!;
    const held = await waitFor(
      'the deployment to wait for the protected task',
      async () => {
        const s = await service();
        return s.events?.some((e) => e.message === '(service rolling) was unable to scale in due to (reason: 1 tasks under protection).') && s.deployments?.[0]?.runningCount === 2 ? s : undefined;
      },
      90_000,
    );
    assert.ok((await running('rolling')).includes(kept), 'the protected task of the older deployment still runs');
    assert.deepEqual(held.deployments?.map((d) => [d.status, d.rolloutState]), [
      ['PRIMARY', 'IN_PROGRESS'],
      ['ACTIVE', 'COMPLETED'],
    ]);

    await ecs.send(new UpdateTaskProtectionCommand({ cluster: CLUSTER, tasks: [kept], protectionEnabled: false }));
    assert.equal((await stable('rolling')).state, 'SUCCESS');
    assert.ok(!(await running('rolling')).includes(kept), 'stopped once unprotected');
    assert.deepEqual((await service()).deployments?.map((d) => [d.status, d.rolloutState]), [['PRIMARY', 'COMPLETED']]);
  });
});

// Task sets of a service with the EXTERNAL deployment controller, end to end:
// a Berth server, a real `berth agent` on the Docker Engine, and the AWS SDK
// as the external deployment controller would drive it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  CreateTaskSetCommand,
  DeleteServiceCommand,
  DeleteTaskSetCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  DescribeTaskSetsCommand,
  ListTagsForResourceCommand,
  ListTasksCommand,
  TagResourceCommand,
  RegisterTaskDefinitionCommand,
  UpdateServicePrimaryTaskSetCommand,
  UpdateTaskSetCommand,
  type ECSClient,
  type TaskSet,
} from '@aws-sdk/client-ecs';
import { ecsClient, freePort, spawnAgent, spawnServer, tempDir, waitFor, type AgentProcess, type ServerProcess, tearDown } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'task-sets';
const SERVICE = 'checkout';

describe('task sets of an EXTERNAL service on the real Docker Engine', { timeout: 420_000 }, () => {
  const dir = tempDir('berth-task-sets-');
  let server: ServerProcess;
  let agent: AgentProcess | undefined;
  let ecs: ECSClient;
  let blueDef = '';
  let greenDef = '';

  const taskSets = async () => (await ecs.send(new DescribeTaskSetsCommand({ cluster: CLUSTER, service: SERVICE }))).taskSets ?? [];
  const byId = async (id: string) => (await taskSets()).find((t) => t.id === id);
  const running = async () => (await ecs.send(new ListTasksCommand({ cluster: CLUSTER, serviceName: SERVICE, desiredStatus: 'RUNNING' }))).taskArns ?? [];
  /** What a user watches: each task set's counts and stability, once the wanted shape shows. */
  const settle = (what: string, want: Record<string, [number, number, string]>) =>
    waitFor(
      what,
      async () => {
        const sets = await taskSets();
        const shape = Object.fromEntries(sets.map((t) => [t.id!, [t.computedDesiredCount!, t.runningCount!, t.stabilityStatus!] as [number, number, string]]));
        return JSON.stringify(shape) === JSON.stringify(want) && (await running()).length === Object.values(want).reduce((n, [c]) => n + c, 0) ? sets : undefined;
      },
      150_000,
    );

  before(async () => {
    server = await spawnServer(join(dir.path, 'server'), [], {}, await freePort());
    ecs = ecsClient(server.url);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: CLUSTER, taskCleanupWait: '30s' });
    const def = (memory: number) =>
      ecs.send(new RegisterTaskDefinitionCommand({ family: 'checkout', containerDefinitions: [{ name: 'app', image: IMAGE, memory, command: ['sleep', '3600'], stopTimeout: 1 }] }));
    blueDef = (await def(16)).taskDefinition!.taskDefinitionArn!;
    greenDef = (await def(24)).taskDefinition!.taskDefinitionArn!;
  });

  after(() => tearDown({ ecs, cluster: CLUSTER, processes: [agent, server], dir }));

  it('runs two task sets at 100% and 0%, shifts them, switches the primary and deletes the old one', async () => {
    const created = await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: SERVICE, desiredCount: 2, deploymentController: { type: 'EXTERNAL' } }));
    assert.equal(created.service?.taskDefinition, undefined);
    assert.deepEqual([created.service?.deployments, created.service?.taskSets, created.service?.desiredCount], [[], [], 2]);
    await assert.rejects(ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'bad', desiredCount: 1, taskDefinition: blueDef, deploymentController: { type: 'EXTERNAL' } })), {
      name: 'InvalidParameterException',
      message: 'TaskDefinition must be blank',
    });

    const blue = (await ecs.send(new CreateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskDefinition: blueDef, externalId: 'blue', scale: { value: 100, unit: 'PERCENT' } }))).taskSet!;
    const green = (
      await ecs.send(
        new CreateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskDefinition: greenDef, externalId: 'green', scale: { value: 0, unit: 'PERCENT' }, tags: [{ key: 'color', value: 'green' }] }),
      )
    ).taskSet!;
    assert.match(blue.taskSetArn!, new RegExp(`:task-set/${CLUSTER}/${SERVICE}/ecs-svc/\\d{19}$`));
    assert.deepEqual([blue.computedDesiredCount, green.computedDesiredCount, blue.status, green.status], [2, 0, 'ACTIVE', 'ACTIVE']);
    await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: CLUSTER, service: SERVICE, primaryTaskSet: blue.id! }));

    await settle('blue at 2 tasks, steady', { [green.id!]: [0, 0, 'STEADY_STATE'], [blue.id!]: [2, 2, 'STEADY_STATE'] });
    const tasks = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: await running() }))).tasks ?? [];
    assert.deepEqual(tasks.map((t) => [t.startedBy, t.taskDefinitionArn, t.lastStatus]), [
      [blue.id, blueDef, 'RUNNING'],
      [blue.id, blueDef, 'RUNNING'],
    ]);
    const byStartedBy = await ecs.send(new ListTasksCommand({ cluster: CLUSTER, startedBy: blue.id! }));
    assert.equal(byStartedBy.taskArns?.length, 2, 'ListTasks finds a task set\'s tasks by startedBy');
    let service = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }))).services![0]!;
    assert.equal(service.taskDefinition, blueDef, 'the service shows its primary task set');
    assert.deepEqual([service.runningCount, service.deployments, service.taskSets?.map((t) => t.status)], [2, [], ['ACTIVE', 'PRIMARY']]);

    // Green up to 50% (1 task of 2); a stability change is stamped.
    const before = (await byId(green.id!))!.stabilityStatusAt!.getTime();
    const scaled = (await ecs.send(new UpdateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: green.taskSetArn!, scale: { value: 50, unit: 'PERCENT' } }))).taskSet!;
    assert.equal(scaled.computedDesiredCount, 1);
    await assert.rejects(
      ecs.send(new UpdateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: green.id!, scale: { value: 50, unit: 'COUNT' as 'PERCENT' } })),
      (err: Error) => err.name === 'InvalidParameterException' && /Member must satisfy enum value set: \[PERCENT\]/.test(err.message),
    );
    const stabilizing = await waitFor('green to stabilize', async () => {
      const g = await byId(green.id!);
      return g?.stabilityStatus === 'STABILIZING' || g?.runningCount === 1 ? g : undefined;
    });
    assert.ok(stabilizing.stabilityStatusAt!.getTime() >= before);
    await settle('green at 1 task beside blue', { [green.id!]: [1, 1, 'STEADY_STATE'], [blue.id!]: [2, 2, 'STEADY_STATE'] });

    // Cut over: green to 100% and primary, blue to 0%, then delete blue.
    await ecs.send(new UpdateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: green.id!, scale: { value: 100, unit: 'PERCENT' } }));
    const primary = (await ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster: CLUSTER, service: SERVICE, primaryTaskSet: green.taskSetArn! }))).taskSet!;
    assert.equal(primary.status, 'PRIMARY');
    await ecs.send(new UpdateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: blue.id!, scale: { value: 0, unit: 'PERCENT' } }));
    await settle('green at 2 tasks and blue at none', { [green.id!]: [2, 2, 'STEADY_STATE'], [blue.id!]: [0, 0, 'STEADY_STATE'] });
    service = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }))).services![0]!;
    assert.equal(service.taskDefinition, greenDef);
    assert.deepEqual(service.taskSets?.map((t: TaskSet) => [t.id, t.status]), [
      [green.id, 'PRIMARY'],
      [blue.id, 'ACTIVE'],
    ]);

    const deleted = (await ecs.send(new DeleteTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: blue.id! }))).taskSet!;
    assert.equal(deleted.status, 'DRAINING');
    await waitFor('the deleted task set to go', async () => ((await taskSets()).length === 1 ? true : undefined));
    const tagged = await ecs.send(new DescribeTaskSetsCommand({ cluster: CLUSTER, service: SERVICE, taskSets: [green.id!, blue.id!], include: ['TAGS'] }));
    assert.deepEqual(tagged.taskSets?.map((t) => [t.id, t.tags]), [[green.id, [{ key: 'color', value: 'green' }]]]);
    await ecs.send(new TagResourceCommand({ resourceArn: green.taskSetArn!, tags: [{ key: 'release', value: '2' }] }));
    assert.deepEqual((await ecs.send(new ListTagsForResourceCommand({ resourceArn: green.taskSetArn! }))).tags, [
      { key: 'color', value: 'green' },
      { key: 'release', value: '2' },
    ]);
    assert.deepEqual(tagged.failures?.map((f) => [f.arn, f.reason]), [[blue.taskSetArn, 'MISSING']]);
    await assert.rejects(ecs.send(new UpdateTaskSetCommand({ cluster: CLUSTER, service: SERVICE, taskSet: blue.id!, scale: { value: 10, unit: 'PERCENT' } })), {
      name: 'TaskSetNotFoundException',
    });

    // Deleting the service stops the last task set's tasks.
    await ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: SERVICE, force: true }));
    await waitFor('the service to be INACTIVE', async () => {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [SERVICE] }))).services?.[0];
      return s?.status === 'INACTIVE' ? s : undefined;
    }, 90_000);
    assert.deepEqual(await running(), []);
  });
});

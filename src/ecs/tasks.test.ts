import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import type { Change, Row } from '../store/store.js';
import { AwsError } from '../core/errors.js';
import { createCluster, deleteCluster, describeClusters, listClusters } from './clusters.js';
import {
  deregisterContainerInstance,
  describeContainerInstances,
  listContainerInstances,
  registerContainerInstance,
  type ContainerInstanceDoc,
} from './containerInstances.js';
import { instanceFilter } from './instanceQuery.js';
import { closeReadModels, createReadModels, type DomainContext } from './context.js';
import { deleteTaskDefinitions, deregisterTaskDefinition, registerTaskDefinition, requireTaskDefinition } from './taskDefinitions.js';
import {
  describeTasks,
  listTasks,
  purgeDeletedTaskDefinitions,
  runTask,
  startTask,
  stopTask,
  submitTaskStateChange,
  taskDefinitionOf,
  tasksForInstance,
  tasksToSend,
  type StoredTask,
  type TaskDoc,
} from './tasks.js';

const HOUR = 60 * 60 * 1000;

async function fixture(opts: { withCaches?: boolean } = {}) {
  const store = await openSqliteStore({ path: ':memory:' });
  const ctx: DomainContext = {
    store,
    region: 'us-east-1',
    accountId: '000000000000',
    now: Date.now,
    state: createReadModels(store, { plain: opts.withCaches !== true }),
  };
  const { cluster } = (await createCluster(ctx, { clusterName: 'c1' })) as { cluster: { clusterArn: string } };
  const td = (await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 256 }] })).taskDefinition;
  const instances: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await registerContainerInstance(ctx, {
      cluster: 'c1',
      instanceIdentityDocument: JSON.stringify({ instanceId: `i-0000000${i}`, availabilityZone: 'us-east-1a' }),
      totalResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: 4096 },
        { name: 'MEMORY', type: 'INTEGER', integerValue: 8192 },
      ],
    });
    const arn = r.containerInstance.containerInstanceArn;
    await store.transaction(async (tx) => {
      const row = (await tx.get<ContainerInstanceDoc>('containerInstance', arn))!;
      await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: true } });
    });
    instances.push(arn);
  }
  const close = async () => {
    closeReadModels(ctx.state);
    await store.close();
  };
  return { store, ctx, clusterArn: cluster.clusterArn, td, instances, close };
}

const remaining = (row: Row<ContainerInstanceDoc>, name: string) => row.doc.remainingResources.find((r) => r.name === name)?.integerValue;

describe('RunTask writes', () => {
  for (const withCaches of [false, true]) {
    it(`updates each chosen instance once and inserts every task in one go (${withCaches ? 'with' : 'without'} caches)`, async () => {
      const f = await fixture({ withCaches });
      const changes: Change[] = [];
      f.store.watch((c) => changes.push(...c));
      const out = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', count: 10, placementStrategy: [{ type: 'spread', field: 'instanceId' }] });
      assert.equal(out.tasks.length, 10);
      assert.deepEqual(
        changes.filter((c) => c.kind === 'containerInstance').map((c) => c.arn).sort(),
        [...f.instances].sort(),
        'one update per instance',
      );
      assert.equal(changes.filter((c) => c.kind === 'task' && c.op === 'insert').length, 10);
      for (const arn of f.instances) {
        const row = (await f.store.get<ContainerInstanceDoc>('containerInstance', arn))!;
        const placed = out.tasks.filter((t) => t.containerInstanceArn === arn).length;
        assert.equal(placed, 5);
        assert.equal(remaining(row, 'CPU'), 4096 - placed * 128);
        assert.equal(remaining(row, 'MEMORY'), 8192 - placed * 256);
        assert.equal(row.doc.pendingTasksCount, placed);
      }
      await f.close();
    });
  }

  it('stores a reference to the task definition, not a copy, and resolves it for the agent', async () => {
    const f = await fixture({ withCaches: true });
    const { tasks } = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' });
    const row = (await f.store.get<StoredTask>('task', tasks[0]!.taskArn))!;
    assert.equal(row.doc.taskDefinition, undefined);
    assert.equal(row.doc.task.taskDefinitionArn, f.td.taskDefinitionArn);
    const wanted = await tasksForInstance(f.ctx, f.clusterArn, tasks[0]!.containerInstanceArn!);
    assert.deepEqual(wanted.map((w) => [w.stored.task.taskArn, w.taskDefinition.taskDefinitionArn]), [[tasks[0]!.taskArn, f.td.taskDefinitionArn]]);
    // Rows written before tasks named their definition carry a copy, which is read instead.
    const legacy = { ...row.doc, taskDefinition: { ...f.td, family: 'copied' } };
    assert.equal((await taskDefinitionOf(f.ctx, f.store, legacy)).family, 'copied');
    await f.close();
  });

  it('keeps a deleted task definition while a task runs it, then purges it', async () => {
    const f = await fixture({ withCaches: true });
    const { tasks } = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' });
    await deregisterTaskDefinition(f.ctx, { taskDefinition: 'web:1' });
    await assert.rejects(requireTaskDefinition(f.ctx, f.store, 'web'), /Unable to describe task definition/, 'the cache follows deregistration');
    await deleteTaskDefinitions(f.ctx, { taskDefinitions: ['web:1'] });
    assert.equal(await purgeDeletedTaskDefinitions(f.ctx, Date.now() + HOUR), 0);
    const wanted = await tasksForInstance(f.ctx, f.clusterArn, tasks[0]!.containerInstanceArn!);
    assert.equal(wanted[0]!.taskDefinition.status, 'DELETE_IN_PROGRESS', 'the definition as committed now');
    assert.equal(await purgeDeletedTaskDefinitions(f.ctx, Date.now() - HOUR), 0, 'not due yet');
    await stopTask(f.ctx, { cluster: 'c1', task: tasks[0]!.taskArn });
    assert.equal(await purgeDeletedTaskDefinitions(f.ctx, Date.now() + HOUR), 1);
    assert.equal(await f.store.get('taskDefinition', f.td.taskDefinitionArn), undefined);
    await f.close();
  });
});

describe('RunTask overrides and tie-breaking', () => {
  it('shows and hands the agent the overridden task and container sizes, and reserves them', async () => {
    const f = await fixture();
    const out = await runTask(f.ctx, {
      cluster: 'c1',
      taskDefinition: 'web',
      overrides: { cpu: '1024', memory: '2048', containerOverrides: [{ name: 'web', cpu: 512, memory: 1024 }] },
    });
    const task = out.tasks[0]!;
    assert.equal(task.cpu, '1024');
    assert.equal(task.memory, '2048');
    assert.deepEqual([task.containers[0]!.cpu, task.containers[0]!.memory], ['512', '1024']);
    const pushed = (await tasksForInstance(f.ctx, f.clusterArn, task.containerInstanceArn!))[0]!;
    assert.equal(pushed.stored.task.memory, '2048', 'the agent bounds the task by the overridden size');
    const row = (await f.store.get<ContainerInstanceDoc>('containerInstance', task.containerInstanceArn!))!;
    assert.equal(remaining(row, 'MEMORY'), 8192 - 2048);
    await f.close();
  });

  it('breaks ties the same way on every call unless the strategy is random', async () => {
    const f = await fixture();
    const chosen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const out = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', placementStrategy: [{ type: 'binpack', field: 'memory' }] });
      chosen.add(out.tasks[0]!.containerInstanceArn!);
      await stopTask(f.ctx, { cluster: 'c1', task: out.tasks[0]!.taskArn! });
    }
    // Both instances are equal once the previous task has released its resources: always the same one wins.
    assert.equal(chosen.size, 1);
    await f.close();
  });
});

describe('ListContainerInstances filter on task state', () => {
  it('selects instances by task:group and counts only RUNNING tasks in runningTasksCount', async () => {
    const f = await fixture();
    const out = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', group: 'service:api', placementStrategy: [{ type: 'binpack', field: 'memory' }] });
    const holder = out.tasks[0]!.containerInstanceArn!;
    const list = async (expression: string) =>
      (await listContainerInstances(f.ctx, { cluster: 'c1' }, await instanceFilter(f.ctx, 'c1', expression))).containerInstanceArns;
    assert.deepEqual(await list('task:group == service:api'), [holder]);
    assert.deepEqual(await list('task:group =~ service:.*'), [holder]);
    assert.deepEqual(await list('not(task:group == service:api)'), f.instances.filter((a) => a !== holder));
    assert.deepEqual(await list('runningTasksCount > 0'), [], 'the task is not RUNNING yet');
    await assert.rejects(list('task:group == '), /InvalidParameterException|expected/i);
    await f.close();
  });
});

describe('stop codes of tasks agents stop on their own', () => {
  it('takes the stop code the agent reports as a field, never from the reason text', async () => {
    const f = await fixture();
    const cases: [string, Record<string, unknown>, string][] = [
      ['Essential container in task exited', { berthStopCode: 'EssentialContainerExited' }, 'EssentialContainerExited'],
      ['CannotPullContainerError: pull access denied', { berthStopCode: 'TaskFailedToStart' }, 'TaskFailedToStart'],
      // A reason that reads like an essential exit does not decide the code: the field does.
      ['Essential container in task exited (while starting)', { berthStopCode: 'TaskFailedToStart' }, 'TaskFailedToStart'],
      // Without the field (another agent), the containers decide: an essential container that exited with a code...
      ['Essential container in task exited', { containers: [{ containerName: 'web', status: 'STOPPED', exitCode: 3 }] }, 'EssentialContainerExited'],
      // ...and otherwise the task failed to start.
      ["CannotInspectContainerError: No such container: 1234", { containers: [{ containerName: 'web', status: 'STOPPED' }] }, 'TaskFailedToStart'],
    ];
    for (const [reason, extra, stopCode] of cases) {
      const task = (await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' })).tasks[0]!;
      await submitTaskStateChange(f.ctx, { cluster: 'c1', task: task.taskArn, status: 'STOPPED', reason, ...extra });
      const [described] = (await describeTasks(f.ctx, { cluster: 'c1', tasks: [task.taskArn] })).tasks as TaskDoc[];
      assert.deepEqual([described!.stopCode, described!.stoppedReason, described!.lastStatus], [stopCode, reason, 'STOPPED'], reason);
    }
    await f.close();
  });
});

describe('StartTask', () => {
  it('places on the named instances only, counting a task it just started there', async () => {
    const f = await fixture();
    const big = { containerOverrides: [{ name: 'web', memory: 5000 }] };
    const out = await startTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', overrides: big, containerInstances: [f.instances[0]!, f.instances[0]!, 'no-such-instance'] });
    assert.equal(out.tasks.length, 1);
    assert.equal(out.tasks[0]!.containerInstanceArn, f.instances[0]);
    assert.deepEqual(
      out.failures.map((x) => x.reason),
      ['RESOURCE:MEMORY', 'MISSING'],
      'the second 5000 MiB task no longer fits next to the first',
    );
    await f.close();
  });
});

/** Asserts that `p` rejects with the AWS exception `type` and exactly ECS's `message`. */
async function rejectsAs(p: Promise<unknown>, type: string, message: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AwsError, String(err));
    assert.deepEqual([err.type, err.message], [type, message]);
    return true;
  });
}

describe('answers as ECS does', () => {
  it('refuses empty DescribeTasks and DescribeContainerInstances with ECS sentences', async () => {
    const f = await fixture();
    await rejectsAs(describeTasks(f.ctx, { cluster: 'c1', tasks: [] }), 'InvalidParameterException', 'Tasks cannot be empty.');
    await rejectsAs(describeContainerInstances(f.ctx, { cluster: 'c1', containerInstances: [] }), 'InvalidParameterException', 'Container Instances cannot be empty.');
    await f.close();
  });

  it('fills in the task members ECS always sends: size from the containers, one container override each, empty lists, tags', async () => {
    const f = await fixture();
    const out = await runTask(f.ctx, {
      cluster: 'c1',
      taskDefinition: 'web',
      tags: [{ key: 'team', value: 'a' }],
      overrides: { containerOverrides: [{ name: 'web', command: ['sleep', '1'] }] },
    });
    const task = out.tasks[0]!;
    assert.deepEqual([task.cpu, task.memory], ['128', '256'], 'the sum over the containers when the definition has no task size');
    assert.deepEqual(task.overrides, { containerOverrides: [{ name: 'web', command: ['sleep', '1'] }], inferenceAcceleratorOverrides: [] });
    assert.deepEqual(task.inferenceAccelerators, []);
    assert.deepEqual(task.containers[0]!.gpuIds, []);
    assert.deepEqual(task.tags, [{ key: 'team', value: 'a' }]);
    const plain = (await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' })).tasks[0]!;
    assert.deepEqual(plain.overrides.containerOverrides, [{ name: 'web' }]);
    const [described] = (await describeTasks(f.ctx, { cluster: 'c1', tasks: [task.taskArn] })).tasks as TaskDoc[];
    assert.deepEqual(described!.tags, [], 'tags without include TAGS are sent empty');
    const [withTags] = (await describeTasks(f.ctx, { cluster: 'c1', tasks: [task.taskArn], include: ['TAGS'] })).tasks as TaskDoc[];
    assert.deepEqual(withTags!.tags, [{ key: 'team', value: 'a' }]);
    await f.close();
  });

  it('refuses a capacity provider strategy, which Berth does not support yet', async () => {
    const f = await fixture();
    const strategy = [{ capacityProvider: 'cp', weight: 1 }];
    await rejectsAs(runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', capacityProviderStrategy: strategy }), 'InvalidParameterException', 'Capacity provider strategies are not supported yet.');
    await rejectsAs(
      runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', launchType: 'EC2', capacityProviderStrategy: strategy }),
      'InvalidParameterException',
      'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
    );
    assert.deepEqual((await listTasks(f.ctx, { cluster: 'c1' })).taskArns, [], 'nothing ran');
    await f.close();
  });

  it("sends ECS's own messages, without Berth's advice, which goes to the log", async () => {
    const f = await fixture();
    await rejectsAs(runTask(f.ctx, { cluster: 'c1', taskDefinition: 'ghost' }), 'ClientException', 'Unable to describe task definition.');
    await rejectsAs(stopTask(f.ctx, { cluster: 'c1', task: 'ffffffffffffffffffffffffffffffff' }), 'InvalidParameterException', 'The referenced task was not found.');
    await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' });
    await rejectsAs(deleteCluster(f.ctx, { cluster: 'c1' }), 'ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.');
    await createCluster(f.ctx, { clusterName: 'empty' });
    await rejectsAs(runTask(f.ctx, { cluster: 'empty', taskDefinition: 'web' }), 'InvalidParameterException', 'No Container Instances were found in your cluster.');
    await assert.rejects(runTask(f.ctx, { cluster: 'empty', taskDefinition: 'web' }), (err: AwsError) => /berth agent --cluster empty/.test(err.hint ?? ''));
    await deregisterTaskDefinition(f.ctx, { taskDefinition: 'web:1' });
    await rejectsAs(runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web:1' }), 'ClientException', 'TaskDefinition is inactive');
    await f.close();
  });

  it('keeps the tasks of a force-deregistered instance running, orphaned', async () => {
    const f = await fixture();
    const task = (await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' })).tasks[0]!;
    await submitTaskStateChange(f.ctx, { cluster: 'c1', task: task.taskArn, status: 'RUNNING' });
    const ec2InstanceId = (await f.store.get<ContainerInstanceDoc>('containerInstance', task.containerInstanceArn!))!.doc.ec2InstanceId;
    await rejectsAs(
      deregisterContainerInstance(f.ctx, { cluster: 'c1', containerInstance: task.containerInstanceArn! }),
      'InvalidParameterException',
      `Found 1 running task(s) on container instance ${ec2InstanceId}.`,
    );
    await deregisterContainerInstance(f.ctx, { cluster: 'c1', containerInstance: task.containerInstanceArn!, force: true });
    const [described] = (await describeTasks(f.ctx, { cluster: 'c1', tasks: [task.taskArn] })).tasks as TaskDoc[];
    assert.deepEqual([described!.lastStatus, described!.desiredStatus], ['RUNNING', 'RUNNING']);
    assert.deepEqual((await listTasks(f.ctx, { cluster: 'c1' })).taskArns, [task.taskArn]);
    await f.close();
  });
});

describe('task definitions answer as ECS does', () => {
  it('DeleteTaskDefinitions fails item by item with ECS sentences and deletes the rest', async () => {
    const f = await fixture();
    await registerTaskDefinition(f.ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 16 }] });
    await deregisterTaskDefinition(f.ctx, { taskDefinition: 'web:1' });
    const out = await deleteTaskDefinitions(f.ctx, { taskDefinitions: ['web:1', 'web:2', 'web', 'nope:7'] });
    assert.deepEqual(out.taskDefinitions.map((t) => [t.taskDefinitionArn, t.status]), [[f.td.taskDefinitionArn, 'DELETE_IN_PROGRESS']]);
    assert.deepEqual(out.failures, [
      { arn: f.td.taskDefinitionArn.replace(/:1$/, ':2'), reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' },
      { arn: 'web', reason: 'The specified task definition does not exist.' },
      { arn: 'nope:7', reason: 'The specified task definition does not exist.' },
    ]);
    await f.close();
  });

  it('DeregisterTaskDefinition of a family without a revision is a ClientException', async () => {
    const f = await fixture();
    await rejectsAs(deregisterTaskDefinition(f.ctx, { taskDefinition: 'web' }), 'ClientException', 'The specified task definition does not exist.');
    assert.equal((await requireTaskDefinition(f.ctx, f.store, 'web')).status, 'ACTIVE', 'nothing was deregistered');
    await f.close();
  });
});

describe('clusters answer as ECS does', () => {
  it('ListClusters lists a deleted cluster for as long as DescribeClusters shows it INACTIVE', async () => {
    const f = await fixture();
    const { cluster } = (await createCluster(f.ctx, { clusterName: 'gone' })) as { cluster: { clusterArn: string } };
    await deleteCluster(f.ctx, { cluster: 'gone' });
    const described = (await describeClusters(f.ctx, { clusters: ['gone'] })).clusters as { status: string }[];
    assert.equal(described[0]!.status, 'INACTIVE');
    assert.ok((await listClusters(f.ctx, {})).clusterArns.includes(cluster.clusterArn));
    await f.ctx.store.purge('cluster', { status: 'INACTIVE', updatedBefore: Date.now() + HOUR });
    assert.deepEqual((await describeClusters(f.ctx, { clusters: ['gone'] })).failures.map((x) => x.reason), ['MISSING']);
    assert.ok(!(await listClusters(f.ctx, {})).clusterArns.includes(cluster.clusterArn), 'gone from both once purged');
    await f.close();
  });
});

describe('stopping a task its agent may be starting', () => {
  it('waits for the agent once the task was sent, and stops at once a task never sent', async () => {
    const f = await fixture();
    const [sent, unsent] = (await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', count: 2, placementStrategy: [{ type: 'spread', field: 'instanceId' }] })).tasks;
    const memoryOf = async (arn: string) => remaining((await f.store.get<ContainerInstanceDoc>('containerInstance', arn))!, 'MEMORY');
    // The dispatcher reads the set for the first instance's agent (and records it as sent); the other instance has no agent.
    const pushed = await tasksToSend(f.ctx, f.clusterArn, sent!.containerInstanceArn!);
    assert.deepEqual(pushed.map((w) => [w.stored.task.taskArn, w.stored.sentToAgent]), [[sent!.taskArn, true]]);
    const waiting = (await stopTask(f.ctx, { cluster: 'c1', task: sent!.taskArn })).task;
    assert.deepEqual([waiting.lastStatus, waiting.desiredStatus], ['PROVISIONING', 'STOPPED']);
    assert.equal(await memoryOf(sent!.containerInstanceArn!), 8192 - 256, 'held until the agent reports');
    await submitTaskStateChange(f.ctx, { cluster: 'c1', task: sent!.taskArn, status: 'STOPPED' });
    assert.equal(await memoryOf(sent!.containerInstanceArn!), 8192);

    const now = (await stopTask(f.ctx, { cluster: 'c1', task: unsent!.taskArn })).task;
    assert.deepEqual([now.lastStatus, now.desiredStatus], ['STOPPED', 'STOPPED']);
    assert.equal(await memoryOf(unsent!.containerInstanceArn!), 8192, 'released at once');
    await f.close();
  });
});

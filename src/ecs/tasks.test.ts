import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import type { Change, Row } from '../store/store.js';
import { createCluster } from './clusters.js';
import { listContainerInstances, registerContainerInstance, type ContainerInstanceDoc } from './containerInstances.js';
import { instanceFilter } from './instanceQuery.js';
import { closeReadModels, createReadModels, type DomainContext } from './context.js';
import { deleteTaskDefinitions, deregisterTaskDefinition, registerTaskDefinition, requireTaskDefinition } from './taskDefinitions.js';
import { describeTasks, purgeDeletedTaskDefinitions, runTask, startTask, stopTask, submitTaskStateChange, taskDefinitionOf, tasksForInstance, type StoredTask, type TaskDoc } from './tasks.js';

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

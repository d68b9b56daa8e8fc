import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceController } from './controller.js';
import { createCluster } from '../../ecs/clusters.js';
import type { DomainContext } from '../../ecs/context.js';
import type { ServiceDoc } from '../../ecs/model.js';
import { createService, deleteService, describeServices, updateService } from '../../ecs/services.js';
import { registerTaskDefinition } from '../../ecs/taskDefinitions.js';
import { listTagsForResource, tagResource, untagResource } from '../../ecs/tagging.js';
import { createTaskSet, deleteTaskSet, describeTaskSets, updateServicePrimaryTaskSet, updateTaskSet } from '../../ecs/taskSets.js';
import { describeTasks, listTasks, submitTaskStateChange } from '../../ecs/tasks.js';
import { connectedInstance, memoryContext } from '../../ecs/testing.js';
import type { TaskSetView } from '../../ecs/taskSetView.js';

const ARN_PREFIX = 'arn:aws:ecs:us-east-1:000000000000';

/** A cluster with one connected instance, an EXTERNAL service `ext` of 4, and a controller the test drives. */
async function fixture() {
  let clock = Date.parse('2026-12-01T12:00:00Z');
  const { ctx, close } = await memoryContext(() => clock);
  await createCluster(ctx, { clusterName: 'c1' });
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 32 }] });
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 48 }] });
  await connectedInstance(ctx, 'c1');
  const controller = new ServiceController(ctx);
  const serviceArn = `${ARN_PREFIX}:service/c1/ext`;
  const running = async () => (await listTasks(ctx, { cluster: 'c1', serviceName: 'ext' })).taskArns;
  return {
    ctx,
    /** One controller sync, then every task of the service reported RUNNING, as an agent would. */
    sync: async () => {
      await controller.sync(serviceArn);
      for (const task of await running()) await submitTaskStateChange(ctx, { cluster: 'c1', task, status: 'RUNNING' });
    },
    running,
    service: async () => (await describeServices(ctx, { cluster: 'c1', services: ['ext'] })).services[0] as Omit<ServiceDoc, 'taskSets'> & { taskSets: TaskSetView[] },
    sets: async () => (await describeTaskSets(ctx, { cluster: 'c1', service: 'ext' })).taskSets,
    advance: (ms: number) => (clock += ms),
    close,
  };
}

const startedBy = async (ctx: DomainContext, arns: string[]) =>
  arns.length === 0 ? [] : (await describeTasks(ctx, { cluster: 'c1', tasks: arns })).tasks.map((t) => (t as { startedBy?: string }).startedBy).sort();

describe('task sets (EXTERNAL deployment controller)', () => {
  it('creates an EXTERNAL service with no task definition and no deployments, refusing what belongs to task sets', async () => {
    const f = await fixture();
    const created = (await createService(f.ctx, { cluster: 'c1', serviceName: 'ext', desiredCount: 4, deploymentController: { type: 'EXTERNAL' } })).service as ServiceDoc;
    assert.equal(created.taskDefinition, undefined);
    assert.equal(created.launchType, undefined);
    assert.deepEqual([created.deployments, created.taskSets, created.desiredCount, created.deploymentController.type], [[], [], 4, 'EXTERNAL']);
    const refused = async (extra: Record<string, unknown>, message: RegExp) =>
      assert.rejects(createService(f.ctx, { cluster: 'c1', serviceName: 'other', desiredCount: 1, deploymentController: { type: 'EXTERNAL' }, ...extra }), {
        type: 'InvalidParameterException',
        message,
      });
    await refused({ taskDefinition: 'web' }, /^TaskDefinition must be blank$/);
    await refused({ launchType: 'EC2' }, /^LaunchType must be blank$/);
    await refused({ schedulingStrategy: 'DAEMON', desiredCount: undefined }, /DAEMON/);
    await assert.rejects(updateService(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web' }), { type: 'InvalidParameterException', message: /EXTERNAL deployment controller/ });
    const updated = (await updateService(f.ctx, { cluster: 'c1', service: 'ext', desiredCount: 2 })).service as ServiceDoc;
    assert.deepEqual([updated.desiredCount, updated.deployments], [2, []], 'desiredCount is the service\'s to change; no deployment starts');
    await f.close();
  });

  it('answers task set operations with ECS\'s errors', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'ecs', taskDefinition: 'web', desiredCount: 0 });
    await createService(f.ctx, { cluster: 'c1', serviceName: 'ext', desiredCount: 1, deploymentController: { type: 'EXTERNAL' } });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'c1', service: 'ecs', taskDefinition: 'web' }), {
      type: 'InvalidParameterException',
      message: 'Amazon ECS only supports task set management on services configured to use external deployment controllers.',
    });
    await assert.rejects(describeTaskSets(f.ctx, { cluster: 'c1', service: 'ecs' }), { type: 'InvalidParameterException' });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'c1', service: 'nope', taskDefinition: 'web' }), { type: 'ServiceNotFoundException' });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'nope', service: 'ext', taskDefinition: 'web' }), { type: 'ClusterNotFoundException' });
    await assert.rejects(updateTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: 'ecs-svc/1234567890123456789', scale: { value: 50, unit: 'PERCENT' } }), {
      type: 'TaskSetNotFoundException',
    });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web', scale: { value: 101, unit: 'PERCENT' } }), { type: 'InvalidParameterException' });
    for (let i = 0; i < 5; i++) await createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web', scale: { value: 0, unit: 'PERCENT' } });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web' }), {
      type: 'InvalidParameterException',
      message: '5 deployments exist on the service. Unable to create new TaskSet since this exceeds the maximum limit.',
    });
    await deleteService(f.ctx, { cluster: 'c1', service: 'ext', force: true });
    await assert.rejects(createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web' }), { type: 'ServiceNotActiveException' });
    await f.close();
  });

  it('describes a new task set as ECS does: ids, ARN, computed count, scale, tags on request, clientToken idempotency', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'ext', desiredCount: 3, deploymentController: { type: 'EXTERNAL' } });
    const { taskSet } = await createTaskSet(f.ctx, {
      cluster: 'c1',
      service: 'ext',
      taskDefinition: 'web:1',
      externalId: 'blue',
      scale: { value: 50, unit: 'PERCENT' },
      tags: [{ key: 'color', value: 'blue' }],
      clientToken: 'token-1',
    });
    assert.match(taskSet.id, /^ecs-svc\/\d{19}$/);
    assert.equal(taskSet.taskSetArn, `${ARN_PREFIX}:task-set/c1/ext/${taskSet.id}`);
    assert.deepEqual(
      [taskSet.status, taskSet.computedDesiredCount, taskSet.scale, taskSet.externalId, taskSet.launchType, taskSet.stabilityStatus, taskSet.taskDefinition],
      ['ACTIVE', 2, { value: 50, unit: 'PERCENT' }, 'blue', 'EC2', 'STABILIZING', `${ARN_PREFIX}:task-definition/web:1`],
    );
    const again = await createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web:1', externalId: 'blue', scale: { value: 50, unit: 'PERCENT' }, tags: [{ key: 'color', value: 'blue' }], clientToken: 'token-1' });
    assert.equal(again.taskSet.id, taskSet.id, 'same clientToken, same task set');
    assert.equal((await f.sets()).length, 1);
    const plain = await describeTaskSets(f.ctx, { cluster: 'c1', service: 'ext', taskSets: [taskSet.taskSetArn, 'ecs-svc/1111111111111111111'] });
    assert.equal(plain.taskSets[0]!.tags, undefined, 'tags only when asked for');
    assert.deepEqual(plain.failures, [{ arn: `${ARN_PREFIX}:task-set/c1/ext/ecs-svc/1111111111111111111`, reason: 'MISSING' }]);
    const tagged = await describeTaskSets(f.ctx, { cluster: 'c1', service: 'ext', taskSets: [taskSet.id], include: ['TAGS'] });
    assert.deepEqual(tagged.taskSets[0]!.tags, [{ key: 'color', value: 'blue' }]);
    await tagResource(f.ctx, { resourceArn: taskSet.taskSetArn, tags: [{ key: 'owner', value: 'ops' }] });
    await untagResource(f.ctx, { resourceArn: taskSet.taskSetArn, tagKeys: ['color'] });
    assert.deepEqual((await listTagsForResource(f.ctx, { resourceArn: taskSet.taskSetArn })).tags, [{ key: 'owner', value: 'ops' }]);
    await assert.rejects(listTagsForResource(f.ctx, { resourceArn: `${ARN_PREFIX}:task-set/c1/ext/ecs-svc/1111111111111111111` }), { type: 'ResourceNotFoundException' });
    await f.close();
  });

  it('keeps each task set at its computed count, scales with it, switches the primary and drains a deleted one', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'ext', desiredCount: 4, deploymentController: { type: 'EXTERNAL' } });
    const blue = (await createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web:1', scale: { value: 100, unit: 'PERCENT' } })).taskSet;
    const green = (await createTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskDefinition: 'web:2', scale: { value: 0, unit: 'PERCENT' } })).taskSet;
    await updateServicePrimaryTaskSet(f.ctx, { cluster: 'c1', service: 'ext', primaryTaskSet: blue.id });
    let s = await f.service();
    assert.equal(s.taskDefinition, `${ARN_PREFIX}:task-definition/web:1`, 'the service shows its primary task set\'s definition');

    await f.sync();
    assert.deepEqual(await startedBy(f.ctx, await f.running()), [blue.id, blue.id, blue.id, blue.id], 'tasks carry the task set id as startedBy');
    await f.sync();
    s = await f.service();
    assert.deepEqual(
      s.taskSets.map((t) => [t.id, t.status, t.computedDesiredCount, t.runningCount, t.pendingCount, t.stabilityStatus]),
      [
        [green.id, 'ACTIVE', 0, 0, 0, 'STEADY_STATE'],
        [blue.id, 'PRIMARY', 4, 4, 0, 'STEADY_STATE'],
      ],
    );
    assert.deepEqual([s.runningCount, s.pendingCount], [4, 0]);
    assert.ok(s.events.some((e) => e.message === '(service ext) has reached a steady state.'));
    assert.ok(
      s.events.some((e) => e.message.startsWith(`(service ext, taskSet ${blue.id}) has started 4 tasks: (task `)),
      'events name the task set, as ECS does',
    );

    // Shift: green to 50%, blue to 50%.
    await updateTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: green.id, scale: { value: 50, unit: 'PERCENT' } });
    const shrunk = (await updateTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: blue.taskSetArn, scale: { value: 50, unit: 'PERCENT' } })).taskSet;
    assert.deepEqual([shrunk.computedDesiredCount, shrunk.runningCount, shrunk.stabilityStatus], [2, 4, 'STABILIZING'], 'never steady on a count it no longer wants');
    f.advance(5000);
    await f.sync();
    s = await f.service();
    const greenNow = s.taskSets.find((t) => t.id === green.id)!;
    assert.deepEqual([greenNow.computedDesiredCount, greenNow.stabilityStatus], [2, 'STABILIZING']);
    assert.equal(greenNow.stabilityStatusAt, Date.parse('2026-12-01T12:00:05Z') / 1000, 'the stability time moves with the status');
    await f.sync();
    assert.deepEqual(await startedBy(f.ctx, await f.running()), [blue.id, blue.id, green.id, green.id].sort());
    s = await f.service();
    assert.deepEqual(s.taskSets.map((t) => [t.runningCount, t.stabilityStatus]), [
      [2, 'STEADY_STATE'],
      [2, 'STEADY_STATE'],
    ]);

    // Switch the primary, then delete blue: refused while scaled up, forced then drained and gone.
    const primary = (await updateServicePrimaryTaskSet(f.ctx, { cluster: 'c1', service: 'ext', primaryTaskSet: green.taskSetArn })).taskSet;
    assert.equal(primary.status, 'PRIMARY');
    s = await f.service();
    assert.deepEqual(s.taskSets.map((t) => t.status), ['PRIMARY', 'ACTIVE']);
    assert.equal(s.taskDefinition, `${ARN_PREFIX}:task-definition/web:2`);
    await assert.rejects(deleteTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: blue.id }), { type: 'InvalidParameterException' });
    const deleted = (await deleteTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: blue.id, force: true })).taskSet;
    assert.deepEqual([deleted.status, deleted.computedDesiredCount], ['DRAINING', 0]);
    await f.sync();
    assert.deepEqual(await startedBy(f.ctx, await f.running()), [green.id, green.id]);
    assert.match((await f.service()).events[0]!.message, new RegExp(`^\\(service ext, taskSet ${blue.id}\\) has stopped 2 running tasks: `));
    await f.sync();
    assert.deepEqual((await f.sets()).map((t) => t.id), [green.id], 'a drained task set is gone');
    await assert.rejects(updateTaskSet(f.ctx, { cluster: 'c1', service: 'ext', taskSet: blue.id, scale: { value: 10, unit: 'PERCENT' } }), { type: 'TaskSetNotFoundException' });

    // Scaling the service scales the task sets.
    await updateService(f.ctx, { cluster: 'c1', service: 'ext', desiredCount: 6 });
    await f.sync();
    await f.sync();
    s = await f.service();
    assert.deepEqual(s.taskSets.map((t) => [t.computedDesiredCount, t.runningCount, t.stabilityStatus]), [[3, 3, 'STEADY_STATE']]);
    await f.close();
  });
});

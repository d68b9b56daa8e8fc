import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceController } from './controller.js';
import { createCluster } from '../../ecs/clusters.js';
import { createService, describeServices, updateService } from '../../ecs/services.js';
import { getTaskProtection, updateTaskProtection } from '../../ecs/taskProtection.js';
import { registerTaskDefinition } from '../../ecs/taskDefinitions.js';
import { listTasks, runTask, submitTaskStateChange } from '../../ecs/tasks.js';
import { connectedInstance, memoryContext } from '../../ecs/testing.js';

const MINUTE = 60_000;

async function fixture() {
  let clock = Date.UTC(2026, 0, 1);
  const { ctx, close } = await memoryContext(() => clock);
  await createCluster(ctx, { clusterName: 'c1' });
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 128 }] });
  await connectedInstance(ctx, 'c1');
  const controller = new ServiceController(ctx);
  const created = await createService(ctx, { cluster: 'c1', serviceName: 'api', taskDefinition: 'web', desiredCount: 3 });
  const serviceArn = created.service.serviceArn;
  const running = async () => (await listTasks(ctx, { cluster: 'c1', serviceName: 'api' })).taskArns.sort();
  /** One controller sync, then every task it started reported RUNNING, as an agent would. */
  const sync = async () => {
    await controller.sync(serviceArn);
    for (const task of await running()) await submitTaskStateChange(ctx, { cluster: 'c1', task, status: 'RUNNING' });
  };
  return { ctx, sync, controllerSync: () => controller.sync(serviceArn), running, advance: (ms: number) => (clock += ms), now: () => clock, close };
}

describe('task scale-in protection', () => {
  it('keeps protected tasks through a scale-in until the protection is removed', async () => {
    const f = await fixture();
    await f.sync();
    const tasks = await f.running();
    assert.equal(tasks.length, 3);
    const [a, b] = tasks as [string, string, string];
    const out = await updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [a, b], protectionEnabled: true, expiresInMinutes: 60 });
    assert.deepEqual(out.failures, []);
    assert.deepEqual(
      out.protectedTasks.map((p) => [p.taskArn, p.protectionEnabled, p.expirationDate]),
      [a, b].map((arn) => [arn, true, (f.now() + 60 * MINUTE) / 1000]),
    );

    await updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 1 });
    await f.sync();
    assert.deepEqual(await f.running(), [a, b].sort(), 'only the unprotected task is stopped');

    await updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [b], protectionEnabled: false });
    await f.sync();
    assert.deepEqual(await f.running(), [a], 'scale-in goes on once protection is removed');
    await f.close();
  });

  it('lapses at its expiration date: reads as off and no longer holds a scale-in', async () => {
    const f = await fixture();
    await f.sync();
    const [a] = (await f.running()) as [string];
    const out = await updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [a], protectionEnabled: true });
    assert.equal(out.protectedTasks[0]?.expirationDate, (f.now() + 120 * MINUTE) / 1000, 'two hours by default');
    await updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 0 });
    await f.sync();
    assert.deepEqual(await f.running(), [a]);

    f.advance(119 * MINUTE);
    assert.equal((await getTaskProtection(f.ctx, { cluster: 'c1', tasks: [a] })).protectedTasks[0]?.protectionEnabled, true);
    f.advance(2 * MINUTE);
    assert.deepEqual((await getTaskProtection(f.ctx, { cluster: 'c1', tasks: [a] })).protectedTasks, [{ taskArn: a, protectionEnabled: false }]);
    await f.sync();
    assert.deepEqual(await f.running(), [], 'the expired protection no longer keeps the task');
    await f.close();
  });

  it('keeps protected tasks of the older deployment during a rolling deployment, which waits and says so', async () => {
    const f = await fixture();
    await f.sync();
    const old = await f.running();
    const [a] = old as [string, string, string];
    await updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [a], protectionEnabled: true, expiresInMinutes: 30 });
    await registerTaskDefinition(f.ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 96 }] });
    await updateService(f.ctx, { cluster: 'c1', service: 'api', taskDefinition: 'web:2' });
    for (let i = 0; i < 4; i++) await f.sync();
    const service = async () => (await describeServices(f.ctx, { cluster: 'c1', services: ['api'] })).services[0] as {
      deployments: { status: string; rolloutState: string; runningCount: number }[];
      events: { message: string }[];
    };
    const now = await f.running();
    assert.equal(now.length, 4, 'three new tasks and the protected old one');
    assert.ok(now.includes(a), 'the protected task of the old deployment still runs');
    let s = await service();
    assert.deepEqual(s.deployments.map((d) => [d.status, d.runningCount]), [
      ['PRIMARY', 3],
      ['ACTIVE', 1],
    ]);
    assert.equal(s.deployments[0]!.rolloutState, 'IN_PROGRESS', 'the deployment waits for the protected task');
    assert.equal(s.events.filter((e) => e.message === '(service api) was unable to scale in due to (reason: 1 tasks under protection).').length, 1, 'said once');

    f.advance(31 * MINUTE);
    await f.sync();
    await f.sync();
    assert.ok(!(await f.running()).includes(a), 'stopped once its protection lapsed');
    s = await service();
    assert.deepEqual(s.deployments.map((d) => [d.status, d.rolloutState]), [['PRIMARY', 'COMPLETED']]);
    await f.close();
  });

  it('answers MISSING and TASK_NOT_VALID per task, and checks its limits', async () => {
    const f = await fixture();
    await f.sync();
    const [a] = (await f.running()) as [string];
    const standalone = (await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web' })).tasks[0]!.taskArn;
    const ghost = 'arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef0123456789abcdef';
    const out = await updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [a, standalone, ghost, 'ffffffffffffffffffffffffffffffff'], protectionEnabled: true });
    assert.deepEqual(out.protectedTasks.map((p) => p.taskArn), [a]);
    assert.deepEqual(
      out.failures.map((x) => [x.arn, x.reason]),
      [
        [standalone, 'TASK_NOT_VALID'],
        [ghost, 'MISSING'],
        ['arn:aws:ecs:us-east-1:000000000000:task/c1/ffffffffffffffffffffffffffffffff', 'MISSING'],
      ],
    );
    // A task of the service that is not RUNNING yet cannot be protected either.
    await updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 4 });
    const before = new Set(await f.running());
    await f.controllerSync();
    const pending = (await f.running()).find((t) => !before.has(t))!;
    const got = await getTaskProtection(f.ctx, { cluster: 'c1', tasks: [pending, a] });
    assert.deepEqual(got.failures.map((x) => [x.arn, x.reason]), [[pending, 'TASK_NOT_VALID']]);
    assert.equal(got.protectedTasks[0]?.protectionEnabled, true);

    for (const expiresInMinutes of [0, 2881, 1.5]) {
      await assert.rejects(updateTaskProtection(f.ctx, { cluster: 'c1', tasks: [a], protectionEnabled: true, expiresInMinutes }), { type: 'InvalidParameterException' });
    }
    await assert.rejects(
      updateTaskProtection(f.ctx, { cluster: 'c1', tasks: Array.from({ length: 11 }, () => a), protectionEnabled: true }),
      { type: 'InvalidParameterException' },
    );
    await assert.rejects(getTaskProtection(f.ctx, { cluster: 'nope', tasks: [a] }), { type: 'ClusterNotFoundException' });
    await f.close();
  });
});

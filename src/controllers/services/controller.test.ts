import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCluster } from '../../ecs/clusters.js';
import type { StoredService } from '../../ecs/model.js';
import { createService, deleteService, describeServices } from '../../ecs/services.js';
import { registerTaskDefinition } from '../../ecs/taskDefinitions.js';
import { listTasks, submitTaskStateChange } from '../../ecs/tasks.js';
import { connectedInstance, memoryContext } from '../../ecs/testing.js';
import { ServiceController } from './controller.js';

/** A cluster with one connected instance of 1024 CPU / 256 MiB, a clock the test moves, and a controller it drives by hand. */
async function fixture() {
  let now = Date.parse('2026-12-01T12:00:00Z');
  const { ctx, close } = await memoryContext(() => now);
  await createCluster(ctx, { clusterName: 'c1' });
  await connectedInstance(ctx, 'c1', { cpu: 1024, memory: 256 });
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 64 }] });
  await registerTaskDefinition(ctx, { family: 'big', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 512 }] });
  const controller = new ServiceController(ctx);
  const service = async (name: string) => (await describeServices(ctx, { cluster: 'c1', services: [name] })).services[0] as StoredService['service'];
  const tasks = async (serviceName: string) => (await listTasks(ctx, { cluster: 'c1', serviceName })).taskArns;
  return {
    ctx,
    controller,
    service,
    tasks,
    advance: (ms: number) => (now += ms),
    sync: (name: string) => controller.sync(`arn:aws:ecs:us-east-1:000000000000:service/c1/${name}`),
    report: (task: string, status: string, extra: Record<string, unknown> = {}) => submitTaskStateChange(ctx, { cluster: 'c1', task, status, ...extra }),
    close,
  };
}

describe('service controller', () => {
  it('starts tasks once, reports counts from task states, and says the steady state once', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web', desiredCount: 2 });
    await f.sync('web');
    await f.sync('web');
    const started = await f.tasks('web');
    assert.equal(started.length, 2, 'a second sync does not start the same tasks again');
    assert.deepEqual([(await f.service('web')).runningCount, (await f.service('web')).pendingCount], [0, 2]);
    for (const t of started) await f.report(t, 'RUNNING');
    await f.sync('web');
    await f.sync('web');
    const s = await f.service('web');
    assert.deepEqual([s.runningCount, s.pendingCount, s.deployments[0]!.rolloutState], [2, 0, 'COMPLETED']);
    const messages = s.events.map((e) => e.message);
    assert.equal(messages.filter((m) => m === '(service web) has reached a steady state.').length, 1);
    assert.equal(messages[0], '(service web) has reached a steady state.');
    assert.ok(messages.includes(`(service web) (deployment ${s.deployments[0]!.id}) deployment completed.`));
    await f.close();
  });

  it("says why a task cannot be placed in ECS's words, naming the closest instance, and not again at once", async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'big', taskDefinition: 'big', desiredCount: 1 });
    const out = await f.sync('big');
    assert.deepEqual(await f.tasks('big'), []);
    const events = (await f.service('big')).events.map((e) => e.message);
    assert.match(
      events[0]!,
      /^\(service big\) was unable to place a task because no container instance met all of its requirements\. The closest matching \(container-instance [0-9a-f]{32}\) has insufficient memory available\. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide\.$/,
    );
    assert.ok((out.requeueAfterMs ?? 0) > 0, 'it looks again later');
    await f.sync('big');
    assert.equal((await f.service('big')).events.length, 1, 'the same message is not repeated at once');
    f.advance(16 * 60_000);
    await f.sync('big');
    assert.equal((await f.service('big')).events.length, 2, 'but is said again after a while');
    await f.close();
  });

  it('throttles launches after tasks keep failing to start, with growing waits and one event', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web', desiredCount: 1 });
    const fail = async () => {
      const [t] = await f.tasks('web');
      assert.ok(t, 'a task was started');
      await f.report(t, 'STOPPED', { reason: 'CannotPullContainerError: no such image', berthStopCode: 'TaskFailedToStart' });
    };
    for (let i = 0; i < 3; i++) {
      await f.sync('web');
      await fail();
      f.advance(1000);
    }
    const first = await f.sync('web');
    assert.deepEqual(await f.tasks('web'), [], 'no launch right after the third failure');
    assert.ok(first.requeueAfterMs !== undefined && first.requeueAfterMs > 5_000 && first.requeueAfterMs <= 10_010, `waits about 10 s (${first.requeueAfterMs})`);
    const events = (await f.service('web')).events.map((e) => e.message);
    assert.equal(events.filter((m) => m.startsWith('(service web) is unable to consistently start tasks successfully.')).length, 1);
    f.advance(10_000);
    await f.sync('web');
    await fail();
    f.advance(1000);
    const second = await f.sync('web');
    assert.ok(second.requeueAfterMs !== undefined && second.requeueAfterMs > 15_000, `the next wait is longer (${second.requeueAfterMs})`);
    assert.equal((await f.service('web')).events.filter((e) => e.message.includes('unable to consistently start')).length, 1, 'said once per run of failures');
    assert.equal((await f.service('web')).deployments[0]!.failedTasks, 4);
    await f.close();
  });

  it('drains a deleted service to INACTIVE once its tasks have stopped', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web', desiredCount: 1 });
    await f.sync('web');
    const [t] = await f.tasks('web');
    await f.report(t!, 'RUNNING');
    await deleteService(f.ctx, { cluster: 'c1', service: 'web', force: true });
    await f.sync('web');
    assert.equal((await f.service('web')).status, 'DRAINING', 'its task is still running');
    await f.report(t!, 'STOPPED');
    await f.sync('web');
    assert.equal((await f.service('web')).status, 'INACTIVE');
    await f.close();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceController } from '../controllers/services/controller.js';
import { createCluster } from '../ecs/clusters.js';
import { createService } from '../ecs/services.js';
import { registerTaskDefinition } from '../ecs/taskDefinitions.js';
import { listTasks, submitTaskStateChange } from '../ecs/tasks.js';
import { connectedInstance, memoryContext } from '../ecs/testing.js';
import { EcsMetricsPublisher } from './ecs.js';
import { aggregateByPeriod, MetricStorage, statisticValue } from './storage.js';

describe('ECS metrics', () => {
  it('computes AWS/ECS utilization and reservation as ECS defines them', async () => {
    const { ctx, close } = await memoryContext();
    await createCluster(ctx, { clusterName: 'c1', settings: [{ name: 'containerInsights', value: 'enhanced' }] });
    const clusterArn = 'arn:aws:ecs:us-east-1:000000000000:cluster/c1';
    await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 128 }] });
    await connectedInstance(ctx, 'c1');
    const created = await createService(ctx, { cluster: 'c1', serviceName: 'api', taskDefinition: 'web', desiredCount: 2 });
    await new ServiceController(ctx).sync(created.service.serviceArn);
    const tasks = (await listTasks(ctx, { cluster: 'c1', serviceName: 'api' })).taskArns;
    assert.equal(tasks.length, 2);
    for (const task of tasks) await submitTaskStateChange(ctx, { cluster: 'c1', task, status: 'RUNNING' });

    const storage = new MetricStorage();
    const publisher = new EcsMetricsPublisher(ctx.store, storage, { intervalMs: 10_000 });
    const now = Date.now();
    publisher.report(clusterArn, {
      type: 'stats',
      at: now,
      tasks: [
        { taskArn: tasks[0]!, cpuUnits: 64, memoryMiB: 32, containers: [{ name: 'web', cpuUnits: 64, memoryMiB: 32 }] },
        { taskArn: tasks[1]!, cpuUnits: 128, memoryMiB: 96, containers: [{ name: 'web', cpuUnits: 128, memoryMiB: 96 }] },
      ],
    });
    const figures = await publisher.publish(now);
    const latest = (ns: string, name: string, dims: { Name: string; Value: string }[]) => {
      const s = storage.get(ns, name, dims);
      assert.ok(s, `${ns} ${name} ${JSON.stringify(dims)}`);
      const agg = aggregateByPeriod(storage.range(s, 0, now / 1000 + 1), 0, 60);
      return statisticValue('Average', [...agg.values()].pop()!);
    };
    const svc = [{ Name: 'ClusterName', Value: 'c1' }, { Name: 'ServiceName', Value: 'api' }];
    const cl = [{ Name: 'ClusterName', Value: 'c1' }];
    assert.equal(latest('AWS/ECS', 'CPUUtilization', svc), 75);
    assert.equal(latest('AWS/ECS', 'MemoryUtilization', svc), 50);
    assert.equal(latest('AWS/ECS', 'CPUUtilization', cl), (100 * 192) / 4096);
    assert.equal(latest('AWS/ECS', 'CPUReservation', cl), 6.25);
    assert.equal(latest('AWS/ECS', 'MemoryReservation', cl), 3.125);
    assert.equal(latest('ECS/ContainerInsights', 'CpuUtilized', svc), 192);
    assert.equal(latest('ECS/ContainerInsights', 'RunningTaskCount', cl), 2);
    assert.equal(figures.tasks.length, 2);
    assert.deepEqual(figures.services, [{ cluster: 'c1', service: 'api', cpuUtilization: 75, memoryUtilization: 50 }]);

    // A task that stops reporting drops out after two intervals.
    const later = await publisher.publish(now + 25_000);
    assert.deepEqual(later.services, []);
    await close();
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import { VersionConflictError } from '../store/store.js';
import { createCluster } from '../ecs/clusters.js';
import { closeReadModels, createReadModels, type DomainContext } from '../ecs/context.js';
import type { StoredService } from '../ecs/model.js';
import { createService, updateService } from '../ecs/services.js';
import { registerTaskDefinition } from '../ecs/taskDefinitions.js';
import { writeDesiredCount } from '../ecs/writers/services.js';
import { MetricStorage } from '../metrics/storage.js';
import { describeScalingActivities, registerScalableTarget } from './ops.js';
import { scaleTo } from './scale.js';

async function fixture() {
  const store = await openSqliteStore({ path: ':memory:' });
  const ctx: DomainContext & { storage: MetricStorage } = { store, region: 'us-east-1', accountId: '000000000000', now: Date.now, state: createReadModels(store, { plain: true }), storage: new MetricStorage() };
  await createCluster(ctx, { clusterName: 'c1' });
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 128 }] });
  const created = await createService(ctx, { cluster: 'c1', serviceName: 'api', taskDefinition: 'web', desiredCount: 1 });
  const serviceArn = created.service.serviceArn;
  const desired = async () => (await store.get<StoredService>('service', serviceArn))!.doc.service.desiredCount;
  return {
    ctx,
    serviceArn,
    desired,
    close: async () => {
      closeReadModels(ctx.state);
      await store.close();
    },
  };
}

describe('the scaler', () => {
  it('refuses to write over a service that changed since it was read', async () => {
    const f = await fixture();
    const stale = (await f.ctx.store.get<StoredService>('service', f.serviceArn))!;
    await updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 10 });
    await assert.rejects(
      f.ctx.store.transaction((tx) => writeDesiredCount(tx, stale, 2)),
      VersionConflictError,
    );
    assert.equal(await f.desired(), 10);
    await f.close();
  });

  it('never loses a concurrent UpdateService, and keeps capacity within the target bounds', async () => {
    const f = await fixture();
    const { ScalableTargetARN } = await registerScalableTarget(f.ctx, { ServiceNamespace: 'ecs', ResourceId: 'service/c1/api', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 20 });
    for (let round = 0; round < 10; round++) {
      await updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 1 });
      await Promise.all([updateService(f.ctx, { cluster: 'c1', service: 'api', desiredCount: 10 }), scaleTo(f.ctx, ScalableTargetARN, 'test', (current) => current + 1)]);
      // Either order is fine; an autoscaler that read 1 and wrote 2 over the user's 10 is not.
      assert.ok([10, 11].includes(await f.desired()), `round ${round}: ${await f.desired()}`);
    }
    await scaleTo(f.ctx, ScalableTargetARN, 'test', () => 50);
    assert.equal(await f.desired(), 20);
    await scaleTo(f.ctx, ScalableTargetARN, 'test', () => -3);
    assert.equal(await f.desired(), 1);
    const activities = (await describeScalingActivities(f.ctx, { ServiceNamespace: 'ecs', ResourceId: 'service/c1/api' })).ScalingActivities;
    assert.equal(activities[0]!.Description, 'Setting desired count to 1.');
    assert.equal(activities[1]!.StatusMessage, 'Successfully set desired count to 20. Change successfully fulfilled by ecs.');
    await f.close();
  });

  it('moves the service into new bounds at once when they are registered', async () => {
    const f = await fixture();
    await registerScalableTarget(f.ctx, { ServiceNamespace: 'ecs', ResourceId: 'service/c1/api', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 3, MaxCapacity: 5 });
    assert.equal(await f.desired(), 3);
    const [a] = (await describeScalingActivities(f.ctx, { ServiceNamespace: 'ecs' })).ScalingActivities;
    assert.equal(a!.Cause, 'minimum capacity was set to 3');
    await f.close();
  });
});

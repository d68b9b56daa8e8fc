import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCluster, deleteCluster, describeClusters } from '../ecs/clusters.js';
import { closeReadModels, createReadModels, type DomainContext } from '../ecs/context.js';
import { openSqliteStore } from '../store/sqlite.js';
import { createReaper, reapOnce } from './reaper.js';

async function context(): Promise<DomainContext> {
  const store = await openSqliteStore({ path: ':memory:' });
  return { store, region: 'us-east-1', accountId: '000000000000', now: Date.now, state: createReadModels(store, { plain: true }) };
}

describe('reaper', () => {
  it('removes a deleted cluster only once its retention has passed', async () => {
    const ctx = await context();
    await createCluster(ctx, { clusterName: 'old' });
    await deleteCluster(ctx, { cluster: 'old' });
    const described = async () => ((await describeClusters(ctx, { clusters: ['old'] })) as { clusters: { status: string }[] }).clusters.map((c) => c.status);
    assert.equal((await reapOnce(ctx, { retentionMs: 60_000 })).clusters, 0);
    assert.deepEqual(await described(), ['INACTIVE'], 'still describable within the retention');
    const later = { ...ctx, now: () => Date.now() + 61_000 };
    assert.equal((await reapOnce(later, { retentionMs: 60_000 })).clusters, 1);
    assert.deepEqual(await described(), []);
    closeReadModels(ctx.state);
    await ctx.store.close();
  });

  it('runs on its own every interval once started, and not after stop', async () => {
    const ctx = await context();
    await createCluster(ctx, { clusterName: 'gone' });
    await deleteCluster(ctx, { cluster: 'gone' });
    const reaper = createReaper(ctx, { retentionMs: 0, intervalMs: 20 });
    reaper.start();
    const deadline = Date.now() + 2000;
    while ((await ctx.store.count('cluster', {})) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await ctx.store.count('cluster', {}), 0);
    await reaper.stop();
    const syncs = reaper.stats().syncs;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(reaper.stats().syncs, syncs);
    closeReadModels(ctx.state);
    await ctx.store.close();
  });
});

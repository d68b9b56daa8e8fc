import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPlan, place } from './engine.js';
import { createRng } from './random.js';
import { buildSnapshot, withInstances, type ClusterSnapshot } from './snapshot.js';
import { instance } from './testing.js';

describe('cluster snapshot', () => {
  const snapshot = buildSnapshot([
    instance({ id: 'a', attributes: { zone: 'z1' }, groups: { 'service:web': 2 }, cpu: 100, gpus: ['g'] }),
    instance({ id: 'b', attributes: { zone: 'z2' }, groups: { 'service:web': 1, 'service:db': 1 } }),
    instance({ id: 'c', attributes: { zone: null } }),
    instance({ id: 'd', attributes: { zone: 'z1' } }),
  ]);

  it('refuses two instances with the same ARN', () => {
    assert.throws(() => buildSnapshot([instance({ id: 'x' }), instance({ id: 'x' })]), /Duplicate container instance/);
  });

  it('finds instances by ARN', () => {
    assert.equal(snapshot.indexOf(instance({ id: 'c' }).arn), 2);
    assert.equal(snapshot.indexOf('arn:nope'), undefined);
  });

  it('buckets instances by attribute value, valueless and missing together in bucket 0', () => {
    const b = snapshot.attributeBuckets('zone');
    assert.deepEqual(b.values, [undefined, 'z1', 'z2']);
    assert.deepEqual([...b.bucketOf], [1, 2, 0, 1]);
    assert.deepEqual([...snapshot.attributeBuckets('nothing').bucketOf], [0, 0, 0, 0]);
  });

  it('lists the instances holding tasks of a group', () => {
    const p = snapshot.groupPostings('service:web')!;
    assert.deepEqual([...p.instances], [0, 1]);
    assert.deepEqual([...p.counts], [2, 1]);
    assert.equal(snapshot.groupPostings('service:none'), undefined);
  });

  it('exposes remaining resources as columns', () => {
    const load = snapshot.loadColumns();
    assert.deepEqual([...load.cpu], [100, 4096, 4096, 4096]);
    assert.deepEqual([...load.gpus], [1, 0, 0, 0]);
  });

  it('computes a fixed-field memo once per snapshot family', () => {
    let calls = 0;
    const compute = (): number => ++calls;
    assert.equal(snapshot.memoFixed('test:once', compute), 1);
    assert.equal(snapshot.memoFixed('test:once', compute), 1);
    const next = applyPlan(snapshot, place(snapshot, { group: 'service:web', cpu: 1, memory: 1, count: 1 }, { seed: 1 }));
    assert.equal(next.memoFixed('test:once', compute), 1, 'shared with snapshots derived by applyPlan');
    assert.equal(buildSnapshot(snapshot.instances).memoFixed('test:once', compute), 2, 'not shared with a new snapshot');
  });

  it('derived snapshots see the new task state', () => {
    const plan = place(snapshot, { group: 'service:db', cpu: 1, memory: 1, count: 1, placementConstraints: [{ type: 'memberOf', expression: 'ec2InstanceId == i-d' }] }, { seed: 1 });
    const next = applyPlan(snapshot, plan);
    assert.deepEqual([...next.groupPostings('service:db')!.instances], [1, 3]);
    assert.equal(next.loadColumns().cpu[3], 4095);
    assert.equal(snapshot.loadColumns().cpu[3], 4096);
  });

  it('derived snapshots patch their indexes to what a fresh build gives', () => {
    const rng = createRng(5);
    const groups = ['g1', 'g2', 'g3'];
    const make = (i: number, load: number): ReturnType<typeof instance> =>
      instance({ id: i, cpu: 1000 - load, groups: Object.fromEntries(groups.map((g) => [g, Math.floor(rng.next() * 3)])) });
    let current: ClusterSnapshot = buildSnapshot(Array.from({ length: 30 }, (_, i) => make(i, 0)));
    for (let round = 0; round < 20; round++) {
      // Build the indexes, then change a few instances (counts go up, down and to zero).
      for (const g of groups) current.groupPostings(g);
      current.loadColumns();
      const changed = [...new Set(Array.from({ length: 4 }, () => Math.floor(rng.next() * 30)))];
      const next = current.instances.slice();
      for (const i of changed) next[i] = { ...make(i, round), arn: current.instances[i]!.arn };
      current = withInstances(current, next, changed);
      const fresh = buildSnapshot(next);
      for (const g of groups) {
        const a = current.groupPostings(g);
        const b = fresh.groupPostings(g);
        assert.deepEqual(a && { i: [...a.instances], c: [...a.counts] }, b && { i: [...b.instances], c: [...b.counts] }, `${g} round ${round}`);
      }
      assert.deepEqual([...current.loadColumns().cpu], [...fresh.loadColumns().cpu]);
    }
  });
});

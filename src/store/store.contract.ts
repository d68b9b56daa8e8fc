import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach } from 'node:test';
import { AlreadyExistsError, VersionConflictError, withRetry, type Change, type Store } from './store.js';

/**
 * The contract every Store implementation satisfies. Each driver's test file
 * calls this with a factory that returns a fresh, empty store.
 */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const row = (arn: string, extra: Partial<{ name: string; cluster: string; status: string; seq: number }> = {}) => ({
      arn,
      cluster: extra.cluster ?? 'c1',
      name: extra.name ?? arn,
      status: extra.status ?? 'ACTIVE',
      seq: extra.seq ?? 0,
      doc: { arn, payload: 'x' },
    });

    it('inserts, reads back and refuses a duplicate ARN', async () => {
      const inserted = await store.transaction((tx) => tx.insert('cluster', row('a')));
      assert.equal(inserted.version, 1);
      const got = await store.get<{ payload: string }>('cluster', 'a');
      assert.equal(got?.doc.payload, 'x');
      await assert.rejects(store.transaction((tx) => tx.insert('cluster', row('a'))), AlreadyExistsError);
    });

    it('inserts several rows at once, all or none, publishing one change each in order', async () => {
      const seen: Change[] = [];
      store.watch((c) => seen.push(...c));
      const rows = await store.transaction((tx) => tx.insertMany('task', ['t1', 't2', 't3'].map((arn) => row(arn))));
      assert.deepEqual(rows.map((r) => [r.arn, r.version]), [['t1', 1], ['t2', 1], ['t3', 1]]);
      assert.deepEqual(seen.map((c) => [c.arn, c.op]), [['t1', 'insert'], ['t2', 'insert'], ['t3', 'insert']]);
      assert.ok(seen[0]!.seq < seen[1]!.seq && seen[1]!.seq < seen[2]!.seq);
      await assert.rejects(store.transaction((tx) => tx.insertMany('task', [row('t4'), row('t2')])), (err) => err instanceof AlreadyExistsError && err.arn === 't2');
      await assert.rejects(store.transaction((tx) => tx.insertMany('task', [row('t5'), row('t5')])), AlreadyExistsError);
      assert.equal(await store.get('task', 't4'), undefined);
      assert.equal(await store.count('task'), 3);
      assert.deepEqual(await store.transaction((tx) => tx.insertMany('task', [])), []);
    });

    it('selects rows by named index, counts by it, and carries index values on every change', async () => {
      const seen: Change[] = [];
      store.watch((c) => seen.push(...c));
      const task = (arn: string, instance: string, service = '', startedBy = '') => ({ ...row(arn, { name: '' }), keys: { instance, service, startedBy } });
      await store.transaction((tx) =>
        tx.insertMany('task', [task('t1', 'i-a', 'web', 'ecs-svc/1'), task('t2', 'i-b', 'web', 'ecs-svc/1'), task('t3', 'i-a'), task('t4', 'i-a', 'db')]),
      );
      assert.deepEqual((await store.find('task', { where: { instance: 'i-a' } })).map((r) => r.arn), ['t1', 't3', 't4']);
      assert.deepEqual((await store.find('task', { where: { instance: 'i-a', service: 'web' } })).map((r) => r.arn), ['t1']);
      assert.equal(await store.count('task', { cluster: 'c1', where: { service: 'web' } }), 2);
      assert.equal(await store.count('task', { where: { startedBy: 'ecs-svc/1' } }), 2);
      assert.deepEqual((await store.get('task', 't4'))?.keys, { instance: 'i-a', service: 'db', startedBy: '' });
      assert.deepEqual(seen.map((c) => c.keys['instance']), ['i-a', 'i-b', 'i-a', 'i-a']);

      // An update moves the row between index values; one that leaves `keys` out keeps them.
      const t3 = (await store.get('task', 't3'))!;
      await store.transaction((tx) => tx.update('task', { ...t3, keys: { instance: 'i-c', service: '', startedBy: '' } }));
      const t1 = (await store.get('task', 't1'))!;
      const { keys: _dropped, ...withoutKeys } = t1;
      await store.transaction((tx) => tx.update('task', { ...withoutKeys, status: 'STOPPED' }));
      assert.deepEqual((await store.find('task', { where: { instance: 'i-a' } })).map((r) => r.arn), ['t1', 't4']);
      assert.deepEqual((await store.find('task', { where: { instance: 'i-c' } })).map((r) => r.arn), ['t3']);
      await store.transaction(async (tx) => tx.remove('task', 't4', 1));
      assert.deepEqual(seen.slice(4).map((c) => [c.arn, c.op, c.keys['instance'], c.keys['service']]), [
        ['t3', 'update', 'i-c', ''],
        ['t1', 'update', 'i-a', 'web'],
        ['t4', 'delete', 'i-a', 'db'],
      ]);
      assert.deepEqual((await store.changesSince(0)).map((c) => c.keys['instance']), ['i-a', 'i-b', 'i-a', 'i-a', 'i-c', 'i-a', 'i-a']);
      await assert.rejects(store.find('task', { where: { nosuch: 'x' } }), /no index named nosuch/);
    });

    it('updates with the version read and refuses a stale version', async () => {
      const v1 = await store.transaction((tx) => tx.insert('cluster', row('a')));
      const v2 = await store.transaction((tx) => tx.update('cluster', { ...v1, doc: { arn: 'a', payload: 'y' } }));
      assert.equal(v2.version, 2);
      await assert.rejects(
        store.transaction((tx) => tx.update('cluster', { ...v1, doc: { arn: 'a', payload: 'stale' } })),
        VersionConflictError,
      );
      const got = await store.get<{ payload: string }>('cluster', 'a');
      assert.equal(got?.doc.payload, 'y', 'a stale write never overwrites');
    });

    it('rolls back every write of a failed transaction and publishes nothing', async () => {
      const seen: Change[] = [];
      store.watch((c) => seen.push(...c));
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insert('cluster', row('a'));
          await tx.insert('task', row('t'));
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.get('cluster', 'a'), undefined);
      assert.equal(await store.get('task', 't'), undefined);
      assert.equal(seen.length, 0);
    });

    it('concurrent read-modify-write with retry loses no increment', async () => {
      await store.transaction((tx) => tx.insert('cluster', { ...row('a'), doc: { n: 0 } }));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          withRetry(store, async (tx) => {
            const cur = await tx.get<{ n: number }>('cluster', 'a');
            assert.ok(cur);
            await tx.update('cluster', { ...cur, doc: { n: cur.doc.n + 1 } });
          }),
        ),
      );
      assert.equal((await store.get<{ n: number }>('cluster', 'a'))?.doc.n, 20);
    });

    it('finds by cluster, name and status, ordered and paginated by keyset', async () => {
      await store.transaction(async (tx) => {
        for (let i = 1; i <= 5; i++) await tx.insert('taskDefinition', row(`fam-a:${i}`, { name: 'fam-a', seq: i }));
        for (let i = 1; i <= 3; i++)
          await tx.insert('taskDefinition', row(`fam-b:${i}`, { name: 'fam-b', seq: i, status: i === 2 ? 'INACTIVE' : 'ACTIVE' }));
      });
      const page1 = await store.find('taskDefinition', { limit: 3 });
      assert.deepEqual(page1.map((r) => r.arn), ['fam-a:1', 'fam-a:2', 'fam-a:3']);
      const last = page1[2]!;
      const page2 = await store.find('taskDefinition', { limit: 10, after: { name: last.name, seq: last.seq, arn: last.arn } });
      assert.deepEqual(page2.map((r) => r.arn), ['fam-a:4', 'fam-a:5', 'fam-b:1', 'fam-b:2', 'fam-b:3']);
      const desc = await store.find('taskDefinition', { name: 'fam-a', descending: true, limit: 2 });
      assert.deepEqual(desc.map((r) => r.seq), [5, 4]);
      assert.equal(await store.count('taskDefinition', { status: 'ACTIVE' }), 7);
      assert.equal(await store.count('taskDefinition', { status: ['ACTIVE', 'INACTIVE'] }), 8);
      assert.deepEqual(await store.distinctNames('taskDefinition', { status: 'INACTIVE' }), ['fam-b']);
      assert.deepEqual(await store.distinctNames('taskDefinition', { prefix: 'fam-b' }), ['fam-b']);
      assert.deepEqual(await store.distinctNames('taskDefinition', { after: 'fam-a' }), ['fam-b']);
    });

    it('counters start at 1 and never repeat', async () => {
      const values = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => tx.nextCounter('fam'))));
      assert.deepEqual([...values].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(await store.transaction((tx) => tx.nextCounter('other')), 1);
    });

    it('publishes committed changes in order and replays them for a late watcher', async () => {
      const seen: Change[] = [];
      const stop = store.watch((c) => seen.push(...c));
      const a = await store.transaction((tx) => tx.insert('cluster', row('a')));
      await store.transaction((tx) => tx.update('cluster', a));
      await store.transaction((tx) => tx.remove('cluster', 'a', 2));
      stop();
      assert.deepEqual(seen.map((c) => [c.op, c.version]), [['insert', 1], ['update', 2], ['delete', 3]]);
      assert.ok(seen[0]!.seq < seen[1]!.seq && seen[1]!.seq < seen[2]!.seq);
      const replay = await store.changesSince(seen[0]!.seq);
      assert.deepEqual(replay.map((c) => c.op), ['update', 'delete']);
      assert.equal(await store.lastChangeSeq(), seen[2]!.seq);
    });

    it('refuses to remove a row at a stale version', async () => {
      await store.transaction((tx) => tx.insert('cluster', row('a')));
      await assert.rejects(store.transaction((tx) => tx.remove('cluster', 'a', 7)), VersionConflictError);
      assert.ok(await store.get('cluster', 'a'));
    });

    it('purges rows of a status last updated before a time', async () => {
      await store.transaction(async (tx) => {
        await tx.insert('cluster', row('gone', { status: 'INACTIVE' }));
        await tx.insert('cluster', row('kept', { status: 'ACTIVE' }));
      });
      assert.equal(await store.purge('cluster', { status: 'INACTIVE', updatedBefore: Date.now() + 1000 }), 1);
      assert.equal(await store.get('cluster', 'gone'), undefined);
      assert.ok(await store.get('cluster', 'kept'));
    });
  });
}

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { migrate, type Database } from './schema.js';
import { availableSqliteDrivers, openSqliteDatabase, openSqliteStore } from './sqlite.js';

describe('schema migrations', () => {
  for (const driver of availableSqliteDrivers())
  it(`moves a task row's container instance from its name to the instance index when upgrading a database (${driver})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
    const path = join(dir, 'berth.db');
    try {
      const legacy = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteDatabase({ path, driver }).database }) });
      await migrate(legacy, 'sqlite', 1);
      const doc = (startedBy: string | undefined, group: string) => JSON.stringify({ task: { taskArn: 't', group, ...(startedBy ? { startedBy } : {}) }, reservation: {} });
      await sql`insert into tasks (arn, cluster, name, status, state, seq, version, updated_at, doc) values
        ('t1', 'c', 'arn:instance/a', 'RUNNING', 'RUNNING', 1, 1, 0, ${doc('ecs-svc/9', 'service:web')}),
        ('t2', 'c', 'arn:instance/b', 'RUNNING', 'PENDING', 2, 1, 0, ${doc(undefined, 'family:web')})`.execute(legacy);
      await legacy.destroy();

      const store = await openSqliteStore({ path, driver });
      assert.deepEqual((await store.find('task', { where: { instance: 'arn:instance/a' } })).map((r) => r.arn), ['t1']);
      const t1 = (await store.get('task', 't1'))!;
      assert.equal(t1.name, '');
      assert.deepEqual(t1.keys, { instance: 'arn:instance/a', service: 'web', startedBy: 'ecs-svc/9' });
      assert.deepEqual((await store.get('task', 't2'))!.keys, { instance: 'arn:instance/b', service: '', startedBy: '' });
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const driver of availableSqliteDrivers())
  it(`adds the account settings table to a database of schema 3, keeping what it holds (${driver})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
    const path = join(dir, 'berth.db');
    try {
      const legacy = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteDatabase({ path, driver }).database }) });
      assert.deepEqual(await migrate(legacy, 'sqlite', 3), [1, 2, 3]);
      await sql`insert into clusters (arn, cluster, name, status, state, seq, version, updated_at, doc) values ('c', 'c', 'c', 'ACTIVE', '', 1, 1, 0, '{}')`.execute(legacy);
      await legacy.destroy();

      const store = await openSqliteStore({ path, driver });
      assert.ok(await store.get('cluster', 'c'));
      await store.transaction((tx) => tx.insert('accountSetting', { arn: 'p#s', cluster: '', name: 's', status: 'ACTIVE', seq: 0, keys: { principal: 'p' }, doc: { value: 'on' } }));
      assert.deepEqual((await store.find('accountSetting', { where: { principal: 'p' } })).map((r) => r.doc), [{ value: 'on' }]);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const driver of availableSqliteDrivers())
  it(`adds the lifecycle preview and pull-through cache rule tables to a database of schema 4, keeping what it holds (${driver})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
    const path = join(dir, 'berth.db');
    try {
      const legacy = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteDatabase({ path, driver }).database }) });
      assert.deepEqual(await migrate(legacy, 'sqlite', 4), [1, 2, 3, 4]);
      await sql`insert into repositories (arn, cluster, name, status, state, seq, version, updated_at, doc) values ('r', '', 'app', 'ACTIVE', '', 1, 1, 0, '{}')`.execute(legacy);
      await legacy.destroy();

      const store = await openSqliteStore({ path, driver });
      assert.ok(await store.get('repository', 'r'));
      await store.transaction(async (tx) => {
        await tx.insert('lifecyclePreview', { arn: 'r/lifecycle-preview', cluster: 'r', name: 'app', status: 'IN_PROGRESS', seq: 1, doc: { status: 'IN_PROGRESS' } });
        await tx.insert('pullThroughCacheRule', { arn: 'rule/hub', cluster: '', name: 'hub', status: 'ACTIVE', seq: 1, doc: { ecrRepositoryPrefix: 'hub' } });
      });
      assert.deepEqual((await store.find('lifecyclePreview', { status: 'IN_PROGRESS' })).map((r) => r.arn), ['r/lifecycle-preview']);
      assert.deepEqual((await store.find('pullThroughCacheRule', {})).map((r) => r.name), ['hub']);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

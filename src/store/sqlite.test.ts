import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  availableSqliteDrivers,
  openSqliteDatabase,
  openSqliteStore,
  pickSqliteDriver,
  sqliteDriverAvailability,
  type DriverAvailability,
  type SqliteDriverName,
} from './sqlite.js';
import { storeContract } from './store.contract.js';
import { AlreadyExistsError } from './store.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-store-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const nodeMajor = Number(process.versions.node.split('.')[0]);
const drivers = availableSqliteDrivers();

describe('sqlite drivers on this Node.js', () => {
  it('offers every driver this Node.js can run', () => {
    const availability = sqliteDriverAvailability();
    // node:sqlite with StatementSync.columns() is built into Node 22.16+ and 24; Node 20 has none.
    if (nodeMajor >= 24) assert.ok(availability.node.available, 'node:sqlite is available on Node 24');
    if (nodeMajor === 20) assert.equal(availability.node.available, false);
    assert.ok(drivers.length >= 1, `at least one driver works: ${JSON.stringify(availability)}`);
  });
});

for (const driver of drivers) {
  storeContract(`sqlite file (${driver})`, () => openSqliteStore({ path: join(tempDir(), 'state.db'), driver }));

  describe(`sqlite (${driver})`, () => {
    it('opens the file with WAL, synchronous FULL by default, a busy timeout and the checkpoint interval', () => {
      const pragma = (db: ReturnType<typeof openSqliteDatabase>, name: string) =>
        Object.values(db.database.prepare(`PRAGMA ${name}`).all([])[0] as Record<string, unknown>)[0];
      const full = openSqliteDatabase({ path: join(tempDir(), 'full.db'), driver });
      try {
        assert.equal(pragma(full, 'journal_mode'), 'wal');
        assert.equal(pragma(full, 'synchronous'), 2, 'FULL');
        assert.equal(pragma(full, 'busy_timeout'), 5000);
        assert.equal(pragma(full, 'wal_autocheckpoint'), 10_000);
        assert.equal(pragma(full, 'foreign_keys'), 1);
      } finally {
        full.database.close();
      }
      const normal = openSqliteDatabase({ path: join(tempDir(), 'normal.db'), driver, synchronous: 'normal' });
      try {
        assert.equal(pragma(normal, 'synchronous'), 1, 'NORMAL');
      } finally {
        normal.database.close();
      }
    });

    it('keeps every acknowledged write when the writing process is killed with SIGKILL', async () => {
      const dir = tempDir();
      const path = join(dir, 'state.db');
      const writer = fileURLToPath(new URL('./sqlite.killtest.js', import.meta.url));
      const child = spawn(process.execPath, [writer, path, driver], { stdio: ['ignore', 'pipe', 'inherit'] });
      let acknowledged = 0;
      let buffer = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const l of lines) if (l.startsWith('ack ')) acknowledged = Number(l.slice(4));
          if (acknowledged >= 200 && !child.killed) {
            child.kill('SIGKILL');
          }
        });
        child.on('exit', () => resolve());
        child.on('error', reject);
      });
      assert.ok(acknowledged >= 200, 'the writer acknowledged writes before it was killed');
      const store = await openSqliteStore({ path, driver });
      try {
        for (let i = 1; i <= acknowledged; i++) {
          assert.ok(await store.get('cluster', `arn:c${i}`), `acknowledged write ${i} survived`);
        }
      } finally {
        await store.close();
      }
    });

    it('migrates once and reopens an existing file', async () => {
      const path = join(tempDir(), 'state.db');
      const s1 = await openSqliteStore({ path, driver });
      await s1.transaction((tx) => tx.insert('cluster', { arn: 'x', cluster: '', name: 'x', status: 'ACTIVE', seq: 0, doc: {} }));
      await s1.close();
      const s2 = await openSqliteStore({ path, driver });
      assert.ok(await s2.get('cluster', 'x'));
      await assert.rejects(
        s2.transaction((tx) => tx.insert('cluster', { arn: 'x', cluster: '', name: 'x', status: 'ACTIVE', seq: 0, doc: {} })),
        AlreadyExistsError,
      );
      await s2.close();
    });
  });
}

if (drivers.includes('node')) {
  describe('sqlite (node) warnings', () => {
    it('does not print node:sqlite\'s ExperimentalWarning, and lets every other warning through', async () => {
      const sqliteModule = new URL('./sqlite.js', import.meta.url).href;
      const script = [
        `const { openSqliteStore } = await import(${JSON.stringify(sqliteModule)});`,
        `const store = await openSqliteStore({ path: ':memory:', driver: 'node' });`,
        `await store.close();`,
        `process.emitWarning('another experimental feature', 'ExperimentalWarning');`,
      ].join('\n');
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, stderr);
      assert.match(stderr, /ExperimentalWarning: another experimental feature/);
      assert.doesNotMatch(stderr, /SQLite is an experimental feature/);
    });
  });
}

if (drivers.length > 1) {
  describe('sqlite drivers share one file format', () => {
    it('a file written by one driver is read and extended by the other', async () => {
      const path = join(tempDir(), 'state.db');
      const [first, second] = drivers as [SqliteDriverName, SqliteDriverName];
      const s1 = await openSqliteStore({ path, driver: first });
      await s1.transaction((tx) => tx.insert('cluster', { arn: 'a', cluster: '', name: 'a', status: 'ACTIVE', seq: 0, doc: { by: first } }));
      await s1.close();
      const s2 = await openSqliteStore({ path, driver: second });
      assert.deepEqual((await s2.get('cluster', 'a'))?.doc, { by: first });
      await s2.transaction((tx) => tx.insert('cluster', { arn: 'b', cluster: '', name: 'b', status: 'ACTIVE', seq: 0, doc: { by: second } }));
      assert.equal(await s2.lastChangeSeq(), 2);
      await s2.close();
    });
  });
}

describe('sqlite driver choice', () => {
  const yes: DriverAvailability = { available: true };
  const no = (reason: string): DriverAvailability => ({ available: false, reason });

  it('prefers better-sqlite3 when its addon loads, else node:sqlite', () => {
    assert.equal(pickSqliteDriver(undefined, { 'better-sqlite3': yes, node: yes }).driver, 'better-sqlite3');
    const fallback = pickSqliteDriver(undefined, { 'better-sqlite3': no('addon compiled for another Node.js'), node: yes });
    assert.equal(fallback.driver, 'node');
    assert.match(fallback.reason, /addon compiled for another Node\.js/);
    assert.equal(pickSqliteDriver('', { 'better-sqlite3': yes, node: yes }).driver, 'better-sqlite3');
  });

  it('takes the driver BERTH_SQLITE_DRIVER names, and says why when it is unavailable or unknown', () => {
    assert.equal(pickSqliteDriver('node', { 'better-sqlite3': yes, node: yes }).driver, 'node');
    assert.equal(pickSqliteDriver('better-sqlite3', { 'better-sqlite3': yes, node: yes }).driver, 'better-sqlite3');
    assert.throws(
      () => pickSqliteDriver('node', { 'better-sqlite3': yes, node: no('node:sqlite is not built into Node.js v20') }),
      /BERTH_SQLITE_DRIVER=node, but that driver is not available: node:sqlite is not built into Node\.js v20/,
    );
    assert.throws(() => pickSqliteDriver('postgres', { 'better-sqlite3': yes, node: yes }), /BERTH_SQLITE_DRIVER must be one of better-sqlite3, node; got 'postgres'/);
    assert.throws(() => pickSqliteDriver(undefined, { 'better-sqlite3': no('no addon'), node: no('no node:sqlite') }), /No SQLite driver works.*no addon.*no node:sqlite/);
  });

  it('refuses to open a store with a driver this Node.js cannot run', async (t) => {
    const availability = sqliteDriverAvailability();
    const missing = (Object.keys(availability) as SqliteDriverName[]).filter((d) => !availability[d].available);
    if (missing.length === 0) return t.skip('every driver runs on this Node.js');
    for (const driver of missing) {
      await assert.rejects(openSqliteStore({ path: ':memory:', driver }), new RegExp(`SQLite driver ${driver} is not available`));
    }
  });
});

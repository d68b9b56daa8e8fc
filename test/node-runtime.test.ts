import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CreateClusterCommand, DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { availableSqliteDrivers, sqliteDriverAvailability, SQLITE_DRIVERS } from '../src/store/sqlite.js';
import { BERTH_BIN, ecsClient, spawnServer, tempDir, TEST_CREDENTIALS, waitFor } from './helpers.js';

/** The server's start-up line naming its SQLite driver, parsed. */
function driverLine(stderr: string): { sqliteDriver: string; node: string; why: string } | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { sqliteDriver?: string; node?: string; why?: string };
    if (entry.sqliteDriver && entry.node && entry.why) return { sqliteDriver: entry.sqliteDriver, node: entry.node, why: entry.why };
  }
  return undefined;
}

describe('berth server on this Node.js', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('runs on the Node.js of its caller and logs the SQLite driver it picked', async () => {
    const server = await spawnServer(join(dir.path, 'default'), [], { BERTH_LOG_LEVEL: 'info', BERTH_SQLITE_DRIVER: '' });
    try {
      const line = await waitFor('the SQLite driver log line', () => Promise.resolve(driverLine(server.stderr())), 5_000);
      assert.equal(line.node, process.version, 'the server runs under the test runner\'s Node.js');
      assert.equal(line.sqliteDriver, availableSqliteDrivers()[0]);
    } finally {
      await server.kill('SIGTERM');
    }
  });

  for (const driver of availableSqliteDrivers()) {
    it(`serves and keeps state through BERTH_SQLITE_DRIVER=${driver}`, async () => {
      const dataDir = join(dir.path, driver);
      const first = await spawnServer(dataDir, [], { BERTH_LOG_LEVEL: 'info', BERTH_SQLITE_DRIVER: driver });
      const ecs = ecsClient(first.url);
      try {
        assert.deepEqual(
          { ...driverLine(first.stderr()), node: undefined },
          { sqliteDriver: driver, why: 'set by BERTH_SQLITE_DRIVER', node: undefined },
        );
        await ecs.send(new CreateClusterCommand({ clusterName: `kept-${driver}` }));
      } finally {
        ecs.destroy();
        await first.kill('SIGKILL');
      }
      // Whatever driver reopens the file finds the cluster.
      const second = await spawnServer(dataDir, [], { BERTH_SQLITE_DRIVER: '' });
      const ecs2 = ecsClient(second.url);
      try {
        const c = await ecs2.send(new DescribeClustersCommand({ clusters: [`kept-${driver}`] }));
        assert.equal(c.clusters?.[0]?.status, 'ACTIVE');
      } finally {
        ecs2.destroy();
        await second.kill('SIGTERM');
      }
    });
  }

  it('refuses to start, saying why, when BERTH_SQLITE_DRIVER names a driver this Node.js cannot run', async (t) => {
    const availability = sqliteDriverAvailability();
    const missing = SQLITE_DRIVERS.filter((d) => !availability[d].available);
    if (missing.length === 0) return t.skip('every SQLite driver runs on this Node.js');
    for (const driver of missing) {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BERTH_BIN, 'server', '--port', '0', '--data-dir', join(dir.path, `refused-${driver}`)], {
          env: { ...process.env, BERTH_SQLITE_DRIVER: driver, BERTH_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, BERTH_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`berth server with BERTH_SQLITE_DRIVER=${driver} did not exit within 20 s: ${err}`));
        }, 20_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve({ code: c, stderr: err });
        });
      });
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`BERTH_SQLITE_DRIVER=${driver}, but that driver is not available`));
    }
  });
});

// Child process for the SIGKILL durability test: writes rows forever and
// prints "ack N" after each commit returns, until it is killed.
import { openSqliteStore, SQLITE_DRIVERS, type SqliteDriverName } from './sqlite.js';

const [path, driver] = process.argv.slice(2);
if (!path || !SQLITE_DRIVERS.includes(driver as SqliteDriverName)) throw new Error(`usage: sqlite.killtest.js DB_PATH ${SQLITE_DRIVERS.join('|')}`);
const store = await openSqliteStore({ path, driver: driver as SqliteDriverName });
for (let i = 1; i <= 100_000; i++) {
  await store.transaction((tx) =>
    tx.insert('cluster', { arn: `arn:c${i}`, cluster: '', name: `c${i}`, status: 'ACTIVE', seq: i, doc: { i } }),
  );
  process.stdout.write(`ack ${i}\n`);
}

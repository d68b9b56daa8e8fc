// Child process for the SIGKILL durability test: writes rows forever and
// prints "ack N" after each commit returns, until it is killed.
import { openSqliteStore } from './sqlite.js';

const path = process.argv[2];
if (!path) throw new Error('usage: sqlite.killtest.js DB_PATH');
const store = await openSqliteStore({ path });
for (let i = 1; i <= 100_000; i++) {
  await store.transaction((tx) =>
    tx.insert('cluster', { arn: `arn:c${i}`, cluster: '', name: `c${i}`, status: 'ACTIVE', seq: i, doc: { i } }),
  );
  process.stdout.write(`ack ${i}\n`);
}

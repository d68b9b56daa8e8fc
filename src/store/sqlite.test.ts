import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from './sqlite.js';
import { storeContract } from './store.contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-store-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('sqlite file', () => openSqliteStore({ path: join(tempDir(), 'state.db') }));

describe('sqlite durability', () => {
  it('keeps every acknowledged write when the writing process is killed with SIGKILL', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.db');
    const writer = fileURLToPath(new URL('./sqlite.killtest.js', import.meta.url));
    const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const store = await openSqliteStore({ path });
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
    const s1 = await openSqliteStore({ path });
    await s1.transaction((tx) => tx.insert('cluster', { arn: 'x', cluster: '', name: 'x', status: 'ACTIVE', seq: 0, doc: {} }));
    await s1.close();
    const s2 = await openSqliteStore({ path });
    assert.ok(await s2.get('cluster', 'x'));
    await s2.close();
  });
});

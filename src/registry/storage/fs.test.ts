import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { blobStoreContract, chunked, readAll, sha256 } from './blobStore.contract.js';
import { FsBlobStore } from './fs.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-blobs-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

blobStoreContract('filesystem', async () => {
  const root = tempDir();
  return { store: await FsBlobStore.open(root), reopen: () => FsBlobStore.open(root) };
});

describe('filesystem blob store', () => {
  it('keeps an upload whose body broke off mid-way consistent: the next chunk continues from what reached disk', async () => {
    const root = tempDir();
    const store = await FsBlobStore.open(root);
    const id = await store.createUpload({ repository: 'app', startedAt: 1 });
    const broken = new Readable({
      read() {
        this.push(Buffer.from('first part '));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.append(id, broken));
    const size = (await store.uploadStatus(id))!.size;
    const rest = Buffer.from('and the rest');
    await store.append(id, chunked(rest), size);
    const whole = Buffer.concat([Buffer.from('first part ').subarray(0, size), rest]);
    await store.completeUpload(id, sha256(whole));
    assert.deepEqual(await store.stat(sha256(whole)), { size: whole.length });
  });

  it('drops half-written whole blobs left by a crash when it opens, and never shows them as blobs', async () => {
    const root = tempDir();
    await FsBlobStore.open(root);
    writeFileSync(join(root, 'tmp', 'leftover'), 'partial');
    const store = await FsBlobStore.open(root);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
    assert.equal(await store.stat(sha256(Buffer.from('partial'))), undefined);
  });

  it('serves a blob read whole once from memory, ranges included, and forgets it when deleted', async () => {
    const root = tempDir();
    const store = await FsBlobStore.open(root, { cacheBytes: 16 * 1024 * 1024 });
    const content = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = i % 253;
    const digest = sha256(content);
    const id = await store.createUpload({ repository: 'app', startedAt: 1 });
    await store.append(id, chunked(content, 64 * 1024));
    await store.completeUpload(id, digest);
    assert.ok((await readAll(store.read(digest))).equals(content), 'first read, from disk');
    // Taken away behind the store's back: what follows can only come from memory.
    rmSync(join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));
    assert.ok((await readAll(store.read(digest))).equals(content));
    const start = 1024 * 1024 - 5;
    const end = 2 * 1024 * 1024 + 5;
    assert.ok((await readAll(store.read(digest, { start, end }))).equals(content.subarray(start, end + 1)));
    await store.delete(digest);
    await assert.rejects(readAll(store.read(digest)), /ENOENT/);
  });

  it('answers an unknown or malformed upload id with no session', async () => {
    const store = await FsBlobStore.open(tempDir());
    assert.equal(await store.uploadStatus('00000000-0000-0000-0000-000000000000'), undefined);
    assert.equal(await store.uploadStatus('../../etc'), undefined);
  });
});

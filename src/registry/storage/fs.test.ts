import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { blobStoreContract, chunked, collector, readAll, sha256 } from './blobStore.contract.js';
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

  it('keeps a blob read whole twice in memory, ranges included, and forgets it when deleted; a one-off read is not kept', async () => {
    const root = tempDir();
    const store = await FsBlobStore.open(root, { cacheBytes: 16 * 1024 * 1024 });
    const pathOf = (digest: string) => join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
    const push = async (content: Buffer): Promise<string> => {
      const digest = sha256(content);
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(content, 64 * 1024));
      await store.completeUpload(id, digest);
      return digest;
    };
    const copied = async (digest: string, range?: { start: number; end: number }): Promise<Buffer> => {
      const c = collector();
      await store.copyTo(digest, c.out, range);
      return c.bytes();
    };
    const content = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = i % 253;
    const digest = await push(content);
    assert.ok((await copied(digest)).equals(content), 'first read, from disk');
    assert.ok((await copied(digest)).equals(content), 'second read, from disk into memory');
    // Taken away behind the store's back: what follows can only come from memory.
    rmSync(pathOf(digest));
    assert.ok((await copied(digest)).equals(content));
    assert.ok((await readAll(store.read(digest))).equals(content));
    const start = 1024 * 1024 - 5;
    const end = 2 * 1024 * 1024 + 5;
    assert.ok((await copied(digest, { start, end })).equals(content.subarray(start, end + 1)));
    assert.ok((await readAll(store.read(digest, { start, end }))).equals(content.subarray(start, end + 1)));
    await store.delete(digest);
    await assert.rejects(copied(digest), /ENOENT/);

    const once = await push(Buffer.from('read once '.repeat(1000)));
    assert.equal((await copied(once)).length, 10_000);
    rmSync(pathOf(once));
    await assert.rejects(copied(once), /ENOENT/, 'a blob read once is not kept in memory');
  });

  it('answers an unknown or malformed upload id with no session', async () => {
    const store = await FsBlobStore.open(tempDir());
    assert.equal(await store.uploadStatus('00000000-0000-0000-0000-000000000000'), undefined);
    assert.equal(await store.uploadStatus('../../etc'), undefined);
  });
});

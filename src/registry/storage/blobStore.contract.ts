import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { DigestMismatchError, RangeNotSatisfiableError, type BlobStore } from './blobStore.js';

export function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A writable that keeps a copy of what it is given (as a socket does: a
 * store may reuse a chunk's memory once its write is done), optionally
 * pushing back by finishing every `slowEvery`-th write a millisecond late.
 */
export function collector(slowEvery = 0): { out: Writable; bytes(): Buffer } {
  const parts: Buffer[] = [];
  let n = 0;
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      parts.push(Buffer.from(chunk));
      if (slowEvery && ++n % slowEvery === 0) setTimeout(done, 1);
      else done();
    },
  });
  return { out, bytes: () => Buffer.concat(parts) };
}

/** A body that arrives in several chunks, as an HTTP request does. */
export function chunked(b: Buffer, size = 4096): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

/**
 * The contract every blob store keeps (see `BlobStore`). `reopen` gives a new
 * store over the same storage, standing for a server restart.
 */
export function blobStoreContract(name: string, open: () => Promise<{ store: BlobStore; reopen(): Promise<BlobStore> }>): void {
  describe(`blob store contract: ${name}`, () => {
    it('stores an uploaded blob under its digest and serves it whole and by range', async () => {
      const { store } = await open();
      const content = Buffer.from('a'.repeat(10_000) + 'b'.repeat(10_000));
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      assert.equal(await store.append(id, chunked(content.subarray(0, 7000))), 7000);
      assert.equal(await store.append(id, chunked(content.subarray(7000)), 7000), content.length);
      const digest = sha256(content);
      assert.equal(await store.stat(digest), undefined, 'nothing is visible before completion');
      assert.deepEqual(await store.completeUpload(id, digest), { size: content.length });
      assert.deepEqual(await store.stat(digest), { size: content.length });
      assert.ok((await readAll(store.read(digest))).equals(content));
      assert.equal((await readAll(store.read(digest, { start: 9998, end: 10001 }))).toString(), 'aabb');
      assert.equal(await store.uploadStatus(id), undefined, 'the session is gone once complete');
    });

    it('copies a blob into a writable whole and by range, keeping to its backpressure, again and again', async () => {
      const { store } = await open();
      // Several MiB, so that copies span many chunks and a slow writable pushes back.
      const content = Buffer.alloc(5 * 1024 * 1024 + 123);
      for (let i = 0; i + 4 <= content.length; i += 4) content.writeUInt32LE(i, i);
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(content, 65536));
      const digest = sha256(content);
      await store.completeUpload(id, digest);
      const copy = async (range?: { start: number; end: number }, slowEvery = 0): Promise<Buffer> => {
        const c = collector(slowEvery);
        await store.copyTo(digest, c.out, range);
        return c.bytes();
      };
      // Read three times: a store may serve later reads from memory.
      for (let i = 0; i < 3; i++) assert.ok((await copy(undefined, 2)).equals(content), `copy ${i + 1} differs`);
      assert.ok((await copy({ start: 1_000_000, end: 3_500_000 })).equals(content.subarray(1_000_000, 3_500_001)));
      assert.ok((await copy({ start: content.length - 5, end: content.length - 1 })).equals(content.subarray(content.length - 5)));
      // A writable destroyed part way ends the copy without an error.
      const gone = new PassThrough({ highWaterMark: 1024 });
      const copying = store.copyTo(digest, gone);
      setImmediate(() => gone.destroy());
      await copying;
      // ... and the blob still reads whole afterwards.
      assert.ok((await copy()).equals(content));
    });

    it('refuses content whose digest differs, keeping nothing under either digest', async () => {
      const { store } = await open();
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(Buffer.from('real content')));
      const claimed = sha256(Buffer.from('other content'));
      await assert.rejects(store.completeUpload(id, claimed), (err: unknown) => err instanceof DigestMismatchError && err.actual === sha256(Buffer.from('real content')));
      assert.equal(await store.stat(claimed), undefined);
      assert.equal(await store.stat(sha256(Buffer.from('real content'))), undefined);
      await store.cancelUpload(id);
      assert.equal(await store.uploadStatus(id), undefined);
    });

    it('refuses a chunk that does not start where the upload ends', async () => {
      const { store } = await open();
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(Buffer.from('12345')));
      await assert.rejects(store.append(id, chunked(Buffer.from('678')), 3), (err: unknown) => err instanceof RangeNotSatisfiableError && err.size === 5);
      assert.equal((await store.uploadStatus(id))?.size, 5);
    });

    it('resumes an upload after a restart, with its metadata and the bytes received so far', async () => {
      const { store, reopen } = await open();
      const content = Buffer.alloc(300_000, 7);
      const id = await store.createUpload({ repository: 'team/app', startedAt: 42 });
      await store.append(id, chunked(content.subarray(0, 100_000)));
      const again = await reopen();
      assert.deepEqual(await again.uploadStatus(id), { meta: { repository: 'team/app', startedAt: 42 }, size: 100_000 });
      await again.append(id, chunked(content.subarray(100_000)), 100_000);
      await again.completeUpload(id, sha256(content));
      assert.ok((await readAll(again.read(sha256(content)))).equals(content));
    });

    it('stores the same content once, and whole blobs given at once', async () => {
      const { store } = await open();
      const content = Buffer.from('{"schemaVersion":2}');
      await store.put(sha256(content), content);
      await store.put(sha256(content), content);
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(content));
      await store.completeUpload(id, sha256(content));
      assert.ok((await readAll(store.read(sha256(content)))).equals(content));
      await store.delete(sha256(content));
      assert.equal(await store.stat(sha256(content)), undefined);
    });

    it('lists blobs and upload sessions with their write times, and deletes only blobs written before a cutoff', async () => {
      const { store } = await open();
      const content = Buffer.from('listed blob');
      const before = Date.now() - 1000;
      const id = await store.createUpload({ repository: 'app', startedAt: 1 });
      await store.append(id, chunked(content));
      await store.completeUpload(id, sha256(content));
      const pending = await store.createUpload({ repository: 'app', startedAt: 2 });
      await store.append(pending, chunked(Buffer.from('partial')));
      const blobs = [];
      for await (const b of store.list()) blobs.push(b);
      assert.deepEqual(blobs.map((b) => [b.digest, b.size]), [[sha256(content), content.length]]);
      assert.ok(blobs[0]!.modifiedAt >= before);
      const uploads = [];
      for await (const u of store.uploads()) uploads.push(u);
      assert.deepEqual(uploads.map((u) => [u.id, u.size, u.meta.repository]), [[pending, 7, 'app']]);
      assert.equal(await store.delete(sha256(content), { unmodifiedSince: before }), false, 'written after the cutoff');
      assert.ok(await store.stat(sha256(content)));
      assert.equal(await store.delete(sha256(content), { unmodifiedSince: Date.now() + 1000 }), true);
      assert.equal(await store.stat(sha256(content)), undefined);
      assert.equal(await store.delete(sha256(content)), false, 'nothing left to delete');
    });
  });
}

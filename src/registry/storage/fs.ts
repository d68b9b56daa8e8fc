import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { drained, eachChunk } from '../../core/streams.js';
import {
  DigestMismatchError,
  RangeNotSatisfiableError,
  UploadNotFoundError,
  type BlobInfo,
  type BlobStore,
  type UploadMeta,
  type UploadStatus,
} from './blobStore.js';

const UPLOAD_ID_RE = /^[0-9a-f-]{36}$/;
/** Digest-to-size entries kept in memory (about 100 bytes each). */
const SIZE_CACHE_ENTRIES = 10_000;
/** The bytes [start, end) of a blob held as consecutive chunks. */
function slice(chunks: readonly Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of chunks) {
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, c.length);
    if (from < to) out.push(c.subarray(from, to));
    at += c.length;
    if (at >= end) break;
  }
  return out;
}

/** Bytes read from disk per chunk served, and the most bytes gathered before one write of an upload. */
const CHUNK_BYTES = 1024 * 1024;
/** Idle read buffers kept for reuse (at most 32 MiB). */
const POOL_BUFFERS = 32;

/**
 * Read buffers reused from one served chunk to the next. A buffer taken
 * fresh for each chunk costs pages the kernel must fault in and zero, and
 * grows V8's external memory, which forces garbage collections: serving a
 * layer from disk cost over twice the CPU before it was pooled.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(
    private readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }
}

/** Memory for hot blobs by default: 128 MiB, blobs up to a quarter of it each. */
const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;

export interface FsBlobStoreOptions {
  /** Bytes of recently read blobs kept in memory (0: none); a blob larger than a quarter of it is never kept. */
  cacheBytes?: number;
}

/**
 * Blobs on the local filesystem under one root (`<data-dir>/registry`):
 *
 *   blobs/sha256/<first two hex>/<hex>   finished blobs, immutable
 *   uploads/<uuid>/data, meta.json       upload sessions in progress
 *   tmp/                                 whole blobs being written
 *
 * A blob reaches `blobs/` only by a rename of a fully written, fsynced file,
 * so a crash leaves either the whole blob or none of it. A blob's mtime is
 * when its content was last written (a rename keeps it), which conditional
 * deletes compare against.
 */
export class FsBlobStore implements BlobStore {
  /** Running hashes of sessions appended to since the server started; rebuilt from disk otherwise. */
  private readonly hashes = new Map<string, { hash: Hash; size: number }>();
  private readonly busy = new Set<string>();
  /** Sizes of blobs known to exist: blobs are immutable, so only a delete here invalidates an entry. */
  private readonly sizes = new Map<string, number>();

  /** Whole blobs read recently, served from memory (one write per response instead of reads and writes per MiB). */
  private readonly hot: LRUCache<string, Buffer[]> | undefined;
  /** Blobs being read into `hot` (one reader fills the cache; the others stream from disk meanwhile). */
  private readonly filling = new Set<string>();
  /**
   * Blobs read whole once since they last left `hot`: a blob is kept in memory
   * on its second read. A one-off read (one host pulling a layer) streams
   * through reused memory; holding every chunk it read would cost fresh pages
   * and garbage collection for bytes nobody asks for again.
   */
  private readonly seen = new LRUCache<string, true>({ max: SIZE_CACHE_ENTRIES });
  private readonly hotEntryMax: number;
  private readonly pool = new BufferPool(CHUNK_BYTES, POOL_BUFFERS);

  private constructor(
    private readonly root: string,
    opts: FsBlobStoreOptions,
  ) {
    const budget = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.hotEntryMax = Math.floor(budget / 4);
    this.hot = budget > 0 ? new LRUCache<string, Buffer[]>({ maxSize: budget, maxEntrySize: this.hotEntryMax, sizeCalculation: (chunks) => Math.max(1, chunks.reduce((n, c) => n + c.length, 0)) }) : undefined;
  }

  static async open(root: string, opts: FsBlobStoreOptions = {}): Promise<FsBlobStore> {
    for (const d of ['blobs/sha256', 'uploads', 'tmp']) await mkdir(join(root, d), { recursive: true });
    // Whole-blob writes interrupted by a crash are garbage; sessions are kept (they resume).
    await rm(join(root, 'tmp'), { recursive: true, force: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    return new FsBlobStore(root, opts);
  }

  private blobPath(digest: string): string {
    const hex = digest.slice('sha256:'.length);
    return join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  private uploadDir(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new UploadNotFoundError(id);
    return join(this.root, 'uploads', id);
  }

  async stat(digest: string): Promise<{ size: number } | undefined> {
    const known = this.sizes.get(digest);
    if (known !== undefined) return { size: known };
    try {
      const { size } = await stat(this.blobPath(digest));
      this.remember(digest, size);
      return { size };
    } catch {
      return undefined;
    }
  }

  private remember(digest: string, size: number): void {
    // A bounded cache: when full, the oldest entries go (a miss costs one stat).
    if (this.sizes.size >= SIZE_CACHE_ENTRIES) this.sizes.delete(this.sizes.keys().next().value!);
    this.sizes.set(digest, size);
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    const cached = this.hot?.get(digest);
    if (cached) return Readable.from(range ? slice(cached, range.start, range.end + 1) : cached, { objectMode: false });
    // Serving goes through copyTo, which also decides what is kept in memory.
    return createReadStream(this.blobPath(digest), { highWaterMark: CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) });
  }


  async copyTo(digest: string, out: Writable, range?: { start: number; end: number }): Promise<void> {
    const cached = this.hot?.get(digest);
    if (cached) {
      for (const chunk of range ? slice(cached, range.start, range.end + 1) : cached) {
        if (out.destroyed) return;
        if (!out.write(chunk)) await drained(out);
      }
      return;
    }
    const fh = await open(this.blobPath(digest), 'r');
    try {
      const size = this.sizes.get(digest) ?? (await fh.stat()).size;
      // A blob read whole a second time is kept in memory, in buffers of its own.
      const fill = this.hot !== undefined && !range && size <= this.hotEntryMax && !this.filling.has(digest) && !this.firstRead(digest);
      const chunks: Buffer[] = [];
      if (fill) this.filling.add(digest);
      try {
        const end = range ? range.end + 1 : size;
        for (let at = range?.start ?? 0; at < end; ) {
          if (out.destroyed) return;
          const buf = fill ? Buffer.allocUnsafeSlow(Math.min(CHUNK_BYTES, end - at)) : this.pool.take();
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
          if (bytesRead === 0) throw new Error(`blob ${digest} ends at ${at} bytes, short of ${end}`);
          at += bytesRead;
          const chunk = buf.subarray(0, bytesRead);
          if (fill) chunks.push(chunk);
          // Back to the pool once the bytes are written (the socket no longer needs them).
          const more = out.write(chunk, fill ? undefined : (err) => err || this.pool.give(buf));
          if (!more) await drained(out);
        }
        if (fill && this.sizes.has(digest)) this.hot?.set(digest, chunks);
      } finally {
        if (fill) this.filling.delete(digest);
      }
    } finally {
      await fh.close();
    }
  }

  /** True the first time a blob is read whole (then remembered as seen). */
  private firstRead(digest: string): boolean {
    if (this.seen.has(digest)) return false;
    this.seen.set(digest, true);
    return true;
  }

  async put(digest: string, content: Buffer): Promise<void> {
    const tmp = join(this.root, 'tmp', randomUUID());
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.publish(tmp, digest);
  }

  async delete(digest: string, opts: { unmodifiedSince?: number } = {}): Promise<boolean> {
    const path = this.blobPath(digest);
    this.sizes.delete(digest);
    this.hot?.delete(digest);
    this.seen.delete(digest);
    const before = opts.unmodifiedSince;
    try {
      if ((await stat(path)).mtimeMs >= (before ?? Infinity)) return false;
      // Moved aside first: a fresh copy published between the check above and
      // this rename is the file moved, and is put back when its mtime shows it.
      const aside = join(this.root, 'tmp', `deleted-${randomUUID()}`);
      await rename(path, aside);
      if (before !== undefined && (await stat(aside)).mtimeMs >= before) {
        await rename(aside, path);
        return false;
      }
      await rm(aside, { force: true });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    const top = join(this.root, 'blobs', 'sha256');
    for (const prefix of await readdir(top)) {
      let names: string[];
      try {
        names = await readdir(join(top, prefix));
      } catch {
        continue;
      }
      for (const hex of names) {
        try {
          const st = await stat(join(top, prefix, hex));
          yield { digest: `sha256:${hex}`, size: st.size, modifiedAt: st.mtimeMs };
        } catch {
          // Deleted since the directory was read.
        }
      }
    }
  }

  async *uploads(): AsyncIterable<{ id: string; meta: UploadMeta; size: number; modifiedAt: number }> {
    for (const id of await readdir(join(this.root, 'uploads'))) {
      if (!UPLOAD_ID_RE.test(id)) continue;
      const status = await this.uploadStatus(id);
      if (!status) continue;
      try {
        const st = await stat(join(this.uploadDir(id), 'data'));
        yield { id, ...status, modifiedAt: st.mtimeMs };
      } catch {
        // Completed or cancelled since the directory was read.
      }
    }
  }

  async createUpload(meta: UploadMeta): Promise<string> {
    const id = randomUUID();
    const dir = this.uploadDir(id);
    await mkdir(dir);
    await writeFile(join(dir, 'data'), '');
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    this.hashes.set(id, { hash: createHash('sha256'), size: 0 });
    return id;
  }

  async uploadStatus(id: string): Promise<UploadStatus | undefined> {
    try {
      const dir = this.uploadDir(id);
      const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as UploadMeta;
      const { size } = await stat(join(dir, 'data'));
      return { meta, size };
    } catch {
      return undefined;
    }
  }

  /** The running hash of a session, rebuilt by reading its data when the server restarted since. */
  private async hashOf(id: string, size: number): Promise<{ hash: Hash; size: number }> {
    const known = this.hashes.get(id);
    if (known && known.size === size) return known;
    const hash = createHash('sha256');
    let read = 0;
    if (size > 0) {
      for await (const chunk of createReadStream(join(this.uploadDir(id), 'data'), { start: 0, end: size - 1 })) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
    }
    const state = { hash, size: read };
    this.hashes.set(id, state);
    return state;
  }

  async append(id: string, body: Readable, offset?: number): Promise<number> {
    const status = await this.uploadStatus(id);
    if (!status) throw new UploadNotFoundError(id);
    if (this.busy.has(id)) throw new RangeNotSatisfiableError(status.size);
    if (offset !== undefined && offset !== status.size) throw new RangeNotSatisfiableError(status.size);
    this.busy.add(id);
    try {
      const state = await this.hashOf(id, status.size);
      // Bytes are gathered into writes of about 1 MiB: a request body arrives in pieces of
      // 64 KiB or less, and one write each would cost a thread-pool round trip per piece.
      const fh = await open(join(this.uploadDir(id), 'data'), 'a');
      try {
        let batch: Buffer[] = [];
        let batched = 0;
        await eachChunk(body, (chunk) => {
          state.hash.update(chunk);
          state.size += chunk.length;
          batch.push(chunk);
          batched += chunk.length;
          if (batched < CHUNK_BYTES && batch.length < 512) return;
          const full = batch;
          batch = [];
          batched = 0;
          return fh.writev(full).then(() => undefined);
        });
        if (batch.length > 0) await fh.writev(batch);
      } catch (err) {
        // The hash may have seen bytes the file did not get: rebuild it from disk next time.
        this.hashes.delete(id);
        throw err;
      } finally {
        await fh.close();
      }
      return state.size;
    } finally {
      this.busy.delete(id);
    }
  }

  async completeUpload(id: string, digest: string): Promise<{ size: number }> {
    const status = await this.uploadStatus(id);
    if (!status) throw new UploadNotFoundError(id);
    const state = await this.hashOf(id, status.size);
    const actual = 'sha256:' + state.hash.copy().digest('hex');
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    const data = join(this.uploadDir(id), 'data');
    const fh = await open(data, 'r+');
    try {
      // Written "now": the blob's grace period against garbage collection starts at completion.
      const now = new Date();
      await fh.utimes(now, now);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Published even when the digest is stored already: the fresh copy's mtime
    // keeps a concurrent garbage collection from removing what was just pushed.
    await this.publish(data, digest);
    this.remember(digest, status.size);
    await this.cancelUpload(id);
    return { size: status.size };
  }

  async cancelUpload(id: string): Promise<void> {
    this.hashes.delete(id);
    await rm(this.uploadDir(id), { recursive: true, force: true });
  }

  /** Renames a complete, synced file into place as `digest` (atomic on one filesystem). */
  private async publish(file: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(join(target, '..'), { recursive: true });
    await rename(file, target);
    const dir = await open(join(target, '..'), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

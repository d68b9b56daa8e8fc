/**
 * JSON files written all-or-nothing (temp file, rename), either durably
 * (the temp file and then the directory are fsynced, so the new content
 * survives a power loss once the write resolves) or behind (atomic, left to
 * the page cache: it survives a crash of the agent, and is for content the
 * agent can rebuild after a power loss). Writes to one path are applied in
 * the order they were requested, so an older write never lands after a
 * newer one. A write still waiting for its turn is replaced by a newer one
 * to the same path (each file holds the latest value only): a burst of
 * changes costs at most two writes per file.
 */
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse to sync directories; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}

/** Directories this process made sure exist. */
const knownDirs = new Set<string>();

async function writeTemp(tmp: string, data: string, mode: number, durable: boolean): Promise<void> {
  if (!durable) {
    await writeFile(tmp, data, { encoding: 'utf8', mode });
    return;
  }
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically; with `durable` (the default) also durably. */
export async function writeFileAtomic(path: string, data: string, options: { mode?: number; durable?: boolean } = {}): Promise<void> {
  const { mode = 0o600, durable = true } = options;
  const dir = dirname(path);
  if (!knownDirs.has(dir)) {
    await mkdir(dir, { recursive: true });
    knownDirs.add(dir);
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeTemp(tmp, data, mode, durable);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // The directory went away behind the agent's back: make it again, once.
    knownDirs.delete(dir);
    await mkdir(dir, { recursive: true });
    knownDirs.add(dir);
    await writeTemp(tmp, data, mode, durable);
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (durable) await fsyncDir(dir);
}

/** Parsed JSON of `path`, or undefined when the file does not exist. Throws on unreadable content. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/** A write takes the JSON of `value` when it starts (a value may be updated in place until then). */
type Operation = { kind: 'write'; value: unknown; durable: boolean } | { kind: 'delete' };

/**
 * Serializes writes and deletes per path. Each operation starts after the
 * previous one on the same path settled, whatever its outcome. An operation
 * that has not started yet is replaced by a newer one on the same path (a
 * write replacing a durable write is durable); its callers then wait for,
 * and share the outcome of, the newer one.
 */
export class PathQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, { op: Operation; done: Promise<void> }>();

  /** Writes `value` as JSON; `durable` as for writeFileAtomic (default true). */
  write(path: string, value: unknown, durable = true): Promise<void> {
    return this.enqueue(path, { kind: 'write', value, durable });
  }

  delete(path: string): Promise<void> {
    return this.enqueue(path, { kind: 'delete' });
  }

  /** Resolves once every operation requested so far has settled. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }

  private enqueue(path: string, op: Operation): Promise<void> {
    const queued = this.waiting.get(path);
    if (queued) {
      const wasDurable = queued.op.kind === 'write' && queued.op.durable;
      queued.op = op.kind === 'write' && wasDurable ? { ...op, durable: true } : op;
      return queued.done;
    }
    const entry = { op, done: Promise.resolve() };
    const start = () => {
      if (this.waiting.get(path) === entry) this.waiting.delete(path);
      return apply(path, entry.op);
    };
    const prev = this.tails.get(path) ?? Promise.resolve();
    entry.done = prev.then(start, start);
    this.waiting.set(path, entry);
    const tail = entry.done.catch(() => undefined);
    this.tails.set(path, tail);
    void tail.then(() => {
      if (this.tails.get(path) === tail) this.tails.delete(path);
    });
    return entry.done;
  }
}

async function apply(path: string, op: Operation): Promise<void> {
  if (op.kind === 'write') {
    await writeFileAtomic(path, JSON.stringify(op.value), { durable: op.durable });
    return;
  }
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

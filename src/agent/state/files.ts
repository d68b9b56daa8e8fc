/**
 * Durable JSON files: a write is all-or-nothing (temp file, fsync, rename,
 * fsync of the directory), and writes to one path are applied in the order
 * they were requested, so an older write never lands after a newer one.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
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

/** Writes `data` to `path` atomically and durably. */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
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

/**
 * Serializes writes and deletes per path. Each operation starts after the
 * previous one on the same path settled, whatever its outcome.
 */
export class PathQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run(path: string, op: () => Promise<void>): Promise<void> {
    const prev = this.tails.get(path) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    this.tails.set(path, tail);
    void tail.then(() => {
      if (this.tails.get(path) === tail) this.tails.delete(path);
    });
    return next;
  }

  write(path: string, value: unknown): Promise<void> {
    return this.run(path, () => writeFileAtomic(path, JSON.stringify(value)));
  }

  delete(path: string): Promise<void> {
    return this.run(path, async () => {
      try {
        await unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    });
  }

  /** Resolves once every operation requested so far has settled. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}

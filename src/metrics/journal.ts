/**
 * Makes metric data survive a killed server: a write-ahead journal beside
 * the periodic snapshot of the in-memory series.
 *
 * Files in the data dir:
 * - `metrics.jsonl`: the snapshot (see MetricStorage.snapshot), whose first
 *   line `{"journalSeq":N}` says it holds every journal record up to N;
 * - `metrics.wal`: the journal, one JSON line per write, `[seq, puts]`;
 * - `metrics.wal.<N>`: a journal set aside by a compaction whose snapshot
 *   (holding records up to N) is being written; removed once it is.
 *
 * Contract:
 * - A PutMetricData is written to the journal (a write to the file, in the
 *   page cache) before the storage changes and before it is answered, so a
 *   server killed with SIGKILL after answering keeps it. With `sync`, the
 *   answer also waits for the journal to reach the disk (`durable`, one
 *   fdatasync shared by every write waiting at that moment), so a power
 *   loss keeps it too.
 * - Replay is exact: records are numbered, the snapshot names the last one
 *   it holds, and only later records are applied on start, so no value is
 *   counted twice whatever moment the server died at.
 * - The journal stays bounded: `compact` (every minute, and whenever the
 *   journal passes `maxBytes`) writes a snapshot and drops what it holds.
 */
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { JournalEntry, MetricStorage } from './storage.js';

export interface MetricJournalOptions {
  dir: string;
  storage: MetricStorage;
  /** Wait for the disk before answering (fdatasync, group commit). */
  sync: boolean;
  log: Logger;
  /** Journal size that starts a compaction (bytes). Default 64 MiB. */
  maxBytes?: number;
}

const SNAPSHOT = 'metrics.jsonl';
const JOURNAL = 'metrics.wal';
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes `data` to `path` through a synced temp file and a rename (never a torn file). */
function writeDurably(dir: string, path: string, data: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

export class MetricJournal {
  private fd: number;
  private seq = 0;
  private bytes = 0;
  private syncedSeq = 0;
  private syncing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private closed = false;
  private compactQueued = false;
  private readonly maxBytes: number;

  private constructor(private readonly opts: MetricJournalOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.fd = -1;
  }

  /**
   * Restores the snapshot, replays the journal records it does not hold,
   * writes a fresh snapshot of the result and starts an empty journal that
   * the storage writes through from now on. Returns the journal and the
   * number of series and records restored.
   */
  static open(opts: MetricJournalOptions): { journal: MetricJournal; series: number; replayed: number } {
    const j = new MetricJournal(opts);
    const snapshot = readIfExists(join(opts.dir, SNAPSHOT)) ?? '';
    const newline = snapshot.indexOf('\n');
    const first = newline < 0 ? snapshot : snapshot.slice(0, newline);
    let held = 0;
    let body = snapshot;
    if (first.startsWith('{"journalSeq"')) {
      held = (JSON.parse(first) as { journalSeq: number }).journalSeq;
      body = newline < 0 ? '' : snapshot.slice(newline + 1);
    }
    const series = opts.storage.restore(body);
    j.seq = held;
    // Set-aside journals first (by the sequence they were set aside at), then the live one.
    const files = readdirSync(opts.dir)
      .filter((f) => /^metrics\.wal\.\d+$/.test(f))
      .sort((a, b) => Number(a.slice(JOURNAL.length + 1)) - Number(b.slice(JOURNAL.length + 1)));
    files.push(JOURNAL);
    let replayed = 0;
    for (const f of files) {
      const text = readIfExists(join(opts.dir, f));
      if (text === undefined) continue;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let record: [number, JournalEntry[]];
        try {
          record = JSON.parse(line) as [number, JournalEntry[]];
        } catch {
          continue; // a line cut short by a crash mid-write: never acknowledged
        }
        const [seq, entries] = record;
        if (seq <= held || seq <= j.seq) continue;
        opts.storage.apply(entries);
        j.seq = seq;
        replayed++;
      }
    }
    opts.storage.prune();
    // Everything now lives in one snapshot: start the journal empty.
    writeDurably(opts.dir, join(opts.dir, SNAPSHOT), j.snapshotText());
    for (const f of files) {
      try {
        unlinkSync(join(opts.dir, f));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    j.fd = openSync(join(opts.dir, JOURNAL), 'a', 0o600);
    j.syncedSeq = j.seq;
    opts.storage.attachJournal(j);
    return { journal: j, series, replayed };
  }

  /** Appends one write (before the storage applies it); the caller answers only after this returns. */
  append(entries: readonly JournalEntry[]): void {
    if (this.closed) throw new Error('the metric journal is closed');
    const line = `${JSON.stringify([this.seq + 1, entries])}\n`;
    const buf = Buffer.from(line);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.seq++;
    this.bytes += buf.length;
    if (this.bytes >= this.maxBytes && !this.compactQueued) {
      // Later, not here: the storage applies this record only after append returns, and a snapshot must hold every record up to its number.
      this.compactQueued = true;
      setImmediate(() => {
        this.compactQueued = false;
        if (this.closed) return;
        this.compact().catch((err: unknown) => this.opts.log.warn({ err }, 'could not compact the metric journal'));
      });
    }
  }

  /** Resolves once every record appended so far is on disk (immediately without `sync`). */
  async durable(): Promise<void> {
    if (!this.opts.sync) return;
    const want = this.seq;
    while (this.syncedSeq < want) {
      if (!this.syncing) {
        const upTo = this.seq;
        const fd = this.fd;
        this.syncing = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
          .then(() => {
            if (upTo > this.syncedSeq) this.syncedSeq = upTo;
          })
          .finally(() => (this.syncing = undefined));
      }
      await this.syncing;
    }
  }

  /**
   * Writes a snapshot of the storage and drops the journal records it holds.
   * The snapshot text and the journal switch happen together, synchronously,
   * so a write lands either in the snapshot or in the new journal.
   */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    const run = async (): Promise<void> => {
      // An fdatasync in flight holds the current file: let it finish before the switch.
      while (this.syncing) await this.syncing.catch(() => undefined);
      const held = this.seq;
      const text = this.snapshotText();
      const aside = join(this.opts.dir, `${JOURNAL}.${held}`);
      // The set-aside file must be complete on disk before the snapshot replaces the old one.
      fsyncSync(this.fd);
      closeSync(this.fd);
      try {
        renameSync(join(this.opts.dir, JOURNAL), aside);
      } finally {
        // Whether or not the switch happened, appends go on to a journal file (the old one if it failed).
        this.fd = openSync(join(this.opts.dir, JOURNAL), 'a', 0o600);
      }
      this.bytes = 0;
      this.syncedSeq = held;
      writeDurably(this.opts.dir, join(this.opts.dir, SNAPSHOT), text);
      unlinkSync(aside);
    };
    this.compacting = run().finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  /** Compacts and closes the journal (a clean stop leaves only the snapshot's data to restore). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.compact();
    this.closed = true;
    this.opts.storage.attachJournal(undefined);
    closeSync(this.fd);
  }

  private snapshotText(): string {
    return `${JSON.stringify({ journalSeq: this.seq })}\n${this.opts.storage.snapshot()}`;
  }
}

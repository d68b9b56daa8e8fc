/**
 * The log store: log groups, streams and events in a SQLite file of their
 * own (`<data-dir>/logs.db`), apart from Berth's state store. Log events
 * are many, small and written in bursts; keeping them out of `berth.db`
 * keeps its change feed, WAL and backups about state, and lets the log file
 * be synced less strictly without weakening the state store.
 *
 * Layout (see README, "Container logs", for the measurements behind it):
 * - `events` is a WITHOUT ROWID table keyed by (group, timestamp, seq): a
 *   group's events lie in time order on disk, so FilterLogEvents over a
 *   group is one range scan and retention deletes a key range.
 * - `events_by_stream` (stream, timestamp, seq) serves GetLogEvents.
 * - One PutLogEvents is one transaction with one prepared insert per event
 *   and one update of the stream's and group's counters.
 *
 * Contract: every method is synchronous and atomic; `seq` increases across
 * the whole store, so (timestamp, seq) orders events of equal timestamp by
 * arrival.
 */
import type { SqliteDatabase } from 'kysely';
import { openSqliteDatabase, type SqliteDriverName } from '../store/sqlite.js';
import type { Prefilter } from './filterPattern.js';
import type { LogGroupRecord, LogStreamRecord, Position, StoredEvent } from './model.js';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS log_groups (
     id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
     retention_days INTEGER, log_group_class TEXT NOT NULL, tags TEXT NOT NULL, stored_bytes INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS log_streams (
     id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
     first_event INTEGER, last_event INTEGER, last_ingestion INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0,
     UNIQUE (group_id, name))`,
  `CREATE INDEX IF NOT EXISTS log_streams_by_last_event ON log_streams (group_id, last_event, name)`,
  `CREATE TABLE IF NOT EXISTS events (
     group_id INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, stream_id INTEGER NOT NULL,
     ingested INTEGER NOT NULL, message TEXT NOT NULL,
     PRIMARY KEY (group_id, ts, seq)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream_id, ts, seq)`,
];

interface GroupRow {
  id: number;
  name: string;
  created_at: number;
  retention_days: number | null;
  log_group_class: string;
  tags: string;
  stored_bytes: number;
}

interface StreamRow {
  id: number;
  group_id: number;
  name: string;
  created_at: number;
  first_event: number | null;
  last_event: number | null;
  last_ingestion: number | null;
  stored_bytes: number;
}

interface EventRow {
  stream_id: number;
  ts: number;
  seq: number;
  ingested: number;
  message: string;
}

function groupOf(r: GroupRow): LogGroupRecord {
  return {
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    ...(r.retention_days !== null ? { retentionInDays: r.retention_days } : {}),
    logGroupClass: r.log_group_class,
    tags: JSON.parse(r.tags) as Record<string, string>,
    storedBytes: r.stored_bytes,
  };
}

function streamOf(r: StreamRow): LogStreamRecord {
  return {
    id: r.id,
    groupId: r.group_id,
    name: r.name,
    createdAt: r.created_at,
    ...(r.first_event !== null ? { firstEventTimestamp: r.first_event } : {}),
    ...(r.last_event !== null ? { lastEventTimestamp: r.last_event } : {}),
    ...(r.last_ingestion !== null ? { lastIngestionTime: r.last_ingestion } : {}),
    storedBytes: r.stored_bytes,
  };
}

function eventOf(r: EventRow): StoredEvent {
  return { streamId: r.stream_id, timestamp: r.ts, seq: r.seq, ingestionTime: r.ingested, message: r.message };
}

/**
 * SQL for a filter pattern's necessary condition. A JSON value is read only
 * from messages that are JSON (json_valid), as a number (CAST), so the SQL
 * is never stricter than the pattern; the pattern itself decides after.
 */
function prefilterSql(p: Prefilter, params: unknown[]): string {
  switch (p.k) {
    case 'contains':
      params.push(p.text);
      return 'instr(message, ?) > 0';
    case 'jsonNumber':
      params.push(p.path, p.value);
      return `(CASE WHEN json_valid(message) THEN CAST(json_extract(message, ?) AS REAL) END ${p.op} ?)`;
    case 'and':
    case 'or':
      return `(${prefilterSql(p.a, params)} ${p.k === 'and' ? 'AND' : 'OR'} ${prefilterSql(p.b, params)})`;
  }
}

export interface LogStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  driver?: SqliteDriverName;
  /** 'full' syncs every PutLogEvents; 'normal' (default) survives a killed process, as the state store's tests use. */
  synchronous?: 'full' | 'normal';
}

/** Which events of a stream or group a read wants, in which direction. */
export interface EventRange {
  /** Inclusive lower bound on timestamps. */
  startTime?: number;
  /** Exclusive upper bound on timestamps. */
  endTime?: number;
  /** Only events strictly after this position (forward) or strictly before it (backward). */
  from?: Position;
  direction: 'forward' | 'backward';
}

/** The largest part of the log file scans read through a memory map (1 GiB). */
const MMAP_BYTES = 1024 * 1024 * 1024;

export class LogStore {
  private readonly db: SqliteDatabase;
  private readonly exec: (sql: string) => void;
  private seq: number;
  private inTx = false;

  private constructor(db: SqliteDatabase, exec: (sql: string) => void) {
    this.db = db;
    this.exec = exec;
    for (const s of SCHEMA) exec(s);
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'seq'`).all([])[0] as { value: number } | undefined;
    this.seq = row?.value ?? 0;
  }

  static open(opts: LogStoreOptions): LogStore {
    const conn = openSqliteDatabase({ path: opts.path, synchronous: opts.synchronous ?? 'normal', ...(opts.driver ? { driver: opts.driver } : {}) });
    // Scans read the file through a memory map instead of a read call per page: FilterLogEvents over
    // a large group measured about twice as fast. Address space only; the OS page cache holds the data.
    conn.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
    return new LogStore(conn.database, conn.exec);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    if (this.inTx) return fn();
    this.exec('BEGIN IMMEDIATE');
    this.inTx = true;
    const seqBefore = this.seq;
    try {
      const out = fn();
      if (this.seq !== seqBefore) this.db.prepare(`INSERT INTO meta (key, value) VALUES ('seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run([this.seq]);
      this.exec('COMMIT');
      return out;
    } catch (err) {
      this.seq = seqBefore;
      this.exec('ROLLBACK');
      throw err;
    } finally {
      this.inTx = false;
    }
  }

  // ---- groups ----

  group(name: string): LogGroupRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM log_groups WHERE name = ?`).all([name])[0] as GroupRow | undefined;
    return r && groupOf(r);
  }

  /** Creates the group; false when one of that name exists. */
  createGroup(g: { name: string; createdAt: number; logGroupClass: string; tags: Record<string, string> }): boolean {
    const res = this.db
      .prepare(`INSERT INTO log_groups (name, created_at, log_group_class, tags) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`)
      .run([g.name, g.createdAt, g.logGroupClass, JSON.stringify(g.tags)]);
    return Number(res.changes) > 0;
  }

  /** Groups whose name is after `after`, in name order, at most `limit`, passing `filter`. */
  listGroups(opts: { prefix?: string; after?: string; limit: number; filter?: (name: string) => boolean }): LogGroupRecord[] {
    const out: LogGroupRecord[] = [];
    const lower = opts.after ?? opts.prefix ?? '';
    const op = opts.after !== undefined ? '>' : '>=';
    const rows = this.db.prepare(`SELECT * FROM log_groups WHERE name ${op} ? ORDER BY name`).iterate([lower]) as IterableIterator<GroupRow>;
    for (const r of rows) {
      if (opts.prefix !== undefined && !r.name.startsWith(opts.prefix)) break;
      if (opts.filter && !opts.filter(r.name)) continue;
      out.push(groupOf(r));
      if (out.length >= opts.limit) break;
    }
    return out;
  }

  deleteGroup(id: number): void {
    this.transaction(() => {
      this.db.prepare(`DELETE FROM events WHERE group_id = ?`).run([id]);
      this.db.prepare(`DELETE FROM log_streams WHERE group_id = ?`).run([id]);
      this.db.prepare(`DELETE FROM log_groups WHERE id = ?`).run([id]);
    });
  }

  setRetention(id: number, days: number | undefined): void {
    this.db.prepare(`UPDATE log_groups SET retention_days = ? WHERE id = ?`).run([days ?? null, id]);
  }

  setTags(id: number, tags: Record<string, string>): void {
    this.db.prepare(`UPDATE log_groups SET tags = ? WHERE id = ?`).run([JSON.stringify(tags), id]);
  }

  groupsWithRetention(): LogGroupRecord[] {
    return (this.db.prepare(`SELECT * FROM log_groups WHERE retention_days IS NOT NULL`).all([]) as GroupRow[]).map(groupOf);
  }

  // ---- streams ----

  stream(groupId: number, name: string): LogStreamRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM log_streams WHERE group_id = ? AND name = ?`).all([groupId, name])[0] as StreamRow | undefined;
    return r && streamOf(r);
  }

  streamById(id: number): LogStreamRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM log_streams WHERE id = ?`).all([id])[0] as StreamRow | undefined;
    return r && streamOf(r);
  }

  createStream(groupId: number, name: string, createdAt: number): boolean {
    const res = this.db
      .prepare(`INSERT INTO log_streams (group_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (group_id, name) DO NOTHING`)
      .run([groupId, name, createdAt]);
    return Number(res.changes) > 0;
  }

  deleteStream(s: LogStreamRecord): void {
    this.transaction(() => {
      this.db.prepare(`DELETE FROM events WHERE stream_id = ?`).run([s.id]);
      this.db.prepare(`DELETE FROM log_streams WHERE id = ?`).run([s.id]);
      this.db.prepare(`UPDATE log_groups SET stored_bytes = max(0, stored_bytes - ?) WHERE id = ?`).run([s.storedBytes, s.groupId]);
    });
  }

  /**
   * Streams of a group in name order (after `afterName`) or by last event
   * time (after `afterKey`, then name), ascending or descending.
   */
  listStreams(opts: {
    groupId: number;
    orderBy: 'LogStreamName' | 'LastEventTime';
    descending: boolean;
    prefix?: string;
    after?: { name: string; lastEvent?: number };
    limit: number;
  }): LogStreamRecord[] {
    const dir = opts.descending ? 'DESC' : 'ASC';
    const cmp = opts.descending ? '<' : '>';
    const params: unknown[] = [opts.groupId];
    let where = 'group_id = ?';
    if (opts.prefix !== undefined) {
      where += ` AND name >= ? AND substr(name, 1, ?) = ?`;
      params.push(opts.prefix, opts.prefix.length, opts.prefix);
    }
    let order: string;
    if (opts.orderBy === 'LogStreamName') {
      if (opts.after) {
        where += ` AND name ${cmp} ?`;
        params.push(opts.after.name);
      }
      order = `name ${dir}`;
    } else {
      // Streams without events sort first (ascending) as -1.
      const key = 'coalesce(last_event, -1)';
      if (opts.after) {
        where += ` AND (${key} ${cmp} ? OR (${key} = ? AND name ${cmp} ?))`;
        const k = opts.after.lastEvent ?? -1;
        params.push(k, k, opts.after.name);
      }
      order = `${key} ${dir}, name ${dir}`;
    }
    params.push(opts.limit);
    return (this.db.prepare(`SELECT * FROM log_streams WHERE ${where} ORDER BY ${order} LIMIT ?`).all(params) as StreamRow[]).map(streamOf);
  }

  /** Stream ids and names of a group, optionally by name prefix. */
  streamNames(groupId: number, prefix?: string): Map<number, string> {
    const rows = (
      prefix === undefined
        ? this.db.prepare(`SELECT id, name FROM log_streams WHERE group_id = ?`).all([groupId])
        : this.db.prepare(`SELECT id, name FROM log_streams WHERE group_id = ? AND substr(name, 1, ?) = ?`).all([groupId, prefix.length, prefix])
    ) as { id: number; name: string }[];
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  // ---- events ----

  /**
   * Appends `events` (already in chronological order) to a stream in one
   * transaction and updates the stream's and group's counters.
   */
  append(stream: LogStreamRecord, events: readonly { timestamp: number; message: string; bytes: number }[], ingestionTime: number): void {
    if (events.length === 0) return;
    this.transaction(() => {
      const insert = this.db.prepare(`INSERT INTO events (group_id, ts, seq, stream_id, ingested, message) VALUES (?, ?, ?, ?, ?, ?)`);
      let bytes = 0;
      let first = Infinity;
      let last = -Infinity;
      for (const e of events) {
        insert.run([stream.groupId, e.timestamp, ++this.seq, stream.id, ingestionTime, e.message]);
        bytes += e.bytes;
        if (e.timestamp < first) first = e.timestamp;
        if (e.timestamp > last) last = e.timestamp;
      }
      this.db
        .prepare(
          `UPDATE log_streams SET stored_bytes = stored_bytes + ?, last_ingestion = ?,
             first_event = CASE WHEN first_event IS NULL OR first_event > ? THEN ? ELSE first_event END,
             last_event = CASE WHEN last_event IS NULL OR last_event < ? THEN ? ELSE last_event END
           WHERE id = ?`,
        )
        .run([bytes, ingestionTime, first, first, last, last, stream.id]);
      this.db.prepare(`UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?`).run([bytes, stream.groupId]);
    });
  }

  /** Events of one stream in `range`, nearest to `from` first, lazily. */
  streamEvents(streamId: number, range: EventRange): IterableIterator<StoredEvent> {
    return this.scan('stream_id', streamId, range);
  }

  /** Events of a whole group in `range`, nearest to `from` first, lazily; with `prefilter`, only events that meet it. */
  groupEvents(groupId: number, range: EventRange, prefilter?: Prefilter): IterableIterator<StoredEvent> {
    return this.scan('group_id', groupId, range, prefilter);
  }

  private *scan(column: 'stream_id' | 'group_id', id: number, range: EventRange, prefilter?: Prefilter): IterableIterator<StoredEvent> {
    const params: unknown[] = [id];
    let where = `${column} = ?`;
    if (range.startTime !== undefined) {
      where += ' AND ts >= ?';
      params.push(range.startTime);
    }
    if (range.endTime !== undefined) {
      where += ' AND ts < ?';
      params.push(range.endTime);
    }
    if (range.from) {
      where += range.direction === 'forward' ? ' AND (ts > ? OR (ts = ? AND seq > ?))' : ' AND (ts < ? OR (ts = ? AND seq < ?))';
      params.push(range.from.timestamp, range.from.timestamp, range.from.seq);
    }
    if (prefilter) where += ` AND ${prefilterSql(prefilter, params)}`;
    const dir = range.direction === 'forward' ? 'ASC' : 'DESC';
    const index = column === 'stream_id' ? 'INDEXED BY events_by_stream' : '';
    const rows = this.db.prepare(`SELECT stream_id, ts, seq, ingested, message FROM events ${index} WHERE ${where} ORDER BY ts ${dir}, seq ${dir}`).iterate(params);
    for (const r of rows as IterableIterator<EventRow>) yield eventOf(r);
  }

  /**
   * Deletes a group's events older than `before` (retention), at most
   * `batch` per call so that a large backlog does not hold the database for
   * long; returns how many it deleted. Stream and group sizes follow.
   */
  expire(groupId: number, before: number, batch = 50_000): number {
    return this.transaction(() => {
      const perStream = this.db
        .prepare(
          `SELECT stream_id, count(*) AS n, sum(length(CAST(message AS BLOB)) + 26) AS bytes, max(ts) AS last_ts FROM
             (SELECT stream_id, message, ts FROM events WHERE group_id = ? AND ts < ? ORDER BY ts, seq LIMIT ?) GROUP BY stream_id`,
        )
        .all([groupId, before, batch]) as { stream_id: number; n: number; bytes: number; last_ts: number }[];
      if (perStream.length === 0) return 0;
      let total = 0;
      let totalBytes = 0;
      let maxTs = -Infinity;
      for (const s of perStream) {
        total += s.n;
        totalBytes += s.bytes;
        if (s.last_ts > maxTs) maxTs = s.last_ts;
      }
      // Delete exactly the rows counted above: everything below the largest deleted timestamp, plus that timestamp's rows up to the batch.
      this.db
        .prepare(`DELETE FROM events WHERE group_id = ? AND (ts, seq) IN (SELECT ts, seq FROM events WHERE group_id = ? AND ts < ? ORDER BY ts, seq LIMIT ?)`)
        .run([groupId, groupId, before, batch]);
      const upd = this.db.prepare(
        `UPDATE log_streams SET stored_bytes = max(0, stored_bytes - ?),
           first_event = (SELECT min(ts) FROM events INDEXED BY events_by_stream WHERE stream_id = log_streams.id)
         WHERE id = ?`,
      );
      for (const s of perStream) upd.run([s.bytes, s.stream_id]);
      this.db.prepare(`UPDATE log_groups SET stored_bytes = max(0, stored_bytes - ?) WHERE id = ?`).run([totalBytes, groupId]);
      return total;
    });
  }

  /** Number of events stored in a stream (tests and benchmarks). */
  countEvents(streamId: number): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM events INDEXED BY events_by_stream WHERE stream_id = ?`).all([streamId])[0] as { n: number }).n;
  }
}

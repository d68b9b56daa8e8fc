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
 * - `event_blooms` is a skip index for term searches (blooms.ts): a trigram
 *   Bloom filter per block of 64 events with the block's time range. A
 *   FilterLogEvents whose pattern needs a term of three bytes or more reads
 *   the filters first and scans only the time ranges of blocks that may hold
 *   it; the SQL prefilter and the pattern's matcher still decide every event.
 *
 * Contract: every method is synchronous and atomic; `seq` increases across
 * the whole store, so (timestamp, seq) orders events of equal timestamp by
 * arrival.
 */
import type { SqliteDatabase } from 'kysely';
import { openSqliteDatabase, type SqliteDriverName } from '../store/sqlite.js';
import type { Prefilter } from './filterPattern.js';
import { BLOCK_EVENTS, blockTest, bloomOf } from './blooms.js';
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
  `CREATE TABLE IF NOT EXISTS event_blooms (
     group_id INTEGER NOT NULL, ts_first INTEGER NOT NULL, seq_first INTEGER NOT NULL, ts_last INTEGER NOT NULL, seq_min INTEGER NOT NULL, seq_max INTEGER NOT NULL, bloom BLOB NOT NULL,
     PRIMARY KEY (group_id, ts_first, seq_first)) WITHOUT ROWID`,
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

/** Where a term search looks: events with timestamps and sequence numbers in these closed ranges. */
interface Span {
  tsFirst: number;
  tsLast: number;
  seqMin: number;
  seqMax: number;
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
    this.indexUnindexedEvents();
  }

  /** Builds the skip index over events stored before it existed (once per log file). */
  private indexUnindexedEvents(): void {
    if (this.db.prepare(`SELECT value FROM meta WHERE key = 'blooms'`).all([]).length > 0) return;
    this.transaction(() => {
      type Row = { group_id: number; ts: number; seq: number; message: string };
      // Read a page at a time: the connection cannot write while a read is open.
      const page = this.db.prepare(`SELECT group_id, ts, seq, message FROM events WHERE (group_id, ts, seq) > (?, ?, ?) ORDER BY group_id, ts, seq LIMIT ?`);
      let after: [number, number, number] = [-Infinity, -Infinity, -Infinity];
      let block: Row[] = [];
      const flush = () => {
        const first = block[0];
        if (first) {
          const seqs = block.map((r) => r.seq);
          this.insertBlock(first.group_id, first.ts, first.seq, block[block.length - 1]!.ts, Math.min(...seqs), Math.max(...seqs), block.map((r) => r.message));
        }
        block = [];
      };
      for (;;) {
        const rows = page.all([...after, BLOCK_EVENTS * 256]) as Row[];
        for (const r of rows) {
          if (block.length === BLOCK_EVENTS || (block.length > 0 && block[0]!.group_id !== r.group_id)) flush();
          block.push(r);
        }
        const last = rows[rows.length - 1];
        if (!last) break;
        after = [last.group_id, last.ts, last.seq];
      }
      flush();
      this.db.prepare(`INSERT INTO meta (key, value) VALUES ('blooms', 1)`).run([]);
    });
  }

  /** A block: its events have timestamps in [tsFirst, tsLast] and sequence numbers in [seqMin, seqMax]. */
  private insertBlock(groupId: number, tsFirst: number, seqFirst: number, tsLast: number, seqMin: number, seqMax: number, messages: readonly string[]): void {
    this.db
      .prepare(`INSERT INTO event_blooms (group_id, ts_first, seq_first, ts_last, seq_min, seq_max, bloom) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run([groupId, tsFirst, seqFirst, tsLast, seqMin, seqMax, bloomOf(messages)]);
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
      this.db.prepare(`DELETE FROM event_blooms WHERE group_id = ?`).run([id]);
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
      for (let i = 0; i < events.length; i += BLOCK_EVENTS) {
        const seqFirst = this.seq + 1;
        let blockFirst = Infinity;
        let blockLast = -Infinity;
        const messages: string[] = [];
        for (const e of events.slice(i, i + BLOCK_EVENTS)) {
          insert.run([stream.groupId, e.timestamp, ++this.seq, stream.id, ingestionTime, e.message]);
          bytes += e.bytes;
          if (e.timestamp < blockFirst) blockFirst = e.timestamp;
          if (e.timestamp > blockLast) blockLast = e.timestamp;
          messages.push(e.message);
        }
        this.insertBlock(stream.groupId, blockFirst, seqFirst, blockLast, seqFirst, this.seq, messages);
        if (blockFirst < first) first = blockFirst;
        if (blockLast > last) last = blockLast;
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
    const test = prefilter && column === 'group_id' && range.direction === 'forward' ? blockTest(prefilter) : undefined;
    if (!test) {
      yield* this.scanRange(column, id, range, prefilter);
      return;
    }
    // Only the time ranges of blocks that may hold the terms, merged, in time order.
    const lower = Math.max(range.startTime ?? -Infinity, range.from?.timestamp ?? -Infinity);
    const params: unknown[] = [id];
    let where = 'group_id = ?';
    if (range.endTime !== undefined) {
      where += ' AND ts_first < ?';
      params.push(range.endTime);
    }
    if (lower !== -Infinity) {
      where += ' AND ts_last >= ?';
      params.push(lower);
    }
    // Spans of blocks that overlap in time are merged (their time and sequence bounds widen to hold both).
    const spans: Span[] = [];
    let blocks = 0;
    let candidates = 0;
    for (const b of this.db.prepare(`SELECT ts_first, ts_last, seq_min, seq_max, bloom FROM event_blooms WHERE ${where} ORDER BY ts_first`).iterate(params) as IterableIterator<{
      ts_first: number;
      ts_last: number;
      seq_min: number;
      seq_max: number;
      bloom: Uint8Array;
    }>) {
      blocks++;
      if (!test(b.bloom)) continue;
      candidates++;
      const last = spans[spans.length - 1];
      if (last && b.ts_first <= last.tsLast) {
        last.tsLast = Math.max(last.tsLast, b.ts_last);
        last.seqMin = Math.min(last.seqMin, b.seq_min);
        last.seqMax = Math.max(last.seqMax, b.seq_max);
      } else spans.push({ tsFirst: b.ts_first, tsLast: b.ts_last, seqMin: b.seq_min, seqMax: b.seq_max });
    }
    // A term in most blocks: one pass over the group beats a seek per span.
    if (candidates > blocks / 2) yield* this.scanRange(column, id, range, prefilter);
    else if (spans.length > 0) yield* this.scanRange(column, id, range, prefilter, spans);
  }

  /**
   * Events in `range`, as SQL finds them; with `spans` (in time order, not
   * overlapping), only events inside one of them, span after span.
   */
  private *scanRange(column: 'stream_id' | 'group_id', id: number, range: EventRange, prefilter?: Prefilter, spans?: readonly Span[]): IterableIterator<StoredEvent> {
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
    const spanAt = params.length;
    if (spans) {
      // As key bounds, (first timestamp, lowest sequence) to (last timestamp, highest sequence): one seek straight to the block.
      where += ' AND (ts, seq) >= (?, ?) AND (ts, seq) <= (?, ?) AND seq >= ? AND seq <= ?';
      params.push(0, 0, 0, 0, 0, 0);
    }
    if (prefilter) where += ` AND ${prefilterSql(prefilter, params)}`;
    const dir = range.direction === 'forward' ? 'ASC' : 'DESC';
    const index = column === 'stream_id' ? 'INDEXED BY events_by_stream' : '';
    const statement = this.db.prepare(`SELECT stream_id, ts, seq, ingested, message FROM events ${index} WHERE ${where} ORDER BY ts ${dir}, seq ${dir}`);
    for (const span of spans ?? [undefined]) {
      if (span) params.splice(spanAt, 6, span.tsFirst, span.seqMin, span.tsLast, span.seqMax, span.seqMin, span.seqMax);
      for (const r of statement.iterate(params) as IterableIterator<EventRow>) yield eventOf(r);
    }
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
      // Blocks whose every event is gone: all events below the largest deleted timestamp are.
      this.db.prepare(`DELETE FROM event_blooms WHERE group_id = ? AND ts_last < ?`).run([groupId, maxTs]);
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

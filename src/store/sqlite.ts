import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { SqlStore } from './sqlStore.js';

export interface SqliteOptions {
  /** Database file path, or ':memory:' for tests. */
  path: string;
  /**
   * 'full' (default) syncs the WAL on every commit, so an acknowledged write
   * survives power loss as well as a killed process; 'normal' survives a
   * killed process only.
   */
  synchronous?: 'full' | 'normal';
}

/** WAL pages (4 KiB each) between automatic checkpoints. */
const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * better-sqlite3 prepares a statement per call; Kysely issues the same SQL
 * text over and over, so reuse prepared statements by their text.
 */
function cachingDatabase(db: BetterSqlite3.Database) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => db.close(),
    prepare: (sqlText: string) => {
      let stmt = cache.get(sqlText);
      if (!stmt) {
        stmt = db.prepare(sqlText);
        if (cache.size > 500) cache.clear();
        cache.set(sqlText, stmt);
      }
      return stmt;
    },
  };
}

/** Opens (creating and migrating as needed) the embedded SQLite store. */
export async function openSqliteStore(opts: SqliteOptions): Promise<SqlStore> {
  const db = new BetterSqlite3(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Checkpoint the WAL into the database every ~40 MiB instead of SQLite's ~4 MiB: rows rewritten
  // often (container instances, index pages) are copied back once per checkpoint, not once per
  // few hundred commits. Durability is unchanged: every commit still syncs the WAL.
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingDatabase(db) }) });
  return SqlStore.open(kysely, 'sqlite');
}

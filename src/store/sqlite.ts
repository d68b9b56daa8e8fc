import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { SqlStore } from './sqlStore.js';
import { betterSqliteAvailability, openBetterSqlite } from './sqliteBetter.js';
import { nodeSqliteAvailability, openNodeSqlite } from './sqliteNode.js';
import type { DriverAvailability, SqliteConnection } from './sqliteDriver.js';

/**
 * The SQLite drivers the store runs on: the better-sqlite3 addon, or Node's
 * built-in node:sqlite (Node.js 22.16+). Both give the same store; only the
 * binding to SQLite differs.
 */
export const SQLITE_DRIVERS = ['better-sqlite3', 'node'] as const;
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number];

export type { DriverAvailability, SqliteConnection } from './sqliteDriver.js';

export interface SqliteOptions {
  /** Database file path, or ':memory:' for tests. */
  path: string;
  /**
   * 'full' (default) syncs the WAL on every commit, so an acknowledged write
   * survives power loss as well as a killed process; 'normal' survives a
   * killed process only.
   */
  synchronous?: 'full' | 'normal';
  /** The driver to use; by default the one `chooseSqliteDriver()` picks. */
  driver?: SqliteDriverName;
}

export interface SqliteDriverChoice {
  driver: SqliteDriverName;
  /** Why this driver, for the start-up log. */
  reason: string;
}

/** Whether each driver works on the running Node.js (checked once per process). */
export function sqliteDriverAvailability(): Record<SqliteDriverName, DriverAvailability> {
  return { 'better-sqlite3': betterSqliteAvailability(), node: nodeSqliteAvailability() };
}

/** The drivers that work on the running Node.js, in order of preference. */
export function availableSqliteDrivers(): SqliteDriverName[] {
  const a = sqliteDriverAvailability();
  return SQLITE_DRIVERS.filter((d) => a[d].available);
}

/**
 * Picks a driver: the one `forced` names (BERTH_SQLITE_DRIVER), else
 * better-sqlite3 when its addon loads, else node:sqlite. Throws an error that
 * says what to do when the forced driver, or every driver, is unavailable.
 */
export function pickSqliteDriver(forced: string | undefined, availability: Record<SqliteDriverName, DriverAvailability>): SqliteDriverChoice {
  if (forced !== undefined && forced !== '') {
    if (!(SQLITE_DRIVERS as readonly string[]).includes(forced)) {
      throw new Error(`BERTH_SQLITE_DRIVER must be one of ${SQLITE_DRIVERS.join(', ')}; got '${forced}'.`);
    }
    const driver = forced as SqliteDriverName;
    const a = availability[driver];
    if (!a.available) throw new Error(`BERTH_SQLITE_DRIVER=${driver}, but that driver is not available: ${a.reason}.`);
    return { driver, reason: 'set by BERTH_SQLITE_DRIVER' };
  }
  const better = availability['better-sqlite3'];
  if (better.available) return { driver: 'better-sqlite3', reason: 'its native addon loads' };
  const node = availability.node;
  if (node.available) return { driver: 'node', reason: better.reason };
  throw new Error(
    `No SQLite driver works on Node.js ${process.version}: ${better.reason} (run "npm rebuild better-sqlite3" with this Node.js); ${node.reason}.`,
  );
}

/** The driver the server uses: BERTH_SQLITE_DRIVER when set, else the first that works here. */
export function chooseSqliteDriver(env: NodeJS.ProcessEnv = process.env): SqliteDriverChoice {
  return pickSqliteDriver(env.BERTH_SQLITE_DRIVER, sqliteDriverAvailability());
}

/** WAL pages (4 KiB each) between automatic checkpoints. */
const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * Opens `opts.path` with the chosen driver and the store's durability settings
 * (WAL, synchronous FULL unless 'normal' is asked for, busy timeout, checkpoint
 * interval). The returned connection is what the store runs on.
 */
export function openSqliteDatabase(opts: SqliteOptions): SqliteConnection {
  const driver = opts.driver ?? chooseSqliteDriver().driver;
  const a = sqliteDriverAvailability()[driver];
  if (!a.available) throw new Error(`SQLite driver ${driver} is not available: ${a.reason}.`);
  const db: SqliteConnection = driver === 'node' ? openNodeSqlite(opts.path) : openBetterSqlite(opts.path);
  try {
    // The same durability on every driver.
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    // Checkpoint the WAL into the database every ~40 MiB instead of SQLite's ~4 MiB: rows rewritten
    // often (container instances, index pages) are copied back once per checkpoint, not once per
    // few hundred commits. Durability is unchanged: every commit still syncs the WAL.
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  } catch (err) {
    db.database.close();
    throw err;
  }
  return db;
}

/** Opens (creating and migrating as needed) the embedded SQLite store. */
export async function openSqliteStore(opts: SqliteOptions): Promise<SqlStore> {
  const db = openSqliteDatabase(opts);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: db.database }) });
  return SqlStore.open(kysely, 'sqlite');
}

// The better-sqlite3 driver: the native addon shaped as the database object
// Kysely's SqliteDialect drives.
import BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import type { DriverAvailability, SqliteConnection } from './sqliteDriver.js';

let availability: DriverAvailability | undefined;

/**
 * Whether better-sqlite3's native addon loads on this Node.js, and if not, why.
 * The addon is compiled for the Node.js that installed it; another Node.js
 * (another NODE_MODULE_VERSION) refuses to load it.
 */
export function betterSqliteAvailability(): DriverAvailability {
  if (availability) return availability;
  try {
    new BetterSqlite3(':memory:').close();
    availability = { available: true };
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
    availability = { available: false, reason: `the better-sqlite3 addon does not load on Node.js ${process.version}: ${message}` };
  }
  return availability;
}

/** Opens `path` with better-sqlite3; throws when its addon does not load. */
export function openBetterSqlite(path: string): SqliteConnection {
  const db = new BetterSqlite3(path);
  // better-sqlite3 prepares a statement per call; Kysely issues the same SQL text over and over,
  // so reuse prepared statements by their text.
  const cache = new Map<string, BetterSqlite3.Statement>();
  const database: SqliteDatabase = {
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
  return { database, exec: (sqlText) => void db.exec(sqlText) };
}

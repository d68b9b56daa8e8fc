import type { SqliteDatabase } from 'kysely';

/** Whether a SQLite driver works on the running Node.js, and if not, why. */
export type DriverAvailability = { available: true } | { available: false; reason: string };

/** What a driver gives the store: Kysely's SQLite database object, and a way to run PRAGMAs. */
export interface SqliteConnection {
  database: SqliteDatabase;
  /** Runs SQL whose result nobody reads (PRAGMAs). */
  exec(sqlText: string): void;
}

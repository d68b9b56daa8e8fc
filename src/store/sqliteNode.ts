// The node:sqlite driver: Node's built-in SQLite (DatabaseSync) shaped as the
// database object Kysely's SqliteDialect drives. Used where the better-sqlite3
// addon does not load (a Node.js other than the one that compiled it).
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { DriverAvailability, SqliteConnection } from './sqliteDriver.js';

/** The part of node:sqlite's StatementSync this driver uses (Node 22.16+, 24). */
interface StatementSync {
  columns(): unknown[];
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: unknown[]): Iterator<unknown>;
}

/** The part of node:sqlite's DatabaseSync this driver uses. */
interface DatabaseSync {
  prepare(sqlText: string): StatementSync;
  exec(sqlText: string): void;
  close(): void;
}

interface NodeSqliteModule {
  DatabaseSync: new (path: string) => DatabaseSync;
  StatementSync: { prototype: Partial<StatementSync> };
}

type Loaded = { ok: true; module: NodeSqliteModule } | { ok: false; reason: string };
let loaded: Loaded | undefined;

/**
 * Loads node:sqlite once. Node 22 prints "ExperimentalWarning: SQLite is an
 * experimental feature" when the module loads (Node 24.21 no longer does).
 * Berth logs which SQLite driver it uses at start, so that one warning, and
 * only it, is filtered while the module loads; every other warning passes
 * through unchanged.
 */
function load(): Loaded {
  if (loaded) return loaded;
  const original = process.emitWarning;
  process.emitWarning = function emitWarningExceptSqlite(this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const name = warning instanceof Error ? warning.name : type;
    const message = warning instanceof Error ? warning.message : warning;
    if (name === 'ExperimentalWarning' && /\bSQLite\b/.test(message)) return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  let mod: NodeSqliteModule | undefined;
  try {
    // getBuiltinModule is synchronous (Node 20.16+), so the filter above is in place for exactly the load.
    mod = typeof process.getBuiltinModule === 'function' ? (process.getBuiltinModule('node:sqlite') as NodeSqliteModule | undefined) : undefined;
  } catch (err) {
    loaded = { ok: false, reason: `node:sqlite does not load on Node.js ${process.version}: ${err instanceof Error ? err.message : String(err)}` };
    return loaded;
  } finally {
    process.emitWarning = original;
  }
  if (!mod) loaded = { ok: false, reason: `node:sqlite is not built into Node.js ${process.version} (it needs 22.16 or newer)` };
  else if (typeof mod.StatementSync.prototype.columns !== 'function' || typeof mod.StatementSync.prototype.iterate !== 'function') {
    loaded = { ok: false, reason: `node:sqlite in Node.js ${process.version} lacks StatementSync.columns() (it needs 22.16 or newer)` };
  } else loaded = { ok: true, module: mod };
  return loaded;
}

/** Whether node:sqlite can be used on this Node.js, and if not, why. */
export function nodeSqliteAvailability(): DriverAvailability {
  const l = load();
  return l.ok ? { available: true } : { available: false, reason: l.reason };
}

/**
 * SQLite's names for its result codes. node:sqlite reports the numeric
 * extended code (`errcode`) with code 'ERR_SQLITE_ERROR'; better-sqlite3 reports
 * the name in `code`. The SQL core reads the name, so this driver sets it.
 */
const PRIMARY_CODES = [
  'SQLITE_OK', 'SQLITE_ERROR', 'SQLITE_INTERNAL', 'SQLITE_PERM', 'SQLITE_ABORT', 'SQLITE_BUSY', 'SQLITE_LOCKED',
  'SQLITE_NOMEM', 'SQLITE_READONLY', 'SQLITE_INTERRUPT', 'SQLITE_IOERR', 'SQLITE_CORRUPT', 'SQLITE_NOTFOUND',
  'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_EMPTY', 'SQLITE_SCHEMA', 'SQLITE_TOOBIG',
  'SQLITE_CONSTRAINT', 'SQLITE_MISMATCH', 'SQLITE_MISUSE', 'SQLITE_NOLFS', 'SQLITE_AUTH', 'SQLITE_FORMAT',
  'SQLITE_RANGE', 'SQLITE_NOTADB', 'SQLITE_NOTICE', 'SQLITE_WARNING',
] as const;
const EXTENDED_CODES: Record<number, string> = {
  261: 'SQLITE_BUSY_RECOVERY',
  517: 'SQLITE_BUSY_SNAPSHOT',
  773: 'SQLITE_BUSY_TIMEOUT',
  262: 'SQLITE_LOCKED_SHAREDCACHE',
  275: 'SQLITE_CONSTRAINT_CHECK',
  531: 'SQLITE_CONSTRAINT_COMMITHOOK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1043: 'SQLITE_CONSTRAINT_FUNCTION',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  1811: 'SQLITE_CONSTRAINT_TRIGGER',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
  2323: 'SQLITE_CONSTRAINT_VTAB',
  2579: 'SQLITE_CONSTRAINT_ROWID',
  3091: 'SQLITE_CONSTRAINT_DATATYPE',
};

/** Gives a node:sqlite error the `code` better-sqlite3 would (e.g. 'SQLITE_CONSTRAINT_PRIMARYKEY'), keeping its message and stack. */
export function withSqliteCode(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown; errcode?: unknown };
  if (e.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') return err;
  e.code = EXTENDED_CODES[e.errcode] ?? PRIMARY_CODES[e.errcode & 0xff] ?? `SQLITE_${e.errcode}`;
  return e;
}

function translated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw withSqliteCode(err);
  }
}

/** One prepared statement in the shape Kysely's SqliteDialect calls (parameters as one array). */
function statement(stmt: StatementSync): SqliteStatement {
  // A statement that returns columns (SELECT, PRAGMA, INSERT ... RETURNING) is a reader, as in better-sqlite3.
  const reader = stmt.columns().length > 0;
  return {
    reader,
    all: (parameters) => translated(() => stmt.all(...parameters)),
    run: (parameters) => translated(() => stmt.run(...parameters)),
    iterate(parameters) {
      const it = translated(() => stmt.iterate(...parameters));
      const wrapped: IterableIterator<unknown> = {
        next: () => translated(() => it.next()),
        return: (value?: unknown) => translated(() => it.return?.(value) ?? { done: true as const, value: undefined }),
        [Symbol.iterator]: () => wrapped,
      };
      return wrapped;
    },
  };
}

/** Opens `path` with node:sqlite; throws when node:sqlite is not available on this Node.js. */
export function openNodeSqlite(path: string): SqliteConnection {
  const l = load();
  if (!l.ok) throw new Error(l.reason);
  const db = translated(() => new l.module.DatabaseSync(path));
  // Kysely issues the same SQL text over and over: reuse prepared statements by their text.
  const cache = new Map<string, SqliteStatement>();
  const database: SqliteDatabase = {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare: (sqlText) => {
      let stmt = cache.get(sqlText);
      if (!stmt) {
        stmt = statement(translated(() => db.prepare(sqlText)));
        if (cache.size > 500) cache.clear();
        cache.set(sqlText, stmt);
      }
      return stmt;
    },
  };
  return { database, exec: (sqlText) => translated(() => db.exec(sqlText)) };
}

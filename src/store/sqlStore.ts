import type { Kysely, Transaction as KyselyTransaction, SelectQueryBuilder } from 'kysely';
import { INDEX_COLUMNS, TABLE, type Database, type Dialect, type ResourceTable, migrate } from './schema.js';
import {
  INDEXES,
  AlreadyExistsError,
  VersionConflictError,
  type Change,
  type ChangeListener,
  type Keys,
  type Kind,
  type NewRow,
  type Query,
  type Row,
  type Store,
  type StoreReader,
  type Transaction,
} from './store.js';

type Db = Kysely<Database> | KyselyTransaction<Database>;

/** Rows per multi-row INSERT: 9 bound values each stays far below every dialect's parameter limit. */
const ROWS_PER_STATEMENT = 500;

type IndexColumn = (typeof INDEX_COLUMNS)[number];

/** The column holding a named index of a kind; throws for a name the kind does not declare. */
function indexColumn(kind: Kind, name: string): IndexColumn {
  const i = (INDEXES[kind] as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`${kind} has no index named ${name}`);
  return INDEX_COLUMNS[i]!;
}

/** The key columns of a row, from its named index values. */
function keyColumns(kind: Kind, keys: Keys | undefined): Record<IndexColumn, string> {
  const cols: Record<IndexColumn, string> = { ix1: '', ix2: '', ix3: '' };
  const names: readonly string[] = INDEXES[kind];
  for (const [i, name] of names.entries()) cols[INDEX_COLUMNS[i]!] = keys?.[name] ?? '';
  return cols;
}

function keysOf(kind: Kind, r: Pick<ResourceTable, IndexColumn>): Keys {
  const keys: Record<string, string> = {};
  const names: readonly string[] = INDEXES[kind];
  for (const [i, name] of names.entries()) keys[name] = r[INDEX_COLUMNS[i]!];
  return keys;
}

function decode<T>(kind: Kind, r: ResourceTable): Row<T> {
  return {
    arn: r.arn,
    cluster: r.cluster,
    name: r.name,
    status: r.status,
    state: r.state,
    seq: Number(r.seq),
    version: Number(r.version),
    keys: keysOf(kind, r),
    doc: JSON.parse(r.doc) as T,
  };
}

function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

function applyQuery<O>(
  kind: Kind,
  qb: SelectQueryBuilder<Database, ResourceTableName, O>,
  q: Query,
): SelectQueryBuilder<Database, ResourceTableName, O> {
  let b = qb;
  if (q.cluster !== undefined) b = b.where('cluster', '=', q.cluster);
  for (const [name, value] of Object.entries(q.where ?? {})) {
    if (value !== undefined) b = b.where(indexColumn(kind, name), '=', value);
  }
  if (q.name !== undefined) b = b.where('name', '=', q.name);
  if (q.status !== undefined) {
    if (typeof q.status === 'string') b = b.where('status', '=', q.status);
    else if (q.status.length > 0) b = b.where('status', 'in', [...q.status]);
  }
  if (q.state !== undefined) {
    if (typeof q.state === 'string') b = b.where('state', '=', q.state);
    else if (q.state.length > 0) b = b.where('state', 'in', [...q.state]);
  }
  return b;
}

type ResourceTableName = (typeof TABLE)[Kind];

/** Reads shared by the store and its transactions. */
class SqlReader implements StoreReader {
  constructor(protected readonly db: Db) {}

  async get<T>(kind: Kind, arn: string): Promise<Row<T> | undefined> {
    const r = await this.db.selectFrom(TABLE[kind]).selectAll().where('arn', '=', arn).executeTakeFirst();
    return r ? decode<T>(kind, r) : undefined;
  }

  async find<T>(kind: Kind, q: Query = {}): Promise<Row<T>[]> {
    let b = applyQuery(kind, this.db.selectFrom(TABLE[kind]).selectAll(), q);
    const dir = q.descending ? 'desc' : 'asc';
    if (q.after) {
      const { name, seq, arn } = q.after;
      b = b.where((eb) =>
        eb(eb.refTuple('name', 'seq', 'arn'), q.descending ? '<' : '>', eb.tuple(name, seq, arn)),
      );
    }
    b = b.orderBy('name', dir).orderBy('seq', dir).orderBy('arn', dir);
    if (q.limit !== undefined) b = b.limit(q.limit);
    const rows = await b.execute();
    return rows.map((r) => decode<T>(kind, r));
  }

  async count(kind: Kind, q: Query = {}): Promise<number> {
    const r = await applyQuery(
      kind,
      this.db.selectFrom(TABLE[kind]).select((eb) => eb.fn.countAll<number>().as('n')),
      q,
    ).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async distinctNames(
    kind: Kind,
    q: { status?: string | readonly string[]; prefix?: string; after?: string; limit?: number; descending?: boolean } = {},
  ): Promise<string[]> {
    let b = applyQuery(kind, this.db.selectFrom(TABLE[kind]).select('name').distinct(), q.status !== undefined ? { status: q.status } : {});
    if (q.prefix !== undefined && q.prefix !== '') {
      // Prefix match without LIKE wildcards: names sort between prefix and prefix + U+FFFF.
      b = b.where('name', '>=', q.prefix).where('name', '<', q.prefix + '\uffff');
    }
    if (q.after !== undefined) b = b.where('name', q.descending ? '<' : '>', q.after);
    b = b.orderBy('name', q.descending ? 'desc' : 'asc');
    if (q.limit !== undefined) b = b.limit(q.limit);
    return (await b.execute()).map((r) => r.name);
  }
}

class SqlTransaction extends SqlReader implements Transaction {
  readonly changes: Omit<Change, 'seq'>[] = [];

  constructor(db: KyselyTransaction<Database>) {
    super(db);
  }

  private record(kind: Kind, arn: string, cluster: string, name: string, keys: Keys, op: Change['op'], version: number, at: number): void {
    this.changes.push({ kind, arn, cluster, name, keys, op, version, at });
  }

  async getIdempotent<T>(key: string): Promise<T | undefined> {
    const r = await this.db.selectFrom('idempotency').select('response').where('key', '=', key).executeTakeFirst();
    return r ? (JSON.parse(r.response) as T) : undefined;
  }

  async putIdempotent(key: string, response: unknown): Promise<void> {
    await this.db.insertInto('idempotency').values({ key, response: JSON.stringify(response), created_at: Date.now() }).execute();
  }

  async insert<T>(kind: Kind, row: NewRow<T>): Promise<Row<T>> {
    return (await this.insertMany(kind, [row]))[0]!;
  }

  async insertMany<T>(kind: Kind, rows: readonly NewRow<T>[]): Promise<Row<T>[]> {
    const now = Date.now();
    const arns = new Set<string>();
    for (const row of rows) {
      if (arns.has(row.arn)) throw new AlreadyExistsError(kind, row.arn);
      arns.add(row.arn);
    }
    for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
      try {
        await this.db
          .insertInto(TABLE[kind])
          .values(
            chunk.map((row) => ({
              arn: row.arn,
              cluster: row.cluster,
              name: row.name,
              status: row.status,
              state: row.state ?? '',
              seq: row.seq,
              version: 1,
              updated_at: now,
              ...keyColumns(kind, row.keys),
              doc: JSON.stringify(row.doc),
            })),
          )
          .execute();
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const taken = await this.db.selectFrom(TABLE[kind]).select('arn').where('arn', 'in', chunk.map((r) => r.arn)).executeTakeFirst();
        throw new AlreadyExistsError(kind, taken?.arn ?? chunk[0]!.arn);
      }
    }
    return rows.map((row) => {
      const keys = keysOf(kind, keyColumns(kind, row.keys));
      this.record(kind, row.arn, row.cluster, row.name, keys, 'insert', 1, now);
      return { ...row, state: row.state ?? '', version: 1, keys };
    });
  }

  async update<T>(kind: Kind, row: Row<T>): Promise<Row<T>> {
    const now = Date.now();
    const next = row.version + 1;
    const res = await this.db
      .updateTable(TABLE[kind])
      .set({
        cluster: row.cluster,
        name: row.name,
        status: row.status,
        state: row.state,
        seq: row.seq,
        version: next,
        updated_at: now,
        ...(row.keys !== undefined ? keyColumns(kind, row.keys) : {}),
        doc: JSON.stringify(row.doc),
      })
      .where('arn', '=', row.arn)
      .where('version', '=', row.version)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new VersionConflictError(kind, row.arn, row.version);
    let keys = row.keys;
    if (keys === undefined) {
      const cols = await this.db.selectFrom(TABLE[kind]).select([...INDEX_COLUMNS]).where('arn', '=', row.arn).executeTakeFirstOrThrow();
      keys = keysOf(kind, cols);
    } else keys = keysOf(kind, keyColumns(kind, keys));
    this.record(kind, row.arn, row.cluster, row.name, keys, 'update', next, now);
    return { ...row, version: next, keys };
  }

  async remove(kind: Kind, arn: string, expectedVersion: number): Promise<void> {
    const existing = await this.db
      .selectFrom(TABLE[kind])
      .select(['cluster', 'name', 'version', ...INDEX_COLUMNS])
      .where('arn', '=', arn)
      .executeTakeFirst();
    const res = await this.db
      .deleteFrom(TABLE[kind])
      .where('arn', '=', arn)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) !== 1 || !existing) throw new VersionConflictError(kind, arn, expectedVersion);
    this.record(kind, arn, existing.cluster, existing.name, keysOf(kind, existing), 'delete', expectedVersion + 1, Date.now());
  }

  async nextCounter(name: string): Promise<number> {
    const r = await this.db
      .insertInto('counters')
      .values({ name, value: 1 })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ value: eb('counters.value', '+', 1) })))
      .returning('value')
      .executeTakeFirstOrThrow();
    return Number(r.value);
  }
}

/**
 * The store over any SQL dialect Kysely speaks. Drivers (`sqlite.ts`, later
 * PostgreSQL) only construct the Kysely instance and name the dialect.
 */
export class SqlStore extends SqlReader implements Store {
  private readonly listeners = new Set<ChangeListener>();

  private constructor(private readonly kysely: Kysely<Database>) {
    super(kysely);
  }

  static async open(kysely: Kysely<Database>, dialect: Dialect): Promise<SqlStore> {
    await migrate(kysely, dialect);
    return new SqlStore(kysely);
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let published: Change[] = [];
    const result = await this.kysely.transaction().execute(async (trx) => {
      const tx = new SqlTransaction(trx);
      const value = await fn(tx);
      published = [];
      for (let start = 0; start < tx.changes.length; start += ROWS_PER_STATEMENT) {
        const chunk = tx.changes.slice(start, start + ROWS_PER_STATEMENT);
        // One statement per chunk; its rows take increasing sequence numbers in the order given.
        const seqs = (await trx.insertInto('changes').values(chunk.map((c) => ({ ...c, keys: JSON.stringify(c.keys) }))).returning('seq').execute()).map((r) => Number(r.seq)).sort((a, b) => a - b);
        chunk.forEach((c, i) => published.push({ ...c, seq: seqs[i]! }));
      }
      return value;
    });
    if (published.length > 0) this.publish(published);
    return result;
  }

  private publish(changes: Change[]): void {
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch {
        // A failing watcher must not break the writer; watchers log their own errors.
      }
    }
  }

  watch(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    const rows = await this.kysely
      .selectFrom('changes')
      .selectAll()
      .where('seq', '>', seq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      kind: r.kind as Kind,
      arn: r.arn,
      cluster: r.cluster,
      name: r.name,
      keys: JSON.parse(r.keys) as Keys,
      op: r.op as Change['op'],
      version: Number(r.version),
      at: Number(r.at),
    }));
  }

  async lastChangeSeq(): Promise<number> {
    const r = await this.kysely
      .selectFrom('changes')
      .select((eb) => eb.fn.max('seq').as('m'))
      .executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  async purge(kind: Kind, q: { status: string; state?: string; updatedBefore: number }): Promise<number> {
    let del = this.kysely.deleteFrom(TABLE[kind]).where('status', '=', q.status);
    if (q.state !== undefined) del = del.where('state', '=', q.state);
    const res = await del
      .where('updated_at', '<', q.updatedBefore)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Drops change-feed entries older than `before` (epoch ms); watchers older than that re-sync from a snapshot. */
  async trimChanges(before: number): Promise<number> {
    const res = await this.kysely.deleteFrom('changes').where('at', '<', before).executeTakeFirst();
    await this.kysely.deleteFrom('idempotency').where('created_at', '<', before).execute();
    return Number(res.numDeletedRows);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.kysely.destroy();
  }
}

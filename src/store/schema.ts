import { sql, type Generated, type Kysely } from 'kysely';
import { KINDS, type Kind } from './store.js';

/** Column types of one resource table; every kind has the same shape. */
export interface ResourceTable {
  arn: string;
  cluster: string;
  name: string;
  status: string;
  state: string;
  seq: number;
  version: number;
  updated_at: number;
  doc: string;
}

export interface ChangeTable {
  seq: Generated<number>;
  kind: string;
  arn: string;
  cluster: string;
  name: string;
  op: string;
  version: number;
  at: number;
}

export interface CounterTable {
  name: string;
  value: number;
}

export interface IdempotencyTable {
  key: string;
  response: string;
  created_at: number;
}

export interface MigrationTable {
  id: number;
  applied_at: number;
}

export interface Database {
  clusters: ResourceTable;
  task_definitions: ResourceTable;
  container_instances: ResourceTable;
  tasks: ResourceTable;
  services: ResourceTable;
  repositories: ResourceTable;
  images: ResourceTable;
  image_tags: ResourceTable;
  repository_layers: ResourceTable;
  changes: ChangeTable;
  counters: CounterTable;
  idempotency: IdempotencyTable;
  schema_migrations: MigrationTable;
}

export type ResourceTableName =
  | 'clusters'
  | 'task_definitions'
  | 'container_instances'
  | 'tasks'
  | 'services'
  | 'repositories'
  | 'images'
  | 'image_tags'
  | 'repository_layers';

export const TABLE: Record<Kind, ResourceTableName> = {
  cluster: 'clusters',
  taskDefinition: 'task_definitions',
  containerInstance: 'container_instances',
  task: 'tasks',
  service: 'services',
  repository: 'repositories',
  image: 'images',
  imageTag: 'image_tags',
  layer: 'repository_layers',
};

export type Dialect = 'sqlite' | 'postgres';

interface Migration {
  id: number;
  up(db: Kysely<Database>, dialect: Dialect): Promise<void>;
}

/**
 * Ordered schema migrations. Append only: a released migration never changes.
 * Each runs in its own transaction together with its bookkeeping row.
 */
const MIGRATIONS: Migration[] = [
  {
    id: 1,
    async up(db, dialect) {
      for (const kind of KINDS) {
        const table = TABLE[kind];
        await db.schema
          .createTable(table)
          .addColumn('arn', 'text', (c) => c.primaryKey())
          .addColumn('cluster', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('doc', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex(`${table}_order`).on(table).columns(['name', 'seq', 'arn']).execute();
        await db.schema.createIndex(`${table}_cluster`).on(table).columns(['cluster', 'status']).execute();
        await db.schema.createIndex(`${table}_state`).on(table).columns(['cluster', 'state']).execute();
        await db.schema.createIndex(`${table}_status`).on(table).columns(['status', 'updated_at']).execute();
      }
      await db.schema
        .createTable('changes')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('cluster', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('op', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('counters')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('idempotency')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    // The registry: repositories, images (manifests) and their tags, and the
    // blobs linked to each repository. A database created after this kind list
    // grew already has these tables from migration 1, hence `ifNotExists`.
    id: 2,
    async up(db) {
      for (const table of ['repositories', 'images', 'image_tags', 'repository_layers'] as const) {
        await db.schema
          .createTable(table)
          .ifNotExists()
          .addColumn('arn', 'text', (c) => c.primaryKey())
          .addColumn('cluster', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('doc', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex(`${table}_order`).ifNotExists().on(table).columns(['name', 'seq', 'arn']).execute();
        await db.schema.createIndex(`${table}_cluster`).ifNotExists().on(table).columns(['cluster', 'status']).execute();
        await db.schema.createIndex(`${table}_state`).ifNotExists().on(table).columns(['cluster', 'state']).execute();
        await db.schema.createIndex(`${table}_status`).ifNotExists().on(table).columns(['status', 'updated_at']).execute();
      }
    },
  },
];

export const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]?.id ?? 0;

/** Brings the schema up to date. Safe to call on every start. */
export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<number[]> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('schema_migrations').select('id').execute()).map((r) => Number(r.id)));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    await db.transaction().execute(async (trx) => {
      await m.up(trx, dialect);
      await trx.insertInto('schema_migrations').values({ id: m.id, applied_at: Date.now() }).execute();
    });
    applied.push(m.id);
  }
  return applied;
}

/** Used by tests: the number of rows in a table, bypassing the store. */
export async function rawCount(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

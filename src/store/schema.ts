import { sql, type Generated, type Kysely } from 'kysely';
import { INDEXES, type Kind } from './store.js';

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
  /** Named index columns, by position in `INDEXES[kind]`; '' when unused. */
  ix1: string;
  ix2: string;
  ix3: string;
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
  /** JSON object of the row's named index values. */
  keys: string;
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
  account_settings: ResourceTable;
  load_balancers: ResourceTable;
  target_groups: ResourceTable;
  listeners: ResourceTable;
  listener_rules: ResourceTable;
  targets: ResourceTable;
  certificates: ResourceTable;
  secrets: ResourceTable;
  parameters: ResourceTable;
  lifecycle_previews: ResourceTable;
  pull_through_cache_rules: ResourceTable;
  metric_alarms: ResourceTable;
  scalable_targets: ResourceTable;
  scaling_policies: ResourceTable;
  scheduled_actions: ResourceTable;
  iam_users: ResourceTable;
  iam_groups: ResourceTable;
  iam_roles: ResourceTable;
  iam_policies: ResourceTable;
  access_keys: ResourceTable;
  sts_sessions: ResourceTable;
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
  | 'repository_layers'
  | 'account_settings'
  | 'load_balancers'
  | 'target_groups'
  | 'listeners'
  | 'listener_rules'
  | 'targets'
  | 'certificates'
  | 'secrets'
  | 'parameters'
  | 'lifecycle_previews'
  | 'pull_through_cache_rules'
  | 'metric_alarms'
  | 'scalable_targets'
  | 'scaling_policies'
  | 'scheduled_actions'
  | 'iam_users'
  | 'iam_groups'
  | 'iam_roles'
  | 'iam_policies'
  | 'access_keys'
  | 'sts_sessions';

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
  accountSetting: 'account_settings',
  loadBalancer: 'load_balancers',
  targetGroup: 'target_groups',
  listener: 'listeners',
  listenerRule: 'listener_rules',
  target: 'targets',
  certificate: 'certificates',
  secret: 'secrets',
  parameter: 'parameters',
  lifecyclePreview: 'lifecycle_previews',
  pullThroughCacheRule: 'pull_through_cache_rules',
  metricAlarm: 'metric_alarms',
  scalableTarget: 'scalable_targets',
  scalingPolicy: 'scaling_policies',
  scheduledAction: 'scheduled_actions',
  iamUser: 'iam_users',
  iamGroup: 'iam_groups',
  iamRole: 'iam_roles',
  iamPolicy: 'iam_policies',
  accessKey: 'access_keys',
  stsSession: 'sts_sessions',
};

/** The kinds migration 1 created tables for; later kinds get theirs from their own migration. */
const KINDS_OF_MIGRATION_1: readonly Kind[] = ['cluster', 'taskDefinition', 'containerInstance', 'task', 'service'];
/** The registry's kinds, whose tables migration 2 created. */
const KINDS_OF_MIGRATION_2: readonly Kind[] = ['repository', 'image', 'imageTag', 'layer'];

/** Creates the resource table of a kind added after migration 3, in the shape migrations 1 to 3 left the others. */
async function createResourceTable(db: Kysely<Database>, kind: Kind): Promise<void> {
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
    .addColumn('ix1', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('ix2', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('ix3', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex(`${table}_order`).on(table).columns(['name', 'seq', 'arn']).execute();
  await db.schema.createIndex(`${table}_cluster`).on(table).columns(['cluster', 'status']).execute();
  await db.schema.createIndex(`${table}_state`).on(table).columns(['cluster', 'state']).execute();
  await db.schema.createIndex(`${table}_status`).on(table).columns(['status', 'updated_at']).execute();
  const names: readonly string[] = INDEXES[kind];
  for (const [i, name] of names.entries()) {
    await db.schema.createIndex(`${table}_ix_${name}`).on(table).columns(['cluster', INDEX_COLUMNS[i]!, 'state']).execute();
  }
}

export type Dialect = 'sqlite' | 'postgres';

interface Migration {
  id: number;
  up(db: Kysely<Database>, dialect: Dialect): Promise<void>;
}

/**
 * Schema migrations in ascending id order (ids may skip numbers). Append only: a released migration never changes.
 * Each runs in its own transaction together with its bookkeeping row.
 */
const MIGRATIONS: Migration[] = [
  {
    id: 1,
    async up(db, dialect) {
      for (const kind of KINDS_OF_MIGRATION_1) {
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
  {
    // Named secondary indexes: three key columns per resource table, an index per declared name,
    // and the keys carried on every change. Tasks kept their container instance ARN in `name`;
    // it moves to the `instance` index and task names become ''.
    id: 3,
    async up(db, dialect) {
      for (const kind of [...KINDS_OF_MIGRATION_1, ...KINDS_OF_MIGRATION_2]) {
        const table = TABLE[kind];
        for (const col of INDEX_COLUMNS) {
          await db.schema.alterTable(table).addColumn(col, 'text', (c) => c.notNull().defaultTo('')).execute();
        }
        const names: readonly string[] = INDEXES[kind];
        for (const [i, name] of names.entries()) {
          await db.schema.createIndex(`${table}_ix_${name}`).on(table).columns(['cluster', INDEX_COLUMNS[i]!, 'state']).execute();
        }
      }
      await db.schema.alterTable('changes').addColumn('keys', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      const startedBy = dialect === 'postgres' ? sql`coalesce((doc::json)->'task'->>'startedBy', '')` : sql`coalesce(json_extract(doc, '$.task.startedBy'), '')`;
      const group = dialect === 'postgres' ? sql`coalesce((doc::json)->'task'->>'group', '')` : sql`coalesce(json_extract(doc, '$.task.group'), '')`;
      await sql`update tasks set ix1 = name, ix3 = ${startedBy}, ix2 = case when ${group} like 'service:%' then substr(${group}, 9) else '' end, name = ''`.execute(db);
    },
  },
  {
    // Account settings (PutAccountSetting and friends): one row per principal and setting name.
    id: 4,
    async up(db) {
      await createResourceTable(db, 'accountSetting');
    },
  },
  {
    // ECR lifecycle policy previews (one per repository) and pull-through cache rules (one per repository prefix).
    id: 6,
    async up(db) {
      await createResourceTable(db, 'lifecyclePreview');
      await createResourceTable(db, 'pullThroughCacheRule');
    },
  },
  {
    // Load balancing (ELBv2) and certificates (ACM): load balancers, target groups, listeners, their rules,
    // the targets registered with each target group (one row each, so that health is written per target), and certificates.
    id: 8,
    async up(db) {
      for (const kind of ['loadBalancer', 'targetGroup', 'listener', 'listenerRule', 'target', 'certificate'] as const) {
        await createResourceTable(db, kind);
      }
    },
  },
  {
    // Secrets Manager secrets (their versions inside, values sealed) and Parameter Store parameters (their history inside).
    id: 10,
    async up(db) {
      await createResourceTable(db, 'secret');
      await createResourceTable(db, 'parameter');
    },
  },
  {
    // CloudWatch alarms and Application Auto Scaling's scalable targets, policies and scheduled actions.
    id: 11,
    async up(db) {
      for (const kind of ['metricAlarm', 'scalableTarget', 'scalingPolicy', 'scheduledAction'] as const) await createResourceTable(db, kind);
    },
  },
  {
    // IAM users, groups, roles and managed policies (inline policies, attachments and tags inside each document),
    // IAM access keys (secrets sealed) and STS session credentials (secrets sealed, session tokens hashed).
    id: 12,
    async up(db) {
      for (const kind of ['iamUser', 'iamGroup', 'iamRole', 'iamPolicy', 'accessKey', 'stsSession'] as const) {
        await createResourceTable(db, kind);
      }
    },
  },
];

/** Key columns of every resource table, in the order of each kind's `INDEXES`. */
export const INDEX_COLUMNS = ['ix1', 'ix2', 'ix3'] as const;

export const LATEST_SCHEMA = Math.max(0, ...MIGRATIONS.map((m) => m.id));

/** Brings the schema up to date (or up to migration `target`, to test upgrades). Safe to call on every start. */
export async function migrate(db: Kysely<Database>, dialect: Dialect, target = LATEST_SCHEMA): Promise<number[]> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('schema_migrations').select('id').execute()).map((r) => Number(r.id)));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id) || m.id > target) continue;
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

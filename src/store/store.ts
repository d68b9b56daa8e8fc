/**
 * The state store: Berth's single source of truth.
 *
 * Every resource is a versioned JSON document in a collection ("kind"). A few
 * fields are lifted out of the document as indexed columns so that lists and
 * counts never scan documents. Writes happen in transactions; each committed
 * write is appended to a change feed that controllers watch.
 *
 * Contract (checked by `store.contract.ts` for every implementation):
 * - `insert` fails with `AlreadyExistsError` when the ARN exists.
 * - `update`/`remove` take the version the caller read and fail with
 *   `VersionConflictError` when the row changed since: nothing is ever
 *   silently overwritten. A successful update bumps the version by one.
 * - A transaction is atomic: if its function throws, none of its writes are
 *   visible and no change is published.
 * - Changes are published to watchers after commit, in commit order, with a
 *   strictly increasing sequence number; `changesSince` replays them for a
 *   watcher that fell behind.
 */

export type Kind =
  | 'cluster'
  | 'taskDefinition'
  | 'containerInstance'
  | 'task'
  | 'service'
  | 'repository'
  | 'image'
  | 'imageTag'
  | 'layer'
  | 'accountSetting'
  | 'loadBalancer'
  | 'targetGroup'
  | 'listener'
  | 'listenerRule'
  | 'target'
  | 'certificate'
  | 'secret'
  | 'parameter'
  | 'lifecyclePreview'
  | 'pullThroughCacheRule'
  | 'metricAlarm'
  | 'scalableTarget'
  | 'scalingPolicy'
  | 'scheduledAction'
  | 'iamUser'
  | 'iamGroup'
  | 'iamRole'
  | 'iamPolicy'
  | 'accessKey'
  | 'stsSession';

export const KINDS: readonly Kind[] = [
  'cluster',
  'taskDefinition',
  'containerInstance',
  'task',
  'service',
  'repository',
  'image',
  'imageTag',
  'layer',
  'accountSetting',
  'loadBalancer',
  'targetGroup',
  'listener',
  'listenerRule',
  'target',
  'certificate',
  'secret',
  'parameter',
  'lifecyclePreview',
  'pullThroughCacheRule',
  'metricAlarm',
  'scalableTarget',
  'scalingPolicy',
  'scheduledAction',
  'iamUser',
  'iamGroup',
  'iamRole',
  'iamPolicy',
  'accessKey',
  'stsSession',
];

/**
 * Named secondary indexes of each kind (at most `MAX_INDEXES`): a row
 * carries a value for each in `keys` ('' when it has none), queries select on
 * them with `where`, and every change carries them too, so that watchers
 * route a change without reading its row. Names are part of the schema: a
 * new one needs a migration that fills it.
 */
export const INDEXES = {
  cluster: [],
  taskDefinition: [],
  containerInstance: [],
  /** instance: container instance ARN; service: service name; startedBy: the task's startedBy. */
  task: ['instance', 'service', 'startedBy'],
  service: [],
  repository: [],
  image: [],
  imageTag: [],
  layer: [],
  /** principal: the IAM principal ARN the setting is for. */
  accountSetting: ['principal'],
  loadBalancer: [],
  targetGroup: [],
  /** loadBalancer: the ARN of the listener's load balancer. */
  listener: ['loadBalancer'],
  /** listener: the ARN of the rule's listener. */
  listenerRule: ['listener'],
  /** targetGroup: the ARN of the target group the target is registered with. */
  target: ['targetGroup'],
  certificate: [],
  secret: [],
  parameter: [],
  lifecyclePreview: [],
  pullThroughCacheRule: [],
  /** CloudWatch alarms; name: the alarm name; status: its state value. */
  metricAlarm: [],
  /** Application Auto Scaling; cluster: `<namespace>|<resourceId>|<dimension>` of the scalable target. */
  scalableTarget: [],
  scalingPolicy: [],
  scheduledAction: [],
  iamUser: [],
  iamGroup: [],
  iamRole: [],
  iamPolicy: [],
  /** user: the name of the IAM user the access key belongs to. */
  accessKey: ['user'],
  stsSession: [],
} as const satisfies Record<Kind, readonly string[]>;

export const MAX_INDEXES = 3;

export type IndexName<K extends Kind> = (typeof INDEXES)[K][number];

/** Values of a row's named indexes. */
export type Keys = Readonly<Partial<Record<string, string>>>;

/** A stored resource. `doc` is the resource as the API describes it. */
export interface Row<T = unknown> {
  arn: string;
  /** ARN of the owning cluster, for resources that live in one; '' otherwise. */
  cluster: string;
  /** The resource's name within its scope: cluster name, task definition family, ec2InstanceId, ... ('' for tasks). */
  name: string;
  status: string;
  /** A second indexed status where a resource has two (a task's lastStatus; status is its desiredStatus). */
  state: string;
  /** A per-kind ordering number: revision for task definitions, creation order otherwise. */
  seq: number;
  version: number;
  /** Values of the kind's named indexes (`INDEXES`); a missing one is ''. */
  keys?: Keys;
  doc: T;
}

export type NewRow<T> = Omit<Row<T>, 'version' | 'state'> & { state?: string };

export interface Query {
  cluster?: string;
  name?: string;
  /** Equality on named indexes of the kind (`INDEXES`), for example `{ instance: arn }` for tasks. */
  where?: Keys;
  /** One status or any of several. */
  status?: string | readonly string[];
  /** One state or any of several (see `Row.state`). */
  state?: string | readonly string[];
  /** Keyset pagination: rows strictly after this position in the chosen order. */
  after?: Cursor;
  limit?: number;
  /** Order by (name, seq, arn); default ascending. */
  descending?: boolean;
}

export interface Cursor {
  name: string;
  seq: number;
  arn: string;
}

export type ChangeOp = 'insert' | 'update' | 'delete';

export interface Change {
  seq: number;
  kind: Kind;
  arn: string;
  cluster: string;
  /** The row's `name` after the change. */
  name: string;
  /** The row's named index values after the change (before it, for a delete). */
  keys: Keys;
  op: ChangeOp;
  version: number;
  /** Epoch milliseconds of the commit. */
  at: number;
}

export type ChangeListener = (changes: readonly Change[]) => void;

export interface StoreReader {
  get<T>(kind: Kind, arn: string): Promise<Row<T> | undefined>;
  find<T>(kind: Kind, query?: Query): Promise<Row<T>[]>;
  count(kind: Kind, query?: Query): Promise<number>;
  /** Distinct names of a kind (for example task definition families), ordered, paginated by name. */
  distinctNames(kind: Kind, query?: { status?: string | readonly string[]; prefix?: string; after?: string; limit?: number; descending?: boolean }): Promise<string[]>;
}

export interface Transaction extends StoreReader {
  insert<T>(kind: Kind, row: NewRow<T>): Promise<Row<T>>;
  /**
   * Inserts several rows of one kind at once (fewer round trips than one
   * `insert` each); all or none. Fails with `AlreadyExistsError` naming an
   * ARN that exists (or repeats in `rows`). Returns the rows in order.
   */
  insertMany<T>(kind: Kind, rows: readonly NewRow<T>[]): Promise<Row<T>[]>;
  /** Writes `row` if the stored version still equals `row.version`; returns the row with its new version. */
  update<T>(kind: Kind, row: Row<T>): Promise<Row<T>>;
  remove(kind: Kind, arn: string, expectedVersion: number): Promise<void>;
  /** Next value of a named counter, starting at 1 (task definition revisions per family). */
  nextCounter(name: string): Promise<number>;
  /** The response recorded for an idempotency key (for example a RunTask clientToken), if any. */
  getIdempotent<T>(key: string): Promise<T | undefined>;
  /** Records the response for an idempotency key; fails if the key is already recorded. */
  putIdempotent(key: string, response: unknown): Promise<void>;
}

export interface Store extends StoreReader {
  /** Runs `fn` atomically. Changes are published after commit. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Subscribes to committed changes. Returns the unsubscribe function. */
  watch(listener: ChangeListener): () => void;
  /** Committed changes with sequence number greater than `seq`, oldest first (at most `limit`). */
  changesSince(seq: number, limit?: number): Promise<Change[]>;
  /** Sequence number of the newest committed change (0 when none). */
  lastChangeSeq(): Promise<number>;
  /** Deletes rows of `kind` matching the query (housekeeping, for example expired INACTIVE records). */
  purge(kind: Kind, query: { status: string; state?: string; updatedBefore: number }): Promise<number>;
  /** Drops change-feed entries and idempotency records older than `before` (epoch ms). */
  trimChanges(before: number): Promise<number>;
  close(): Promise<void>;
}

export class AlreadyExistsError extends Error {
  constructor(readonly kind: Kind, readonly arn: string) {
    super(`${kind} ${arn} already exists`);
    this.name = 'AlreadyExistsError';
  }
}

export class VersionConflictError extends Error {
  constructor(readonly kind: Kind, readonly arn: string, readonly expected: number) {
    super(`${kind} ${arn} changed since version ${expected} was read`);
    this.name = 'VersionConflictError';
  }
}

export class NotFoundError extends Error {
  constructor(readonly kind: Kind, readonly arn: string) {
    super(`${kind} ${arn} does not exist`);
    this.name = 'NotFoundError';
  }
}

/**
 * Runs a read-modify-write transaction, retrying when another writer won the
 * race (a `VersionConflictError`). The function must read what it modifies
 * inside the transaction so that a retry sees the new state.
 */
export async function withRetry<T>(store: Store, fn: (tx: Transaction) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await store.transaction(fn);
    } catch (err) {
      if (!(err instanceof VersionConflictError) || i >= attempts) throw err;
    }
  }
}

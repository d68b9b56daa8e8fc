/**
 * Immutable cluster snapshots and the indexes placement needs.
 *
 * `buildSnapshot` is O(instances): it indexes ARNs and hashes them. Other
 * indexes are built on first use and kept with the snapshot (it never
 * changes, so they never go stale):
 *   - attribute buckets, for spread(attribute:<name>);
 *   - task-group postings (instances holding tasks of a group, with counts);
 *   - remaining CPU, memory and GPUs as typed arrays;
 *   - values computed from the instances' fixed fields (attributes,
 *     identity, agent), keyed by the caller, bounded in number.
 * `withInstances` (used by `applyPlan`) derives a snapshot in which only task
 * state and resources changed; it shares the fixed-field indexes and patches
 * the others.
 */
import { hashString } from './random.js';
import type { InstanceSnapshot } from './types.js';

export interface AttributeBuckets {
  /** Value of each bucket. Bucket 0 holds instances without the attribute or without a value. */
  readonly values: readonly (string | undefined)[];
  /** Bucket of each instance, by position in `instances`. */
  readonly bucketOf: Int32Array;
}

export interface GroupPostings {
  /** Positions of the instances that hold tasks of the group, ascending. */
  readonly instances: Int32Array;
  /** Tasks of the group on each of them. */
  readonly counts: Int32Array;
}

export interface ClusterSnapshot {
  readonly instances: readonly InstanceSnapshot[];
  /** Position of the instance with this ARN in `instances`. */
  indexOf(arn: string): number | undefined;
  /** Stable hash of each instance ARN, by position: tie-breaks that do not depend on snapshot order. */
  readonly arnHashes: Uint32Array;
  attributeBuckets(name: string): AttributeBuckets;
  groupPostings(group: string): GroupPostings | undefined;
  /**
   * `compute()`, cached under `key` with the snapshot and the snapshots
   * derived from it. Only for values computed from the fields `applyPlan`
   * never changes: attributes, identity, agent, status, launch types,
   * network modes. Callers namespace their keys.
   */
  memoFixed<T>(key: string, compute: () => T): T;
  /** Remaining CPU, memory and free GPU count of every instance, by position. Do not modify. */
  loadColumns(): LoadColumns;
  /** 1 at the position of every instance with host port `port` in use for `protocol`, else 0. Do not modify. */
  portUsers(protocol: PortProtocol, port: number): Uint8Array;
}

export type PortProtocol = 'tcp' | 'udp';

/** Port columns kept per snapshot; the oldest are dropped beyond this. */
const MAX_PORT_COLUMNS = 64;

/**
 * Which instances have a host port in use, one byte column per protocol and
 * port, built on first use: the port filter then reads one byte per
 * instance instead of searching each instance's port list.
 */
export class PortIndex {
  private readonly columns: Map<string, { protocol: PortProtocol; port: number; users: Uint8Array }>;

  constructor(columns?: PortIndex['columns']) {
    this.columns = columns ?? new Map();
  }

  users(instances: readonly InstanceSnapshot[], protocol: PortProtocol, port: number): Uint8Array {
    const key = `${protocol}/${port}`;
    let c = this.columns.get(key);
    if (c === undefined) {
      const users = new Uint8Array(instances.length);
      for (let i = 0; i < instances.length; i++) if (instances[i]!.usedPorts[protocol].includes(port)) users[i] = 1;
      if (this.columns.size >= MAX_PORT_COLUMNS) this.columns.delete(this.columns.keys().next().value!);
      this.columns.set(key, (c = { protocol, port, users }));
    }
    return c.users;
  }

  /**
   * The index over `instances`, which differ from the ones this index was
   * built over only at the positions in `changed`. A column is copied only
   * when one of those instances changed in it.
   */
  derive(instances: readonly InstanceSnapshot[], changed: Iterable<number>): PortIndex {
    const positions = [...changed];
    const next = new Map<string, { protocol: PortProtocol; port: number; users: Uint8Array }>();
    for (const [key, c] of this.columns) next.set(key, { ...c, users: patchPortUsers(c.users, instances, positions, c.protocol, c.port) });
    return new PortIndex(next);
  }
}

/**
 * `users` for `instances`, which differ from the instances it was built over
 * only at the positions in `changed`: the same array when none of them
 * changed in this port, else a patched copy.
 */
export function patchPortUsers(
  users: Uint8Array,
  instances: readonly InstanceSnapshot[],
  changed: Iterable<number>,
  protocol: PortProtocol,
  port: number,
): Uint8Array {
  let out = users;
  for (const i of changed) {
    const now = instances[i]!.usedPorts[protocol].includes(port) ? 1 : 0;
    if (out[i] === now) continue;
    if (out === users) out = users.slice();
    out[i] = now;
  }
  return out;
}

export interface LoadColumns {
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly gpus: Int32Array;
}

/** Fixed-field memos kept per snapshot family; the oldest are dropped beyond this. */
const MAX_MEMOS = 256;

/**
 * Indexes computed from the fixed fields of a set of instances (attribute
 * buckets, `memoFixed` values): valid for every snapshot of those instances
 * whose fixed fields are unchanged, so derived snapshots share one.
 */
export class FixedFieldCache {
  private readonly buckets = new Map<string, AttributeBuckets>();
  private readonly memos = new Map<string, unknown>();

  attributeBuckets(instances: readonly InstanceSnapshot[], name: string): AttributeBuckets {
    let b = this.buckets.get(name);
    if (b === undefined) {
      b = buildAttributeBuckets(instances, name);
      this.buckets.set(name, b);
    }
    return b;
  }

  memo<T>(key: string, compute: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    if (this.memos.size >= MAX_MEMOS) this.memos.delete(this.memos.keys().next().value!);
    this.memos.set(key, value);
    return value;
  }
}

/** Indexes that depend only on the fixed fields of the instances, shared by derived snapshots. */
class FixedIndexes extends FixedFieldCache {
  readonly byArn = new Map<string, number>();
  readonly arnHashes: Uint32Array;

  constructor(instances: readonly InstanceSnapshot[]) {
    super();
    this.arnHashes = new Uint32Array(instances.length);
    for (let i = 0; i < instances.length; i++) {
      const arn = instances[i]!.arn;
      if (this.byArn.has(arn)) throw new Error(`Duplicate container instance ${arn} in cluster snapshot`);
      this.byArn.set(arn, i);
      this.arnHashes[i] = hashString(arn);
    }
  }
}

class Snapshot implements ClusterSnapshot {
  constructor(
    readonly instances: readonly InstanceSnapshot[],
    private readonly fixed: FixedIndexes,
    private postings?: Map<string, GroupPostings>,
    private load?: LoadColumns,
    private readonly ports = new PortIndex(),
  ) {}

  portUsers(protocol: PortProtocol, port: number): Uint8Array {
    return this.ports.users(this.instances, protocol, port);
  }

  get arnHashes(): Uint32Array {
    return this.fixed.arnHashes;
  }

  indexOf(arn: string): number | undefined {
    return this.fixed.byArn.get(arn);
  }

  attributeBuckets(name: string): AttributeBuckets {
    return this.fixed.attributeBuckets(this.instances, name);
  }

  groupPostings(group: string): GroupPostings | undefined {
    if (this.postings === undefined) this.postings = buildPostings(this.instances);
    return this.postings.get(group);
  }

  memoFixed<T>(key: string, compute: () => T): T {
    return this.fixed.memo(key, compute);
  }

  loadColumns(): LoadColumns {
    if (this.load === undefined) {
      const n = this.instances.length;
      const load = { cpu: new Float64Array(n), memory: new Float64Array(n), gpus: new Int32Array(n) };
      for (let i = 0; i < n; i++) {
        const r = this.instances[i]!.remaining;
        load.cpu[i] = r.cpu;
        load.memory[i] = r.memory;
        load.gpus[i] = r.gpus.length;
      }
      this.load = load;
    }
    return this.load;
  }

  /**
   * The snapshot with `instances`, which differ from this one's only at the
   * positions in `changed`. Indexes already built here are carried over and
   * patched rather than rebuilt: O(n) copying of typed arrays, plus the
   * postings of the groups whose counts changed.
   */
  derive(instances: readonly InstanceSnapshot[], changed: readonly number[]): Snapshot {
    let load: LoadColumns | undefined;
    if (this.load !== undefined) {
      load = { cpu: this.load.cpu.slice(), memory: this.load.memory.slice(), gpus: this.load.gpus.slice() };
      for (const i of changed) {
        const r = instances[i]!.remaining;
        load.cpu[i] = r.cpu;
        load.memory[i] = r.memory;
        load.gpus[i] = r.gpus.length;
      }
    }
    let postings: Map<string, GroupPostings> | undefined;
    if (this.postings !== undefined) {
      // New count of each group that changed, per changed instance.
      const updates = new Map<string, Map<number, number>>();
      for (const i of changed) {
        const before = this.instances[i]!.taskGroups;
        const after = instances[i]!.taskGroups;
        for (const g of new Set([...before.keys(), ...after.keys()])) {
          const n = after.get(g) ?? 0;
          if ((before.get(g) ?? 0) === n) continue;
          let u = updates.get(g);
          if (u === undefined) updates.set(g, (u = new Map()));
          u.set(i, n);
        }
      }
      postings = new Map(this.postings);
      for (const [g, u] of updates) {
        const patched = patchPostings(this.postings.get(g), u);
        if (patched.instances.length === 0) postings.delete(g);
        else postings.set(g, patched);
      }
    }
    return new Snapshot(instances, this.fixed, postings, load, this.ports.derive(instances, changed));
  }
}

/** `old` with the counts of some instances replaced (0 removes the instance), still in ascending order. */
function patchPostings(old: GroupPostings | undefined, updates: ReadonlyMap<number, number>): GroupPostings {
  const changedAt = [...updates.keys()].sort((a, b) => a - b);
  const instances: number[] = [];
  const counts: number[] = [];
  const oldInstances = old?.instances ?? new Int32Array(0);
  const oldCounts = old?.counts ?? new Int32Array(0);
  let k = 0;
  let c = 0;
  while (k < oldInstances.length || c < changedAt.length) {
    const a = k < oldInstances.length ? oldInstances[k]! : Infinity;
    const b = c < changedAt.length ? changedAt[c]! : Infinity;
    if (a < b) {
      instances.push(a);
      counts.push(oldCounts[k++]!);
      continue;
    }
    const n = updates.get(b)!;
    if (n > 0) {
      instances.push(b);
      counts.push(n);
    }
    c++;
    if (a === b) k++;
  }
  return { instances: Int32Array.from(instances), counts: Int32Array.from(counts) };
}

function buildPostings(instances: readonly InstanceSnapshot[]): Map<string, GroupPostings> {
  const acc = new Map<string, { instances: number[]; counts: number[] }>();
  for (let i = 0; i < instances.length; i++) {
    instances[i]!.taskGroups.forEach((n, g) => {
      if (n <= 0) return;
      let a = acc.get(g);
      if (a === undefined) acc.set(g, (a = { instances: [], counts: [] }));
      a.instances.push(i);
      a.counts.push(n);
    });
  }
  const out = new Map<string, GroupPostings>();
  for (const [g, a] of acc) out.set(g, { instances: Int32Array.from(a.instances), counts: Int32Array.from(a.counts) });
  return out;
}

/** Builds a snapshot over `instances` (kept as given, not copied). Throws on duplicate ARNs. */
/** Buckets instances by the value of one attribute; bucket 0 holds the instances without it. */
export function buildAttributeBuckets(instances: readonly InstanceSnapshot[], name: string): AttributeBuckets {
  const ids = new Map<string, number>();
  const values: (string | undefined)[] = [undefined];
  const bucketOf = new Int32Array(instances.length);
  for (let i = 0; i < instances.length; i++) {
    const v = instances[i]!.attributes.get(name);
    if (v === undefined) continue;
    let id = ids.get(v);
    if (id === undefined) {
      id = values.length;
      ids.set(v, id);
      values.push(v);
    }
    bucketOf[i] = id;
  }
  return { values, bucketOf };
}

export function buildSnapshot(instances: readonly InstanceSnapshot[]): ClusterSnapshot {
  return new Snapshot(instances, new FixedIndexes(instances));
}

/**
 * A snapshot of the same instances, in the same order, where only the ones
 * at the positions in `changed` differ, and only in task state and resources
 * (`remaining`, `usedPorts`, `runningTasksCount`, `taskGroups`). Indexes of
 * `base` are shared or patched, so this costs far less than `buildSnapshot`.
 */
export function withInstances(base: ClusterSnapshot, instances: readonly InstanceSnapshot[], changed: readonly number[]): ClusterSnapshot {
  if (!(base instanceof Snapshot)) return buildSnapshot(instances);
  if (instances.length !== base.instances.length) throw new Error('withInstances: instance count changed');
  return base.derive(instances, changed);
}

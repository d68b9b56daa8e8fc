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
 * state and resources changed; it shares the attribute and fixed-field indexes.
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
}

export interface LoadColumns {
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly gpus: Int32Array;
}

/** Fixed-field memos kept per snapshot family; the oldest are dropped beyond this. */
const MAX_MEMOS = 256;

/** Indexes that depend only on the fixed fields of the instances, shared by derived snapshots. */
class FixedIndexes {
  readonly byArn = new Map<string, number>();
  readonly arnHashes: Uint32Array;
  readonly buckets = new Map<string, AttributeBuckets>();
  readonly memo = new Map<string, unknown>();

  constructor(instances: readonly InstanceSnapshot[]) {
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
  private postings: Map<string, GroupPostings> | undefined;
  private load: LoadColumns | undefined;

  constructor(
    readonly instances: readonly InstanceSnapshot[],
    private readonly fixed: FixedIndexes,
  ) {}

  get arnHashes(): Uint32Array {
    return this.fixed.arnHashes;
  }

  indexOf(arn: string): number | undefined {
    return this.fixed.byArn.get(arn);
  }

  attributeBuckets(name: string): AttributeBuckets {
    let b = this.fixed.buckets.get(name);
    if (b === undefined) {
      const ids = new Map<string, number>();
      const values: (string | undefined)[] = [undefined];
      const bucketOf = new Int32Array(this.instances.length);
      for (let i = 0; i < this.instances.length; i++) {
        const v = this.instances[i]!.attributes.get(name);
        if (v === undefined) continue;
        let id = ids.get(v);
        if (id === undefined) {
          id = values.length;
          ids.set(v, id);
          values.push(v);
        }
        bucketOf[i] = id;
      }
      b = { values, bucketOf };
      this.fixed.buckets.set(name, b);
    }
    return b;
  }

  groupPostings(group: string): GroupPostings | undefined {
    if (this.postings === undefined) this.postings = buildPostings(this.instances);
    return this.postings.get(group);
  }

  memoFixed<T>(key: string, compute: () => T): T {
    const cache = this.fixed.memo;
    if (cache.has(key)) return cache.get(key) as T;
    const value = compute();
    if (cache.size >= MAX_MEMOS) cache.delete(cache.keys().next().value!);
    cache.set(key, value);
    return value;
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

  derive(instances: readonly InstanceSnapshot[]): Snapshot {
    return new Snapshot(instances, this.fixed);
  }
}

function buildPostings(instances: readonly InstanceSnapshot[]): Map<string, GroupPostings> {
  // Two passes: count instances per group, then fill exactly-sized arrays.
  const sizes = new Map<string, number>();
  for (const inst of instances) {
    for (const [g, n] of inst.taskGroups) if (n > 0) sizes.set(g, (sizes.get(g) ?? 0) + 1);
  }
  const out = new Map<string, { instances: Int32Array; counts: Int32Array; fill: number }>();
  for (const [g, size] of sizes) out.set(g, { instances: new Int32Array(size), counts: new Int32Array(size), fill: 0 });
  for (let i = 0; i < instances.length; i++) {
    for (const [g, n] of instances[i]!.taskGroups) {
      if (n <= 0) continue;
      const p = out.get(g)!;
      p.instances[p.fill] = i;
      p.counts[p.fill] = n;
      p.fill++;
    }
  }
  return out;
}

/** Builds a snapshot over `instances` (kept as given, not copied). Throws on duplicate ARNs. */
export function buildSnapshot(instances: readonly InstanceSnapshot[]): ClusterSnapshot {
  return new Snapshot(instances, new FixedIndexes(instances));
}

/**
 * A snapshot of the same instances, in the same order, where only task state
 * and resources differ (`remaining`, `usedPorts`, `runningTasksCount`,
 * `taskGroups`). Fixed-field indexes are shared with `base`.
 */
export function withInstances(base: ClusterSnapshot, instances: readonly InstanceSnapshot[]): ClusterSnapshot {
  if (!(base instanceof Snapshot)) return buildSnapshot(instances);
  if (instances.length !== base.instances.length) throw new Error('withInstances: instance count changed');
  return base.derive(instances);
}

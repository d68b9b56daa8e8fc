/**
 * Snapshot implementations over shared, copy-on-write state, for read models
 * that keep a cluster current incrementally (`state/clusterState.ts`) and for
 * the commit-time re-check (an overlay of a few re-read instances on a base
 * snapshot). Pure: no store, no clock.
 */
import { hashString } from './random.js';
import {
  patchPortUsers,
  PortIndex,
  type AttributeBuckets,
  type ClusterSnapshot,
  type FixedFieldCache,
  type GroupPostings,
  type LoadColumns,
  type PortProtocol,
} from './snapshot.js';
import type { InstanceSnapshot } from './types.js';

/** Positions and ARN hashes of one set of instances, in order. Never modified once built. */
export class Layout {
  readonly pos = new Map<string, number>();
  readonly arnHashes: Uint32Array;

  constructor(arns: readonly string[]) {
    this.arnHashes = new Uint32Array(arns.length);
    for (let i = 0; i < arns.length; i++) {
      this.pos.set(arns[i]!, i);
      this.arnHashes[i] = hashString(arns[i]!);
    }
  }
}


/**
 * Per-group task counts by instance position. Sparse while few instances
 * hold the group, dense beyond that. Copy-on-write: a column whose `epoch`
 * is older than the view's belongs to a snapshot and is never modified.
 */
export interface GroupColumn {
  epoch: number;
  members: number;
  dense: Int32Array | undefined;
  sparse: Map<number, number> | undefined;
}

export function cloneColumn(c: GroupColumn, epoch: number): GroupColumn {
  return { epoch, members: c.members, dense: c.dense?.slice(), sparse: c.sparse ? new Map(c.sparse) : undefined };
}

function postingsOf(col: GroupColumn): GroupPostings {
  const instances = new Int32Array(col.members);
  const counts = new Int32Array(col.members);
  if (col.dense !== undefined) {
    const d = col.dense;
    let k = 0;
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== 0) {
        instances[k] = i;
        counts[k++] = d[i]!;
      }
    }
  } else if (col.sparse !== undefined) {
    const positions = Int32Array.from(col.sparse.keys()).sort();
    for (let k = 0; k < positions.length; k++) {
      instances[k] = positions[k]!;
      counts[k] = col.sparse.get(positions[k]!)!;
    }
  }
  return { instances, counts };
}

/** The engine's `ClusterSnapshot` over the cache's shared, copy-on-write state. */
export class CachedSnapshot implements ClusterSnapshot {
  private readonly postings = new Map<string, GroupPostings | undefined>();
  private readonly ports = new PortIndex();

  constructor(
    readonly instances: readonly InstanceSnapshot[],
    private readonly layout: Layout,
    private readonly fixed: FixedFieldCache,
    private readonly load: LoadColumns,
    private readonly groups: ReadonlyMap<string, GroupColumn>,
  ) {}

  get arnHashes(): Uint32Array {
    return this.layout.arnHashes;
  }

  indexOf(arn: string): number | undefined {
    return this.layout.pos.get(arn);
  }

  attributeBuckets(name: string): AttributeBuckets {
    return this.fixed.attributeBuckets(this.instances, name);
  }

  groupPostings(group: string): GroupPostings | undefined {
    if (this.postings.has(group)) return this.postings.get(group);
    const col = this.groups.get(group);
    const p = col === undefined || col.members === 0 ? undefined : postingsOf(col);
    this.postings.set(group, p);
    return p;
  }

  memoFixed<T>(key: string, compute: () => T): T {
    return this.fixed.memo(key, compute);
  }

  loadColumns(): LoadColumns {
    return this.load;
  }

  portUsers(protocol: PortProtocol, port: number): Uint8Array {
    return this.ports.users(this.instances, protocol, port);
  }
}

/**
 * `base` with some instances' task state and resources replaced (fixed fields
 * stay those of `base`, so its fixed-field indexes remain valid).
 */
export class OverlaySnapshot implements ClusterSnapshot {
  readonly instances: readonly InstanceSnapshot[];
  private load: LoadColumns | undefined;
  private readonly postings = new Map<string, GroupPostings | undefined>();
  private readonly ports = new Map<string, Uint8Array>();

  constructor(
    private readonly base: ClusterSnapshot,
    private readonly replaced: ReadonlyMap<number, InstanceSnapshot>,
  ) {
    const instances = base.instances.slice();
    for (const [i, inst] of replaced) instances[i] = inst;
    this.instances = instances;
  }

  get arnHashes(): Uint32Array {
    return this.base.arnHashes;
  }

  indexOf(arn: string): number | undefined {
    return this.base.indexOf(arn);
  }

  attributeBuckets(name: string): AttributeBuckets {
    return this.base.attributeBuckets(name);
  }

  memoFixed<T>(key: string, compute: () => T): T {
    return this.base.memoFixed(key, compute);
  }

  groupPostings(group: string): GroupPostings | undefined {
    if (this.postings.has(group)) return this.postings.get(group);
    const counts = new Map<number, number>();
    const p = this.base.groupPostings(group);
    if (p !== undefined) for (let k = 0; k < p.instances.length; k++) counts.set(p.instances[k]!, p.counts[k]!);
    for (const [i, inst] of this.replaced) {
      const n = inst.taskGroups.get(group) ?? 0;
      if (n > 0) counts.set(i, n);
      else counts.delete(i);
    }
    let out: GroupPostings | undefined;
    if (counts.size > 0) {
      const instances = Int32Array.from(counts.keys()).sort();
      out = { instances, counts: Int32Array.from(instances, (i) => counts.get(i)!) };
    }
    this.postings.set(group, out);
    return out;
  }

  portUsers(protocol: PortProtocol, port: number): Uint8Array {
    const key = `${protocol}/${port}`;
    let users = this.ports.get(key);
    if (users === undefined) {
      users = patchPortUsers(this.base.portUsers(protocol, port), this.instances, this.replaced.keys(), protocol, port);
      this.ports.set(key, users);
    }
    return users;
  }

  loadColumns(): LoadColumns {
    if (this.load === undefined) {
      const b = this.base.loadColumns();
      const load = { cpu: b.cpu.slice(), memory: b.memory.slice(), gpus: b.gpus.slice() };
      for (const [i, inst] of this.replaced) {
        load.cpu[i] = inst.remaining.cpu;
        load.memory[i] = inst.remaining.memory;
        load.gpus[i] = inst.remaining.gpus.length;
      }
      this.load = load;
    }
    return this.load;
  }
}

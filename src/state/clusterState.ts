/**
 * The cluster state cache: the placement engine's view of each cluster, kept
 * current from the store's change feed instead of being read per request.
 *
 * For every cluster that placement has asked about, the cache holds what the
 * engine needs of each ACTIVE or DRAINING container instance (remaining CPU
 * and memory, used host ports, attributes, identity, agent, status) and, per
 * instance, the task groups and the number of its tasks that are not yet
 * STOPPED. A cluster is loaded from the store on first use; afterwards each
 * committed change re-reads only the row it names (or takes the row a writer
 * handed over with `noteCommitted`, which saves the read).
 *
 * Contracts:
 * - `snapshot(cluster)` reflects at least every change published before the
 *   call (it waits until those are applied) and returns an immutable
 *   `ClusterSnapshot`. It never runs inside a store transaction: applying a
 *   change may read the store, and the SQLite store has one connection.
 * - `current(cluster)` never waits and never reads: it applies what writers
 *   handed over and returns the state as known now. It is what placement
 *   uses inside the committing transaction, so that calls queued behind
 *   each other see each other's tasks.
 * - Changes of one cluster are applied one batch at a time, in commit order.
 *   Each cached row carries its version and is only ever replaced by a newer
 *   one, so reading a row that has moved on since its change was published is
 *   harmless and the changes in between are skipped.
 * - A cluster whose backlog exceeds `maxQueuedChanges`, or whose apply fails,
 *   is re-read from the store in full (a re-sync).
 * - A snapshot is only a starting point: `reservePlacements` re-reads the
 *   chosen instances inside the committing transaction and keeps only the
 *   placements that still fit, so a slightly stale snapshot never overcommits.
 *
 * The task writer, in short (`ecs/writers/tasks.ts`):
 *
 *   const { snapshot } = await cache.snapshot(clusterArn);          // outside the transaction
 *   await store.transaction(async (tx) => {
 *     const r = await reservePlacements(tx, { clusterArn, snapshot, refresh: () => state.current(clusterArn)?.snapshot, request, seed });
 *     // write r.placements against r.rows (resources, counts, task rows)
 *   });
 *   cache.noteCommitted({ instances, tasks });                      // the rows just committed
 *
 * Snapshots share what did not change: instance positions and ARN hashes
 * until an instance joins or leaves, fixed-field indexes (attribute buckets,
 * filter results) until a fixed field changes, and per-group task counts
 * until a task of the group moves. Taking a snapshot after a change costs a
 * few copies of per-instance arrays (O(instances), memcpy-fast); an unchanged
 * cluster returns the previous snapshot, its caches warm.
 */
import { ACTIVE_TASK_STATES } from '../protocol/agent.js';
import type { ContainerInstanceDoc, StoredTask } from '../ecs/model.js';
import { CachedSnapshot, cloneColumn, Layout, type GroupColumn } from '../scheduler/cachedSnapshot.js';
import { buildSnapshot, FixedFieldCache, type ClusterSnapshot } from '../scheduler/snapshot.js';
import type { InstanceSnapshot } from '../scheduler/types.js';
import type { Change, Row, Store } from '../store/store.js';
import type { Logger } from '../core/log.js';
import { EMPTY_LOAD, instanceSnapshotOf, NO_GROUPS, placeable, PLACEABLE_STATUSES, sameFixed, type InstanceLoad } from './instanceView.js';

export interface ClusterStateOptions {
  /** Changes a cluster may have waiting before it is re-synced from the store instead. */
  readonly maxQueuedChanges?: number;
  /** A cluster nobody asked a snapshot of for this long stops being tracked (ms). */
  readonly idleEvictMs?: number;
  readonly log?: Logger;
}

export interface ClusterStateSnapshot {
  readonly snapshot: ClusterSnapshot;
  /** Change-feed sequence number up to which the cluster's changes are applied. */
  readonly version: number;
}

export interface ClusterStateStats {
  clusters: number;
  instances: number;
  tasks: number;
  /** Full loads, first loads included. */
  loads: number;
  /** Rows re-read to apply a change. */
  reads: number;
  /** Changes applied from rows handed over with `noteCommitted`. */
  noted: number;
  /** Changes skipped because a newer version of the row was already applied. */
  skipped: number;
  /** Snapshots built (an unchanged cluster reuses its last one). */
  snapshots: number;
}

/**
 * The cluster as placement sees it: what the task writer places on before
 * re-checking its choices in the committing transaction. Two
 * implementations share this contract: `ClusterStateCache` (kept from the
 * change feed; the server's) and `StoreClusterState` (reads the store on
 * every call; tools and tests that want no background work).
 */
export interface ClusterState {
  /** The cluster with every change published before the call; never call it inside a store transaction. */
  snapshot(clusterArn: string): Promise<ClusterStateSnapshot>;
  /** The freshest state known without waiting or reading (safe inside a transaction); undefined when there is none. */
  current(clusterArn: string): ClusterStateSnapshot | undefined;
  /** Rows a writer has just committed; lets an incremental implementation skip re-reading them. */
  noteCommitted(rows: { readonly instances?: readonly Row<ContainerInstanceDoc>[]; readonly tasks?: readonly Row<StoredTask>[] }): void;
  /** Drops what is kept of a cluster (after DeleteCluster). */
  forget(clusterArn: string): void;
  close(): void;
}

const DEFAULT_MAX_QUEUED = 200_000;
const DEFAULT_IDLE_EVICT_MS = 15 * 60 * 1000;
const ACTIVE_TASK_STATE_SET: ReadonlySet<string> = new Set(ACTIVE_TASK_STATES);

// ---------------------------------------------------------------------------
// One cluster

interface InstanceEntry {
  snap: InstanceSnapshot;
  version: number;
}

interface TaskEntry {
  /** Container instance ARN. */
  instance: string;
  group: string;
  version: number;
}

/** A committed task row reduced to what the cache keeps. */
interface TaskFacts {
  arn: string;
  instance: string;
  group: string;
  state: string;
  version: number;
}

export function taskFacts(row: Row<StoredTask>): TaskFacts {
  return { arn: row.arn, instance: row.keys?.['instance'] ?? row.doc.task.containerInstanceArn ?? '', group: row.doc.task.group, state: row.state, version: row.version };
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** Position-indexed arrays of the current instances; copy-on-write like group columns. */
interface Columns {
  epoch: number;
  instances: InstanceSnapshot[];
  cpu: Float64Array;
  memory: Float64Array;
  gpus: Int32Array;
}

/** Sparse group columns become dense beyond this many member instances (and 1/16 of the cluster). */
const DENSE_MIN_MEMBERS = 64;

class ClusterView {
  // What the cluster holds, keyed by ARN.
  readonly instances = new Map<string, InstanceEntry>();
  readonly tasks = new Map<string, TaskEntry>();
  readonly loads = new Map<string, InstanceLoad>();
  private readonly strings = new Map<string, string>();

  // Change feed bookkeeping.
  /** Published changes not applied yet, in commit order. */
  queue: Change[] = [];
  /** Lowest sequence number of the changes being read right now. */
  inflightFrom: number | undefined;
  /** Highest sequence number published for this cluster. */
  enqueuedSeq = 0;
  loaded = false;
  needsReload = true;
  reloading = false;
  running = false;
  waiters: Waiter[] = [];
  /** Committed rows handed over by writers, by ARN, until their change is applied. */
  readonly noted = new Map<string, { instance?: Row<ContainerInstanceDoc>; task?: TaskFacts }>();
  lastUsed = Date.now();

  // Materialized snapshot state (valid when !layoutDirty).
  private epoch = 1;
  private layout: Layout | undefined;
  private fixed = new FixedFieldCache();
  private cols: Columns | undefined;
  private groups: { epoch: number; cols: Map<string, GroupColumn> } = { epoch: 0, cols: new Map() };
  private layoutDirty = true;
  private fixedDirty = true;
  private changed = true;
  private last: CachedSnapshot | undefined;

  constructor(readonly arn: string) {}

  intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  /** Replaces everything with a fresh read of the cluster. */
  reset(instances: readonly Row<ContainerInstanceDoc>[], tasks: readonly TaskFacts[]): void {
    this.instances.clear();
    this.tasks.clear();
    this.loads.clear();
    this.strings.clear();
    const groups = new Map<string, Map<string, number>>();
    const counts = new Map<string, number>();
    for (const t of tasks) {
      if (!ACTIVE_TASK_STATE_SET.has(t.state) || t.instance === '') continue;
      const instance = this.intern(t.instance);
      const group = this.intern(t.group);
      this.tasks.set(t.arn, { instance, group, version: t.version });
      let g = groups.get(instance);
      if (g === undefined) groups.set(instance, (g = new Map()));
      g.set(group, (g.get(group) ?? 0) + 1);
      counts.set(instance, (counts.get(instance) ?? 0) + 1);
    }
    for (const [arn, g] of groups) this.loads.set(arn, { groups: g, count: counts.get(arn) ?? 0 });
    for (const row of instances) {
      if (!placeable(row.doc.status)) continue;
      this.instances.set(row.arn, { snap: instanceSnapshotOf(row, this.loads.get(row.arn) ?? EMPTY_LOAD), version: row.version });
    }
    this.layoutDirty = true;
    this.changed = true;
  }

  instanceVersion(arn: string): number | undefined {
    return this.instances.get(arn)?.version;
  }

  taskVersion(arn: string): number | undefined {
    return this.tasks.get(arn)?.version;
  }

  /** Applies a committed container instance row, or its absence. Older versions than the cached one are ignored. */
  applyInstance(arn: string, row: Row<ContainerInstanceDoc> | undefined): void {
    const cur = this.instances.get(arn);
    if (row !== undefined && cur !== undefined && cur.version >= row.version) return;
    if (row === undefined || row.cluster !== this.arn || !placeable(row.doc.status)) {
      if (cur === undefined) return;
      this.instances.delete(arn);
      this.layoutDirty = true;
      this.changed = true;
      return;
    }
    const snap = instanceSnapshotOf(row, this.loads.get(arn) ?? EMPTY_LOAD, cur?.snap);
    this.instances.set(arn, { snap, version: row.version });
    this.changed = true;
    if (cur === undefined) this.layoutDirty = true;
    else this.write(arn, cur.snap, snap);
  }

  /** Applies a committed task row (reduced to its facts), or its absence. */
  applyTask(arn: string, facts: TaskFacts | undefined): void {
    const cur = this.tasks.get(arn);
    if (facts !== undefined && cur !== undefined && cur.version >= facts.version) return;
    const active = facts !== undefined && ACTIVE_TASK_STATE_SET.has(facts.state) && facts.instance !== '';
    if (cur !== undefined && active && cur.instance === facts.instance && cur.group === facts.group) {
      cur.version = facts.version;
      return;
    }
    if (cur !== undefined) {
      this.tasks.delete(arn);
      this.moveTask(cur.instance, cur.group, -1);
    }
    if (active) {
      const instance = this.intern(facts.instance);
      const group = this.intern(facts.group);
      this.tasks.set(arn, { instance, group, version: facts.version });
      this.moveTask(instance, group, 1);
    }
  }

  private moveTask(instance: string, group: string, delta: 1 | -1): void {
    const load = this.loads.get(instance) ?? EMPTY_LOAD;
    const groups = new Map(load.groups);
    const n = (groups.get(group) ?? 0) + delta;
    if (n > 0) groups.set(group, n);
    else groups.delete(group);
    const count = Math.max(0, load.count + delta);
    if (count === 0 && groups.size === 0) this.loads.delete(instance);
    else this.loads.set(instance, { groups, count });
    const entry = this.instances.get(instance);
    if (entry === undefined) return;
    const snap: InstanceSnapshot = { ...entry.snap, taskGroups: groups.size === 0 ? NO_GROUPS : groups, runningTasksCount: count };
    const before = entry.snap;
    entry.snap = snap;
    this.changed = true;
    this.write(instance, before, snap);
  }

  /** Keeps the position-indexed state in step with one instance's new view. */
  private write(arn: string, before: InstanceSnapshot, after: InstanceSnapshot): void {
    if (this.layoutDirty) return;
    if (!sameFixed(before, after)) this.fixedDirty = true;
    const i = this.layout!.pos.get(arn)!;
    let cols = this.cols!;
    if (cols.epoch !== this.epoch) {
      cols = { epoch: this.epoch, instances: cols.instances.slice(), cpu: cols.cpu.slice(), memory: cols.memory.slice(), gpus: cols.gpus.slice() };
      this.cols = cols;
    }
    cols.instances[i] = after;
    cols.cpu[i] = after.remaining.cpu;
    cols.memory[i] = after.remaining.memory;
    cols.gpus[i] = after.remaining.gpus.length;
    if (before.taskGroups !== after.taskGroups) {
      for (const [g, n] of after.taskGroups) if (before.taskGroups.get(g) !== n) this.setGroupCount(g, i, n);
      for (const g of before.taskGroups.keys()) if (!after.taskGroups.has(g)) this.setGroupCount(g, i, 0);
    }
  }

  private setGroupCount(group: string, i: number, n: number): void {
    if (this.groups.epoch !== this.epoch) this.groups = { epoch: this.epoch, cols: new Map(this.groups.cols) };
    const table = this.groups.cols;
    let col = table.get(group);
    if (col === undefined) {
      if (n === 0) return;
      col = { epoch: this.epoch, members: 0, dense: undefined, sparse: new Map() };
      table.set(group, col);
    } else if (col.epoch !== this.epoch) {
      col = cloneColumn(col, this.epoch);
      table.set(group, col);
    }
    const size = this.cols!.instances.length;
    if (col.dense !== undefined) {
      const old = col.dense[i]!;
      col.dense[i] = n;
      col.members += (n !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0);
    } else {
      const sparse = col.sparse!;
      const had = sparse.has(i);
      if (n !== 0) sparse.set(i, n);
      else sparse.delete(i);
      col.members += (n !== 0 ? 1 : 0) - (had ? 1 : 0);
      if (col.members >= DENSE_MIN_MEMBERS && col.members * 16 >= size) {
        const dense = new Int32Array(size);
        for (const [p, c] of sparse) dense[p] = c;
        col.dense = dense;
        col.sparse = undefined;
      }
    }
    if (col.members === 0) table.delete(group);
  }

  /** Rebuilds positions, columns and group columns from the instances. */
  private rebuild(): void {
    const entries = [...this.instances.values()];
    const n = entries.length;
    const layout = new Layout(entries.map((e) => e.snap.arn));
    const cols: Columns = { epoch: this.epoch, instances: new Array<InstanceSnapshot>(n), cpu: new Float64Array(n), memory: new Float64Array(n), gpus: new Int32Array(n) };
    const counts = new Map<string, { members: number; positions: number[]; values: number[] }>();
    for (let i = 0; i < n; i++) {
      const s = entries[i]!.snap;
      cols.instances[i] = s;
      cols.cpu[i] = s.remaining.cpu;
      cols.memory[i] = s.remaining.memory;
      cols.gpus[i] = s.remaining.gpus.length;
      for (const [g, c] of s.taskGroups) {
        if (c <= 0) continue;
        let e = counts.get(g);
        if (e === undefined) counts.set(g, (e = { members: 0, positions: [], values: [] }));
        e.members++;
        e.positions.push(i);
        e.values.push(c);
      }
    }
    const table = new Map<string, GroupColumn>();
    for (const [g, e] of counts) {
      const dense = e.members >= DENSE_MIN_MEMBERS && e.members * 16 >= n;
      const col: GroupColumn = { epoch: this.epoch, members: e.members, dense: dense ? new Int32Array(n) : undefined, sparse: dense ? undefined : new Map() };
      for (let k = 0; k < e.positions.length; k++) {
        if (col.dense) col.dense[e.positions[k]!] = e.values[k]!;
        else col.sparse!.set(e.positions[k]!, e.values[k]!);
      }
      table.set(g, col);
    }
    this.layout = layout;
    this.cols = cols;
    this.groups = { epoch: this.epoch, cols: table };
    this.fixed = new FixedFieldCache();
    this.layoutDirty = false;
    this.fixedDirty = false;
  }

  /** The current state as an immutable snapshot; the previous one when nothing changed. */
  capture(): { snapshot: CachedSnapshot; built: boolean } {
    if (this.last !== undefined && !this.changed) return { snapshot: this.last, built: false };
    if (this.layoutDirty) this.rebuild();
    else if (this.fixedDirty) {
      this.fixed = new FixedFieldCache();
      this.fixedDirty = false;
    }
    const cols = this.cols!;
    const snapshot = new CachedSnapshot(cols.instances, this.layout!, this.fixed, { cpu: cols.cpu, memory: cols.memory, gpus: cols.gpus }, this.groups.cols);
    // Everything captured now belongs to the snapshot: later writes copy first.
    this.epoch++;
    this.changed = false;
    this.last = snapshot;
    return { snapshot, built: true };
  }

  /** Every change of the cluster up to this sequence number is applied. */
  get appliedSeq(): number {
    const next = Math.min(this.inflightFrom ?? Infinity, this.queue[0]?.seq ?? Infinity);
    return next === Infinity ? this.enqueuedSeq : next - 1;
  }

  /** Whether the state is loaded and no re-sync is pending or under way. */
  get current(): boolean {
    return this.loaded && !this.needsReload && !this.reloading;
  }

  settle(err?: unknown): void {
    if (err !== undefined) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(err);
      return;
    }
    if (!this.current || this.waiters.length === 0) return;
    const applied = this.appliedSeq;
    const ready = this.waiters.filter((w) => w.seq <= applied);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.seq > applied);
    for (const w of ready) w.resolve();
  }
}

// ---------------------------------------------------------------------------
// The cache

/**
 * Per-cluster placement state kept current from the store's change feed.
 * One per server; `close()` stops watching.
 */
export class ClusterStateCache implements ClusterState {
  private readonly views = new Map<string, ClusterView>();
  private readonly unwatch: () => void;
  private readonly maxQueued: number;
  private readonly idleEvictMs: number;
  private readonly counters = { loads: 0, reads: 0, noted: 0, skipped: 0, snapshots: 0 };
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly opts: ClusterStateOptions = {},
  ) {
    this.maxQueued = opts.maxQueuedChanges ?? DEFAULT_MAX_QUEUED;
    this.idleEvictMs = opts.idleEvictMs ?? DEFAULT_IDLE_EVICT_MS;
    this.unwatch = store.watch((changes) => this.onChanges(changes));
  }

  /**
   * The cluster as placement sees it, with every change published before the
   * call applied. Loads the cluster on first use. Never call it inside a
   * store transaction.
   */
  async snapshot(clusterArn: string): Promise<ClusterStateSnapshot> {
    if (this.closed) throw new Error('ClusterStateCache is closed');
    let view = this.views.get(clusterArn);
    if (view === undefined) {
      view = new ClusterView(clusterArn);
      this.views.set(clusterArn, view);
    }
    view.lastUsed = Date.now();
    const mark = view.enqueuedSeq;
    if (view.current) view.queue = this.applyKnown(view, view.queue);
    if (!view.current || view.appliedSeq < mark) {
      const v = view;
      await new Promise<void>((resolve, reject) => {
        v.waiters.push({ seq: mark, resolve, reject });
        this.kick(v);
      });
    }
    return this.capture(view);
  }

  /**
   * The cluster as far as it is known now, without waiting and without
   * reading the store: queued changes whose rows were handed over are applied
   * first. Safe inside a store transaction (unlike `snapshot`). Undefined
   * until the cluster has been loaded by a `snapshot` call.
   */
  current(clusterArn: string): ClusterStateSnapshot | undefined {
    const view = this.views.get(clusterArn);
    if (view === undefined || !view.loaded) return undefined;
    if (view.current) {
      view.queue = this.applyKnown(view, view.queue);
      view.settle();
    }
    return this.capture(view);
  }

  private capture(view: ClusterView): ClusterStateSnapshot {
    const { snapshot, built } = view.capture();
    if (built) this.counters.snapshots++;
    return { snapshot, version: view.appliedSeq };
  }

  /**
   * Rows a writer has just committed (call it after the transaction resolved):
   * their changes are then applied without re-reading the rows. Optional;
   * rows of clusters the cache does not track are ignored.
   */
  noteCommitted(rows: { readonly instances?: readonly Row<ContainerInstanceDoc>[]; readonly tasks?: readonly Row<StoredTask>[] }): void {
    for (const r of rows.instances ?? []) {
      const view = this.views.get(r.cluster);
      if (view === undefined || !view.loaded || (view.instanceVersion(r.arn) ?? 0) >= r.version) continue;
      view.noted.set(r.arn, { instance: r });
    }
    for (const r of rows.tasks ?? []) {
      const view = this.views.get(r.cluster);
      if (view === undefined || !view.loaded || (view.taskVersion(r.arn) ?? 0) >= r.version) continue;
      view.noted.set(r.arn, { task: taskFacts(r) });
    }
  }

  /** Drops a cluster's state (for example after DeleteCluster); the next snapshot loads it again. */
  forget(clusterArn: string): void {
    const view = this.views.get(clusterArn);
    if (view === undefined) return;
    this.views.delete(clusterArn);
    view.settle(new Error(`cluster ${clusterArn} is no longer tracked`));
  }

  /** Re-reads a cluster from the store at the next opportunity. */
  resync(clusterArn: string): void {
    const view = this.views.get(clusterArn);
    if (view === undefined) return;
    view.needsReload = true;
    view.queue = [];
    this.kick(view);
  }

  stats(): ClusterStateStats {
    let instances = 0;
    let tasks = 0;
    for (const v of this.views.values()) {
      instances += v.instances.size;
      tasks += v.tasks.size;
    }
    return { clusters: this.views.size, instances, tasks, ...this.counters };
  }

  close(): void {
    this.closed = true;
    this.unwatch();
    for (const v of this.views.values()) v.settle(new Error('ClusterStateCache is closed'));
    this.views.clear();
  }

  private onChanges(changes: readonly Change[]): void {
    let touched: Set<ClusterView> | undefined;
    for (const c of changes) {
      if (c.kind === 'cluster') {
        // A cluster that changes (DeleteCluster above all) is dropped unless someone waits on it;
        // the next snapshot loads it again. Cluster changes are rare; reloads are cheap.
        const view = this.views.get(c.arn);
        if (view !== undefined && view.waiters.length === 0 && !view.running) this.views.delete(c.arn);
        continue;
      }
      if (c.kind !== 'containerInstance' && c.kind !== 'task') continue;
      const view = this.views.get(c.cluster);
      if (view === undefined) continue;
      view.enqueuedSeq = c.seq;
      if (view.needsReload) continue;
      view.queue.push(c);
      if (view.queue.length > this.maxQueued) {
        this.opts.log?.warn({ cluster: c.cluster, queued: view.queue.length }, 'cluster state cache fell behind; re-syncing the cluster from the store');
        view.queue = [];
        view.needsReload = true;
      }
      (touched ??= new Set()).add(view);
    }
    if (touched === undefined) return;
    const now = Date.now();
    for (const view of touched) {
      if (now - view.lastUsed > this.idleEvictMs && view.waiters.length === 0) {
        this.views.delete(view.arn);
        continue;
      }
      this.kick(view);
    }
  }

  /**
   * Starts the view's apply loop unless it runs. Deferred to the next turn of
   * the event loop, so that writers can hand over their rows first and bursts
   * of changes are applied together.
   */
  private kick(view: ClusterView): void {
    if (view.running || this.closed) return;
    view.running = true;
    setImmediate(() => void this.run(view));
  }

  private async run(view: ClusterView): Promise<void> {
    try {
      for (;;) {
        if (this.views.get(view.arn) !== view) return;
        if (view.needsReload) {
          // A failed load is reported to whoever waits; the next snapshot() tries again.
          await this.reload(view);
        } else if (view.queue.length > 0) {
          try {
            await this.applyQueued(view);
          } catch (err) {
            this.opts.log?.warn({ err, cluster: view.arn }, 'cluster state cache could not apply changes; re-syncing the cluster from the store');
            view.needsReload = true;
            view.queue = [];
            continue;
          }
        } else break;
        view.settle();
      }
      view.noted.clear();
    } catch (err) {
      this.opts.log?.warn({ err, cluster: view.arn }, 'cluster state cache could not load the cluster');
      view.needsReload = true;
      view.queue = [];
      view.settle(err);
    } finally {
      view.running = false;
    }
  }

  private async reload(view: ClusterView): Promise<void> {
    // Every change published so far is covered by what the reads below return;
    // changes published from now on queue up and are applied after.
    view.needsReload = false;
    view.reloading = true;
    view.queue = [];
    this.counters.loads++;
    const instances = await this.store.find<ContainerInstanceDoc>('containerInstance', { cluster: view.arn, status: ['ACTIVE', 'DRAINING'] });
    // Tasks instance by instance: each query follows the store's task `instance` index, holds a
    // few documents at a time and lets writers in between. Tasks on instances not placeable now
    // are read if their instance comes back (see readInstance).
    const tasks: TaskFacts[] = [];
    for (const r of instances) {
      for (const t of await this.store.find<StoredTask>('task', { cluster: view.arn, where: { instance: r.arn }, state: [...ACTIVE_TASK_STATES] })) tasks.push(taskFacts(t));
      if (view.needsReload) break;
    }
    view.reloading = false;
    if (view.needsReload) return; // fell behind again while reading: start over
    view.reset(instances, tasks);
    view.loaded = true;
  }

  /**
   * Applies, in order and without reading, the changes whose rows are known:
   * handed over by their writer, or older than what is applied. Returns the
   * others, still in order.
   */
  private applyKnown(view: ClusterView, changes: readonly Change[]): Change[] {
    const rest: Change[] = [];
    for (const c of changes) {
      const note = view.noted.get(c.arn);
      if (c.kind === 'containerInstance') {
        if ((view.instanceVersion(c.arn) ?? 0) >= c.version) {
          this.counters.skipped++;
        } else if (note?.instance !== undefined && note.instance.version >= c.version) {
          this.counters.noted++;
          view.noted.delete(c.arn);
          view.applyInstance(c.arn, note.instance);
        } else rest.push(c);
      } else if ((view.taskVersion(c.arn) ?? 0) >= c.version) {
        this.counters.skipped++;
      } else if (note?.task !== undefined && note.task.version >= c.version) {
        this.counters.noted++;
        view.noted.delete(c.arn);
        view.applyTask(c.arn, note.task);
      } else rest.push(c);
    }
    return rest;
  }

  /** Re-reads a changed instance; one that joins the cluster's placeable instances brings its tasks along. */
  private async readInstance(view: ClusterView, arn: string): Promise<void> {
    const row = await this.store.get<ContainerInstanceDoc>('containerInstance', arn);
    if (row !== undefined && row.cluster === view.arn && placeable(row.doc.status) && view.instanceVersion(arn) === undefined) {
      for (const t of await this.store.find<StoredTask>('task', { cluster: view.arn, where: { instance: arn }, state: [...ACTIVE_TASK_STATES] })) view.applyTask(t.arn, taskFacts(t));
    }
    view.applyInstance(arn, row);
  }

  /** Applies the queued changes: those with known rows at once, then one read per other changed row. */
  private async applyQueued(view: ClusterView): Promise<void> {
    const batch = this.applyKnown(view, view.queue);
    view.queue = [];
    if (batch.length === 0) return;
    view.inflightFrom = batch[0]!.seq;
    try {
      const latest = new Map<string, Change>();
      for (const c of batch) latest.set(c.arn, c);
      const reads: Promise<void>[] = [];
      for (const c of latest.values()) {
        this.counters.reads++;
        if (c.kind === 'containerInstance') {
          reads.push(this.readInstance(view, c.arn));
        } else {
          reads.push(this.store.get<StoredTask>('task', c.arn).then((row) => view.applyTask(c.arn, row && row.cluster === view.arn ? taskFacts(row) : undefined)));
        }
      }
      await Promise.all(reads);
    } finally {
      view.inflightFrom = undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// Store-backed

/**
 * `ClusterState` read from the store on every `snapshot` call: no change
 * feed, no background work, nothing kept between calls.
 */
export class StoreClusterState implements ClusterState {
  constructor(private readonly store: Store) {}

  async snapshot(clusterArn: string): Promise<ClusterStateSnapshot> {
    const version = await this.store.lastChangeSeq();
    const instances = await this.store.find<ContainerInstanceDoc>('containerInstance', { cluster: clusterArn, status: PLACEABLE_STATUSES });
    const loads = new Map<string, { groups: Map<string, number>; count: number }>();
    for (const t of await this.store.find<StoredTask>('task', { cluster: clusterArn, state: [...ACTIVE_TASK_STATES] })) {
      const instance = t.doc.task.containerInstanceArn;
      if (instance === undefined) continue;
      let load = loads.get(instance);
      if (load === undefined) loads.set(instance, (load = { groups: new Map(), count: 0 }));
      load.groups.set(t.doc.task.group, (load.groups.get(t.doc.task.group) ?? 0) + 1);
      load.count++;
    }
    return { snapshot: buildSnapshot(instances.map((r) => instanceSnapshotOf(r, loads.get(r.arn) ?? EMPTY_LOAD))), version };
  }

  current(): undefined {
    return undefined;
  }

  noteCommitted(): void {}

  forget(): void {}

  close(): void {}
}

/**
 * The placement engine: a pure function from (snapshot, request, seed) to a
 * plan, plus the commit-time re-check and the function that applies a plan.
 *
 *   const plan = place(snapshot, request, { seed });
 *   const { accepted, rejected } = commitCheck(currentSnapshot, plan);
 *   // persist `accepted`; re-plan the `rejected` ones
 *
 * A batch places `count` identical tasks one after another; each placement
 * sees the resources, ports, group counts and distinctInstance state left by
 * the previous ones. Filters (filters.ts) decide which instances fit,
 * strategies (rankers.ts) which of them wins.
 *
 * Cost: O(n) to set up a batch over n instances (fixed-field filters are
 * cached on the snapshot), then O(log n) per placement for strategies whose
 * spread attributes have few distinct values (availability zones, instance
 * types) and O(n) in the worst case (spread over an attribute unique per
 * instance).
 */
import { PlacementInputError } from './errors.js';
import { parseCql } from './cql/index.js';
import { diagnose, FilterPipeline, filterOf, FilterTally, FITS, groupCounts } from './filters.js';
import { createRng, exponential, mix32 } from './random.js';
import { buildCellIndex, layoutCandidates, Ranking, rankKeysFor, TournamentTree, type CellIndex, type KeyColumn } from './rankers.js';
import { withInstances, type ClusterSnapshot } from './snapshot.js';
import {
  MAX_PLACEMENT_CONSTRAINTS,
  MAX_PLACEMENT_STRATEGIES,
  type FailureReason,
  type InstanceSnapshot,
  type Placement,
  type PlacementPlan,
  type PlacementRequest,
} from './types.js';

export interface PlaceOptions {
  /** Seeds the random strategy and tie-breaking: equal inputs and seed give an equal plan. */
  readonly seed: number;
}

const NO_GPUS: readonly string[] = Object.freeze([]);

const nonNegative = (n: number | undefined): boolean => n === undefined || (Number.isFinite(n) && n >= 0);

/** Throws PlacementInputError for requests ECS would refuse; CqlSyntaxError for a bad expression. */
export function validateRequest(request: PlacementRequest): void {
  if (!Number.isInteger(request.count) || request.count < 0) throw new PlacementInputError('count must be a non-negative integer.');
  if (!nonNegative(request.cpu) || !nonNegative(request.memory) || !nonNegative(request.gpus)) {
    throw new PlacementInputError('cpu, memory and gpus must be non-negative numbers.');
  }
  for (const p of [...(request.tcpPorts ?? []), ...(request.udpPorts ?? [])]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new PlacementInputError(`Invalid host port ${p}.`);
  }
  const constraints = request.placementConstraints ?? [];
  if (constraints.length > MAX_PLACEMENT_CONSTRAINTS) {
    throw new PlacementInputError(`Too many placement constraints: at most ${MAX_PLACEMENT_CONSTRAINTS} are allowed.`);
  }
  for (const c of constraints) {
    if (c.type === 'distinctInstance') {
      if (c.expression !== undefined && c.expression !== '') {
        throw new PlacementInputError('You cannot specify an expression with the distinctInstance placement constraint.');
      }
    } else if (c.type === 'memberOf') {
      if (c.expression === undefined || c.expression.trim() === '') {
        throw new PlacementInputError('The memberOf placement constraint requires an expression.');
      }
      parseCql(c.expression);
    } else {
      throw new PlacementInputError(`Invalid placement constraint type '${String((c as { type: unknown }).type)}'; expected distinctInstance or memberOf.`);
    }
  }
  if ((request.placementStrategy ?? []).length > MAX_PLACEMENT_STRATEGIES) {
    throw new PlacementInputError(`Too many placement strategies: at most ${MAX_PLACEMENT_STRATEGIES} are allowed.`);
  }
  rankKeysFor(request.placementStrategy ?? []);
}

/**
 * Per-instance working arrays of `place`, reused from one call to the next
 * (placing is synchronous and never re-entered), so a batch over a large
 * cluster allocates little. Views of `n` entries over buffers that only grow;
 * their contents are whatever the last call left.
 */
class Scratch {
  private capacity = 0;
  private buffers = Scratch.allocate(0);

  private static allocate(n: number) {
    return {
      cpu: new Float64Array(n),
      memory: new Float64Array(n),
      gpus: new Int32Array(n),
      placed: new Int32Array(n),
      groupTasks: new Float64Array(n),
      codes: new Uint8Array(n),
      candidates: new Int32Array(n),
      tie: new Uint32Array(n),
    };
  }

  take(n: number): ReturnType<typeof Scratch.allocate> {
    if (n > this.capacity) {
      this.capacity = Math.max(n, Math.ceil(this.capacity * 1.5));
      this.buffers = Scratch.allocate(this.capacity);
    }
    const b = this.buffers;
    return {
      cpu: b.cpu.subarray(0, n),
      memory: b.memory.subarray(0, n),
      gpus: b.gpus.subarray(0, n),
      placed: b.placed.subarray(0, n),
      groupTasks: b.groupTasks.subarray(0, n),
      codes: b.codes.subarray(0, n),
      candidates: b.candidates.subarray(0, n),
      tie: b.tie.subarray(0, n),
    };
  }
}

const scratch = new Scratch();

/**
 * Places up to `request.count` tasks on the snapshot's instances.
 * Never places a task where a filter rejects it; never overcommits CPU,
 * memory, GPUs or host ports, counting the tasks placed earlier in the batch.
 */
export function place(snapshot: ClusterSnapshot, request: PlacementRequest, opts: PlaceOptions): PlacementPlan {
  validateRequest(request);
  const instances = snapshot.instances;
  const n = instances.length;
  const pipeline = new FilterPipeline(snapshot, request);
  const keys = rankKeysFor(request.placementStrategy ?? []);

  // Per-instance load, updated as the batch places tasks.
  const load = snapshot.loadColumns();
  const work = scratch.take(n);
  const { cpu, memory, placed, candidates, tie } = work;
  const freeGpus = work.gpus;
  cpu.set(load.cpu);
  memory.set(load.memory);
  freeGpus.set(load.gpus);
  placed.fill(0);
  const groupTasks = groupCounts(snapshot, request.group, work.groupTasks.fill(0));
  const codes = work.codes;
  codes.set(pipeline.fixedFailures());
  const tally = new FilterTally(codes);
  let candidateCount = 0;
  for (let i = 0; i < n; i++) {
    if (codes[i] === FITS) {
      const code = pipeline.loadFailure(i, cpu[i]!, memory[i]!, freeGpus[i]!, groupTasks[i]!, 0);
      codes[i] = code;
      if (code === FITS) candidates[candidateCount++] = i;
    }
    tally.count(i);
  }

  // Rank keys. Seeded values (tie hash, random race) only for candidates, in position order.
  const seed = opts.seed >>> 0;
  const rng = createRng(seed);
  const tieSeed = mix32(seed ^ 0x5bd1e995);
  const arnHashes = snapshot.arnHashes;
  for (let k = 0; k < candidateCount; k++) tie[candidates[k]!] = mix32(arnHashes[candidates[k]!]! ^ tieSeed);
  const columns: KeyColumn[] = [];
  const bucketColumns: { bucketOf: Int32Array; buckets: number; counts: Float64Array }[] = [];
  let randomKey: Float64Array | undefined;
  for (const key of keys) {
    switch (key.kind) {
      case 'binpack':
        columns.push({ values: key.resource === 'cpu' ? cpu : memory, bucketOf: null });
        break;
      case 'spreadInstance':
        columns.push({ values: groupTasks, bucketOf: null });
        break;
      case 'spreadAttribute': {
        const { bucketOf, values } = snapshot.attributeBuckets(key.attribute);
        const counts = new Float64Array(values.length);
        const postings = snapshot.groupPostings(request.group);
        if (postings !== undefined) {
          for (let k = 0; k < postings.instances.length; k++) counts[bucketOf[postings.instances[k]!]!]! += postings.counts[k]!;
        }
        columns.push({ values: counts, bucketOf });
        bucketColumns.push({ bucketOf, buckets: values.length, counts });
        break;
      }
      case 'random':
        randomKey = new Float64Array(n);
        for (let k = 0; k < candidateCount; k++) randomKey[candidates[k]!] = exponential(rng);
        columns.push({ values: randomKey, bucketOf: null });
        break;
    }
  }

  // Leaves in cell order (see rankers.ts), so spread(attribute) updates stay local.
  let order: Int32Array = candidates.subarray(0, candidateCount);
  let cellStart: Int32Array | undefined;
  let bucketCells: CellIndex['bucketCells'] = [];
  if (bucketColumns.length > 0) {
    const attributes = keys.flatMap((k) => (k.kind === 'spreadAttribute' ? [k.attribute] : []));
    const index = snapshot.memoFixed(`cells:${JSON.stringify(attributes)}`, () => buildCellIndex(n, bucketColumns));
    const layout = layoutCandidates(index, codes, candidateCount);
    order = layout.order;
    cellStart = layout.cellStart;
    bucketCells = index.bucketCells;
  }
  const tree = new TournamentTree(new Ranking(columns, tie), order, n);

  const placements: Placement[] = [];
  const wantGpus = request.gpus ?? 0;
  while (placements.length < request.count) {
    const w = tree.best();
    if (w < 0) break;
    const inst = instances[w]!;
    const firstGpu = inst.remaining.gpus.length - freeGpus[w]!;
    const gpuIds = wantGpus === 0 ? NO_GPUS : inst.remaining.gpus.slice(firstGpu, firstGpu + wantGpus);
    placements.push({ instanceArn: inst.arn, gpuIds });

    cpu[w]! -= request.cpu;
    memory[w]! -= request.memory;
    freeGpus[w]! -= wantGpus;
    placed[w]!++;
    groupTasks[w]!++;
    if (randomKey !== undefined) randomKey[w]! += exponential(rng);
    for (const bc of bucketColumns) bc.counts[bc.bucketOf[w]!]!++;

    tally.set(w, pipeline.loadFailure(w, cpu[w]!, memory[w]!, freeGpus[w]!, groupTasks[w]!, placed[w]!));
    tree.update(w, codes[w] === FITS);
    // The bucket counts just changed for every cell holding w's buckets: refresh their ends.
    for (let j = 0; j < bucketColumns.length; j++) {
      const { offsets, cells } = bucketCells[j]!;
      const b = bucketColumns[j]!.bucketOf[w]!;
      for (let k = offsets[b]!; k < offsets[b + 1]!; k++) {
        const c = cells[k]!;
        const first = cellStart![c]!;
        const end = cellStart![c + 1]!;
        if (first === end) continue;
        tree.refreshLeaf(first);
        if (end - 1 !== first) tree.refreshLeaf(end - 1);
      }
    }
  }

  const unplaced = request.count - placements.length;
  const { failures, diagnosis } = diagnose(snapshot, codes, tally, unplaced > 0);
  return { request, placements, unplaced, failures, diagnosis };
}

export interface CommitRejection {
  readonly placement: Placement;
  readonly reason: FailureReason;
}

export interface CommitResult {
  /** Placements that still fit, in plan order; they can be persisted together. */
  readonly accepted: readonly Placement[];
  /** Placements the current state no longer allows, with the first filter that fails. */
  readonly rejected: readonly CommitRejection[];
}

/**
 * Re-checks a plan against the cluster as it is now, so that two batches
 * planned on the same snapshot never overcommit an instance together: the
 * control plane calls it under its commit lock and persists only `accepted`.
 *
 * Each placement is checked with every filter, counting the placements of the
 * plan accepted before it; a rejected placement consumes nothing. GPU ids must
 * still be free. Strategies are not re-checked: they are preferences.
 */
export function commitCheck(now: ClusterSnapshot, plan: PlacementPlan): CommitResult {
  const request = plan.request;
  const pipeline = new FilterPipeline(now, request);
  const added = new Map<number, { placed: number; gpus: Set<string> }>();
  const accepted: Placement[] = [];
  const rejected: CommitRejection[] = [];
  for (const p of plan.placements) {
    const i = now.indexOf(p.instanceArn);
    if (i === undefined) {
      rejected.push({ placement: p, reason: 'MISSING' });
      continue;
    }
    const inst = now.instances[i]!;
    const prior = added.get(i) ?? { placed: 0, gpus: new Set<string>() };
    let code = pipeline.fixedFailure(i);
    if (code === FITS) {
      const gpuIdsFree = p.gpuIds.every((g) => inst.remaining.gpus.includes(g) && !prior.gpus.has(g)) && new Set(p.gpuIds).size === p.gpuIds.length;
      code = pipeline.loadFailure(
        i,
        inst.remaining.cpu - prior.placed * request.cpu,
        inst.remaining.memory - prior.placed * request.memory,
        gpuIdsFree ? inst.remaining.gpus.length - prior.gpus.size : -1,
        (inst.taskGroups.get(request.group) ?? 0) + prior.placed,
        prior.placed,
      );
    }
    if (code !== FITS) {
      rejected.push({ placement: p, reason: filterOf(code).reason });
      continue;
    }
    prior.placed++;
    for (const g of p.gpuIds) prior.gpus.add(g);
    added.set(i, prior);
    accepted.push(p);
  }
  return { accepted, rejected };
}

/**
 * The snapshot after the plan's placements: resources, GPUs, ports, running
 * task counts and group counts of the chosen instances updated. It does not
 * re-check the plan (see `commitCheck`). Fixed-field indexes are shared with
 * `snapshot`, so chaining batches is cheap.
 */
export function applyPlan(snapshot: ClusterSnapshot, plan: Pick<PlacementPlan, 'request' | 'placements'>): ClusterSnapshot {
  if (plan.placements.length === 0) return snapshot;
  const { request } = plan;
  const perInstance = new Map<number, Placement[]>();
  for (const p of plan.placements) {
    const i = snapshot.indexOf(p.instanceArn);
    if (i === undefined) throw new RangeError(`${p.instanceArn} is not in the snapshot`);
    const list = perInstance.get(i);
    if (list) list.push(p);
    else perInstance.set(i, [p]);
  }
  const next = snapshot.instances.slice();
  for (const [i, ps] of perInstance) {
    const inst = snapshot.instances[i]!;
    const k = ps.length;
    const taken = new Set(ps.flatMap((p) => p.gpuIds));
    const taskGroups = new Map(inst.taskGroups);
    taskGroups.set(request.group, (taskGroups.get(request.group) ?? 0) + k);
    const updated: InstanceSnapshot = {
      ...inst,
      remaining: {
        cpu: inst.remaining.cpu - k * request.cpu,
        memory: inst.remaining.memory - k * request.memory,
        gpus: taken.size === 0 ? inst.remaining.gpus : inst.remaining.gpus.filter((g) => !taken.has(g)),
      },
      usedPorts: {
        tcp: request.tcpPorts?.length ? [...inst.usedPorts.tcp, ...request.tcpPorts] : inst.usedPorts.tcp,
        udp: request.udpPorts?.length ? [...inst.usedPorts.udp, ...request.udpPorts] : inst.usedPorts.udp,
      },
      runningTasksCount: inst.runningTasksCount + k,
      taskGroups,
    };
    next[i] = updated;
  }
  return withInstances(snapshot, next, [...perInstance.keys()]);
}

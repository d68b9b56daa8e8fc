/**
 * Placement strategies: how the engine chooses among instances that fit.
 *
 * Each strategy gives every instance a key, lower is better; instances are
 * compared on the first strategy's key, ties go to the next strategy, and
 * remaining ties to a seeded hash of the instance ARN (then its position), so
 * the choice is deterministic for a seed and independent of snapshot order.
 *
 *   binpack(cpu|memory)     remaining CPU / memory: the fullest instance that fits wins
 *   spread(instanceId|host) tasks of the request's group on the instance
 *   spread(attribute:<n>)   tasks of the group on all instances sharing the
 *                           instance's value of <n> (instances without a value
 *                           form one more bucket)
 *   random                  an exponential race: each instance holds an
 *                           arrival time, and placing a task there adds a
 *                           fresh exponential draw. The instance with the
 *                           earliest time wins, which by memorylessness makes
 *                           every placement uniform over the instances tied so
 *                           far, independently of earlier ones.
 *
 * `TournamentTree` keeps the best instance at its root. Keys of one instance
 * change when it receives a task (one leaf-to-root path to refresh). A
 * spread(attribute) key changes for a whole bucket: leaves are ordered so that
 * instances with identical spread-attribute values ("cells") are contiguous;
 * comparisons inside a cell do not depend on those keys, so only the paths
 * from the two ends of each affected cell need refreshing. A placement costs
 * O((1 + 2 × affected cells) × log n) comparisons.
 */
import { PlacementInputError } from './errors.js';
import type { PlacementStrategy } from './types.js';

export type RankKey =
  | { readonly kind: 'binpack'; readonly resource: 'cpu' | 'memory' }
  | { readonly kind: 'spreadInstance' }
  | { readonly kind: 'spreadAttribute'; readonly attribute: string }
  | { readonly kind: 'random' };

/**
 * Validates strategies (ECS rules) and turns them into rank keys. No strategy
 * means random. Strategies after `random` are dropped: random never ties.
 */
export function rankKeysFor(strategies: readonly PlacementStrategy[]): RankKey[] {
  const keys: RankKey[] = [];
  for (const s of strategies) {
    switch (s.type) {
      case 'binpack': {
        const f = s.field?.toLowerCase();
        if (f !== 'cpu' && f !== 'memory') {
          throw new PlacementInputError(`Invalid field '${s.field ?? ''}' for binpack placement strategy; expected cpu or memory.`);
        }
        keys.push({ kind: 'binpack', resource: f });
        break;
      }
      case 'spread': {
        const f = s.field ?? '';
        if (f.toLowerCase() === 'instanceid' || f.toLowerCase() === 'host') keys.push({ kind: 'spreadInstance' });
        else if (f.startsWith('attribute:') && f.length > 'attribute:'.length) keys.push({ kind: 'spreadAttribute', attribute: f.slice('attribute:'.length) });
        else throw new PlacementInputError(`Invalid field '${f}' for spread placement strategy; expected instanceId, host or attribute:<name>.`);
        break;
      }
      case 'random':
        if (s.field !== undefined && s.field !== '') {
          throw new PlacementInputError('The random placement strategy does not take a field.');
        }
        keys.push({ kind: 'random' });
        return keys;
      default:
        throw new PlacementInputError(`Invalid placement strategy type '${String((s as { type: unknown }).type)}'; expected binpack, spread or random.`);
    }
  }
  if (keys.length === 0) keys.push({ kind: 'random' });
  return keys;
}

/**
 * One rank key's values. Per-instance keys read `values[i]`; bucket keys
 * (spread by attribute) read `values[bucketOf[i]]`.
 */
export interface KeyColumn {
  readonly values: Float64Array;
  readonly bucketOf: Int32Array | null;
}

/** Strict total order on instances: lexicographic on the key columns, then the tie hash, then position. */
export class Ranking {
  constructor(
    readonly columns: readonly KeyColumn[],
    private readonly tie: Uint32Array,
  ) {}

  /** The better of instances a and b; -1 stands for "no instance" and always loses. */
  better(a: number, b: number): number {
    if (a < 0) return b;
    if (b < 0) return a;
    const cols = this.columns;
    for (let k = 0; k < cols.length; k++) {
      const col = cols[k]!;
      const bo = col.bucketOf;
      const va = bo === null ? col.values[a]! : col.values[bo[a]!]!;
      const vb = bo === null ? col.values[b]! : col.values[bo[b]!]!;
      if (va !== vb) return va < vb ? a : b;
    }
    const ta = this.tie[a]!;
    const tb = this.tie[b]!;
    if (ta !== tb) return ta < tb ? a : b;
    return a < b ? a : b;
  }
}

/**
 * All instances of a snapshot in cell order: sorted (stably, by radix sort)
 * on their bucket for each spread-attribute column, so instances with the
 * same values are contiguous. Depends only on attributes: built once per
 * snapshot family and strategy list.
 */
export interface CellIndex {
  readonly order: Int32Array;
  readonly cellOf: Int32Array;
  readonly cellCount: number;
  /** Per spread-attribute column: the cells of bucket b are cells[offsets[b] .. offsets[b + 1]). */
  readonly bucketCells: readonly { readonly offsets: Int32Array; readonly cells: Int32Array }[];
}

export function buildCellIndex(
  instanceCount: number,
  bucketColumns: readonly { readonly bucketOf: Int32Array; readonly buckets: number }[],
): CellIndex {
  const n = instanceCount;
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let j = bucketColumns.length - 1; j >= 0; j--) {
    const { bucketOf, buckets } = bucketColumns[j]!;
    const start = new Int32Array(buckets + 1);
    for (let k = 0; k < n; k++) start[bucketOf[order[k]!]! + 1]!++;
    for (let b = 0; b < buckets; b++) start[b + 1]! += start[b]!;
    const next = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      next[start[bucketOf[i]!]!++] = i;
    }
    order = next;
  }
  // Cells: maximal runs with identical buckets in every column.
  const cellOf = new Int32Array(n);
  const firstOfCell: number[] = [];
  for (let k = 0; k < n; k++) {
    let same = k > 0;
    for (let j = 0; same && j < bucketColumns.length; j++) {
      const bucketOf = bucketColumns[j]!.bucketOf;
      same = bucketOf[order[k - 1]!] === bucketOf[order[k]!];
    }
    if (!same) firstOfCell.push(order[k]!);
    cellOf[order[k]!] = firstOfCell.length - 1;
  }
  const cellCount = firstOfCell.length;
  const bucketCells = bucketColumns.map(({ bucketOf, buckets }) => {
    const offsets = new Int32Array(buckets + 1);
    for (let c = 0; c < cellCount; c++) offsets[bucketOf[firstOfCell[c]!]! + 1]!++;
    for (let b = 0; b < buckets; b++) offsets[b + 1]! += offsets[b]!;
    const fill = offsets.slice(0, buckets);
    const cells = new Int32Array(cellCount);
    for (let c = 0; c < cellCount; c++) cells[fill[bucketOf[firstOfCell[c]!]!]!++] = c;
    return { offsets, cells };
  });
  return { order, cellOf, cellCount, bucketCells };
}

/** The candidates of one batch in cell order, with each cell's leaf range [cellStart[c], cellStart[c + 1]). */
export interface CellLayout {
  readonly order: Int32Array;
  readonly cellStart: Int32Array;
}

/** Candidates are the instances whose `codes` entry is 0. */
export function layoutCandidates(index: CellIndex, codes: Uint8Array, candidateCount: number): CellLayout {
  const order = new Int32Array(candidateCount);
  const cellStart = new Int32Array(index.cellCount + 1);
  let k = 0;
  for (let p = 0; p < index.order.length; p++) {
    const i = index.order[p]!;
    if (codes[i] !== 0) continue;
    order[k++] = i;
    cellStart[index.cellOf[i]! + 1]!++;
  }
  for (let c = 0; c < index.cellCount; c++) cellStart[c + 1]! += cellStart[c]!;
  return { order, cellStart };
}

/**
 * A winner tree over the candidate instances: `best()` is the instance the
 * ranking prefers among those still eligible, or -1.
 */
export class TournamentTree {
  private readonly size: number;
  private readonly nodes: Int32Array;
  private readonly leafOf: Int32Array;

  constructor(
    private readonly ranking: Ranking,
    order: Int32Array,
    instanceCount: number,
  ) {
    let size = 1;
    while (size < order.length) size <<= 1;
    this.size = size;
    this.nodes = new Int32Array(2 * size).fill(-1);
    this.leafOf = new Int32Array(instanceCount).fill(-1);
    for (let k = 0; k < order.length; k++) {
      this.nodes[size + k] = order[k]!;
      this.leafOf[order[k]!] = k;
    }
    for (let n = size - 1; n >= 1; n--) this.nodes[n] = ranking.better(this.nodes[2 * n]!, this.nodes[2 * n + 1]!);
  }

  best(): number {
    return this.nodes[1]!;
  }

  /** Instance `i`'s keys changed, or it stopped being eligible (`eligible` false: removed for good). */
  update(i: number, eligible: boolean): void {
    const leaf = this.leafOf[i]!;
    if (leaf < 0) return;
    if (!eligible) this.nodes[this.size + leaf] = -1;
    this.refreshLeaf(leaf);
  }

  /** Recomputes every node above leaf position `leaf`. */
  refreshLeaf(leaf: number): void {
    const nodes = this.nodes;
    const r = this.ranking;
    for (let n = (this.size + leaf) >> 1; n >= 1; n >>= 1) nodes[n] = r.better(nodes[2 * n]!, nodes[2 * n + 1]!);
  }
}

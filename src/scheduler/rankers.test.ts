import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlacementInputError } from './errors.js';
import { place } from './engine.js';
import { createRng } from './random.js';
import { buildCellIndex, layoutCandidates, Ranking, rankKeysFor, TournamentTree } from './rankers.js';
import { buildSnapshot } from './snapshot.js';
import { idOf, instance } from './testing.js';
import type { PlacementRequest, PlacementStrategy } from './types.js';

const task: PlacementRequest = { group: 'service:web', cpu: 100, memory: 100, count: 1 };
const ids = (plan: { placements: readonly { instanceArn: string }[] }): string[] => plan.placements.map((p) => idOf(p.instanceArn));
const tally = (xs: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
};

describe('placement strategies', () => {
  it('binpack(memory) picks the instance with the least memory that still fits', () => {
    const snapshot = buildSnapshot([
      instance({ id: 'roomy', memory: 4000 }),
      instance({ id: 'tight', memory: 150 }),
      instance({ id: 'full', memory: 99 }),
      instance({ id: 'mid', memory: 1000 }),
    ]);
    const plan = place(snapshot, { ...task, count: 4, placementStrategy: [{ type: 'binpack', field: 'memory' }] }, { seed: 3 });
    // tight takes one (150 → 50: too full for another), then mid, the fullest that still fits.
    assert.deepEqual(ids(plan), ['tight', 'mid', 'mid', 'mid']);
  });

  it('binpack(cpu) packs on CPU regardless of memory', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', cpu: 1000, memory: 100 }), instance({ id: 'b', cpu: 300, memory: 9000 })]);
    const plan = place(snapshot, { ...task, count: 3, placementStrategy: [{ type: 'binpack', field: 'CPU' }] }, { seed: 3 });
    assert.deepEqual(ids(plan), ['b', 'b', 'b']);
  });

  it('spread(instanceId) levels the tasks of the group across instances', () => {
    const snapshot = buildSnapshot([
      instance({ id: 'a', groups: { 'service:web': 2 } }),
      instance({ id: 'b', groups: { 'service:other': 5 } }),
      instance({ id: 'c' }),
    ]);
    const plan = place(snapshot, { ...task, count: 7, placementStrategy: [{ type: 'spread', field: 'instanceId' }] }, { seed: 9 });
    // Other groups do not count; a already has 2: b and c catch up first, then all three take turns.
    assert.deepEqual(tally(ids(plan).slice(0, 4)), { b: 2, c: 2 });
    assert.deepEqual(tally(ids(plan)), { a: 1, b: 3, c: 3 });
  });

  it('spread(host) is spread(instanceId)', () => {
    assert.deepEqual(rankKeysFor([{ type: 'spread', field: 'host' }]), [{ kind: 'spreadInstance' }]);
  });

  it('spread(attribute) balances zones by tasks of the group, then the next strategy decides within a zone', () => {
    const snapshot = buildSnapshot([
      instance({ id: 'a1', attributes: { zone: 'a' }, memory: 5000, groups: { 'service:web': 3 } }),
      instance({ id: 'a2', attributes: { zone: 'a' }, memory: 900 }),
      instance({ id: 'b1', attributes: { zone: 'b' }, memory: 5000 }),
      instance({ id: 'b2', attributes: { zone: 'b' }, memory: 800 }),
      instance({ id: 'c1', attributes: { zone: 'c' }, memory: 700 }),
    ]);
    const strategy: PlacementStrategy[] = [{ type: 'spread', field: 'attribute:zone' }, { type: 'binpack', field: 'memory' }];
    const plan = place(snapshot, { ...task, count: 6, placementStrategy: strategy }, { seed: 1 });
    // Zone a starts with 3 tasks: b and c receive 3 each, always on their fullest instance.
    assert.deepEqual(tally(ids(plan)), { b2: 3, c1: 3 });
    const more = place(snapshot, { ...task, count: 9, placementStrategy: strategy }, { seed: 1 });
    assert.deepEqual(tally(ids(more)), { a2: 1, b2: 4, c1: 4 }, 'at 3 tasks per zone the zones take turns, each on its fullest instance');
  });

  it('spread(attribute) puts instances without the attribute in a bucket of their own', () => {
    const snapshot = buildSnapshot([
      instance({ id: 'z1', attributes: { zone: 'a' } }),
      instance({ id: 'n1' }),
      instance({ id: 'n2', attributes: { zone: null } }),
    ]);
    const plan = place(snapshot, { ...task, count: 4, placementStrategy: [{ type: 'spread', field: 'attribute:zone' }] }, { seed: 2 });
    const zones = ids(plan).map((id) => (id === 'z1' ? 'a' : 'none'));
    assert.deepEqual(tally(zones), { a: 2, none: 2 });
  });

  it('random is reproducible for a seed and spreads placements over the instances', () => {
    const snapshot = buildSnapshot(Array.from({ length: 10 }, (_, i) => instance({ id: i, cpu: 1e6, memory: 1e6 })));
    const request = { ...task, count: 5000, placementStrategy: [{ type: 'random' as const }] };
    const a = ids(place(snapshot, request, { seed: 42 }));
    assert.deepEqual(ids(place(snapshot, request, { seed: 42 })), a);
    assert.notDeepEqual(ids(place(snapshot, request, { seed: 43 })), a);
    const counts = Object.values(tally(a));
    assert.equal(counts.length, 10);
    for (const c of counts) assert.ok(c > 400 && c < 600, `uniform within noise: ${counts.join(',')}`);
    // Consecutive placements are independent: about 1 in 10 repeats the previous instance.
    let repeats = 0;
    for (let k = 1; k < a.length; k++) if (a[k] === a[k - 1]) repeats++;
    assert.ok(repeats > 380 && repeats < 620, `repeats ${repeats}`);
  });

  it('no strategy behaves as random', () => {
    assert.deepEqual(rankKeysFor([]), [{ kind: 'random' }]);
    const snapshot = buildSnapshot(Array.from({ length: 4 }, (_, i) => instance({ id: i })));
    assert.deepEqual(
      ids(place(snapshot, { ...task, count: 20 }, { seed: 5 })),
      ids(place(snapshot, { ...task, count: 20, placementStrategy: [{ type: 'random' }] }, { seed: 5 })),
    );
  });

  it('break remaining ties by a seeded hash of the ARN, whatever the snapshot order', () => {
    const insts = Array.from({ length: 8 }, (_, i) => instance({ id: i }));
    const request = { ...task, count: 3, placementStrategy: [{ type: 'binpack' as const, field: 'memory' }] };
    const forward = ids(place(buildSnapshot(insts), request, { seed: 7 }));
    const backward = ids(place(buildSnapshot([...insts].reverse()), request, { seed: 7 }));
    assert.deepEqual(backward, forward);
    const firsts = new Set<string>();
    for (let seed = 0; seed < 40; seed++) firsts.add(ids(place(buildSnapshot(insts), request, { seed }))[0]!);
    assert.ok(firsts.size >= 5, 'different seeds choose different instances among equals');
  });

  it('reject strategies ECS rejects', () => {
    const bad: PlacementStrategy[][] = [
      [{ type: 'binpack' }],
      [{ type: 'binpack', field: 'gpu' }],
      [{ type: 'spread' }],
      [{ type: 'spread', field: 'attribute:' }],
      [{ type: 'spread', field: 'zone' }],
      [{ type: 'random', field: 'memory' }],
      [{ type: 'roundrobin' } as unknown as PlacementStrategy],
    ];
    for (const s of bad) assert.throws(() => rankKeysFor(s), PlacementInputError, JSON.stringify(s));
  });
});

describe('TournamentTree', () => {
  it('always holds the best eligible instance, as a full scan finds it', () => {
    const rng = createRng(11);
    for (let round = 0; round < 30; round++) {
      const n = 1 + Math.floor(rng.next() * 70);
      const zones = 1 + Math.floor(rng.next() * 4);
      const bucketOf = Int32Array.from({ length: n }, () => Math.floor(rng.next() * zones));
      const counts = new Float64Array(zones);
      const mem = Float64Array.from({ length: n }, () => Math.floor(rng.next() * 5));
      const tie = Uint32Array.from({ length: n }, () => Math.floor(rng.next() * 3));
      const ranking = new Ranking([{ values: counts, bucketOf }, { values: mem, bucketOf: null }], tie);
      const codes = Uint8Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0));
      const candidates = [...codes.keys()].filter((i) => codes[i] === 0);
      const index = buildCellIndex(n, [{ bucketOf, buckets: zones }]);
      const layout = layoutCandidates(index, codes, candidates.length);
      const tree = new TournamentTree(ranking, layout.order, n);
      const eligible = new Set(candidates);
      for (let step = 0; step < 40; step++) {
        const expected = [...eligible].reduce((best, i) => ranking.better(best, i), -1);
        assert.equal(tree.best(), expected);
        if (expected < 0) break;
        // Place on the winner: its zone count and its own key change; sometimes it fills up.
        counts[bucketOf[expected]!]!++;
        mem[expected]! += 1;
        const full = rng.next() < 0.3;
        if (full) eligible.delete(expected);
        tree.update(expected, !full);
        const b = bucketOf[expected]!;
        const { offsets, cells } = index.bucketCells[0]!;
        for (let k = offsets[b]!; k < offsets[b + 1]!; k++) {
          const c = cells[k]!;
          if (layout.cellStart[c] === layout.cellStart[c + 1]) continue;
          tree.refreshLeaf(layout.cellStart[c]!);
          tree.refreshLeaf(layout.cellStart[c + 1]! - 1);
        }
      }
    }
  });
});

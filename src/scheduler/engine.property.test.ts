/**
 * Properties of the engine over random clusters and requests, each checked
 * against an independent replay: placements are applied one by one with
 * `applyPlan`, and every instance is re-examined from scratch at each step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyPlan, commitCheck, place } from './engine.js';
import { firstFailure } from './filters.js';
import { rankKeysFor, type RankKey } from './rankers.js';
import { buildSnapshot, type ClusterSnapshot } from './snapshot.js';
import { instance } from './testing.js';
import type { InstanceSnapshot, PlacementPlan, PlacementRequest, PlacementStrategy } from './types.js';

const RUNS = { seed: 20240601, numRuns: 200 };
const ZONE = 'ecs.availability-zone';
const GROUPS = ['service:a', 'service:b', 'family:c'];

/** `value` with the given weight, otherwise one of `rest`. */
const mostly = <T>(value: T, weight: number, ...rest: T[]): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: fc.constant(value), weight }, ...rest.map((r) => ({ arbitrary: fc.constant(r), weight: 1 })));

const instanceSpec = fc.record({
  status: mostly<'ACTIVE' | 'DRAINING'>('ACTIVE', 9, 'DRAINING'),
  agentConnected: mostly(true, 9, false),
  zone: fc.constantFrom('az-a', 'az-b', 'az-c', 'az-a', 'az-b', 'az-c', undefined),
  type: fc.constantFrom('t3.small', 'm5.large', 'c5.xlarge'),
  cpu: fc.integer({ min: 0, max: 32 }).map((x) => (32 - x) * 128),
  memory: fc.integer({ min: 0, max: 32 }).map((x) => (32 - x) * 256),
  gpus: fc.integer({ min: 0, max: 3 }),
  tcp: fc.subarray([22, 80, 8080]),
  udp: fc.subarray([53, 5000]),
  groups: fc.record({ 'service:a': mostly(0, 3, 1, 2, 3), 'service:b': mostly(0, 3, 1, 2), 'family:c': mostly(0, 3, 1) }),
});

const clusterArb = fc.array(instanceSpec, { minLength: 1, maxLength: 25, size: 'max' }).map((specs) =>
  specs.map((s, i) =>
    instance({
      id: `ci-${i}`,
      status: s.status,
      agentConnected: s.agentConnected,
      attributes: { ...(s.zone === undefined ? {} : { [ZONE]: s.zone }), 'ecs.instance-type': s.type },
      cpu: s.cpu,
      memory: s.memory,
      gpus: Array.from({ length: s.gpus }, (_, g) => `gpu-${i}-${g}`),
      tcp: s.tcp,
      udp: s.udp,
      groups: s.groups,
    }),
  ),
);

const EXPRESSIONS = [
  `attribute:${ZONE} in [az-a, az-b]`,
  'attribute:ecs.instance-type =~ (t3|m5)\\..*',
  'not(task:group == service:b)',
  'runningTasksCount < 6',
  'task:group == service:a or runningTasksCount == 0',
];
const STRATEGIES: PlacementStrategy[] = [
  { type: 'binpack', field: 'memory' },
  { type: 'binpack', field: 'cpu' },
  { type: 'spread', field: 'instanceId' },
  { type: 'spread', field: `attribute:${ZONE}` },
  { type: 'spread', field: 'attribute:ecs.instance-type' },
  { type: 'random' },
];

const requestArb = (strategies: fc.Arbitrary<PlacementStrategy[]>): fc.Arbitrary<PlacementRequest> =>
  fc.record({
    group: fc.constantFrom(...GROUPS),
    cpu: fc.integer({ min: 0, max: 4 }).map((x) => x * 128),
    memory: fc.integer({ min: 0, max: 4 }).map((x) => x * 256),
    tcpPorts: mostly<number[]>([], 4, [80], [9000]),
    udpPorts: mostly<number[]>([], 6, [53]),
    gpus: mostly(0, 6, 1),
    placementConstraints: fc.tuple(mostly(false, 3, true), fc.option(fc.constantFrom(...EXPRESSIONS), { nil: undefined, freq: 2 })).map(([distinct, expr]) => [
      ...(distinct ? [{ type: 'distinctInstance' as const }] : []),
      ...(expr === undefined ? [] : [{ type: 'memberOf' as const, expression: expr }]),
    ]),
    placementStrategy: strategies,
    count: fc.integer({ min: 0, max: 30 }),
  });

const anyStrategies = fc.array(fc.constantFrom(...STRATEGIES), { maxLength: 3 });
const orderedStrategies = fc.array(fc.constantFrom(...STRATEGIES.filter((s) => s.type !== 'random')), { minLength: 1, maxLength: 3 });
const seedArb = fc.integer({ min: 0, max: 0xffffffff });

/** The value of a rank key for instance `inst` in snapshot `s`, computed from scratch. */
function keyOf(key: RankKey, s: ClusterSnapshot, inst: InstanceSnapshot, group: string): number {
  switch (key.kind) {
    case 'binpack':
      return key.resource === 'cpu' ? inst.remaining.cpu : inst.remaining.memory;
    case 'spreadInstance':
      return inst.taskGroups.get(group) ?? 0;
    case 'spreadAttribute': {
      const value = inst.attributes.get(key.attribute);
      let sum = 0;
      for (const other of s.instances) if (other.attributes.get(key.attribute) === value) sum += other.taskGroups.get(group) ?? 0;
      return sum;
    }
    case 'random':
      return 0;
  }
}

/** Lexicographic comparison of key tuples, stopping at random (any order is fine past it). */
function compareKeys(keys: readonly RankKey[], s: ClusterSnapshot, a: InstanceSnapshot, b: InstanceSnapshot, group: string): number {
  for (const k of keys) {
    if (k.kind === 'random') return 0;
    const d = keyOf(k, s, a, group) - keyOf(k, s, b, group);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Replays the plan placement by placement. At each step the chosen instance
 * must pass every filter in the current state and rank at least as well as
 * every other instance that passes them. Returns the final state.
 */
function replay(snapshot: ClusterSnapshot, plan: PlacementPlan): ClusterSnapshot {
  const request = plan.request;
  const keys = rankKeysFor(request.placementStrategy ?? []);
  let s = snapshot;
  for (const p of plan.placements) {
    const chosen = s.instances[s.indexOf(p.instanceArn)!]!;
    assert.equal(firstFailure(s, request, chosen), 0, `infeasible placement on ${chosen.arn}`);
    for (const other of s.instances) {
      if (firstFailure(s, request, other) !== 0) continue;
      assert.ok(compareKeys(keys, s, chosen, other, request.group) <= 0, `${other.arn} ranks better than the chosen ${chosen.arn}`);
    }
    assert.equal(p.gpuIds.length, request.gpus ?? 0);
    s = applyPlan(s, { request, placements: [p] });
  }
  if (plan.unplaced > 0) {
    for (const other of s.instances) assert.notEqual(firstFailure(s, request, other), 0, `${other.arn} could take another task`);
  } else {
    assert.equal(plan.placements.length, request.count);
  }
  return s;
}

/** No instance ends with negative resources, a GPU given twice or a host port bound twice. */
function assertNotOvercommitted(s: ClusterSnapshot, original: ClusterSnapshot): void {
  s.instances.forEach((inst, i) => {
    const before = original.instances[i]!;
    if (inst === before) return;
    assert.ok(inst.remaining.cpu >= 0 && inst.remaining.memory >= 0, `${inst.arn} overcommitted`);
    assert.equal(new Set(inst.usedPorts.tcp).size, inst.usedPorts.tcp.length, `${inst.arn} TCP port bound twice`);
    assert.equal(new Set(inst.usedPorts.udp).size, inst.usedPorts.udp.length, `${inst.arn} UDP port bound twice`);
  });
}

describe('placement properties', () => {
  it('never places an infeasible task, always picks a best-ranked instance, stops only when nothing fits', () => {
    fc.assert(
      fc.property(clusterArb, requestArb(anyStrategies), seedArb, (instances, request, seed) => {
        const snapshot = buildSnapshot(instances);
        const plan = place(snapshot, request, { seed });
        assertNotOvercommitted(replay(snapshot, plan), snapshot);
        assert.equal(plan.placements.length + plan.unplaced, request.count);
      }),
      RUNS,
    );
  });

  it('GPU ids of a batch are never handed out twice', () => {
    fc.assert(
      fc.property(clusterArb, requestArb(anyStrategies), seedArb, (instances, request, seed) => {
        const plan = place(buildSnapshot(instances), { ...request, gpus: 1 }, { seed });
        const given = plan.placements.flatMap((p) => p.gpuIds.map((g) => `${p.instanceArn}/${g}`));
        assert.equal(new Set(given).size, given.length);
      }),
      RUNS,
    );
  });

  it('a batch of N is the same as N single placements applied one after another', () => {
    fc.assert(
      fc.property(clusterArb, requestArb(orderedStrategies), seedArb, (instances, request, seed) => {
        const snapshot = buildSnapshot(instances);
        const batch = place(snapshot, request, { seed }).placements.map((p) => p.instanceArn);
        const singles: string[] = [];
        let s = snapshot;
        for (let k = 0; k < request.count; k++) {
          const one = place(s, { ...request, count: 1 }, { seed });
          if (one.placements.length === 0) break;
          singles.push(one.placements[0]!.instanceArn);
          s = applyPlan(s, one);
        }
        assert.deepEqual(batch, singles);
      }),
      RUNS,
    );
  });

  it('spread over empty eligible instances is balanced within one', () => {
    const arb = fc.record({
      zones: fc.array(fc.constantFrom('az-a', 'az-b', 'az-c', 'az-d'), { minLength: 1, maxLength: 30 }),
      field: fc.constantFrom('instanceId', `attribute:${ZONE}`),
      then: fc.constantFrom<PlacementStrategy[]>([], [{ type: 'binpack', field: 'memory' }], [{ type: 'random' }]),
      count: fc.integer({ min: 0, max: 100 }),
      seed: seedArb,
    });
    fc.assert(
      fc.property(arb, ({ zones, field, then, count, seed }) => {
        const instances = zones.map((z, i) => instance({ id: i, attributes: { [ZONE]: z }, memory: 100_000 + ((i * 7919) % 13) * 256, cpu: 100_000 }));
        const snapshot = buildSnapshot(instances);
        const plan = place(snapshot, { group: 'service:s', cpu: 10, memory: 10, count, placementStrategy: [{ type: 'spread', field }, ...then] }, { seed });
        assert.equal(plan.placements.length, count);
        const per = new Map<string, number>();
        const bucket = (arn: string): string => (field === 'instanceId' ? arn : snapshot.instances[snapshot.indexOf(arn)!]!.attributes.get(ZONE)!);
        for (const inst of instances) per.set(bucket(inst.arn), 0);
        for (const p of plan.placements) per.set(bucket(p.instanceArn), per.get(bucket(p.instanceArn))! + 1);
        const counts = [...per.values()];
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `unbalanced: ${counts.join(',')}`);
      }),
      RUNS,
    );
  });

  it('binpack puts each task on the fullest instance that still fits', () => {
    fc.assert(
      fc.property(clusterArb, requestArb(fc.constant([{ type: 'binpack', field: 'memory' }])), seedArb, (instances, request, seed) => {
        const snapshot = buildSnapshot(instances);
        let s = snapshot;
        for (const p of place(snapshot, request, { seed }).placements) {
          const chosen = s.instances[s.indexOf(p.instanceArn)!]!;
          const fits = s.instances.filter((i) => firstFailure(s, request, i) === 0);
          assert.equal(chosen.remaining.memory, Math.min(...fits.map((i) => i.remaining.memory)));
          s = applyPlan(s, { request, placements: [p] });
        }
      }),
      RUNS,
    );
  });

  it('two batches planned on one snapshot never overcommit once both are committed', () => {
    fc.assert(
      fc.property(clusterArb, requestArb(anyStrategies), requestArb(anyStrategies), seedArb, (instances, r1, r2, seed) => {
        const snapshot = buildSnapshot(instances);
        const p1 = place(snapshot, r1, { seed });
        const p2 = place(snapshot, r2, { seed: seed ^ 1 });
        const c1 = commitCheck(snapshot, p1);
        assert.equal(c1.accepted.length, p1.placements.length, 'a plan fits the snapshot it was made on');
        const after1 = applyPlan(snapshot, p1);
        const c2 = commitCheck(after1, p2);
        const after2 = applyPlan(after1, { request: r2, placements: c2.accepted });
        assertNotOvercommitted(after2, snapshot);
        // The accepted part of the second batch passes every filter when replayed on top of the first.
        let s = after1;
        for (const p of c2.accepted) {
          assert.equal(firstFailure(s, r2, s.instances[s.indexOf(p.instanceArn)!]!), 0);
          s = applyPlan(s, { request: r2, placements: [p] });
        }
      }),
      RUNS,
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlacementInputError } from './errors.js';
import { CqlSyntaxError } from './cql/index.js';
import { applyPlan, commitCheck, place } from './engine.js';
import { buildSnapshot } from './snapshot.js';
import { idOf, instance } from './testing.js';
import type { PlacementRequest } from './types.js';

const task: PlacementRequest = { group: 'service:web', cpu: 256, memory: 512, count: 1 };
const ids = (plan: { placements: readonly { instanceArn: string }[] }): string[] => plan.placements.map((p) => idOf(p.instanceArn));

describe('place', () => {
  it('places a batch until resources run out, counting its own tasks', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', cpu: 1024, memory: 1024 }), instance({ id: 'b', cpu: 512, memory: 4096 })]);
    const plan = place(snapshot, { ...task, count: 6 }, { seed: 1 });
    // a fits 2 (memory), b fits 2 (cpu): 4 placed, 2 not.
    assert.equal(plan.placements.length, 4);
    assert.equal(plan.unplaced, 2);
    assert.deepEqual([...ids(plan)].sort(), ['a', 'a', 'b', 'b']);
    assert.deepEqual(plan.failures.map((f) => [idOf(f.arn), f.reason]), [['a', 'RESOURCE:MEMORY'], ['b', 'RESOURCE:CPU']]);
  });

  it('puts at most one task of a batch on an instance when the task binds a static host port', () => {
    const snapshot = buildSnapshot([instance({ id: 'a' }), instance({ id: 'b' }), instance({ id: 'c', tcp: [8080] })]);
    const plan = place(snapshot, { ...task, tcpPorts: [8080], count: 3 }, { seed: 1 });
    assert.deepEqual([...ids(plan)].sort(), ['a', 'b']);
    assert.deepEqual(plan.failures.map((f) => f.reason), ['RESOURCE:PORTS', 'RESOURCE:PORTS', 'RESOURCE:PORTS']);
    const udp = place(snapshot, { ...task, udpPorts: [5000], count: 4 }, { seed: 1 });
    assert.equal(udp.placements.length, 3);
    assert.deepEqual(new Set(ids(udp)), new Set(['a', 'b', 'c']));
  });

  it('sees ports taken by earlier batches on derived snapshots, and any of several ports in use', () => {
    const snapshot = buildSnapshot([instance({ id: 'a' }), instance({ id: 'b', tcp: [443] }), instance({ id: 'c' })]);
    const first = place(snapshot, { ...task, tcpPorts: [80], count: 1 }, { seed: 1 });
    const taken = idOf(first.placements[0]!.instanceArn);
    let now = applyPlan(snapshot, first);
    const second = place(now, { ...task, tcpPorts: [80], count: 3 }, { seed: 2 });
    assert.deepEqual([...ids(second)].sort(), ['a', 'b', 'c'].filter((x) => x !== taken));
    now = applyPlan(now, second);
    assert.equal(place(now, { ...task, tcpPorts: [80], count: 1 }, { seed: 3 }).unplaced, 1, 'port 80 is taken everywhere');
    const both = place(snapshot, { ...task, tcpPorts: [80, 443], count: 3 }, { seed: 1 });
    assert.deepEqual([...ids(both)].sort(), ['a', 'c'], 'b has 443 in use');
    assert.equal(place(snapshot, { ...task, udpPorts: [80], count: 3 }, { seed: 1 }).placements.length, 3, 'UDP apart from TCP');
  });

  it('honours distinctInstance within the batch and against running tasks', () => {
    const snapshot = buildSnapshot([instance({ id: 'a' }), instance({ id: 'b', groups: { 'service:web': 1 } }), instance({ id: 'c' })]);
    const plan = place(snapshot, { ...task, count: 3, placementConstraints: [{ type: 'distinctInstance' }] }, { seed: 1 });
    assert.deepEqual([...ids(plan)].sort(), ['a', 'c']);
    assert.equal(plan.unplaced, 1);
  });

  it('re-evaluates task-state memberOf expressions as the batch places tasks', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', runningTasksCount: 1 }), instance({ id: 'b', runningTasksCount: 2 })]);
    const plan = place(snapshot, { ...task, count: 10, placementConstraints: [{ type: 'memberOf', expression: 'runningTasksCount < 3' }] }, { seed: 1 });
    assert.deepEqual([...ids(plan)].sort(), ['a', 'a', 'b']);
  });

  it('assigns free GPU ids, each to one task', () => {
    const snapshot = buildSnapshot([instance({ id: 'g', gpus: ['gpu-0', 'gpu-1', 'gpu-2'] })]);
    const plan = place(snapshot, { ...task, gpus: 1, count: 4 }, { seed: 1 });
    assert.deepEqual(plan.placements.map((p) => p.gpuIds), [['gpu-0'], ['gpu-1'], ['gpu-2']]);
    assert.equal(plan.failures[0]?.reason, 'RESOURCE:GPU');
    assert.deepEqual(place(snapshot, { ...task, count: 1 }, { seed: 1 }).placements[0]!.gpuIds, []);
  });

  it('returns an empty plan for count 0 and an explained one for an empty cluster', () => {
    const snapshot = buildSnapshot([instance({ id: 'a' })]);
    assert.deepEqual(place(snapshot, { ...task, count: 0 }, { seed: 1 }).placements, []);
    const empty = place(buildSnapshot([]), { ...task, count: 2 }, { seed: 1 });
    assert.equal(empty.unplaced, 2);
    assert.equal(empty.diagnosis.message, '0 of 0 container instances can take the task');
  });

  it('gives the same plan for the same inputs and seed', () => {
    const snapshot = buildSnapshot(Array.from({ length: 20 }, (_, i) => instance({ id: i, memory: 1000 + ((i * 37) % 7) * 100, attributes: { zone: `z${i % 3}` } })));
    const request = { ...task, count: 15, placementStrategy: [{ type: 'spread' as const, field: 'attribute:zone' }, { type: 'random' as const }] };
    assert.deepEqual(place(snapshot, request, { seed: 99 }), place(snapshot, request, { seed: 99 }));
  });

  it('rejects requests ECS would reject', () => {
    const snapshot = buildSnapshot([instance()]);
    const bad: Partial<PlacementRequest>[] = [
      { count: -1 },
      { count: 1.5 },
      { cpu: -1 },
      { memory: Number.NaN },
      { tcpPorts: [0] },
      { udpPorts: [70000] },
      { placementConstraints: [{ type: 'memberOf' }] },
      { placementConstraints: [{ type: 'distinctInstance', expression: 'agentConnected == true' }] },
      { placementConstraints: Array.from({ length: 11 }, () => ({ type: 'distinctInstance' as const })) },
      { placementStrategy: Array.from({ length: 6 }, () => ({ type: 'random' as const })) },
      { placementStrategy: [{ type: 'binpack', field: 'disk' }] },
    ];
    for (const b of bad) assert.throws(() => place(snapshot, { ...task, ...b }, { seed: 1 }), PlacementInputError, JSON.stringify(b));
    assert.throws(
      () => place(snapshot, { ...task, placementConstraints: [{ type: 'memberOf', expression: 'attribute:a == (b' }] }, { seed: 1 }),
      (err: unknown) => err instanceof CqlSyntaxError && err.position === 15,
    );
  });
});

describe('commitCheck', () => {
  it('accepts a plan against the snapshot it was made on', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', gpus: ['g0'] }), instance({ id: 'b', gpus: ['g1'] })]);
    const plan = place(snapshot, { ...task, gpus: 1, tcpPorts: [80], count: 2 }, { seed: 1 });
    const result = commitCheck(snapshot, plan);
    assert.equal(result.accepted.length, 2);
    assert.deepEqual(result.rejected, []);
  });

  it('keeps two batches planned on the same snapshot from overcommitting together', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', cpu: 1024, memory: 2048 })]);
    const first = place(snapshot, { ...task, count: 3 }, { seed: 1 });
    const second = place(snapshot, { ...task, group: 'service:api', count: 3 }, { seed: 2 });
    assert.equal(first.placements.length + second.placements.length, 6, 'each alone fits');
    const now = applyPlan(snapshot, commitCheck(snapshot, first).accepted.length === 3 ? first : assert.fail());
    const result = commitCheck(now, second);
    assert.equal(result.accepted.length, 1, 'only 1024 - 3 × 256 = 256 CPU units are left');
    assert.deepEqual(result.rejected.map((r) => r.reason), ['RESOURCE:CPU', 'RESOURCE:CPU']);
  });

  it('rejects placements whose ports, GPUs, instance or constraints changed meanwhile', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', gpus: ['g0'] }), instance({ id: 'b' })]);
    const portPlan = place(snapshot, { ...task, tcpPorts: [80], count: 2 }, { seed: 1 });
    const now = applyPlan(snapshot, place(snapshot, { ...task, group: 'service:x', tcpPorts: [80], count: 1, placementStrategy: [{ type: 'binpack', field: 'memory' }] }, { seed: 1 }));
    assert.deepEqual(commitCheck(now, portPlan).rejected.map((r) => r.reason), ['RESOURCE:PORTS']);

    const gpuPlan = place(snapshot, { ...task, gpus: 1, count: 1 }, { seed: 1 });
    const gpuTaken = applyPlan(snapshot, gpuPlan);
    assert.deepEqual(commitCheck(gpuTaken, gpuPlan).rejected.map((r) => r.reason), ['RESOURCE:GPU']);

    const gone = buildSnapshot([instance({ id: 'b' })]);
    const drained = buildSnapshot([instance({ id: 'a', status: 'DRAINING', gpus: ['g0'] }), instance({ id: 'b' })]);
    const toA = place(snapshot, { ...task, count: 1, placementConstraints: [{ type: 'memberOf', expression: 'ec2InstanceId == i-a' }] }, { seed: 1 });
    assert.deepEqual(commitCheck(gone, toA).rejected.map((r) => r.reason), ['MISSING']);
    assert.deepEqual(commitCheck(drained, toA).rejected.map((r) => r.reason), ['INACTIVE']);

    const distinct = place(snapshot, { ...task, count: 2, placementConstraints: [{ type: 'distinctInstance' }] }, { seed: 1 });
    const withWeb = applyPlan(snapshot, place(snapshot, { ...task, count: 1, placementConstraints: [{ type: 'memberOf', expression: 'ec2InstanceId == i-b' }] }, { seed: 1 }));
    const r = commitCheck(withWeb, distinct);
    assert.deepEqual(r.rejected.map((x) => [idOf(x.placement.instanceArn), x.reason]), [['b', 'DistinctInstance placement constraint unsatisfied']]);
  });
});

describe('applyPlan', () => {
  it('returns the snapshot with the placed tasks on their instances', () => {
    const snapshot = buildSnapshot([instance({ id: 'a', gpus: ['g0', 'g1'], tcp: [22], groups: { 'service:web': 1 } }), instance({ id: 'b' })]);
    const plan = place(snapshot, { ...task, gpus: 1, udpPorts: [53], count: 1, placementConstraints: [{ type: 'memberOf', expression: 'ec2InstanceId == i-a' }] }, { seed: 1 });
    const next = applyPlan(snapshot, plan);
    const a = next.instances[0]!;
    assert.equal(a.remaining.cpu, 4096 - 256);
    assert.equal(a.remaining.memory, 8192 - 512);
    assert.deepEqual(a.remaining.gpus, ['g1']);
    assert.deepEqual(a.usedPorts, { tcp: [22], udp: [53] });
    assert.equal(a.runningTasksCount, 2);
    assert.equal(a.taskGroups.get('service:web'), 2);
    assert.equal(next.instances[1], snapshot.instances[1], 'untouched instances are shared');
    assert.equal(snapshot.instances[0]!.remaining.cpu, 4096, 'the original snapshot is unchanged');
    assert.equal(next.groupPostings('service:web')!.counts[0], 2);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { place } from './engine.js';
import { FILTERS, firstFailure } from './filters.js';
import { buildSnapshot } from './snapshot.js';
import { idOf, instance, type InstanceSpec } from './testing.js';
import type { PlacementRequest } from './types.js';

const task: PlacementRequest = { group: 'family:web', cpu: 256, memory: 512, count: 1 };

/** The ECS failure reason a lone instance gives for the request, or 'placed'. */
function reasonFor(spec: InstanceSpec, request: Partial<PlacementRequest> = {}): string {
  const plan = place(buildSnapshot([instance(spec)]), { ...task, ...request }, { seed: 1 });
  if (plan.placements.length === 1) return 'placed';
  if (plan.failures.length === 0) return `no failure (${plan.diagnosis.message})`;
  return plan.failures[0]!.reason;
}

describe('placement filters', () => {
  it('place on an instance that meets every requirement', () => {
    assert.equal(reasonFor({}), 'placed');
  });

  it('never place on instances that are not ACTIVE, and do not report them as failures', () => {
    for (const status of ['DRAINING', 'INACTIVE', 'REGISTERING', 'DEREGISTERING'] as const) {
      const plan = place(buildSnapshot([instance({ status })]), task, { seed: 1 });
      assert.equal(plan.placements.length, 0, status);
      assert.deepEqual(plan.failures, [], status);
      assert.deepEqual(plan.diagnosis.rejected, [{ filter: 'status', reason: 'INACTIVE', instances: 1 }]);
    }
  });

  it('reject instances whose agent is disconnected with AGENT', () => {
    assert.equal(reasonFor({ agentConnected: false }), 'AGENT');
  });

  it('reject incompatible launch types and network modes with ATTRIBUTE', () => {
    assert.equal(reasonFor({ launchTypes: ['EXTERNAL'] }, { launchType: 'EC2' }), 'ATTRIBUTE');
    assert.equal(reasonFor({ launchTypes: ['EC2', 'EXTERNAL'] }, { launchType: 'EXTERNAL' }), 'placed');
    assert.equal(reasonFor({}, { launchType: 'EXTERNAL' }), 'placed', 'no launch types listed means any');
    assert.equal(reasonFor({ networkModes: ['bridge', 'host'] }, { networkMode: 'awsvpc' }), 'ATTRIBUTE');
    assert.equal(reasonFor({ networkModes: ['bridge', 'awsvpc'] }, { networkMode: 'awsvpc' }), 'placed');
  });

  it('reject instances without the required attributes with ATTRIBUTE', () => {
    const requiresAttributes = [{ name: 'ecs.capability.task-eni' }, { name: 'ecs.os-type', value: 'linux' }];
    assert.equal(reasonFor({ attributes: { 'ecs.os-type': 'linux' } }, { requiresAttributes }), 'ATTRIBUTE');
    assert.equal(reasonFor({ attributes: { 'ecs.capability.task-eni': null, 'ecs.os-type': 'windows' } }, { requiresAttributes }), 'ATTRIBUTE');
    assert.equal(reasonFor({ attributes: { 'ecs.capability.task-eni': null, 'ecs.os-type': 'linux' } }, { requiresAttributes }), 'placed');
  });

  it('reject instances outside a memberOf expression', () => {
    const memberOf = { type: 'memberOf' as const, expression: 'attribute:ecs.instance-type =~ t3.*' };
    assert.equal(reasonFor({ attributes: { 'ecs.instance-type': 'm5.large' } }, { placementConstraints: [memberOf] }), 'MemberOf placement constraint unsatisfied');
    assert.equal(reasonFor({ attributes: { 'ecs.instance-type': 't3.large' } }, { placementConstraints: [memberOf] }), 'placed');
  });

  it('require every memberOf constraint', () => {
    const placementConstraints = [
      { type: 'memberOf' as const, expression: 'attribute:ecs.instance-type =~ t3.*' },
      { type: 'memberOf' as const, expression: 'not(task:group == service:db)' },
    ];
    assert.equal(reasonFor({ attributes: { 'ecs.instance-type': 't3.large' }, groups: { 'service:db': 1 } }, { placementConstraints }), 'MemberOf placement constraint unsatisfied');
    assert.equal(reasonFor({ attributes: { 'ecs.instance-type': 't3.large' }, groups: { 'service:api': 1 } }, { placementConstraints }), 'placed');
  });

  it('reject instances already running a task of the group under distinctInstance', () => {
    const placementConstraints = [{ type: 'distinctInstance' as const }];
    assert.equal(reasonFor({ groups: { 'family:web': 1 } }, { placementConstraints }), 'DistinctInstance placement constraint unsatisfied');
    assert.equal(reasonFor({ groups: { 'family:api': 3 } }, { placementConstraints }), 'placed');
  });

  it('reject instances short of a resource with RESOURCE:<name>', () => {
    assert.equal(reasonFor({ cpu: 255 }), 'RESOURCE:CPU');
    assert.equal(reasonFor({ cpu: 256 }), 'placed', 'exactly enough is enough');
    assert.equal(reasonFor({ memory: 511 }), 'RESOURCE:MEMORY');
    assert.equal(reasonFor({ gpus: ['gpu-0'] }, { gpus: 2 }), 'RESOURCE:GPU');
    assert.equal(reasonFor({ gpus: ['gpu-0', 'gpu-1'] }, { gpus: 2 }), 'placed');
  });

  it('reject static host port conflicts: RESOURCE:PORTS for TCP, RESOURCE:PORTS_UDP for UDP', () => {
    assert.equal(reasonFor({ tcp: [22, 80] }, { tcpPorts: [80] }), 'RESOURCE:PORTS');
    assert.equal(reasonFor({ tcp: [22, 80] }, { udpPorts: [80] }), 'placed', 'UDP 80 is free when TCP 80 is taken');
    assert.equal(reasonFor({ udp: [53] }, { udpPorts: [53] }), 'RESOURCE:PORTS_UDP');
    assert.equal(reasonFor({ udp: [53] }, { tcpPorts: [53] }), 'placed');
  });

  it('report the first filter, in pipeline order, that rejects an instance', () => {
    // Fails memberOf, cpu, memory and ports at once: memberOf comes first.
    const spec: InstanceSpec = { cpu: 0, memory: 0, tcp: [80], attributes: { zone: 'b' } };
    const request = { tcpPorts: [80], placementConstraints: [{ type: 'memberOf' as const, expression: 'attribute:zone == a' }] };
    assert.equal(reasonFor(spec, request), 'MemberOf placement constraint unsatisfied');
    assert.equal(reasonFor({ ...spec, attributes: { zone: 'a' } }, request), 'RESOURCE:CPU');
    assert.equal(reasonFor({ ...spec, attributes: { zone: 'a' }, cpu: 256 }, request), 'RESOURCE:MEMORY');
    assert.equal(reasonFor({ ...spec, attributes: { zone: 'a' }, cpu: 256, memory: 512 }, request), 'RESOURCE:PORTS');
    assert.equal(reasonFor({ agentConnected: false, cpu: 0 }), 'AGENT');
    assert.deepEqual(
      FILTERS.map((f) => f.name),
      ['status', 'agent', 'launchType', 'networkMode', 'attributes', 'memberOf', 'distinctInstance', 'cpu', 'memory', 'gpu', 'tcpPorts', 'udpPorts'],
    );
  });

  it('count the instances each filter rejected and name the closest one', () => {
    const snapshot = buildSnapshot([
      instance({ id: 'drain', status: 'DRAINING' }),
      instance({ id: 'off', agentConnected: false }),
      instance({ id: 'small1', memory: 100 }),
      instance({ id: 'small2', memory: 100 }),
      instance({ id: 'port', tcp: [80] }),
      instance({ id: 'nocpu', cpu: 0 }),
    ]);
    const plan = place(snapshot, { ...task, tcpPorts: [80], count: 2 }, { seed: 1 });
    assert.equal(plan.placements.length, 0);
    assert.equal(plan.unplaced, 2);
    assert.deepEqual(plan.diagnosis.rejected, [
      { filter: 'status', reason: 'INACTIVE', instances: 1 },
      { filter: 'agent', reason: 'AGENT', instances: 1 },
      { filter: 'cpu', reason: 'RESOURCE:CPU', instances: 1 },
      { filter: 'memory', reason: 'RESOURCE:MEMORY', instances: 2 },
      { filter: 'tcpPorts', reason: 'RESOURCE:PORTS', instances: 1 },
    ]);
    assert.equal(plan.diagnosis.eligible, 0);
    assert.equal(plan.diagnosis.instances, 6);
    assert.deepEqual(
      plan.failures.map((f) => [idOf(f.arn), f.reason]),
      [['off', 'AGENT'], ['small1', 'RESOURCE:MEMORY'], ['small2', 'RESOURCE:MEMORY'], ['port', 'RESOURCE:PORTS'], ['nocpu', 'RESOURCE:CPU']],
    );
    assert.equal(idOf(plan.diagnosis.closest!.instanceArn), 'port');
    assert.equal(
      plan.diagnosis.message,
      '0 of 6 container instances can take the task: 1 not ACTIVE (INACTIVE), 1 agent disconnected (AGENT), 1 not enough CPU (RESOURCE:CPU), ' +
        '2 not enough memory (RESOURCE:MEMORY), 1 TCP host port in use (RESOURCE:PORTS)',
    );
  });

  it('report no failures when every task was placed', () => {
    const plan = place(buildSnapshot([instance({ id: 'a' }), instance({ id: 'b', memory: 0 })]), task, { seed: 1 });
    assert.equal(plan.placements.length, 1);
    assert.deepEqual(plan.failures, []);
    assert.equal(plan.diagnosis.eligible, 1);
  });

  it('firstFailure gives the code of the first failing filter for one instance', () => {
    const inst = instance({ memory: 1 });
    const snapshot = buildSnapshot([inst]);
    assert.equal(FILTERS[firstFailure(snapshot, task, inst) - 1]!.name, 'memory');
    assert.equal(firstFailure(snapshot, { ...task, memory: 1 }, inst), 0);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeRequiresAttributes, normalizeTaskDefinition } from '../ecs/taskdef/index.js';
import { agentAttributes, agentVersion, RESERVED_PORTS, totalResources } from './agent.js';

describe('agent registration', () => {
  it('offers CPU per core, memory less the reserve, and the ECS reserved ports', () => {
    const res = totalResources({ cpus: 4, memoryBytes: 8 * 1024 ** 3 }, { reservedMemoryMiB: 512, extraReservedPorts: [40000] });
    assert.deepEqual(res, [
      { name: 'CPU', type: 'INTEGER', integerValue: 4096 },
      { name: 'MEMORY', type: 'INTEGER', integerValue: 8192 - 512 },
      { name: 'PORTS', type: 'STRINGSET', stringSetValue: [...RESERVED_PORTS, 40000].sort((a, b) => a - b).map(String) },
      { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
    ]);
    const fixed = totalResources({ cpus: 4, memoryBytes: 8 * 1024 ** 3 }, { cpu: 1024, memory: 1000 });
    assert.equal(fixed[0]?.integerValue, 1024);
    assert.equal(fixed[1]?.integerValue, 1000);
  });

  it('registers the instance facts and capability attributes, user attributes last', () => {
    const attrs = agentAttributes({
      architecture: 'x86_64',
      dockerApiVersion: '1.41',
      availabilityZone: 'home-1a',
      instanceType: 'berth.host',
      custom: { rack: 'r1', 'ecs.instance-type': 'big' },
    });
    const byName = new Map(attrs.map((a) => [a.name, a.value]));
    assert.equal(byName.get('ecs.os-type'), 'linux');
    assert.equal(byName.get('ecs.cpu-architecture'), 'x86_64');
    assert.equal(byName.get('ecs.availability-zone'), 'home-1a');
    assert.equal(byName.get('ecs.instance-type'), 'big');
    assert.equal(byName.get('rack'), 'r1');
    assert.ok(byName.has('com.amazonaws.ecs.capability.docker-remote-api.1.17'));
    assert.ok(byName.has('com.amazonaws.ecs.capability.docker-remote-api.1.41'));
    assert.ok(!byName.has('com.amazonaws.ecs.capability.docker-remote-api.1.42'), 'not beyond the engine');
    assert.ok(!byName.has('ecs.capability.task-eni'), 'awsvpc is not offered');
    assert.equal(new Set(attrs.map((a) => a.name)).size, attrs.length);
  });

  it('satisfies the requiresAttributes of task definitions using the features the engine honours', () => {
    const td = normalizeTaskDefinition(
      {
        family: 'features',
        containerDefinitions: [
          {
            name: 'a',
            image: 'x',
            memoryReservation: 64,
            privileged: true,
            dockerLabels: { a: 'b' },
            ulimits: [{ name: 'nofile', softLimit: 1, hardLimit: 2 }],
            logConfiguration: { logDriver: 'json-file', options: { 'max-size': '1m' } },
            healthCheck: { command: ['CMD-SHELL', 'true'] },
            linuxParameters: { initProcessEnabled: true, sharedMemorySize: 64 },
            stopTimeout: 5,
          },
          { name: 'b', image: 'x', memory: 64, dependsOn: [{ containerName: 'a', condition: 'HEALTHY' }] },
        ],
        volumes: [{ name: 'v', dockerVolumeConfiguration: { scope: 'task', driver: 'local' } }],
      },
      { region: 'us-east-1', accountId: '000000000000', revision: 1, registeredAt: 0, registeredBy: 'me' },
    );
    const offered = new Set(agentAttributes({ architecture: 'x86_64', dockerApiVersion: '1.41' }).map((a) => a.name));
    const missing = computeRequiresAttributes(td).filter((a) => !offered.has(a.name!));
    assert.deepEqual(missing, []);
  });

  it('reports Berth’s package version', () => {
    assert.match(agentVersion(), /^\d+\.\d+\.\d+/);
    assert.notEqual(agentVersion(), '0.0.0');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AwsError } from '../../core/errors.js';
import { computeCompatibilities, isFargateSize } from './compatibility.js';
import { findCycle } from './graph.js';
import { normalizeTaskDefinition } from './normalize.js';
import { taskResourceNeeds } from './resources.js';
import type { RegisterTaskDefinitionInput, TaskDefinitionDoc } from './types.js';
import { parseCpu, parseMemory } from './units.js';

const register = (input: RegisterTaskDefinitionInput): TaskDefinitionDoc =>
  normalizeTaskDefinition(input, {
    region: 'us-west-2',
    accountId: '123456789012',
    revision: 1,
    registeredAt: 0,
    registeredBy: 'arn:aws:iam::123456789012:root',
  });

describe('parseCpu / parseMemory', () => {
  it('converts vCPU and GB to units and MiB', () => {
    assert.equal(parseCpu('1024'), 1024);
    assert.equal(parseCpu(' 1 vCPU '), 1024);
    assert.equal(parseCpu('0.25 vcpu'), 256);
    assert.equal(parseCpu('.5vCPU'), 512);
    assert.equal(parseCpu('2 vcpus'), 2048);
    assert.equal(parseMemory('2048'), 2048);
    assert.equal(parseMemory('2GB'), 2048);
    assert.equal(parseMemory('0.5 GB'), 512);
    assert.equal(parseMemory('1 GiB'), 1024);
  });

  it('throws ClientException for values that are not whole units', () => {
    for (const bad of ['', 'abc', '1.5', '0', '-1', '0.1 vCPU', '1 CPU']) {
      assert.throws(() => parseCpu(bad), (e: unknown) => e instanceof AwsError && e.type === 'ClientException', bad);
    }
    for (const bad of ['', '1TB', '0.3GB', '0']) {
      assert.throws(() => parseMemory(bad), (e: unknown) => e instanceof AwsError && e.type === 'ClientException', bad);
    }
  });
});

describe('findCycle', () => {
  const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  it('finds a cycle and reports it along its path', () => {
    assert.deepEqual(findCycle(['a', 'b', 'c'], graph({ a: ['b'], b: ['c'], c: ['b'] })), ['b', 'c', 'b']);
    assert.deepEqual(findCycle(['a'], graph({ a: ['a'] })), ['a', 'a']);
  });

  it('accepts diamonds and ignores unknown nodes', () => {
    assert.equal(findCycle(['a', 'b', 'c', 'd'], graph({ a: ['b', 'c'], b: ['d'], c: ['d'] })), undefined);
    assert.equal(findCycle(['a'], graph({ a: ['ghost'] })), undefined);
  });
});

describe('isFargateSize', () => {
  it('follows the Fargate task size table', () => {
    assert.equal(isFargateSize(256, 512), true);
    assert.equal(isFargateSize(256, 1536), false);
    assert.equal(isFargateSize(512, 4096), true);
    assert.equal(isFargateSize(4096, 30720), true);
    assert.equal(isFargateSize(4096, 31744), false);
    assert.equal(isFargateSize(8192, 20480), true);
    assert.equal(isFargateSize(8192, 18432), false);
    assert.equal(isFargateSize(16384, 122880), true);
    assert.equal(isFargateSize(256, 512, true), false, 'Windows needs at least 1 vCPU');
    assert.equal(isFargateSize(1024, 2048, true), true);
  });
});

describe('compatibilities', () => {
  const base: RegisterTaskDefinitionInput = {
    family: 'f',
    containerDefinitions: [{ name: 'c', image: 'busybox', memory: 128 }],
  };

  it('lists EXTERNAL and EC2 for bridge definitions', () => {
    assert.deepEqual(register(base).compatibilities, ['EXTERNAL', 'EC2']);
  });

  it('adds FARGATE to an awsvpc definition that meets Fargate rules even when not required', () => {
    const doc = register({ ...base, networkMode: 'awsvpc', cpu: '512', memory: '1024' });
    assert.deepEqual(doc.compatibilities, ['EC2', 'FARGATE', 'MANAGED_INSTANCES']);
    assert.equal('requiresCompatibilities' in doc, false);
  });

  it('leaves FARGATE out when the definition does not meet Fargate rules', () => {
    assert.deepEqual(register({ ...base, networkMode: 'awsvpc' }).compatibilities, ['EC2', 'MANAGED_INSTANCES']);
    const privileged = register({
      ...base,
      networkMode: 'awsvpc',
      cpu: '512',
      memory: '1024',
      containerDefinitions: [{ name: 'c', image: 'busybox', privileged: true }],
    });
    assert.deepEqual(privileged.compatibilities, ['EC2', 'MANAGED_INSTANCES']);
    assert.deepEqual(computeCompatibilities(privileged), privileged.compatibilities);
  });
});

describe('taskResourceNeeds', () => {
  it('uses task-level sizes when given', () => {
    const doc = register({
      family: 'f',
      cpu: '1 vCPU',
      memory: '2GB',
      containerDefinitions: [{ name: 'c', image: 'busybox', cpu: 100, memory: 128 }],
    });
    assert.deepEqual(taskResourceNeeds(doc), { cpu: 1024, memory: 2048, tcpPorts: [], udpPorts: [], gpus: 0 });
  });

  it('sums containers: cpu, and memoryReservation when set else memory', () => {
    const doc = register({
      family: 'f',
      containerDefinitions: [
        { name: 'a', image: 'busybox', cpu: 256, memory: 512, memoryReservation: 128, portMappings: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81 }] },
        {
          name: 'b',
          image: 'busybox',
          memory: 256,
          portMappings: [{ containerPort: 53, hostPort: 53, protocol: 'udp' }, { containerPort: 443, hostPort: 443 }],
          resourceRequirements: [{ type: 'GPU', value: '2' }],
        },
      ],
    });
    assert.deepEqual(taskResourceNeeds(doc), { cpu: 256, memory: 384, tcpPorts: [443, 8080], udpPorts: [53], gpus: 2 });
  });

  it('counts container ports as host ports in host mode and none in awsvpc mode', () => {
    const containers = [{ name: 'c', image: 'busybox', memory: 64, portMappings: [{ containerPort: 9000 }] }];
    assert.deepEqual(taskResourceNeeds(register({ family: 'f', networkMode: 'host', containerDefinitions: containers })).tcpPorts, [9000]);
    assert.deepEqual(taskResourceNeeds(register({ family: 'f', networkMode: 'awsvpc', containerDefinitions: containers })).tcpPorts, []);
  });
});

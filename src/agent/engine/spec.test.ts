import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MANAGED_LABEL } from '../runtime/runtime.js';
import { makeTask } from './fixtures.js';
import { containerSpec, dependenciesOf, dockerContainerName, newTaskRecord } from './spec.js';

const ENDPOINT = 'http://172.17.0.1:51679';

describe('container spec', () => {
  const task = makeTask({
    taskId: '0123456789abcdef0123456789abcdef',
    family: 'web',
    revision: 7,
    cpu: '512',
    containers: [
      {
        name: 'app',
        command: ['httpd', '-f'],
        entryPoint: ['/bin/sh', '-c'],
        environment: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
        workingDirectory: '/srv',
        user: 'nobody',
        cpu: 0,
        memory: 128,
        memoryReservation: 64,
        portMappings: [{ containerPort: 80, hostPort: 0, protocol: 'tcp' }, { containerPort: 53, hostPort: 5353, protocol: 'udp' }],
        links: ['db:database'],
        mountPoints: [{ sourceVolume: 'data', containerPath: '/data', readOnly: true }, { sourceVolume: 'host', containerPath: '/h' }],
        volumesFrom: [{ sourceContainer: 'db' }],
        dockerLabels: { team: 'a', 'com.amazonaws.ecs.cluster': 'spoofed' },
        ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }],
        linuxParameters: { initProcessEnabled: true },
        readonlyRootFilesystem: true,
        privileged: true,
        stopTimeout: 5,
        healthCheck: { command: ['CMD-SHELL', 'true'], interval: 5, timeout: 2, retries: 1 },
      },
      { name: 'db', essential: false, cpu: 256 },
    ],
    volumes: [
      { name: 'data', dockerVolumeConfiguration: { scope: 'task', driver: 'local' } },
      { name: 'host', host: { sourcePath: '/tmp/berth-host' } },
    ],
    overrides: { containerOverrides: [{ name: 'app', environment: [{ name: 'B', value: 'over' }], command: ['sleep', '1'] }] },
  });
  const record = newTaskRecord(task, () => 'tok');

  it('names containers deterministically and labels them as ECS does', () => {
    const spec = containerSpec(record, 'app', { metadataEndpoint: ENDPOINT });
    assert.equal(spec.name, 'ecs-web-7-app-0123456789abcdef0123456789abcdef');
    assert.equal(dockerContainerName(task, 'app'), spec.name);
    assert.deepEqual(spec.labels, {
      team: 'a',
      'com.amazonaws.ecs.task-arn': task.taskArn,
      'com.amazonaws.ecs.cluster': 'agent-test',
      'com.amazonaws.ecs.task-definition-family': 'web',
      'com.amazonaws.ecs.task-definition-version': '7',
      'com.amazonaws.ecs.container-name': 'app',
    });
    assert.ok(!Object.keys(spec.labels ?? {}).includes(MANAGED_LABEL), 'the runtime adds its own label');
  });

  it('applies overrides, resources and the metadata endpoint', () => {
    const spec = containerSpec(record, 'app', { metadataEndpoint: ENDPOINT });
    assert.deepEqual(spec.command, ['sleep', '1']);
    assert.deepEqual(spec.entryPoint, ['/bin/sh', '-c']);
    assert.deepEqual(spec.env, {
      A: '1',
      B: 'over',
      ECS_CONTAINER_METADATA_URI: `${ENDPOINT}/v3/tok`,
      ECS_CONTAINER_METADATA_URI_V4: `${ENDPOINT}/v4/tok`,
    });
    assert.equal(spec.cpuShares, 2, 'cpu 0 gets the minimum weight');
    assert.equal(spec.memoryBytes, 128 * 1024 * 1024);
    assert.equal(spec.memoryReservationBytes, 64 * 1024 * 1024);
    assert.equal(spec.nanoCpus, 0.5e9, 'task cpu 512 caps each container at half a CPU');
    assert.equal(spec.stopTimeoutSeconds, 5);
    assert.equal(spec.init, true);
    assert.equal(spec.readonlyRootfs, true);
    assert.equal(spec.privileged, true);
    assert.equal(spec.workingDir, '/srv');
    assert.equal(spec.user, 'nobody');
    assert.deepEqual(spec.ulimits, [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }]);
    assert.deepEqual(spec.healthCheck, { command: ['CMD-SHELL', 'true'], interval: 5, timeout: 2, retries: 1 });
    assert.equal(containerSpec(record, 'db', {}).cpuShares, 256);
  });

  it('maps bridge networking, links and volumes', () => {
    const spec = containerSpec(record, 'app', {});
    const db = dockerContainerName(task, 'db');
    assert.equal(spec.networkMode, 'bridge');
    assert.deepEqual(spec.portBindings, [
      { containerPort: 80, protocol: 'tcp', hostPort: 0 },
      { containerPort: 53, protocol: 'udp', hostPort: 5353 },
    ]);
    assert.deepEqual(spec.links, [`${db}:database`]);
    assert.deepEqual(spec.mounts, [
      { type: 'volume', source: 'ecs-web-7-data-0123456789abcdef0123456789abcdef', containerPath: '/data', readOnly: true },
      { type: 'bind', source: '/tmp/berth-host', containerPath: '/h', readOnly: false },
    ]);
    assert.deepEqual(spec.volumesFrom, [{ sourceContainer: db, readOnly: false }]);
    assert.deepEqual(
      dependenciesOf(task, 'app').map((d) => [d.container, d.condition, d.implicit]),
      [['db', 'START', true]],
    );
  });

  it('uses static bindings in host mode and none in none mode', () => {
    const host = makeTask({ networkMode: 'host', containers: [{ name: 'a', portMappings: [{ containerPort: 8080 }] }] });
    const r = newTaskRecord(host, () => 't');
    assert.deepEqual(r.containers[0]?.networkBindings, [{ bindIP: '0.0.0.0', containerPort: 8080, hostPort: 8080, protocol: 'tcp' }]);
    const spec = containerSpec(r, 'a', {});
    assert.equal(spec.networkMode, 'host');
    assert.equal(spec.portBindings, undefined);
    const none = makeTask({ networkMode: 'none', containers: [{ name: 'a' }] });
    assert.equal(containerSpec(newTaskRecord(none, () => 't'), 'a', {}).networkMode, 'none');
  });

  it('puts the containers of a task with task-level limits into its task group', () => {
    const t = makeTask({ taskId: 'abc', memory: '256', cpu: '1024', containers: [{ name: 'a' }, { name: 'b', memory: 64 }] });
    const r = newTaskRecord(t, () => 't');
    assert.deepEqual(r.taskGroup, { name: 'abc', cpuUnits: 1024, memoryMiB: 256, state: 'pending' });
    r.taskGroup = { ...r.taskGroup!, state: 'created', cgroupParent: '/berth/abc' };
    const a = containerSpec(r, 'a', {});
    assert.equal(a.cgroupParent, '/berth/abc');
    assert.equal(a.memoryBytes, undefined, 'the group bounds the sum; no per-container copy');
    assert.equal(a.nanoCpus, undefined);
    assert.equal(containerSpec(r, 'b', {}).memoryBytes, 64 * 1024 * 1024, 'a container limit still applies inside the group');
    assert.equal(newTaskRecord(makeTask({ containers: [{ name: 'a', memory: 64 }] }), () => 't').taskGroup, undefined, 'no group without task-level limits');
  });

  it('bounds each container by the task limits where the host has no task groups', () => {
    const t = makeTask({ memory: '256', containers: [{ name: 'a' }] });
    const r = newTaskRecord(t, () => 't');
    r.taskGroup = { ...r.taskGroup!, state: 'unsupported', reason: 'remote engine' };
    const spec = containerSpec(r, 'a', {});
    assert.equal(spec.memoryBytes, 256 * 1024 * 1024);
    assert.equal(spec.cgroupParent, undefined);
  });

  it('records task volumes and shared volumes', () => {
    const t = makeTask({
      containers: [{ name: 'a' }],
      volumes: [
        { name: 'scratch', host: {} },
        { name: 'cache', dockerVolumeConfiguration: { scope: 'shared', autoprovision: true } },
      ],
    });
    const r = newTaskRecord(t, () => 't');
    assert.deepEqual(
      r.volumes.map((v) => [v.name, v.kind, v.scope, v.provision, v.source.startsWith('ecs-agent-test-1-scratch-')]),
      [
        ['scratch', 'docker', 'task', true, true],
        ['cache', 'docker', 'shared', true, false],
      ],
    );
  });
});

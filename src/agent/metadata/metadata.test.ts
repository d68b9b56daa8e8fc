/**
 * The task metadata endpoint: documents (pure), and a bridge-mode container
 * reading its own metadata over the Docker bridge (real engine; skipped
 * when none answers).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { TaskEngine } from '../engine/engine.js';
import { makeTask, MemoryTaskStore, TEST_IMAGE } from '../engine/fixtures.js';
import { newTaskRecord, LABEL_TASK_ARN } from '../engine/spec.js';
import type { TaskRecord } from '../engine/model.js';
import { DockerRuntime } from '../runtime/docker.js';
import { containerDocument, taskDocument } from './documents.js';
import { metadataAddress, probeDockerHost } from './hostProbe.js';
import { MetadataServer } from './server.js';

function fetchJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('metadata documents', () => {
  const task = makeTask({
    family: 'meta',
    revision: 3,
    cpu: '256',
    memory: '512',
    containers: [{ name: 'app', cpu: 10, memory: 128, dockerLabels: { team: 'x' }, portMappings: [{ containerPort: 80, hostPort: 0 }] }],
  });
  const base = newTaskRecord(task, () => 'tok');
  const r: TaskRecord = {
    ...base,
    status: 'RUNNING',
    pullStartedAt: Date.UTC(2024, 0, 1),
    containers: base.containers.map((c) => ({
      ...c,
      phase: 'RUNNING',
      runtimeId: 'abc123',
      imageId: 'sha256:1',
      startedAt: Date.UTC(2024, 0, 1, 0, 0, 1),
      networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 32768, protocol: 'tcp' }],
      ipv4Addresses: ['172.17.0.5'],
    })),
  };

  it('describes a container with ECS member names', () => {
    const doc = containerDocument(r, r.containers[0]!);
    assert.equal(doc['DockerId'], 'abc123');
    assert.equal(doc['Name'], 'app');
    assert.equal(doc['DockerName'], r.containers[0]!.dockerName);
    assert.equal(doc['KnownStatus'], 'RUNNING');
    assert.equal(doc['DesiredStatus'], 'RUNNING');
    assert.equal(doc['Type'], 'NORMAL');
    assert.deepEqual(doc['Limits'], { CPU: 10, Memory: 128 });
    assert.deepEqual(doc['Ports'], [{ ContainerPort: 80, Protocol: 'tcp', HostPort: 32768, HostIp: '0.0.0.0' }]);
    assert.deepEqual(doc['Networks'], [{ NetworkMode: 'bridge', IPv4Addresses: ['172.17.0.5'] }]);
    assert.equal((doc['Labels'] as Record<string, string>)['com.amazonaws.ecs.task-arn'], task.taskArn);
    assert.equal((doc['Labels'] as Record<string, string>)['team'], 'x');
    assert.equal(doc['StartedAt'], '2024-01-01T00:00:01.000Z');
  });

  it('describes the task', () => {
    const doc = taskDocument(r, { availabilityZone: 'home-1a' });
    assert.equal(doc['Cluster'], 'agent-test');
    assert.equal(doc['TaskARN'], task.taskArn);
    assert.equal(doc['Family'], 'meta');
    assert.equal(doc['Revision'], '3');
    assert.equal(doc['KnownStatus'], 'RUNNING');
    assert.deepEqual(doc['Limits'], { CPU: 0.25, Memory: 512 });
    assert.equal(doc['LaunchType'], 'EC2');
    assert.equal(doc['AvailabilityZone'], 'home-1a');
    assert.equal(doc['PullStartedAt'], '2024-01-01T00:00:00.000Z');
    assert.equal((doc['Containers'] as unknown[]).length, 1);
  });

  it('picks the bridge gateway when it is a local address', () => {
    const ifaces = { docker0: [{ address: '172.17.0.1', family: 'IPv4' }], lo: [{ address: '127.0.0.1', family: 'IPv4' }] } as never;
    assert.deepEqual(metadataAddress('172.17.0.1', ifaces), { listenHost: '172.17.0.1', advertiseHost: '172.17.0.1' });
    assert.deepEqual(metadataAddress(undefined, ifaces), { listenHost: '172.17.0.1', advertiseHost: '172.17.0.1' });
    assert.deepEqual(metadataAddress('10.9.0.1', ifaces), { listenHost: '0.0.0.0', advertiseHost: '10.9.0.1' });
  });
});

describe('metadata endpoint from a container', () => {
  const runtime = new DockerRuntime();
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    await runtime.close();
  });

  it('is reachable from a bridge-mode container at ECS_CONTAINER_METADATA_URI_V4', async (t) => {
    try {
      await runtime.ping();
      await runtime.ensureImage(TEST_IMAGE, { pullBehavior: 'prefer-cached' });
    } catch (err) {
      return t.skip(`no Docker Engine with ${TEST_IMAGE}: ${String(err)}`);
    }
    const facts = await probeDockerHost();
    const where = metadataAddress(facts.bridgeGateway);
    let engine: TaskEngine | undefined;
    const server = new MetadataServer({
      source: { byMetadataToken: (tok) => engine?.byMetadataToken(tok) },
      stats: (id) => runtime.stats(id),
      availabilityZone: 'home-1a',
    });
    const port = await server.listen(where.listenHost, 0);
    cleanup.push(() => server.close());
    const endpoint = `http://${where.advertiseHost}:${port}`;
    engine = new TaskEngine({ runtime, store: new MemoryTaskStore(), metadataEndpoint: endpoint });
    await engine.start();
    cleanup.push(() => engine!.stop());

    const script = [
      'sleep 1',
      'for i in 1 2 3 4 5; do wget -qO /tmp/task "$ECS_CONTAINER_METADATA_URI_V4/task" && wget -qO /tmp/self "$ECS_CONTAINER_METADATA_URI_V4" && break; sleep 0.5; done',
      'wget -qO /tmp/stats "$ECS_CONTAINER_METADATA_URI_V4/stats"; wget -qO /tmp/taskstats "$ECS_CONTAINER_METADATA_URI_V4/task/stats"',
      'cat /tmp/task; echo; echo @@@; cat /tmp/self; echo; echo @@@; cat /tmp/stats; echo; echo @@@; cat /tmp/taskstats; echo; echo @@@',
      'exec sleep 3600',
    ].join('; ');
    const task = makeTask({ family: 'meta-e2e', containers: [{ name: 'probe', command: ['sh', '-c', script], stopTimeout: 0 }] });
    cleanup.push(async () => {
      for (const c of await runtime.list({ [LABEL_TASK_ARN]: task.taskArn })) await runtime.remove(c.id);
    });
    await engine.setDesired([task]);

    const deadline = Date.now() + 20_000;
    let logs = '';
    let id: string | undefined;
    while (Date.now() < deadline) {
      id = engine.task(task.taskArn)?.containers[0]?.runtimeId;
      if (id) {
        logs = await runtime.logs(id).catch(() => '');
        if (logs.split('@@@').length >= 5) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const [taskText, selfText, statsText, taskStatsText] = logs.split('@@@').map((s) => s.trim());
    assert.ok(taskText && selfText, `container printed its metadata; logs: ${logs}`);
    const taskDoc = JSON.parse(taskText) as Record<string, unknown>;
    const selfDoc = JSON.parse(selfText) as Record<string, unknown>;
    assert.equal(taskDoc['TaskARN'], task.taskArn);
    assert.equal(taskDoc['Family'], 'meta-e2e');
    assert.equal(taskDoc['LaunchType'], 'EC2');
    assert.equal(taskDoc['AvailabilityZone'], 'home-1a');
    assert.equal(selfDoc['Name'], 'probe');
    assert.equal(selfDoc['DockerId'], id);
    const networks = selfDoc['Networks'] as { NetworkMode: string; IPv4Addresses: string[] }[];
    assert.equal(networks[0]?.NetworkMode, 'bridge');
    const stats = JSON.parse(statsText!) as { memory_stats?: { usage?: number }; cpu_stats?: unknown; precpu_stats?: unknown };
    assert.ok((stats.memory_stats?.usage ?? 0) > 0, `memory usage in ${statsText}`);
    assert.ok(stats.cpu_stats && stats.precpu_stats, 'CPU samples to compute usage from');
    const taskStats = JSON.parse(taskStatsText!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(taskStats), [id], 'task stats by Docker id');

    const unknown = await fetchJson(`http://${where.listenHost === '0.0.0.0' ? '127.0.0.1' : where.listenHost}:${port}/v4/nosuchtoken`);
    assert.equal(unknown.status, 404);
  });
});

// Services end to end on the real Docker Engine: a Berth server, two real
// `berth agent` processes in two availability zones, and the AWS SDK and
// the AWS CLI as the user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  ListServiceDeploymentsCommand,
  DescribeTasksCommand,
  ListServicesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  paginateListTasks,
  waitUntilServicesStable,
  type ECSClient,
  type Service,
} from '@aws-sdk/client-ecs';
import { freePort, removeTaskContainers, spawnAgent, spawnServer, tempDir, TEST_CREDENTIALS, ecsClient, waitFor, type AgentProcess, type ServerProcess } from './helpers.js';

const run = promisify(execFile);
const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'svc';

describe('services on the real Docker Engine', { timeout: 600_000 }, () => {
  const dir = tempDir('berth-services-');
  let server: ServerProcess;
  const agents: AgentProcess[] = [];
  let ecs: ECSClient;

  async function service(name: string): Promise<Service> {
    const d = await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [name] }));
    return d.services![0]!;
  }

  async function serviceTasks(name: string, desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING') {
    const arns = (await ecs.send(new ListTasksCommand({ cluster: CLUSTER, serviceName: name, desiredStatus }))).taskArns ?? [];
    if (arns.length === 0) return [];
    return (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: arns }))).tasks ?? [];
  }

  const stable = (name: string, maxWaitTime = 120) => waitUntilServicesStable({ client: ecs, maxWaitTime, minDelay: 1, maxDelay: 2 }, { cluster: CLUSTER, services: [name] });

  before(async () => {
    const port = await freePort();
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    ecs = ecsClient(server.url);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    agents.push(await spawnAgent(server.url, join(dir.path, 'agent-a'), { cluster: CLUSTER, availabilityZone: 'us-east-1a', taskCleanupWait: '30s' }));
    agents.push(await spawnAgent(server.url, join(dir.path, 'agent-b'), { cluster: CLUSTER, availabilityZone: 'us-east-1b', taskCleanupWait: '30s' }));
    for (const [family, command] of [
      ['svc-web', ['sh', '-c', 'echo v1 > /tmp/index.html && exec httpd -f -p 8080 -h /tmp']],
      ['svc-web', ['sh', '-c', 'echo v2 > /tmp/index.html && exec httpd -f -p 8080 -h /tmp']],
      ['svc-crash', ['sh', '-c', 'exit 1']],
    ] as const) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          containerDefinitions: [{ name: 'web', image: IMAGE, memory: 32, command: [...command], portMappings: [{ containerPort: 8080, hostPort: 0 }], stopTimeout: 1 }],
        }),
      );
    }
  });

  after(async () => {
    const arns: string[] = [];
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      for await (const page of paginateListTasks({ client: ecs }, { cluster: CLUSTER, desiredStatus })) arns.push(...(page.taskArns ?? []));
    }
    ecs.destroy();
    for (const a of agents) await a.kill('SIGTERM').catch(() => undefined);
    await server?.kill('SIGTERM');
    await removeTaskContainers(arns);
    dir.remove();
  });

  it('reaches its desired count spread over both zones, says so in events, and the services-stable waiter succeeds', async () => {
    const created = await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'web', taskDefinition: 'svc-web:1', desiredCount: 4 }));
    assert.equal(created.service?.status, 'ACTIVE');
    assert.equal(created.service?.deployments?.length, 1);
    assert.equal(created.service?.deployments?.[0]?.rolloutState, 'IN_PROGRESS');
    assert.deepEqual(created.service?.placementStrategy, [
      { type: 'spread', field: 'attribute:ecs.availability-zone' },
      { type: 'spread', field: 'instanceId' },
    ]);
    const result = await stable('web');
    assert.equal(result.state, 'SUCCESS');
    const s = await service('web');
    assert.deepEqual([s.runningCount, s.pendingCount, s.desiredCount], [4, 0, 4]);
    assert.equal(s.deployments?.[0]?.rolloutState, 'COMPLETED');
    const tasks = await serviceTasks('web');
    assert.equal(tasks.length, 4);
    const zones = tasks.map((t) => t.availabilityZone).sort();
    assert.deepEqual(zones, ['us-east-1a', 'us-east-1a', 'us-east-1b', 'us-east-1b']);
    for (const t of tasks) {
      assert.equal(t.group, 'service:web');
      assert.equal(t.startedBy, s.deployments?.[0]?.id);
      assert.match(t.startedBy ?? '', /^ecs-svc\/\d{19}$/);
    }
    const messages = (s.events ?? []).map((e) => e.message);
    assert.ok(messages.some((m) => /^\(service web\) has started \d tasks: (\(task [0-9a-f]{32}\) ?)+\.$/.test(m ?? '')), messages.join('\n'));
    assert.equal(messages[0], '(service web) has reached a steady state.');
    assert.deepEqual((await ecs.send(new ListServicesCommand({ cluster: CLUSTER }))).serviceArns, [s.serviceArn]);
  });

  it('replaces a task whose container was killed', async () => {
    const [victim] = await serviceTasks('web');
    const { stdout } = await run('docker', ['ps', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${victim!.taskArn}`]);
    await run('docker', ['kill', ...stdout.split('\n').filter(Boolean)]);
    const replaced = await waitFor('a replacement task', async () => {
      const tasks = await serviceTasks('web');
      const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
      return running.length === 4 && !running.some((t) => t.taskArn === victim!.taskArn) ? running : undefined;
    }, 60_000);
    assert.equal(replaced.length, 4);
    const stopped = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [victim!.taskArn!] }))).tasks![0]!;
    assert.equal(stopped.lastStatus, 'STOPPED');
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.equal((await stable('web')).state, 'SUCCESS');
  });

  it('scales out and in, keeping the remaining tasks spread', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', desiredCount: 6 }));
    assert.equal((await stable('web')).state, 'SUCCESS');
    assert.equal((await serviceTasks('web')).length, 6);
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', desiredCount: 2 }));
    assert.equal((await stable('web')).state, 'SUCCESS');
    const left = await serviceTasks('web');
    assert.equal(left.length, 2);
    assert.deepEqual(left.map((t) => t.availabilityZone).sort(), ['us-east-1a', 'us-east-1b']);
    const s = await service('web');
    assert.ok((s.events ?? []).some((e) => /^\(service web\) has stopped 4 running tasks: /.test(e.message ?? '')));
  });

  it('rolls from v1 to v2 without going below the minimum healthy count or above the maximum', async () => {
    await ecs.send(
      new UpdateServiceCommand({
        cluster: CLUSTER,
        service: 'web',
        desiredCount: 4,
        deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 150 },
      }),
    );
    assert.equal((await stable('web')).state, 'SUCCESS');
    const updated = await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', taskDefinition: 'svc-web:2' }));
    assert.equal(updated.service?.deployments?.length, 2);
    assert.equal(updated.service?.deployments?.[0]?.status, 'PRIMARY');
    let lowestRunning = Infinity;
    let highestTotal = 0;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const tasks = await serviceTasks('web');
      const running = tasks.filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING').length;
      lowestRunning = Math.min(lowestRunning, running);
      highestTotal = Math.max(highestTotal, tasks.length);
      const s = await service('web');
      if (s.deployments?.length === 1 && s.deployments[0]?.rolloutState === 'COMPLETED' && s.runningCount === 4) break;
      assert.ok(Date.now() < deadline, 'the rolling deployment completes');
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(lowestRunning >= 2, `never below ⌈4 × 50%⌉ = 2 healthy tasks (saw ${lowestRunning})`);
    assert.ok(highestTotal <= 6, `never above ⌊4 × 150%⌋ = 6 tasks (saw ${highestTotal})`);
    const tasks = await serviceTasks('web');
    assert.ok(tasks.every((t) => t.taskDefinitionArn?.endsWith(':task-definition/svc-web:2')));
    const s = await service('web');
    assert.ok((s.events ?? []).some((e) => e.message === `(service web) (deployment ${s.deployments?.[0]?.id}) deployment completed.`));
  });

  it('trips the circuit breaker on a revision whose containers exit at once, and rolls back', async () => {
    await ecs.send(
      new UpdateServiceCommand({
        cluster: CLUSTER,
        service: 'web',
        taskDefinition: 'svc-crash:1',
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 },
      }),
    );
    const failedId = (await service('web')).deployments?.[0]?.id;
    const s = await waitFor('the rollback to complete', async () => {
      const cur = await service('web');
      return cur.deployments?.length === 1 && cur.deployments[0]?.rolloutState === 'COMPLETED' && cur.deployments[0].id !== failedId ? cur : undefined;
    }, 180_000);
    assert.ok(s.taskDefinition?.endsWith(':task-definition/svc-web:2'), s.taskDefinition);
    const messages = (s.events ?? []).map((e) => e.message ?? '');
    assert.ok(messages.includes(`(service web) (deployment ${failedId}) deployment failed: tasks failed to start.`), messages.join('\n'));
    assert.equal((await stable('web')).state, 'SUCCESS');
    const tasks = await serviceTasks('web');
    assert.equal(tasks.length, 4);
    assert.ok(tasks.every((t) => t.taskDefinitionArn?.endsWith(':task-definition/svc-web:2')), 'only v2 runs after the rollback');
  });

  it('records service deployments and revisions that tell the same story as the deployments and events', async () => {
    const list = await ecs.send(new ListServiceDeploymentsCommand({ cluster: CLUSTER, service: 'web' }));
    const briefs = list.serviceDeployments ?? [];
    assert.deepEqual(briefs.map((b) => b.status), ['ROLLBACK_SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL']);
    const described = await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: briefs.map((b) => b.serviceDeploymentArn!) }));
    assert.deepEqual(described.failures, []);
    const [crash, v2, v1] = described.serviceDeployments!;
    assert.equal(crash!.rollback?.reason, 'ECS deployment circuit breaker: task failed to start.');
    assert.equal(crash!.rollback?.serviceRevisionArn, v2!.targetServiceRevision?.arn, 'rolled back to the v2 revision');
    assert.equal(crash!.deploymentCircuitBreaker?.status, 'TRIGGERED');
    assert.ok((crash!.deploymentCircuitBreaker?.failureCount ?? 0) >= 3);
    assert.deepEqual(v2!.sourceServiceRevisions?.map((r) => r.arn), [v1!.targetServiceRevision?.arn]);
    const revisions = await ecs.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [crash!.targetServiceRevision!.arn!, v2!.targetServiceRevision!.arn!, v1!.targetServiceRevision!.arn!] }));
    assert.deepEqual(
      revisions.serviceRevisions?.map((r) => r.taskDefinition?.replace(/^.*:task-definition\//, '')),
      ['svc-crash:1', 'svc-web:2', 'svc-web:1'],
    );
    assert.deepEqual(revisions.serviceRevisions?.[0]?.containerImages, [{ containerName: 'web', image: IMAGE }]);
    const missing = await ecs.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [v1!.targetServiceRevision!.arn!.replace(/\d+$/, '1234')] }));
    assert.deepEqual(missing.failures?.map((f) => f.reason), ['MISSING']);
  });

  it('is waited for by `aws ecs wait services-stable`', async () => {
    const out = await run('aws', ['ecs', 'wait', 'services-stable', '--cluster', CLUSTER, '--services', 'web', '--endpoint-url', server.url, '--region', 'us-east-1'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' },
      timeout: 120_000,
    });
    assert.equal(out.stderr, '');
  });

  it('refuses to delete a scaled service and a cluster with services; a forced delete drains it to INACTIVE', async () => {
    await assert.rejects(ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: 'web' })), (err: Error) => err.name === 'InvalidParameterException' && err.message === 'The service cannot be stopped while it is scaled above 0.');
    const deleted = await ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: 'web', force: true }));
    assert.equal(deleted.service?.status, 'DRAINING');
    const gone = await waitFor('the service to be INACTIVE', async () => {
      const s = await service('web');
      return s.status === 'INACTIVE' ? s : undefined;
    }, 60_000);
    assert.equal(gone.runningCount, 0);
    assert.deepEqual(await serviceTasks('web'), []);
    assert.deepEqual((await ecs.send(new ListServicesCommand({ cluster: CLUSTER }))).serviceArns, []);
    await assert.rejects(ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'web', desiredCount: 1 })), (err: Error) => err.name === 'ServiceNotActiveException');
  });

  it('refuses to delete a cluster while it has an active service, and deletes a service at zero without force', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: 'svc-empty' }));
    await ecs.send(new CreateServiceCommand({ cluster: 'svc-empty', serviceName: 'idle', taskDefinition: 'svc-web:1', desiredCount: 0 }));
    await assert.rejects(ecs.send(new DeleteClusterCommand({ cluster: 'svc-empty' })), (err: Error) => err.name === 'ClusterContainsServicesException');
    await ecs.send(new DeleteServiceCommand({ cluster: 'svc-empty', service: 'idle' }));
    await waitFor('the idle service to be INACTIVE', async () => {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'svc-empty', services: ['idle'] }))).services?.[0];
      return s?.status === 'INACTIVE' ? s : undefined;
    }, 30_000);
    const deleted = await ecs.send(new DeleteClusterCommand({ cluster: 'svc-empty' }));
    assert.equal(deleted.cluster?.status, 'INACTIVE');
  });
});

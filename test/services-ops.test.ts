// Services through operations on the real Docker Engine: DAEMON services on
// every instance (including one that joins later), draining an instance, and
// kill -9 of the server and of an agent in the middle of rolling deployments.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
  paginateListTasks,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';
import { ecsClient, freePort, spawnAgent, spawnServer, tempDir, waitFor, type AgentProcess, type ServerProcess } from './helpers.js';

const run = promisify(execFile);
const IMAGE = 'berth-test/busybox:latest';
const CLUSTER = 'ops';

describe('services through instance changes and crashes', { timeout: 900_000 }, () => {
  const dir = tempDir('berth-services-ops-');
  let server: ServerProcess;
  let port = 0;
  const agents = new Map<string, AgentProcess>();
  let ecs: ECSClient;

  const startAgent = async (name: string, az: string) => {
    agents.set(name, await spawnAgent(server.url, join(dir.path, `agent-${name}`), { cluster: CLUSTER, availabilityZone: az, taskCleanupWait: '30s' }));
  };

  async function tasksOf(serviceName: string): Promise<Task[]> {
    const arns = (await ecs.send(new ListTasksCommand({ cluster: CLUSTER, serviceName }))).taskArns ?? [];
    return arns.length === 0 ? [] : ((await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: arns }))).tasks ?? []);
  }

  async function instanceArns(): Promise<Map<string, string>> {
    const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }))).containerInstanceArns ?? [];
    const d = await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: arns }));
    return new Map((d.containerInstances ?? []).map((i) => [i.attributes?.find((a) => a.name === 'ecs.availability-zone')?.value ?? '', i.containerInstanceArn!]));
  }

  /** Running containers Docker has for the tasks Berth lists for the service (none of them twice). */
  async function containersOf(serviceName: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const t of await tasksOf(serviceName)) {
      const { stdout } = await run('docker', ['ps', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${t.taskArn}`]);
      out.set(t.taskArn!, stdout.split('\n').filter(Boolean).length);
    }
    return out;
  }

  /** Every running container of this cluster's tasks: a task Berth does not want running must have none. */
  async function orphans(): Promise<string[]> {
    const { stdout } = await run('docker', ['ps', '--format', '{{.Label "com.amazonaws.ecs.task-arn"}}', '--filter', `label=com.amazonaws.ecs.cluster=${CLUSTER}`]);
    const running = stdout.split('\n').filter(Boolean);
    const wanted = new Set<string>();
    for await (const page of paginateListTasks({ client: ecs }, { cluster: CLUSTER, desiredStatus: 'RUNNING' })) for (const a of page.taskArns ?? []) wanted.add(a);
    return running.filter((arn) => !wanted.has(arn));
  }

  async function completed(serviceName: string, count: number, ms = 180_000) {
    return waitFor(`${serviceName} to complete its deployment with ${count} tasks`, async () => {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [serviceName] }))).services![0]!;
      return s.deployments?.length === 1 && s.deployments[0]?.rolloutState === 'COMPLETED' && s.runningCount === count && s.pendingCount === 0 ? s : undefined;
    }, ms);
  }

  before(async () => {
    port = await freePort();
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    ecs = ecsClient(server.url);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    await startAgent('a', 'us-east-1a');
    await startAgent('b', 'us-east-1b');
    for (const tag of ['v1', 'v2', 'v3']) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'ops-app',
          containerDefinitions: [{ name: 'app', image: IMAGE, memory: 24, command: ['sh', '-c', `echo ${tag} > /tmp/v && exec sleep 3600`], stopTimeout: 1 }],
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
    for (const a of agents.values()) await a.kill('SIGTERM').catch(() => undefined);
    await server?.kill('SIGTERM');
    const { stdout } = await run('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.cluster=${CLUSTER}`]).catch(() => ({ stdout: '' }));
    const ids = stdout.split('\n').filter(Boolean);
    if (ids.length) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
    assert.ok(arns.length > 0);
    dir.remove();
  });

  it('runs a DAEMON task on every instance, including one that joins later', async () => {
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'daemon', taskDefinition: 'ops-app:1', schedulingStrategy: 'DAEMON' }));
    await waitFor('a daemon task on both instances', async () => {
      const tasks = (await tasksOf('daemon')).filter((t) => t.lastStatus === 'RUNNING');
      return new Set(tasks.map((t) => t.containerInstanceArn)).size === 2 && tasks.length === 2 ? tasks : undefined;
    }, 60_000);
    await startAgent('c', 'us-east-1c');
    const three = await waitFor('a daemon task on the new instance too', async () => {
      const tasks = (await tasksOf('daemon')).filter((t) => t.lastStatus === 'RUNNING');
      return tasks.length === 3 ? tasks : undefined;
    }, 60_000);
    assert.equal(new Set(three.map((t) => t.containerInstanceArn)).size, 3, 'one per instance');
    await completed('daemon', 3);
  });

  it('moves service tasks off a draining instance, leaves standalone tasks, and removes its daemon task', async () => {
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: 'app', taskDefinition: 'ops-app:1', desiredCount: 6 }));
    await completed('app', 6);
    const instances = await instanceArns();
    const b = instances.get('us-east-1b')!;
    const standalone = (await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'ops-app:1', placementConstraints: [{ type: 'memberOf', expression: `attribute:ecs.availability-zone == us-east-1b` }] }))).tasks![0]!;
    await waitFor('the standalone task to run', async () => ((await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [standalone.taskArn!] }))).tasks![0]!.lastStatus === 'RUNNING' ? true : undefined));
    assert.ok((await tasksOf('app')).some((t) => t.containerInstanceArn === b), 'the spread put app tasks on b');
    await ecs.send(new UpdateContainerInstancesStateCommand({ cluster: CLUSTER, containerInstances: [b], status: 'DRAINING' }));
    const moved = await waitFor('app tasks off the draining instance', async () => {
      const tasks = await tasksOf('app');
      const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
      return running.length === 6 && tasks.every((t) => t.containerInstanceArn !== b) ? tasks : undefined;
    }, 120_000);
    assert.equal(moved.length, 6);
    await waitFor('the daemon task to leave the draining instance', async () => {
      const tasks = await tasksOf('daemon');
      return tasks.length === 2 && tasks.every((t) => t.containerInstanceArn !== b) ? tasks : undefined;
    }, 60_000);
    const left = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [standalone.taskArn!] }))).tasks![0]!;
    assert.deepEqual([left.lastStatus, left.desiredStatus], ['RUNNING', 'RUNNING'], 'standalone tasks are left to finish');
    await ecs.send(new UpdateContainerInstancesStateCommand({ cluster: CLUSTER, containerInstances: [b], status: 'ACTIVE' }));
    await completed('daemon', 3);
  });

  it('finishes a rolling deployment across a kill -9 of the server, with no task duplicated or orphaned', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'app', taskDefinition: 'ops-app:2' }));
    await waitFor('the deployment to be under way', async () => {
      const tasks = await tasksOf('app');
      return tasks.some((t) => t.taskDefinitionArn?.endsWith(':2')) ? true : undefined;
    }, 60_000);
    await server.kill('SIGKILL');
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    ecs.destroy();
    ecs = ecsClient(server.url);
    await completed('app', 6);
    const tasks = await tasksOf('app');
    assert.equal(tasks.length, 6);
    assert.ok(tasks.every((t) => t.taskDefinitionArn?.endsWith(':2')));
    const containers = await containersOf('app');
    assert.deepEqual([...containers.values()], [1, 1, 1, 1, 1, 1], 'one container per task');
    await waitFor('no orphaned container', async () => ((await orphans()).length === 0 ? true : undefined), 60_000);
  });

  it('finishes a rolling deployment across a kill -9 of an agent, with no task duplicated or orphaned', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'app', taskDefinition: 'ops-app:3' }));
    await waitFor('the deployment to be under way', async () => {
      const tasks = await tasksOf('app');
      return tasks.some((t) => t.taskDefinitionArn?.endsWith(':3')) ? true : undefined;
    }, 60_000);
    await agents.get('a')!.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2000));
    await startAgent('a', 'us-east-1a');
    await completed('app', 6);
    const tasks = await tasksOf('app');
    assert.equal(tasks.length, 6);
    assert.ok(tasks.every((t) => t.taskDefinitionArn?.endsWith(':3')));
    assert.deepEqual([...(await containersOf('app')).values()], [1, 1, 1, 1, 1, 1], 'one container per task');
    await waitFor('no orphaned container', async () => ((await orphans()).length === 0 ? true : undefined), 60_000);
  });
});

// End to end on the real Docker Engine: a Berth server, real `berth agent`
// processes, and the AWS SDK (and the AWS CLI where installed) as the user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  paginateListTasks,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { freePort, spawnAgent, spawnServer, tempDir, TEST_CREDENTIALS, ecsClient, waitFor, type AgentProcess, type ServerProcess } from './helpers.js';

const run = promisify(execFile);
const IMAGE = 'berth-test/busybox:latest';

/** The agent these tests run: the default cluster, 1024 CPU units and 1 GiB. */
function startAgentProcess(endpoint: string, dataDir: string): Promise<AgentProcess> {
  return spawnAgent(endpoint, dataDir, { cluster: 'default' });
}

async function dockerPsForTask(taskArn: string): Promise<string[]> {
  const { stdout } = await run('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${taskArn}`]);
  return stdout.split('\n').filter(Boolean);
}

describe('berth agent on the real Docker Engine', { timeout: 300_000 }, () => {
  const dir = tempDir();
  let server: ServerProcess;
  let agent: AgentProcess;
  let port = 0;
  const ecs = () => ecsClient(server.url);

  async function describeTask(arn: string): Promise<Task> {
    const c = ecs();
    try {
      const d = await c.send(new DescribeTasksCommand({ cluster: 'default', tasks: [arn] }));
      return d.tasks![0]!;
    } finally {
      c.destroy();
    }
  }

  async function runOne(taskDefinition: string): Promise<Task> {
    const c = ecs();
    try {
      const r = await c.send(new RunTaskCommand({ cluster: 'default', taskDefinition }));
      assert.deepEqual(r.failures, [], JSON.stringify(r.failures));
      return r.tasks![0]!;
    } finally {
      c.destroy();
    }
  }

  const untilStatus = (arn: string, status: string, ms = 60_000) =>
    waitFor(`task ${arn} to be ${status}`, async () => {
      const t = await describeTask(arn);
      return t.lastStatus === status ? t : undefined;
    }, ms);

  before(async () => {
    port = await freePort();
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    const c = ecs();
    const { CreateClusterCommand } = await import('@aws-sdk/client-ecs');
    await c.send(new CreateClusterCommand({ clusterName: 'default' }));
    await c.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [
          {
            name: 'web',
            image: IMAGE,
            memory: 64,
            command: ['sh', '-c', 'echo hello-from-berth > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'],
            portMappings: [{ containerPort: 8080, hostPort: 0 }],
            stopTimeout: 2,
          },
        ],
      }),
    );
    await c.send(
      new RegisterTaskDefinitionCommand({
        family: 'exits',
        containerDefinitions: [{ name: 'main', image: IMAGE, memory: 32, command: ['sh', '-c', 'sleep 1; exit 3'] }],
      }),
    );
    await c.send(
      new RegisterTaskDefinitionCommand({
        family: 'missing-image',
        containerDefinitions: [{ name: 'main', image: 'berth-test/does-not-exist:1.0', memory: 32 }],
      }),
    );
    await c.send(
      new RegisterTaskDefinitionCommand({
        family: 'ordered',
        volumes: [{ name: 'shared', host: {} }],
        containerDefinitions: [
          {
            name: 'db',
            image: IMAGE,
            memory: 32,
            command: ['sh', '-c', 'sleep 1; touch /s/ready; exec sleep 3600'],
            mountPoints: [{ sourceVolume: 'shared', containerPath: '/s' }],
            healthCheck: { command: ['CMD-SHELL', 'test -f /s/ready'], interval: 5, timeout: 2, retries: 2 },
            stopTimeout: 1,
          },
          {
            name: 'app',
            image: IMAGE,
            memory: 32,
            essential: false,
            // Exits 0 only when it starts after db became healthy.
            command: ['test', '-f', '/s/ready'],
            mountPoints: [{ sourceVolume: 'shared', containerPath: '/s', readOnly: true }],
            dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
          },
        ],
      }),
    );
    // Each container alone fits in the task's 64 MiB; together they do not.
    const hold = (file: string, delay: number) => ['sh', '-c', `sleep ${delay}; dd if=/dev/zero of=/dev/shm/${file} bs=1M count=40 2>/dev/null && exec sleep 3600`];
    await c.send(
      new RegisterTaskDefinitionCommand({
        family: 'outgrows-task-memory',
        memory: '64',
        cpu: '256',
        containerDefinitions: [
          { name: 'first', image: IMAGE, command: hold('a', 0), stopTimeout: 1 },
          { name: 'second', image: IMAGE, command: hold('b', 1), stopTimeout: 1 },
        ],
      }),
    );
    c.destroy();
    agent = await startAgentProcess(server.url, join(dir.path, 'agent-1'));
  });

  after(async () => {
    // Only this run's containers: the tasks its server knows of.
    const arns: string[] = [];
    const c = ecs();
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      for await (const page of paginateListTasks({ client: c }, { cluster: 'default', desiredStatus })) arns.push(...(page.taskArns ?? []));
    }
    c.destroy();
    await agent?.kill('SIGTERM').catch(() => undefined);
    await server?.kill('SIGTERM');
    for (const arn of arns) {
      const ids = await dockerPsForTask(arn).catch(() => []);
      if (ids.length) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
    }
    dir.remove();
  });

  it('registers the agent as a connected container instance', async () => {
    const c = ecs();
    const list = await c.send(new ListContainerInstancesCommand({ cluster: 'default' }));
    assert.equal(list.containerInstanceArns?.length, 1);
    const d = await c.send(new DescribeContainerInstancesCommand({ cluster: 'default', containerInstances: list.containerInstanceArns! }));
    const inst = d.containerInstances![0]!;
    assert.equal(inst.agentConnected, true);
    assert.equal(inst.registeredResources?.find((r) => r.name === 'MEMORY')?.integerValue, 1024);
    assert.ok(inst.attributes?.some((a) => a.name === 'ecs.os-type' && a.value === 'linux'));
    c.destroy();
  });

  it('runs a task whose HTTP port answers on the reported host port, then stops it', async () => {
    const t = await runOne('web');
    const running = await untilStatus(t.taskArn!, 'RUNNING');
    const binding = running.containers?.[0]?.networkBindings?.[0];
    assert.ok(binding?.hostPort && binding.hostPort > 0, 'a dynamic host port is reported');
    const body = await waitFor('the task to answer HTTP', async () => {
      const res = await fetch(`http://127.0.0.1:${binding!.hostPort}/index.html`);
      return res.ok ? res.text() : undefined;
    });
    assert.match(body, /hello-from-berth/);
    const c = ecs();
    await c.send(new StopTaskCommand({ cluster: 'default', task: t.taskArn, reason: 'test is done' }));
    c.destroy();
    const stopped = await untilStatus(t.taskArn!, 'STOPPED');
    assert.equal(stopped.stopCode, 'UserInitiated');
    assert.equal(stopped.stoppedReason, 'test is done');
    assert.equal(stopped.containers?.[0]?.lastStatus, 'STOPPED');
    assert.equal(typeof stopped.containers?.[0]?.exitCode, 'number');
  });

  it('stops the task when its essential container exits, with the exit code', async () => {
    const t = await runOne('exits');
    const stopped = await untilStatus(t.taskArn!, 'STOPPED');
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.equal(stopped.containers?.[0]?.exitCode, 3);
  });

  it('reports an image that cannot be pulled as a STOPPED task, never a hung PENDING', async () => {
    const t = await runOne('missing-image');
    const stopped = await untilStatus(t.taskArn!, 'STOPPED', 45_000);
    assert.equal(stopped.stopCode, 'TaskFailedToStart');
    assert.match(stopped.containers?.[0]?.reason ?? stopped.stoppedReason ?? '', /CannotPullContainerError/);
  });

  it('starts a container only once its dependency is healthy, and reports container and task health', async () => {
    const t = await runOne('ordered');
    const done = await waitFor('app to finish after db is healthy', async () => {
      const d = await describeTask(t.taskArn!);
      return d.containers?.find((x) => x.name === 'app')?.lastStatus === 'STOPPED' ? d : undefined;
    }, 45_000);
    const app = done.containers!.find((x) => x.name === 'app')!;
    const db = done.containers!.find((x) => x.name === 'db')!;
    assert.equal(app.exitCode, 0, 'app started after db had become healthy');
    assert.equal(db.healthStatus, 'HEALTHY');
    assert.equal(done.healthStatus, 'HEALTHY');
    assert.equal(done.lastStatus, 'RUNNING', 'a non-essential container exiting leaves the task running');
    const c = ecs();
    await c.send(new StopTaskCommand({ cluster: 'default', task: t.taskArn }));
    c.destroy();
    await untilStatus(t.taskArn!, 'STOPPED');
  });

  it('bounds the whole task by its task-level memory', async (t0) => {
    // Where the host cannot give a task its own cgroup, each container is bounded on its own (README).
    const driver = (await run('docker', ['info', '--format', '{{.CgroupDriver}}'])).stdout.trim();
    if (driver !== 'cgroupfs' || process.getuid?.() !== 0) return t0.skip(`task cgroups need root and the cgroupfs driver (here: ${driver})`);
    const t = await runOne('outgrows-task-memory');
    const stopped = await untilStatus(t.taskArn!, 'STOPPED', 45_000);
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.ok(
      stopped.containers?.some((x) => x.exitCode === 137),
      `one container was OOM-killed: ${JSON.stringify(stopped.containers?.map((x) => [x.name, x.exitCode]))}`,
    );
  });

  it('answers bad input with the AWS error, and unplaceable tasks with failures', async () => {
    const c = ecs();
    try {
      await assert.rejects(c.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'never-registered' })), (e: Error) => e.name === 'ClientException');
      await assert.rejects(c.send(new RunTaskCommand({ cluster: 'no-such-cluster', taskDefinition: 'web' })), (e: Error) => e.name === 'ClusterNotFoundException');
      const r = await c.send(
        new RunTaskCommand({ cluster: 'default', taskDefinition: 'web', overrides: { containerOverrides: [{ name: 'web', memory: 4096 }] } }),
      );
      assert.deepEqual(r.tasks, []);
      assert.equal(r.failures?.[0]?.reason, 'RESOURCE:MEMORY');
    } finally {
      c.destroy();
    }
  });

  it('survives kill -9 of the agent: the task keeps running, is adopted, and is not duplicated', async () => {
    const t = await runOne('web');
    await untilStatus(t.taskArn!, 'RUNNING');
    const before = await dockerPsForTask(t.taskArn!);
    assert.equal(before.length, 1);
    await agent.kill('SIGKILL');
    agent = await startAgentProcess(server.url, join(dir.path, 'agent-1'));
    const c = ecs();
    const list = await c.send(new ListContainerInstancesCommand({ cluster: 'default' }));
    assert.equal(list.containerInstanceArns?.length, 1, 're-registration keeps the same container instance');
    c.destroy();
    await new Promise((r) => setTimeout(r, 2000));
    const after = await dockerPsForTask(t.taskArn!);
    assert.deepEqual(after, before, 'the running container was adopted, not duplicated');
    assert.equal((await describeTask(t.taskArn!)).lastStatus, 'RUNNING');
  });

  it('keeps tasks running while the server is down and reconciles when it returns', async () => {
    const t = await runOne('web');
    const exits = await runOne('web');
    await untilStatus(t.taskArn!, 'RUNNING');
    await untilStatus(exits.taskArn!, 'RUNNING');
    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await dockerPsForTask(t.taskArn!)).length, 1, 'the task still runs with the server down');
    // What happens while the server is down is reported once it is back.
    await run('docker', ['kill', '--signal', 'KILL', ...(await dockerPsForTask(exits.taskArn!))]);
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    const stopped = await untilStatus(exits.taskArn!, 'STOPPED');
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.equal(stopped.containers?.[0]?.exitCode, 137);
    const c = ecs();
    await waitFor('the agent to reconnect', async () => {
      const list = await c.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
      return list.containerInstanceArns?.length === 1 ? true : undefined;
    });
    await c.send(new StopTaskCommand({ cluster: 'default', task: t.taskArn }));
    c.destroy();
    await untilStatus(t.taskArn!, 'STOPPED');
  });

  it('places a task at once after a server restart, before the agent is back, and runs it once it is', async () => {
    const agentsOnline = async (): Promise<number | undefined> => {
      try {
        const res = await fetch(`${server.url}/healthz`);
        return ((await res.json()) as { agents?: number }).agents;
      } catch {
        return undefined;
      }
    };
    // The agent is frozen across the restart, so the task is placed before it can reconnect.
    assert.ok(agent.child.kill('SIGSTOP'));
    try {
      await server.kill('SIGTERM');
      server = await spawnServer(join(dir.path, 'server'), [], {}, port);
      assert.equal(await agentsOnline(), 0, 'no agent has reconnected yet');
      const t = await runOne('web');
      assert.ok(agent.child.kill('SIGCONT'));
      await untilStatus(t.taskArn!, 'RUNNING');
      const c = ecs();
      await c.send(new StopTaskCommand({ cluster: 'default', task: t.taskArn }));
      c.destroy();
      await untilStatus(t.taskArn!, 'STOPPED');
    } finally {
      agent.child.kill('SIGCONT');
    }

    // Down for a while, the server is found again within a few seconds of its return: the agent's retries stay frequent.
    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 8_000));
    server = await spawnServer(join(dir.path, 'server'), [], {}, port);
    const back = Date.now();
    await waitFor('the agent to reconnect', async () => ((await agentsOnline()) === 1 ? true : undefined), 10_000);
    assert.ok(Date.now() - back < 4_000, `the agent reconnected ${Date.now() - back} ms after the server returned`);
  });

  it('runs two agents on one machine as two container instances', async () => {
    const second = await startAgentProcess(server.url, join(dir.path, 'agent-2'));
    try {
      const c = ecs();
      const list = await waitFor('two connected instances', async () => {
        const l = await c.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
        return l.containerInstanceArns?.length === 2 ? l : undefined;
      });
      const instances = list.containerInstanceArns!;
      assert.equal(new Set(instances).size, 2);

      // One task on each instance, each run by that instance's agent.
      const started = await c.send(new StartTaskCommand({ cluster: 'default', taskDefinition: 'web', containerInstances: instances, startedBy: 'two-agents' }));
      assert.deepEqual(started.failures, [], JSON.stringify(started.failures));
      assert.equal(started.tasks?.length, 2);
      const arns = started.tasks!.map((t) => t.taskArn!);
      const running = await Promise.all(arns.map((arn) => untilStatus(arn, 'RUNNING')));
      assert.deepEqual(running.map((t) => t.containerInstanceArn).sort(), [...instances].sort(), 'the tasks run on different container instances');
      for (const arn of arns) {
        const { stdout } = await run('docker', ['ps', '-q', '--filter', 'status=running', '--filter', `label=com.amazonaws.ecs.task-arn=${arn}`]);
        assert.equal(stdout.split('\n').filter(Boolean).length, 1, `one running container is labelled with ${arn}`);
      }

      for (const arn of arns) await c.send(new StopTaskCommand({ cluster: 'default', task: arn, reason: 'two agents checked' }));
      const stopped = await Promise.all(arns.map((arn) => untilStatus(arn, 'STOPPED')));
      assert.ok(stopped.every((t) => t.stopCode === 'UserInitiated'));
      for (const arn of arns) {
        const { stdout } = await run('docker', ['ps', '-q', '--filter', 'status=running', '--filter', `label=com.amazonaws.ecs.task-arn=${arn}`]);
        assert.equal(stdout.trim(), '', `no container of ${arn} is still running`);
      }
      c.destroy();
    } finally {
      await second.kill('SIGTERM');
    }
  });

  it('works from the AWS CLI', { skip: !existsSync('/usr/bin/aws') && 'AWS CLI v2 (/usr/bin/aws) is not installed' }, async () => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
    };
    const cli = async (...args: string[]) => JSON.parse((await run('/usr/bin/aws', ['--endpoint-url', server.url, '--output', 'json', 'ecs', ...args], { env })).stdout) as Record<string, unknown>;
    const r = (await cli('run-task', '--cluster', 'default', '--task-definition', 'web')) as { tasks: { taskArn: string }[] };
    const arn = r.tasks[0]!.taskArn;
    await untilStatus(arn, 'RUNNING');
    const d = (await cli('describe-tasks', '--cluster', 'default', '--tasks', arn)) as { tasks: { lastStatus: string }[] };
    assert.equal(d.tasks[0]!.lastStatus, 'RUNNING');
    await cli('stop-task', '--cluster', 'default', '--task', arn);
    await untilStatus(arn, 'STOPPED');
  });
});

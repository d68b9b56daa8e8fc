// The task API and the dispatcher, with a scripted agent on the control
// channel standing in for `berth agent` (which the end-to-end tests run for
// real on Docker). This checks the server's bookkeeping exactly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import WebSocket from 'ws';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterContainerInstanceCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
  SubmitTaskStateChangeCommand,
} from '@aws-sdk/client-ecs';
import type { AgentTask, ServerMessage } from '../src/agent/protocol.js';
import { startTestServer, TEST_CREDENTIALS } from './helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Opens a signed control channel as an agent would and collects pushes. */
async function connectAgent(server: Server, clusterArn: string, instanceArn: string) {
  const url = new URL(server.url);
  const query = `cluster=${encodeURIComponent(clusterArn)}&containerInstance=${encodeURIComponent(instanceArn)}`;
  const signer = new SignatureV4({ credentials: TEST_CREDENTIALS, region: 'us-east-1', service: 'ecs', sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'GET',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/v1/agent/connect',
      query: { cluster: clusterArn, containerInstance: instanceArn },
      headers: { host: url.host },
    }),
  );
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers.host;
  const ws = new WebSocket(`ws://${url.host}/v1/agent/connect?${query}`, { headers });
  const pushes: AgentTask[][] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d) => {
    const msg = JSON.parse(d.toString()) as ServerMessage;
    if (msg.type === 'tasks') {
      pushes.push(msg.tasks);
      ws.send(JSON.stringify({ type: 'ack', seq: msg.seq }));
      waiters.splice(0).forEach((w) => w());
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return {
    ws,
    pushes,
    /** Waits until a push satisfies `pred`. */
    async until(pred: (tasks: AgentTask[]) => boolean, ms = 5000): Promise<AgentTask[]> {
      const deadline = Date.now() + ms;
      for (;;) {
        const last = pushes[pushes.length - 1];
        if (last && pred(last)) return last;
        if (Date.now() > deadline) throw new Error(`no matching push in ${ms} ms; last: ${JSON.stringify(last?.map((t) => [t.taskArn, t.desiredStatus]))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

async function rejectsWith(p: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.equal(err.name, name, err.message);
    return true;
  });
}

describe('tasks: RunTask to STOPPED through the control channel', () => {
  let server: Server;
  let clusterArn: string;
  let instanceArn: string;
  let agent: Awaited<ReturnType<typeof connectAgent>>;

  before(async () => {
    server = await startTestServer();
    clusterArn = (await server.ecs.send(new CreateClusterCommand({ clusterName: 'tasks' }))).cluster!.clusterArn!;
    const reg = await server.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: 'tasks',
        instanceIdentityDocument: JSON.stringify({ instanceId: 'i-0task0000000000001', availabilityZone: 'us-east-1a' }),
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: 1024 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: 512 },
          { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22'] },
          { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
        ],
      }),
    );
    instanceArn = reg.containerInstance!.containerInstanceArn!;
    await server.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 200, cpu: 256, portMappings: [{ containerPort: 80, hostPort: 8080 }] }],
      }),
    );
    agent = await connectAgent(server, clusterArn, instanceArn);
  });
  after(async () => {
    agent.ws.close();
    await server.stop();
  });

  it('marks the instance connected while its agent holds the channel', async () => {
    const d = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'tasks', containerInstances: [instanceArn] }));
    assert.equal(d.containerInstances?.[0]?.agentConnected, true);
    const filtered = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'tasks', filter: 'agentConnected == true && attribute:ecs.availability-zone == us-east-1a' }));
    assert.deepEqual(filtered.containerInstanceArns, [instanceArn]);
    const none = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'tasks', filter: 'attribute:ecs.availability-zone in [us-east-1b]' }));
    assert.deepEqual(none.containerInstanceArns, []);
    await rejectsWith(server.ecs.send(new ListContainerInstancesCommand({ cluster: 'tasks', filter: 'attribute:x ==' })), 'InvalidParameterException');
  });

  it('runs a task: reserves resources, pushes it to the agent, and follows reported states', async () => {
    const run = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'web', startedBy: 'test' }));
    assert.deepEqual(run.failures, []);
    const task = run.tasks![0]!;
    assert.equal(task.lastStatus, 'PROVISIONING');
    assert.equal(task.desiredStatus, 'RUNNING');
    assert.equal(task.containerInstanceArn, instanceArn);
    assert.equal(task.group, 'family:web');
    assert.equal(task.containers?.[0]?.name, 'app');
    const pushed = await agent.until((ts) => ts.some((t) => t.taskArn === task.taskArn));
    assert.equal(pushed.find((t) => t.taskArn === task.taskArn)?.taskDefinition.family, 'web');

    const inst = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'tasks', containerInstances: [instanceArn] }));
    const rem = inst.containerInstances![0]!.remainingResources!;
    assert.equal(rem.find((r) => r.name === 'MEMORY')?.integerValue, 312);
    assert.equal(rem.find((r) => r.name === 'CPU')?.integerValue, 768);
    assert.ok(rem.find((r) => r.name === 'PORTS')?.stringSetValue?.includes('8080'));
    assert.equal(inst.containerInstances![0]!.pendingTasksCount, 1);

    // A second copy needs host port 8080, which is taken.
    const second = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'web' }));
    assert.equal(second.tasks?.length, 0);
    assert.deepEqual(second.failures, [{ arn: instanceArn, reason: 'RESOURCE:PORTS' }]);

    for (const status of ['PENDING', 'ACTIVATING', 'RUNNING']) {
      await server.ecs.send(
        new SubmitTaskStateChangeCommand({
          cluster: 'tasks',
          task: task.taskArn,
          status,
          containers: [{ containerName: 'app', status: status === 'RUNNING' ? 'RUNNING' : 'PENDING', runtimeId: 'abc', networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }],
          pullStartedAt: new Date(),
        }),
      );
    }
    // A late, stale report must not move the task backwards.
    await server.ecs.send(new SubmitTaskStateChangeCommand({ cluster: 'tasks', task: task.taskArn, status: 'PENDING' }));
    const running = (await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: [task.taskArn!] }))).tasks![0]!;
    assert.equal(running.lastStatus, 'RUNNING');
    assert.ok(running.startedAt instanceof Date);
    assert.ok(running.pullStartedAt instanceof Date);
    assert.equal(running.containers?.[0]?.networkBindings?.[0]?.hostPort, 8080);
    const cluster = (await server.ecs.send(new DescribeClustersCommand({ clusters: ['tasks'] }))).clusters![0]!;
    assert.equal(cluster.runningTasksCount, 1);
    await rejectsWith(server.ecs.send(new DeleteClusterCommand({ cluster: 'tasks' })), 'ClusterContainsContainerInstancesException');

    const listed = await server.ecs.send(new ListTasksCommand({ cluster: 'tasks', startedBy: 'test' }));
    assert.deepEqual(listed.taskArns, [task.taskArn]);

    const stop = await server.ecs.send(new StopTaskCommand({ cluster: 'tasks', task: task.taskArn, reason: 'done here' }));
    assert.equal(stop.task?.desiredStatus, 'STOPPED');
    assert.equal(stop.task?.lastStatus, 'RUNNING', 'a running task stops when its agent says so');
    await agent.until((ts) => ts.some((t) => t.taskArn === task.taskArn && t.desiredStatus === 'STOPPED'));
    await server.ecs.send(
      new SubmitTaskStateChangeCommand({
        cluster: 'tasks',
        task: task.taskArn,
        status: 'STOPPED',
        containers: [{ containerName: 'app', status: 'STOPPED', exitCode: 137 }],
      }),
    );
    const stopped = (await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: [task.taskArn!] }))).tasks![0]!;
    assert.equal(stopped.lastStatus, 'STOPPED');
    assert.equal(stopped.stopCode, 'UserInitiated');
    assert.equal(stopped.stoppedReason, 'done here');
    assert.equal(stopped.containers?.[0]?.exitCode, 137);
    assert.ok(stopped.stoppedAt instanceof Date);
    await agent.until((ts) => !ts.some((t) => t.taskArn === task.taskArn));

    const after = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'tasks', containerInstances: [instanceArn] }));
    const rem2 = after.containerInstances![0]!.remainingResources!;
    assert.equal(rem2.find((r) => r.name === 'MEMORY')?.integerValue, 512, 'resources return when the task stops');
    assert.deepEqual(rem2.find((r) => r.name === 'PORTS')?.stringSetValue, ['22']);
    assert.equal(after.containerInstances![0]!.runningTasksCount, 0);
    const stoppedList = await server.ecs.send(new ListTasksCommand({ cluster: 'tasks', desiredStatus: 'STOPPED' }));
    assert.ok(stoppedList.taskArns?.includes(task.taskArn!));
  });

  it('explains resource exhaustion per instance and honours clientToken', async () => {
    await server.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'big', containerDefinitions: [{ name: 'x', image: 'berth-test/busybox:latest', memory: 4096 }] }),
    );
    const r = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'big' }));
    assert.deepEqual(r.failures, [{ arn: instanceArn, reason: 'RESOURCE:MEMORY' }]);
    await server.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'small', containerDefinitions: [{ name: 'x', image: 'berth-test/busybox:latest', memory: 16, command: ['sleep', '60'] }] }),
    );
    const a = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'small', count: 2, clientToken: 'tok-1' }));
    const b = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'small', count: 2, clientToken: 'tok-1' }));
    assert.equal(a.tasks?.length, 2);
    assert.deepEqual(b.tasks?.map((t) => t.taskArn), a.tasks?.map((t) => t.taskArn), 'the same clientToken returns the same tasks');
    await rejectsWith(server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'small', count: 3, clientToken: 'tok-1' })), 'InvalidParameterException');
    await rejectsWith(server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'small', count: 11 })), 'InvalidParameterException');
    await rejectsWith(server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'ghost' })), 'ClientException');
    await rejectsWith(server.ecs.send(new RunTaskCommand({ cluster: 'nowhere', taskDefinition: 'small' })), 'ClusterNotFoundException');
    // Tasks an agent never acted on stop at once.
    const s = await server.ecs.send(new StopTaskCommand({ cluster: 'tasks', task: a.tasks![0]!.taskArn }));
    assert.equal(s.task?.lastStatus, 'STOPPED');
    const started = await server.ecs.send(new StartTaskCommand({ cluster: 'tasks', taskDefinition: 'small', containerInstances: [instanceArn] }));
    assert.equal(started.tasks?.[0]?.containerInstanceArn, instanceArn);
  });

  it('forced deregistration stops the tasks of the instance', async () => {
    await rejectsWith(server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'tasks', containerInstance: instanceArn })), 'InvalidParameterException');
    await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'tasks', containerInstance: instanceArn, force: true }));
    const running = await server.ecs.send(new ListTasksCommand({ cluster: 'tasks' }));
    assert.deepEqual(running.taskArns, []);
    const cluster = (await server.ecs.send(new DescribeClustersCommand({ clusters: ['tasks'] }))).clusters![0]!;
    assert.equal(cluster.pendingTasksCount, 0);
  });
});

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
import type { AgentTask, ServerMessage } from '../src/protocol/agent.js';
import { startServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import { ecsClient, startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Opens a signed control channel as an agent would and collects pushes. */
async function connectAgent(server: { url: string }, clusterArn: string, instanceArn: string) {
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
  const seqs: number[] = [];
  const waiters: (() => void)[] = [];
  /** While false, pushes are taken but not acknowledged, as when the agent cannot store them. */
  const control = { acking: true };
  ws.on('message', (d) => {
    const msg = JSON.parse(d.toString()) as ServerMessage;
    if (msg.type === 'tasks') {
      pushes.push(msg.tasks);
      seqs.push(msg.seq);
      if (control.acking) ws.send(JSON.stringify({ type: 'ack', seq: msg.seq }));
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
    seqs,
    control,
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
    // The task reports its size summed over its containers, but the agent bounds the task only by a task size someone set.
    assert.deepEqual([task.cpu, task.memory], ['256', '200']);
    assert.deepEqual([pushed[0]?.cpu, pushed[0]?.memory], [undefined, undefined]);

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
    const started = await server.ecs.send(new StartTaskCommand({ cluster: 'tasks', taskDefinition: 'small', containerInstances: [instanceArn] }));
    assert.equal(started.tasks?.[0]?.containerInstanceArn, instanceArn);
  });

  it('describes tasks with every member ECS always sends', async () => {
    const arch = await server.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: 'tasks',
        instanceIdentityDocument: JSON.stringify({ instanceId: 'i-0task0000000000002', availabilityZone: 'us-east-1a' }),
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: 1024 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: 512 },
        ],
        attributes: [{ name: 'ecs.cpu-architecture', value: 'x86_64' }],
      }),
    );
    const archArn = arch.containerInstance!.containerInstanceArn!;
    const archAgent = await connectAgent(server, clusterArn, archArn);
    try {
      await archAgent.until(() => true);
      const run = await server.ecs.send(
        new StartTaskCommand({ cluster: 'tasks', taskDefinition: 'small', containerInstances: [archArn], tags: [{ key: 'team', value: 'a' }] }),
      );
      assert.deepEqual(run.failures, []);
      const taskArn = run.tasks![0]!.taskArn!;
      const t = (await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: [taskArn] }))).tasks![0]!;
      assert.deepEqual([t.cpu, t.memory], ['0', '16'], 'the task size, summed over its containers');
      assert.deepEqual(t.overrides, { containerOverrides: [{ name: 'x' }], inferenceAcceleratorOverrides: [] });
      assert.deepEqual(t.tags, []);
      assert.deepEqual(t.inferenceAccelerators, []);
      assert.deepEqual(t.attributes, [{ name: 'ecs.cpu-architecture', value: 'x86_64' }]);
      assert.deepEqual(t.containers?.[0]?.gpuIds, []);
      const tagged = (await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: [taskArn], include: ['TAGS'] }))).tasks![0]!;
      assert.deepEqual(tagged.tags, [{ key: 'team', value: 'a' }]);
      await server.ecs.send(new StopTaskCommand({ cluster: 'tasks', task: taskArn }));
      await server.ecs.send(new SubmitTaskStateChangeCommand({ cluster: 'tasks', task: taskArn, status: 'STOPPED' }));
    } finally {
      archAgent.ws.close();
      await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'tasks', containerInstance: archArn, force: true }));
    }
  });

  it('a task pushed to its agent keeps its resources after StopTask until the agent reports it STOPPED', async () => {
    const memory = async () => {
      const d = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'tasks', containerInstances: [instanceArn] }));
      return d.containerInstances![0]!.remainingResources!.find((r) => r.name === 'MEMORY')?.integerValue;
    };
    const free = await memory();
    const run = await server.ecs.send(new RunTaskCommand({ cluster: 'tasks', taskDefinition: 'small' }));
    const taskArn = run.tasks![0]!.taskArn!;
    // The agent has it, and may be creating its container already: no report has come yet.
    await agent.until((ts) => ts.some((t) => t.taskArn === taskArn));
    const stop = await server.ecs.send(new StopTaskCommand({ cluster: 'tasks', task: taskArn }));
    assert.equal(stop.task?.desiredStatus, 'STOPPED');
    assert.equal(stop.task?.lastStatus, 'PROVISIONING', 'the stop waits for the agent');
    assert.equal(await memory(), free! - 16, 'the task keeps its memory while its agent may run it');
    await agent.until((ts) => ts.some((t) => t.taskArn === taskArn && t.desiredStatus === 'STOPPED'));
    await server.ecs.send(new SubmitTaskStateChangeCommand({ cluster: 'tasks', task: taskArn, status: 'STOPPED', containers: [{ containerName: 'x', status: 'STOPPED' }] }));
    const stopped = (await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: [taskArn] }))).tasks![0]!;
    assert.equal(stopped.lastStatus, 'STOPPED');
    assert.equal(stopped.stopCode, 'UserInitiated');
    assert.equal(await memory(), free, 'the memory returns with the STOPPED report');
  });

  it('forced deregistration leaves the tasks of the instance running, orphaned, as on ECS', async () => {
    await rejectsWith(server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'tasks', containerInstance: instanceArn })), 'InvalidParameterException');
    const before = ((await server.ecs.send(new ListTasksCommand({ cluster: 'tasks' }))).taskArns ?? []).slice().sort();
    assert.ok(before.length > 0);
    const pendingBefore = (await server.ecs.send(new DescribeClustersCommand({ clusters: ['tasks'] }))).clusters![0]!.pendingTasksCount;
    const dereg = await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'tasks', containerInstance: instanceArn, force: true }));
    assert.equal(dereg.containerInstance?.status, 'INACTIVE');
    const after = ((await server.ecs.send(new ListTasksCommand({ cluster: 'tasks' }))).taskArns ?? []).slice().sort();
    assert.deepEqual(after, before, 'the tasks are still meant to run');
    const described = await server.ecs.send(new DescribeTasksCommand({ cluster: 'tasks', tasks: after }));
    for (const t of described.tasks ?? []) {
      assert.equal(t.desiredStatus, 'RUNNING');
      assert.notEqual(t.lastStatus, 'STOPPED');
      assert.equal(t.containerInstanceArn, instanceArn);
    }
    const cluster = (await server.ecs.send(new DescribeClustersCommand({ clusters: ['tasks'] }))).clusters![0]!;
    assert.equal(cluster.pendingTasksCount, pendingBefore);
    await rejectsWith(server.ecs.send(new DeleteClusterCommand({ cluster: 'tasks' })), 'ClusterContainsTasksException');
  });
});

/** Polls `fn` until it returns a value other than undefined. */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function registerInstance(server: Pick<Server, 'ecs'>, cluster: string, instanceId: string): Promise<string> {
  const reg = await server.ecs.send(
    new RegisterContainerInstanceCommand({
      cluster,
      instanceIdentityDocument: JSON.stringify({ instanceId, availabilityZone: 'us-east-1a' }),
      totalResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: 1024 },
        { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 },
        { name: 'PORTS', type: 'STRINGSET', stringSetValue: [] },
        { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
      ],
    }),
  );
  return reg.containerInstance!.containerInstanceArn!;
}

describe('dispatcher: acknowledgements and connection state', () => {
  // Short enough for a test, long enough that a scripted agent always acks in time.
  const ACK_TIMEOUT_MS = 300;
  let server: Server;
  let clusterArn: string;
  let instanceArn: string;

  before(async () => {
    const previous = process.env.BERTH_AGENT_ACK_TIMEOUT_MS;
    process.env.BERTH_AGENT_ACK_TIMEOUT_MS = String(ACK_TIMEOUT_MS);
    try {
      server = await startTestServer();
    } finally {
      if (previous === undefined) delete process.env.BERTH_AGENT_ACK_TIMEOUT_MS;
      else process.env.BERTH_AGENT_ACK_TIMEOUT_MS = previous;
    }
    clusterArn = (await server.ecs.send(new CreateClusterCommand({ clusterName: 'channel' }))).cluster!.clusterArn!;
    instanceArn = await registerInstance(server, 'channel', 'i-0channel000000001');
    await server.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'idle', containerDefinitions: [{ name: 'x', image: 'berth-test/busybox:latest', memory: 16, command: ['sleep', '60'] }] }),
    );
  });
  after(async () => {
    await server.stop();
  });

  it('sends a task set again until the agent acknowledges it, and never an acknowledged one', async () => {
    const agent = await connectAgent(server, clusterArn, instanceArn);
    try {
      await agent.until((ts) => ts.length === 0);
      await sleep(4 * ACK_TIMEOUT_MS);
      assert.equal(agent.pushes.length, 1, 'an acknowledged push is not sent again');

      // The agent cannot store what it is sent: the push carrying the new task goes unacknowledged.
      agent.control.acking = false;
      const run = await server.ecs.send(new RunTaskCommand({ cluster: 'channel', taskDefinition: 'idle' }));
      const taskArn = run.tasks![0]!.taskArn!;
      await agent.until((ts) => ts.some((t) => t.taskArn === taskArn));
      const firstSeq = agent.seqs[agent.seqs.length - 1]!;
      const firstIndex = agent.pushes.length - 1;
      await sleep(2000);
      const resent = agent.pushes.slice(firstIndex + 1);
      assert.ok(resent.length >= 1, 'an unacknowledged push is sent again');
      // 300 ms, then 600 ms, then 1200 ms: at most three re-sends fit in two seconds.
      assert.ok(resent.length <= 3, `re-sends back off instead of flooding the agent (${resent.length} in 2 s)`);
      for (const tasks of resent) assert.deepEqual(tasks.map((t) => [t.taskArn, t.desiredStatus]), [[taskArn, 'RUNNING']]);
      const resentSeqs = agent.seqs.slice(firstIndex + 1);
      assert.ok(resentSeqs.every((seq, i) => seq > (i === 0 ? firstSeq : resentSeqs[i - 1]!)), 'every re-send carries a new seq');

      // The agent recovers: the next re-send is acknowledged and then the server goes quiet.
      agent.control.acking = true;
      const before = agent.pushes.length;
      await waitFor('a re-send after the agent recovered', async () => (agent.pushes.length > before ? true : undefined), 10_000);
      const settled = agent.pushes.length;
      await sleep(6 * ACK_TIMEOUT_MS);
      assert.equal(agent.pushes.length, settled, 'once acknowledged, the set is not sent again');
      assert.deepEqual(agent.pushes[settled - 1]!.map((t) => t.taskArn), [taskArn]);
      await server.ecs.send(new StopTaskCommand({ cluster: 'channel', task: taskArn }));
    } finally {
      agent.ws.close();
    }
  });

  it('reports agentConnected false soon after the channel closes, and true again after a reconnect', async () => {
    const connected = async () => {
      const d = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'channel', containerInstances: [instanceArn] }));
      return d.containerInstances?.[0]?.agentConnected;
    };
    const first = await connectAgent(server, clusterArn, instanceArn);
    await waitFor('agentConnected true', async () => ((await connected()) === true ? true : undefined));

    const closed = new Promise<void>((r) => first.ws.once('close', () => r()));
    first.ws.close();
    await closed;
    const t0 = Date.now();
    await waitFor('agentConnected false after the channel closed', async () => ((await connected()) === false ? true : undefined), 3000);
    assert.ok(Date.now() - t0 < 3000);
    const listed = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'channel', filter: 'agentConnected == false' }));
    assert.deepEqual(listed.containerInstanceArns, [instanceArn]);
    // Placement skips an instance whose agent is away.
    const refused = await server.ecs.send(new RunTaskCommand({ cluster: 'channel', taskDefinition: 'idle' }));
    assert.equal(refused.tasks?.length, 0);

    const second = await connectAgent(server, clusterArn, instanceArn);
    try {
      await waitFor('agentConnected true after the reconnect', async () => ((await connected()) === true ? true : undefined), 3000);
      await second.until(() => true);
      const placed = await server.ecs.send(new RunTaskCommand({ cluster: 'channel', taskDefinition: 'idle' }));
      assert.deepEqual(placed.failures, []);
      const taskArn = placed.tasks![0]!.taskArn!;
      await second.until((ts) => ts.some((t) => t.taskArn === taskArn));
      await server.ecs.send(new StopTaskCommand({ cluster: 'channel', task: taskArn }));
    } finally {
      second.ws.close();
    }
  });
});

describe('tasks: ListTasks filters and placement failures', () => {
  let server: Server;
  const agents: Awaited<ReturnType<typeof connectAgent>>[] = [];
  let instanceA: string;
  let instanceB: string;
  let single: string;

  before(async () => {
    server = await startTestServer();
    const listsArn = (await server.ecs.send(new CreateClusterCommand({ clusterName: 'lists' }))).cluster!.clusterArn!;
    const singleArn = (await server.ecs.send(new CreateClusterCommand({ clusterName: 'single' }))).cluster!.clusterArn!;
    instanceA = await registerInstance(server, 'lists', 'i-0lists0000000000a');
    instanceB = await registerInstance(server, 'lists', 'i-0lists0000000000b');
    single = await registerInstance(server, 'single', 'i-0single000000001');
    agents.push(await connectAgent(server, listsArn, instanceA), await connectAgent(server, listsArn, instanceB), await connectAgent(server, singleArn, single));
    await Promise.all(agents.map((a) => a.until(() => true)));
    const def = (family: string, extra: Record<string, unknown> = {}) =>
      server.ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          containerDefinitions: [{ name: 'x', image: 'berth-test/busybox:latest', memory: 16, cpu: 16, command: ['sleep', '60'], ...extra }],
        }),
      );
    await def('alpha');
    await def('alpha-two');
    await def('beta');
    await def('hog', { cpu: 2048 });
    await def('dns', { portMappings: [{ containerPort: 53, hostPort: 5353, protocol: 'udp' }] });
  });
  after(async () => {
    for (const a of agents) a.ws.close();
    await server.stop();
  });

  it('filters ListTasks by family, container instance, startedBy and desired status', async () => {
    const start = async (taskDefinition: string, instance: string, startedBy?: string) => {
      const r = await server.ecs.send(new StartTaskCommand({ cluster: 'lists', taskDefinition, containerInstances: [instance], ...(startedBy ? { startedBy } : {}) }));
      assert.deepEqual(r.failures, []);
      return r.tasks![0]!.taskArn!;
    };
    const alphaOnA = await start('alpha', instanceA, 'ci-1');
    const alphaOnB = await start('alpha', instanceB, 'ci-2');
    const betaOnA = await start('beta', instanceA, 'ci-1');
    const alphaTwoOnB = await start('alpha-two', instanceB);
    const stoppedBetaOnB = await start('beta', instanceB, 'ci-2');
    await server.ecs.send(new StopTaskCommand({ cluster: 'lists', task: stoppedBetaOnB }));

    const list = async (filter: Omit<ConstructorParameters<typeof ListTasksCommand>[0], 'cluster'>) =>
      ((await server.ecs.send(new ListTasksCommand({ cluster: 'lists', ...filter }))).taskArns ?? []).slice().sort();
    const set = (...arns: string[]) => arns.slice().sort();

    assert.deepEqual(await list({ family: 'alpha' }), set(alphaOnA, alphaOnB), 'family matches whole family names only');
    assert.deepEqual(await list({ family: 'alpha-two' }), set(alphaTwoOnB));
    assert.deepEqual(await list({ family: 'beta' }), set(betaOnA));
    assert.deepEqual(await list({ family: 'gamma' }), []);
    assert.deepEqual(await list({ containerInstance: instanceA }), set(alphaOnA, betaOnA));
    assert.deepEqual(await list({ containerInstance: instanceB }), set(alphaOnB, alphaTwoOnB));
    assert.deepEqual(await list({ containerInstance: instanceB.split('/').pop()! }), set(alphaOnB, alphaTwoOnB), 'an instance ID works like its ARN');
    assert.deepEqual(await list({ startedBy: 'ci-1' }), set(alphaOnA, betaOnA));
    assert.deepEqual(await list({ startedBy: 'ci-2' }), set(alphaOnB));
    assert.deepEqual(await list({}), set(alphaOnA, alphaOnB, betaOnA, alphaTwoOnB), 'the default lists tasks meant to run');
    assert.deepEqual(await list({ desiredStatus: 'RUNNING' }), set(alphaOnA, alphaOnB, betaOnA, alphaTwoOnB));
    assert.deepEqual(await list({ desiredStatus: 'STOPPED' }), set(stoppedBetaOnB));
    assert.deepEqual(await list({ desiredStatus: 'STOPPED', startedBy: 'ci-2', family: 'beta', containerInstance: instanceB }), set(stoppedBetaOnB));
    assert.deepEqual(await list({ desiredStatus: 'STOPPED', containerInstance: instanceA }), []);
    assert.deepEqual(await list({ family: 'alpha', startedBy: 'ci-2' }), set(alphaOnB));
  });

  it('fails RunTask with RESOURCE:CPU when no instance has the CPU', async () => {
    const r = await server.ecs.send(new RunTaskCommand({ cluster: 'single', taskDefinition: 'hog' }));
    assert.deepEqual(r.tasks, []);
    assert.deepEqual(r.failures, [{ arn: single, reason: 'RESOURCE:CPU' }]);
  });

  it('fails RunTask with RESOURCE:PORTS_UDP when the static UDP host port is taken', async () => {
    const first = await server.ecs.send(new RunTaskCommand({ cluster: 'single', taskDefinition: 'dns' }));
    assert.deepEqual(first.failures, []);
    assert.equal(first.tasks?.[0]?.containerInstanceArn, single);
    const inst = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'single', containerInstances: [single] }));
    assert.deepEqual(inst.containerInstances![0]!.remainingResources!.find((r) => r.name === 'PORTS_UDP')?.stringSetValue, ['5353']);
    const second = await server.ecs.send(new RunTaskCommand({ cluster: 'single', taskDefinition: 'dns' }));
    assert.deepEqual(second.tasks, []);
    assert.deepEqual(second.failures, [{ arn: single, reason: 'RESOURCE:PORTS_UDP' }]);
    // Once the first task stops (its agent says so), the port is free again.
    await server.ecs.send(new StopTaskCommand({ cluster: 'single', task: first.tasks![0]!.taskArn }));
    await server.ecs.send(new SubmitTaskStateChangeCommand({ cluster: 'single', task: first.tasks![0]!.taskArn, status: 'STOPPED' }));
    const third = await server.ecs.send(new RunTaskCommand({ cluster: 'single', taskDefinition: 'dns' }));
    assert.deepEqual(third.failures, []);
  });
});

describe('server restart: instances whose agents were connected get a grace period', () => {
  const GRACE_MS = 1500;
  const dir = tempDir();
  after(() => dir.remove());

  /** A server on `dir`, as `berth server` would start it again on the same data. */
  async function start(graceMs?: number) {
    const previous = process.env.BERTH_AGENT_RECONNECT_GRACE_MS;
    if (graceMs !== undefined) process.env.BERTH_AGENT_RECONNECT_GRACE_MS = String(graceMs);
    process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    try {
      const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: dir.path, region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal' });
      return { server, ecs: ecsClient(server.url) };
    } finally {
      if (previous === undefined) delete process.env.BERTH_AGENT_RECONNECT_GRACE_MS;
      else process.env.BERTH_AGENT_RECONNECT_GRACE_MS = previous;
    }
  }

  it('places tasks on them at once after a restart, and marks disconnected only those whose agent did not come back', async () => {
    const first = await start();
    const clusterArn = (await first.ecs.send(new CreateClusterCommand({ clusterName: 'grace' }))).cluster!.clusterArn!;
    const back = await registerInstance(first, 'grace', 'i-0grace00000000001');
    const gone = await registerInstance(first, 'grace', 'i-0grace00000000002');
    await first.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'idle', containerDefinitions: [{ name: 'x', image: 'berth-test/busybox:latest', memory: 16, command: ['sleep', '60'] }] }),
    );
    const before = [await connectAgent(first.server, clusterArn, back), await connectAgent(first.server, clusterArn, gone)];
    await Promise.all(before.map((a) => a.until(() => true)));
    // The server goes away under its agents (as on a crash or restart).
    first.ecs.destroy();
    await first.server.close();
    for (const a of before) a.ws.terminate();

    const second = await start(GRACE_MS);
    const reconnected: Awaited<ReturnType<typeof connectAgent>>[] = [];
    try {
      const connected = async (arn: string) =>
        (await second.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'grace', containerInstances: [arn] }))).containerInstances?.[0]?.agentConnected;
      // At once, before any agent is back: both instances take tasks.
      const run = await second.ecs.send(new RunTaskCommand({ cluster: 'grace', taskDefinition: 'idle', count: 2, placementStrategy: [{ type: 'spread', field: 'instanceId' }] }));
      assert.deepEqual(run.failures, []);
      assert.deepEqual(run.tasks?.map((t) => t.containerInstanceArn).sort(), [back, gone].sort());
      const onBack = run.tasks!.find((t) => t.containerInstanceArn === back)!.taskArn!;
      const onGone = run.tasks!.find((t) => t.containerInstanceArn === gone)!.taskArn!;

      const agent = await connectAgent(second.server, clusterArn, back);
      reconnected.push(agent);
      await agent.until((ts) => ts.some((t) => t.taskArn === onBack), 3000);

      await waitFor('the instance whose agent stayed away to be disconnected', async () => ((await connected(gone)) === false ? true : undefined), GRACE_MS + 3000);
      assert.equal(await connected(back), true, 'the instance whose agent came back stays connected');
      const later = await second.ecs.send(new RunTaskCommand({ cluster: 'grace', taskDefinition: 'idle', count: 2, placementStrategy: [{ type: 'spread', field: 'instanceId' }] }));
      assert.deepEqual(later.failures, []);
      assert.deepEqual(later.tasks?.map((t) => t.containerInstanceArn), [back, back], 'placement skips the instance whose agent did not come back');
      // The task placed on the instance whose agent never came back was never sent: it stops at once.
      const stop = await second.ecs.send(new StopTaskCommand({ cluster: 'grace', task: onGone }));
      assert.equal(stop.task?.lastStatus, 'STOPPED');
    } finally {
      for (const a of reconnected) a.ws.close();
      second.ecs.destroy();
      await second.server.close();
    }
  });
});

/**
 * Container logs end to end: a `berth server` and a `berth agent` process on
 * the real Docker Engine, tasks whose containers use the awslogs driver, and
 * the CloudWatch Logs API read with the AWS SDK and the AWS CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  type OutputLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { TEST_CREDENTIALS, describeTaskOn, freePort, spawnAgent, spawnServer, spawnServerWithCluster, stopServerAndAgent, tempDir, waitFor, type AgentProcess, type ServerProcess, runContainerOn } from './helpers.js';

const IMAGE = 'berth-test/busybox:latest';
const AGENT_ENV = { BERTH_AGENT_LOG_FLUSH_MS: '300' };

function logsClient(endpoint: string): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
}

/** Every event of a stream, oldest first, following forward tokens until the same token comes back. */
async function allEvents(endpoint: string, group: string, stream: string): Promise<OutputLogEvent[]> {
  const c = logsClient(endpoint);
  try {
    const out: OutputLogEvent[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const page = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, ...(token ? { nextToken: token } : {}) }));
      out.push(...(page.events ?? []));
      if (page.nextForwardToken === token) break;
      token = page.nextForwardToken;
    }
    return out;
  } finally {
    c.destroy();
  }
}

/** An AWS CLI with `aws logs tail` (version 2), or undefined. */
function awsCliWithTail(): string | undefined {
  for (const bin of ['aws', '/usr/bin/aws', '/usr/local/bin/aws']) {
    const r = spawnSync(bin, ['logs', 'tail', 'help'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0 && /tail/.test(r.stdout)) return bin;
  }
  return undefined;
}

describe('awslogs: container output in CloudWatch Logs', { timeout: 600_000 }, () => {
  const dir = tempDir('berth-logs-e2e-');
  let port = 0;
  let server: ServerProcess;
  let agent: AgentProcess;
  const taskArns: string[] = [];
  const serverDir = join(dir.path, 'server');
  const agentDir = join(dir.path, 'agent');

  const runTask = (family: string, script: string, options: Record<string, string>): Promise<string> =>
    runContainerOn(server.url, family, { image: IMAGE, command: ['sh', '-c', script], logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-region': 'us-east-1', ...options } } }, taskArns);

  const describeTask = (arn: string) => describeTaskOn(server.url, arn);

  async function createGroup(name: string): Promise<void> {
    const c = logsClient(server.url);
    try {
      await c.send(new CreateLogGroupCommand({ logGroupName: name }));
    } finally {
      c.destroy();
    }
  }

  const taskIdOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

  /** Waits until the stream holds `n` events and checks they are `line 1` .. `line n`, once each, in order, with their own times. */
  async function expectLines(group: string, stream: string, n: number, prefix = 'line'): Promise<void> {
    const events = await waitFor(
      `${n} events in ${group}/${stream}`,
      async () => {
        const e = await allEvents(server.url, group, stream);
        if (e.length > n) return e;
        return e.length === n ? e : undefined;
      },
      180_000,
    );
    assert.deepEqual(
      events.map((e) => e.message),
      Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`),
    );
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.timestamp! >= events[i - 1]!.timestamp!, 'timestamps do not go back');
    assert.ok(events[events.length - 1]!.timestamp! > events[0]!.timestamp!, 'each line keeps its own timestamp');
  }

  before(async () => {
    port = await freePort();
    server = await spawnServerWithCluster(serverDir, [], {}, port);
    agent = await spawnAgent(server.url, agentDir, { cluster: 'default', cpu: 1024, memory: 512, env: AGENT_ENV });
  });

  after(async () => {
    await stopServerAndAgent(server, agent, taskArns);
    dir.remove();
  });

  it('puts every line in prefix/container/task-id, in order; GetLogEvents and FilterLogEvents read them', async () => {
    await createGroup('/ecs/basic');
    const arn = await runTask('logs-basic', 'for i in $(seq 1 50); do echo "line $i"; done; sleep 0.5; echo ERROR at the end >&2; sleep 1', {
      'awslogs-group': '/ecs/basic',
      'awslogs-stream-prefix': 'web',
    });
    const stream = `web/app/${taskIdOf(arn)}`;
    const events = await waitFor('51 events', async () => {
      const e = await allEvents(server.url, '/ecs/basic', stream);
      return e.length >= 51 ? e : undefined;
    }, 120_000);
    assert.deepEqual(events.map((e) => e.message), [...Array.from({ length: 50 }, (_, i) => `line ${i + 1}`), 'ERROR at the end']);
    const c = logsClient(server.url);
    try {
      const filtered = await c.send(new FilterLogEventsCommand({ logGroupName: '/ecs/basic', filterPattern: 'ERROR' }));
      assert.deepEqual(filtered.events?.map((e) => [e.logStreamName, e.message]), [[stream, 'ERROR at the end']]);
      const streams = await c.send(new DescribeLogStreamsCommand({ logGroupName: '/ecs/basic', logStreamNamePrefix: 'web/app/' }));
      assert.equal(streams.logStreams?.[0]?.logStreamName, stream);
      assert.equal(streams.logStreams?.[0]?.firstEventTimestamp, events[0]!.timestamp);
    } finally {
      c.destroy();
    }
  });

  it('fails the task as ECS does when the log group does not exist and awslogs-create-group is not set', async () => {
    const arn = await runTask('logs-nogroup', 'echo hi; sleep 30', { 'awslogs-group': '/ecs/missing', 'awslogs-stream-prefix': 'web' });
    const task = await waitFor('the task to stop', async () => {
      const t = await describeTask(arn);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);
    assert.equal(task.stopCode, 'TaskFailedToStart');
    assert.match(task.stoppedReason ?? '', /^ResourceInitializationError: failed to validate logger args: .*ResourceNotFoundException: The specified log group does not exist\./);
    assert.match(task.containers?.[0]?.reason ?? '', /^ResourceInitializationError: failed to validate logger args:/);
  });

  it('creates the group with awslogs-create-group and joins multi-line events by awslogs-multiline-pattern', async () => {
    const arn = await runTask('logs-multiline', 'echo "START one"; echo "  detail a"; echo "  detail b"; echo "START two"; sleep 2', {
      'awslogs-group': '/ecs/created',
      'awslogs-create-group': 'true',
      'awslogs-stream-prefix': 'ml',
      'awslogs-multiline-pattern': 'START',
    });
    const events = await waitFor('2 events', async () => {
      const e = await allEvents(server.url, '/ecs/created', `ml/app/${taskIdOf(arn)}`);
      return e.length >= 2 ? e : undefined;
    }, 120_000);
    assert.deepEqual(events.map((e) => e.message), ['START one\n  detail a\n  detail b', 'START two']);
  });

  it('loses and repeats no line across an agent kill -9 and a server kill -9', async () => {
    await createGroup('/ecs/durable');
    const n = 400;
    const arn = await runTask('logs-durable', `for i in $(seq 1 ${n}); do echo "line $i"; sleep 0.03; done; sleep 2`, {
      'awslogs-group': '/ecs/durable',
      'awslogs-stream-prefix': 'd',
    });
    const stream = `d/app/${taskIdOf(arn)}`;
    await waitFor('the first lines', async () => ((await allEvents(server.url, '/ecs/durable', stream)).length > 20 ? true : undefined), 120_000);

    await agent.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    agent = await spawnAgent(server.url, agentDir, { cluster: 'default', cpu: 1024, memory: 512, env: AGENT_ENV });

    const before = (await allEvents(server.url, '/ecs/durable', stream)).length;
    await waitFor('more lines after the agent restart', async () => ((await allEvents(server.url, '/ecs/durable', stream)).length > before + 20 ? true : undefined), 120_000);
    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    server = await spawnServer(serverDir, [], {}, port);

    await expectLines('/ecs/durable', stream, n);
  });

  it('`aws logs tail --follow` shows lines as the container writes them', async (t) => {
    const aws = awsCliWithTail();
    if (!aws) {
      t.skip('no AWS CLI version 2 (aws logs tail) on this machine; scripts/setup.sh installs one');
      return;
    }
    await createGroup('/ecs/tail');
    const child = spawn(aws, ['logs', 'tail', '/ecs/tail', '--follow', '--format', 'short', '--endpoint-url', server.url, '--region', 'us-east-1'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      await runTask('logs-tail', 'for i in $(seq 1 5); do echo "tail line $i"; sleep 1; done; sleep 30', { 'awslogs-group': '/ecs/tail', 'awslogs-stream-prefix': 't' });
      await waitFor('aws logs tail to print the lines', async () => (/tail line 5/.test(out) ? true : undefined), 120_000).catch((e: Error) => {
        throw new Error(`${e.message}; output: ${out}; errors: ${err}`);
      });
      const shown = out.split('\n').filter((l) => /tail line/.test(l)).map((l) => l.replace(/^\S+\s+/, ''));
      assert.deepEqual(shown, ['tail line 1', 'tail line 2', 'tail line 3', 'tail line 4', 'tail line 5']);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

// An agent that runs as an IAM user holding only what a container instance
// needs (the policy the README gives operators, like ECS's
// AmazonEC2ContainerServiceforEC2Role): it registers, holds its channel and
// runs tasks; an identity without ecs:Poll is refused the channel; and the
// agent's identity can do nothing else.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateClusterCommand, DescribeTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { ChannelClient } from '../src/agent/channel/client.js';
import { silentLogger } from '../src/core/log.js';
import { ecsClient, spawnAgent, spawnServerWithCluster, stopServerAndAgent, tempDir, TEST_CREDENTIALS, waitFor, type AgentProcess, type ServerProcess } from './helpers.js';

/** The container instance policy of the README's "Agent identity". */
const AGENT_ACTIONS = [
  'ecs:RegisterContainerInstance',
  'ecs:DeregisterContainerInstance',
  'ecs:DiscoverPollEndpoint',
  'ecs:Poll',
  'ecs:StartTelemetrySession',
  'ecs:Submit*',
  'ecs:UpdateContainerInstancesState',
  'ecr:GetAuthorizationToken',
  'ecr:BatchGetImage',
  'ecr:GetDownloadUrlForLayer',
  'ecr:BatchCheckLayerAvailability',
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:DescribeLogGroups',
  'logs:GetLogEvents',
  'logs:PutLogEvents',
];

const policy = (actions: string[]): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });

describe('agent identity', { timeout: 240_000 }, () => {
  const dir = tempDir('berth-agent-identity-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let agentKeys = { accessKeyId: '', secretAccessKey: '' };
  let noPollKeys = { accessKeyId: '', secretAccessKey: '' };
  let instanceArn = '';
  const taskArns: string[] = [];

  before(async () => {
    server = await spawnServerWithCluster(join(dir.path, 'server'));
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    const userWith = async (name: string, actions: string[]) => {
      await iam.send(new CreateUserCommand({ UserName: name }));
      await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'container-instance', PolicyDocument: policy(actions) }));
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
      return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    };
    agentKeys = await userWith('ecs-agent', AGENT_ACTIONS);
    noPollKeys = await userWith('no-poll', AGENT_ACTIONS.filter((a) => a !== 'ecs:Poll'));
    iam.destroy();
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), {
      cluster: 'default',
      memory: 256,
      env: { AWS_ACCESS_KEY_ID: agentKeys.accessKeyId, AWS_SECRET_ACCESS_KEY: agentKeys.secretAccessKey },
    });
  });

  after(async () => {
    await stopServerAndAgent(server, agent, taskArns);
    dir.remove();
  });

  it('registers, holds its channel and runs tasks with only the container instance policy', async () => {
    const ecs = ecsClient(server.url);
    try {
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'idle', containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 16, command: ['sleep', '300'] }] }));
      const out = await ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'idle' }));
      const arn = out.tasks![0]!.taskArn!;
      taskArns.push(arn);
      instanceArn = out.tasks![0]!.containerInstanceArn!;
      await waitFor('the task to run', async () => {
        const t = (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [arn] }))).tasks![0]!;
        if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason}`);
        return t.lastStatus === 'RUNNING' ? t : undefined;
      }, 120_000);
    } finally {
      ecs.destroy();
    }
  });

  it("refuses the channel to an identity without ecs:Poll, in IAM's words", async () => {
    assert.ok(instanceArn);
    const refused = await new Promise<{ status: number; message: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connect was neither refused nor accepted')), 30_000);
      const client = new ChannelClient({
        endpoint: server.url,
        clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
        containerInstanceArn: instanceArn,
        region: 'us-east-1',
        credentials: noPollKeys,
        log: silentLogger(),
        onTasks: async () => {
          clearTimeout(timer);
          reject(new Error('an identity without ecs:Poll was sent the instance tasks'));
        },
        onRefused: (status, message) => {
          clearTimeout(timer);
          void client.stop();
          resolve({ status, message });
        },
      });
      client.start();
    });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.message,
      `User: arn:aws:iam::000000000000:user/no-poll is not authorized to perform: ecs:Poll on resource: ${instanceArn} because no identity-based policy allows the ecs:Poll action`,
    );
  });

  it("gives the agent's identity nothing beyond the container instance's needs", async () => {
    const ecs = ecsClient(server.url, agentKeys);
    try {
      await assert.rejects(ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'idle' })), (err: Error) => err.name === 'AccessDeniedException');
      await assert.rejects(ecs.send(new CreateClusterCommand({ clusterName: 'other' })), (err: Error) => err.name === 'AccessDeniedException');
    } finally {
      ecs.destroy();
    }
  });
});

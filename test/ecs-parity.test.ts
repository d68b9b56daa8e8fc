// What AWS tools see: the exceptions, exact messages, per-item failures and
// defaults that ECS sends, through the AWS SDK against a real server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startServer } from '../src/server/app.js';
import { ecsClient, startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Asserts the call fails with exactly the AWS exception and message ECS sends. */
async function rejectsAs(p: Promise<unknown>, name: string, message: string): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.deepEqual([err.name, err.message], [name, message]);
    return true;
  });
}

describe('ECS parity over the wire', () => {
  let server: Server;

  before(async () => {
    server = await startTestServer();
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'parity' }));
    await server.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 32 }] }),
    );
  });
  after(async () => {
    await server.stop();
  });

  it('refuses empty DescribeTasks and DescribeContainerInstances', async () => {
    await rejectsAs(server.ecs.send(new DescribeTasksCommand({ cluster: 'parity', tasks: [] })), 'InvalidParameterException', 'Tasks cannot be empty.');
    await rejectsAs(
      server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'parity', containerInstances: [] })),
      'InvalidParameterException',
      'Container Instances cannot be empty.',
    );
  });

  it('lists a deleted cluster while DescribeClusters shows it INACTIVE', async () => {
    const arn = (await server.ecs.send(new CreateClusterCommand({ clusterName: 'short-lived' }))).cluster!.clusterArn!;
    const deleted = await server.ecs.send(new DeleteClusterCommand({ cluster: 'short-lived' }));
    assert.equal(deleted.cluster?.status, 'INACTIVE');
    const described = await server.ecs.send(new DescribeClustersCommand({ clusters: [arn] }));
    assert.equal(described.clusters?.[0]?.status, 'INACTIVE');
    const listed = await server.ecs.send(new ListClustersCommand({}));
    assert.ok(listed.clusterArns?.includes(arn), 'ListClusters agrees with DescribeClusters');
  });

  it('deletes task definitions item by item, with ECS reasons for those it cannot', async () => {
    const reg = async () =>
      (await server.ecs.send(new RegisterTaskDefinitionCommand({ family: 'doomed', containerDefinitions: [{ name: 'c', image: 'berth-test/busybox:latest', memory: 16 }] })))
        .taskDefinition!.taskDefinitionArn!;
    const inactive = await reg();
    const active = await reg();
    await server.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: inactive }));
    const out = await server.ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: [inactive, active, 'doomed', 'doomed:99'] }));
    assert.deepEqual(out.taskDefinitions?.map((t) => [t.taskDefinitionArn, t.status]), [[inactive, 'DELETE_IN_PROGRESS']]);
    assert.deepEqual(out.failures, [
      { arn: active, reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' },
      { arn: 'doomed', reason: 'The specified task definition does not exist.' },
      { arn: 'doomed:99', reason: 'The specified task definition does not exist.' },
    ]);
  });

  it('answers DeregisterTaskDefinition of a family without a revision with ClientException', async () => {
    await rejectsAs(server.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'app' })), 'ClientException', 'The specified task definition does not exist.');
    const still = await server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'app' }));
    assert.equal(still.taskDefinition?.status, 'ACTIVE');
  });

  it('gives an EFS volume without rootDirectory the root, /', async () => {
    const td = await server.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'efs',
        volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-12345678' } }],
        containerDefinitions: [{ name: 'c', image: 'berth-test/busybox:latest', memory: 16, mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }],
      }),
    );
    assert.deepEqual(td.taskDefinition?.volumes?.[0]?.efsVolumeConfiguration, { fileSystemId: 'fs-12345678', rootDirectory: '/' });
  });

  it("sends ECS's exact messages for RunTask, StopTask and DeleteCluster refusals", async () => {
    await rejectsAs(
      server.ecs.send(new RunTaskCommand({ cluster: 'parity', taskDefinition: 'app', capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }] })),
      'InvalidParameterException',
      'Capacity provider strategies are not supported yet.',
    );
    await rejectsAs(
      server.ecs.send(new RunTaskCommand({ cluster: 'parity', taskDefinition: 'app', launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'spot', weight: 1 }] })),
      'InvalidParameterException',
      'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
    );
    await rejectsAs(server.ecs.send(new RunTaskCommand({ cluster: 'parity', taskDefinition: 'app' })), 'InvalidParameterException', 'No Container Instances were found in your cluster.');
    await rejectsAs(server.ecs.send(new RunTaskCommand({ cluster: 'parity', taskDefinition: 'ghost' })), 'ClientException', 'Unable to describe task definition.');
    await rejectsAs(
      server.ecs.send(new StopTaskCommand({ cluster: 'parity', task: '0123456789abcdef0123456789abcdef' })),
      'InvalidParameterException',
      'The referenced task was not found.',
    );
    await server.ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: 'parity',
        instanceIdentityDocument: JSON.stringify({ instanceId: 'i-0parity0000000001' }),
        totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }],
      }),
    );
    await rejectsAs(
      server.ecs.send(new DeleteClusterCommand({ cluster: 'parity' })),
      'ClusterContainsContainerInstancesException',
      'The Cluster cannot be deleted while Container Instances are active or draining.',
    );
  });
});

describe("Berth's advice goes to the request log, not into AWS's message", () => {
  it('logs the hint with the failed request', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const dir = tempDir();
    process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: dir.path, region: 'us-east-1', accountId: '000000000000', log: pino({ level: 'info' }, sink), synchronous: 'normal' });
    const ecs = ecsClient(server.url);
    try {
      await ecs.send(new CreateClusterCommand({ clusterName: 'lonely' }));
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'app', containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 32 }] }));
      await rejectsAs(ecs.send(new RunTaskCommand({ cluster: 'lonely', taskDefinition: 'app' })), 'InvalidParameterException', 'No Container Instances were found in your cluster.');
      const line = lines.find((l) => l['operation'] === 'RunTask' && l['outcome'] === 'InvalidParameterException');
      assert.ok(line, JSON.stringify(lines));
      assert.match(String(line['hint']), /berth agent --cluster lonely/);
    } finally {
      ecs.destroy();
      await server.close();
      dir.remove();
    }
  });
});

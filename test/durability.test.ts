import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  ListContainerInstancesCommand,
  ListTagsForResourceCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { ecsClient, spawnServer, tempDir } from './helpers.js';

describe('durability', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('keeps everything it acknowledged across kill -9 and restart', async () => {
    const dataDir = join(dir.path, 'data');
    const first = await spawnServer(dataDir);
    const ecs = ecsClient(first.url);
    await ecs.send(new CreateClusterCommand({ clusterName: 'durable', tags: [{ key: 'k', value: 'v' }] }));
    const acknowledged: string[] = [];
    // Writes race with the kill: every write the server answered must survive.
    const writer = (async () => {
      for (let i = 0; i < 1000; i++) {
        try {
          const r = await ecs.send(
            new RegisterTaskDefinitionCommand({ family: 'durable', containerDefinitions: [{ name: 'c', image: 'x', memory: 16, environment: [{ name: 'I', value: String(i) }] }] }),
          );
          acknowledged.push(r.taskDefinition!.taskDefinitionArn!);
        } catch {
          return;
        }
      }
    })();
    await ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: 'durable',
        instanceIdentityDocument: JSON.stringify({ instanceId: 'i-0durable000000001' }),
        totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 1024 }],
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    await first.kill('SIGKILL');
    await writer;
    ecs.destroy();
    assert.ok(acknowledged.length > 0);

    const second = await spawnServer(dataDir);
    const ecs2 = ecsClient(second.url);
    try {
      const c = await ecs2.send(new DescribeClustersCommand({ clusters: ['durable'], include: ['TAGS'] }));
      assert.equal(c.clusters?.[0]?.status, 'ACTIVE');
      const tags = await ecs2.send(new ListTagsForResourceCommand({ resourceArn: c.clusters![0]!.clusterArn! }));
      assert.deepEqual(tags.tags, [{ key: 'k', value: 'v' }]);
      for (const arn of acknowledged) {
        const d = await ecs2.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
        assert.equal(d.taskDefinition?.taskDefinitionArn, arn);
      }
      const next = await ecs2.send(new RegisterTaskDefinitionCommand({ family: 'durable', containerDefinitions: [{ name: 'c', image: 'x', memory: 16 }] }));
      assert.ok(next.taskDefinition!.revision! > acknowledged.length, 'revisions never repeat after a crash');
      const instances = await ecs2.send(new ListContainerInstancesCommand({ cluster: 'durable' }));
      assert.equal(instances.containerInstanceArns?.length, 1);
    } finally {
      ecs2.destroy();
      await second.kill('SIGTERM');
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateClusterCommand,
  DeleteAttributesCommand,
  DeleteClusterCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterContainerInstanceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DiscoverPollEndpointCommand,
  ListAttributesCommand,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  PutAttributesCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateClusterCommand,
  UpdateClusterSettingsCommand,
  UpdateContainerInstancesStateCommand,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { startTestServer } from './helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function rejectsWith(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function resources(cpu: number, memory: number, ports: string[] = ['22', '2375', '2376', '51678', '51679']) {
  return [
    { name: 'CPU', type: 'INTEGER', integerValue: cpu },
    { name: 'MEMORY', type: 'INTEGER', integerValue: memory },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: ports },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
  ];
}

async function registerInstance(ecs: ECSClient, cluster: string, instanceId: string, extra: Record<string, unknown> = {}) {
  const out = await ecs.send(
    new RegisterContainerInstanceCommand({
      cluster,
      instanceIdentityDocument: JSON.stringify({ instanceId, availabilityZone: 'us-east-1a', instanceType: 'm5.large', region: 'us-east-1' }),
      totalResources: resources(2048, 3900),
      versionInfo: { agentVersion: '0.1.0', dockerVersion: '28.0.0' },
      attributes: [{ name: 'ecs.os-type', value: 'linux' }],
      ...extra,
    }),
  );
  assert.ok(out.containerInstance?.containerInstanceArn);
  return out.containerInstance;
}

describe('clusters', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('creates, describes with statistics, settings and tags, and lists', async () => {
    const created = await server.ecs.send(
      new CreateClusterCommand({ clusterName: 'prod', tags: [{ key: 'team', value: 'web' }], settings: [{ name: 'containerInsights', value: 'enabled' }] }),
    );
    assert.equal(created.cluster?.clusterArn, 'arn:aws:ecs:us-east-1:000000000000:cluster/prod');
    assert.equal(created.cluster?.status, 'ACTIVE');
    const d = await server.ecs.send(new DescribeClustersCommand({ clusters: ['prod', 'nope'], include: ['STATISTICS', 'TAGS', 'SETTINGS'] }));
    const c = d.clusters?.[0];
    assert.equal(c?.clusterName, 'prod');
    assert.deepEqual(c?.tags, [{ key: 'team', value: 'web' }]);
    assert.deepEqual(c?.settings, [{ name: 'containerInsights', value: 'enabled' }]);
    assert.equal(c?.registeredContainerInstancesCount, 0);
    assert.equal(c?.runningTasksCount, 0);
    assert.ok(c?.statistics?.some((s) => s.name === 'runningEC2TasksCount' && s.value === '0'));
    assert.deepEqual(d.failures, [{ arn: 'arn:aws:ecs:us-east-1:000000000000:cluster/nope', reason: 'MISSING' }]);
    const plain = await server.ecs.send(new DescribeClustersCommand({ clusters: ['prod'] }));
    assert.equal(plain.clusters?.[0]?.tags, undefined, 'tags only when included');
  });

  it('is idempotent on name, settings and tags, and refuses a conflicting repeat', async () => {
    const a = await server.ecs.send(new CreateClusterCommand({ clusterName: 'idem', tags: [{ key: 'k', value: 'v' }] }));
    const b = await server.ecs.send(new CreateClusterCommand({ clusterName: 'idem', tags: [{ key: 'k', value: 'v' }] }));
    assert.equal(a.cluster?.clusterArn, b.cluster?.clusterArn);
    await rejectsWith(server.ecs.send(new CreateClusterCommand({ clusterName: 'idem', tags: [{ key: 'k', value: 'other' }] })), 'InvalidParameterException');
  });

  it('creates the default cluster when no name is given', async () => {
    const c = await server.ecs.send(new CreateClusterCommand({}));
    assert.equal(c.cluster?.clusterName, 'default');
    const d = await server.ecs.send(new DescribeClustersCommand({}));
    assert.equal(d.clusters?.[0]?.clusterName, 'default');
  });

  it('refuses invalid names and settings with InvalidParameterException', async () => {
    await rejectsWith(server.ecs.send(new CreateClusterCommand({ clusterName: 'bad name!' })), 'InvalidParameterException');
    await rejectsWith(server.ecs.send(new CreateClusterCommand({ clusterName: 'x'.repeat(256) })), 'InvalidParameterException');
    await rejectsWith(
      server.ecs.send(new CreateClusterCommand({ clusterName: 'ok', settings: [{ name: 'containerInsights', value: 'maybe' }] })),
      'InvalidParameterException',
      /enabled, disabled/,
    );
    await rejectsWith(server.ecs.send(new CreateClusterCommand({ clusterName: 'ok2', tags: [{ key: 'aws:x', value: 'y' }] })), 'InvalidParameterException');
  });

  it('paginates ListClusters without skipping or repeating', async () => {
    for (let i = 0; i < 7; i++) await server.ecs.send(new CreateClusterCommand({ clusterName: `page-${i}` }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await server.ecs.send(new ListClustersCommand({ maxResults: 3, nextToken: token }));
      assert.ok((out.clusterArns?.length ?? 0) <= 3);
      seen.push(...(out.clusterArns ?? []));
      token = out.nextToken;
      pages++;
    } while (token && pages < 20);
    const all = (await server.ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    assert.deepEqual(seen, all);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(all.filter((a) => a.includes('page-')).length === 7);
    await rejectsWith(server.ecs.send(new ListClustersCommand({ nextToken: 'garbage' })), 'InvalidParameterException');
    await rejectsWith(server.ecs.send(new ListClustersCommand({ maxResults: 101 })), 'InvalidParameterException');
  });

  it('updates settings', async () => {
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'upd' }));
    const u = await server.ecs.send(new UpdateClusterSettingsCommand({ cluster: 'upd', settings: [{ name: 'containerInsights', value: 'enabled' }] }));
    assert.deepEqual(u.cluster?.settings, [{ name: 'containerInsights', value: 'enabled' }]);
    const u2 = await server.ecs.send(
      new UpdateClusterCommand({ cluster: 'upd', configuration: { executeCommandConfiguration: { logging: 'DEFAULT' } } }),
    );
    assert.equal(u2.cluster?.configuration?.executeCommandConfiguration?.logging, 'DEFAULT');
    await rejectsWith(server.ecs.send(new UpdateClusterSettingsCommand({ cluster: 'missing', settings: [] })), 'ClusterNotFoundException');
  });

  it('refuses to delete a cluster with instances, then deletes it to INACTIVE', async () => {
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'del' }));
    const inst = await registerInstance(server.ecs, 'del', 'i-del0001');
    await rejectsWith(server.ecs.send(new DeleteClusterCommand({ cluster: 'del' })), 'ClusterContainsContainerInstancesException');
    await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'del', containerInstance: inst!.containerInstanceArn! }));
    const d = await server.ecs.send(new DeleteClusterCommand({ cluster: 'del' }));
    assert.equal(d.cluster?.status, 'INACTIVE');
    const desc = await server.ecs.send(new DescribeClustersCommand({ clusters: ['del'] }));
    assert.equal(desc.clusters?.[0]?.status, 'INACTIVE', 'a deleted cluster stays describable as INACTIVE');
    const list = await server.ecs.send(new ListClustersCommand({}));
    assert.equal(list.clusterArns?.filter((a) => a.endsWith('/del')).length, 1, 'and listed, as on ECS, while it is describable');
    await rejectsWith(server.ecs.send(new DeleteClusterCommand({ cluster: 'del' })), 'ClusterNotFoundException');
    const again = await server.ecs.send(new CreateClusterCommand({ clusterName: 'del' }));
    assert.equal(again.cluster?.status, 'ACTIVE', 'the name can be reused');
    const relisted = await server.ecs.send(new ListClustersCommand({}));
    assert.equal(relisted.clusterArns?.filter((a) => a.endsWith('/del')).length, 1, 'listed once, ACTIVE again');
  });
});

const webTaskDefinition = {
  family: 'web',
  containerDefinitions: [
    {
      name: 'app',
      image: 'berth-test/busybox:latest',
      memory: 128,
      cpu: 256,
      essential: true,
      command: ['httpd', '-f', '-p', '8080'],
      portMappings: [{ containerPort: 8080, hostPort: 0 }],
    },
  ],
};

describe('task definitions', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('registers revisions of a family with ARNs, requiresAttributes and compatibilities', async () => {
    const r1 = await server.ecs.send(new RegisterTaskDefinitionCommand({ ...webTaskDefinition, tags: [{ key: 'app', value: 'web' }] }));
    const r2 = await server.ecs.send(new RegisterTaskDefinitionCommand(webTaskDefinition));
    assert.equal(r1.taskDefinition?.revision, 1);
    assert.equal(r2.taskDefinition?.revision, 2);
    assert.equal(r2.taskDefinition?.taskDefinitionArn, 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:2');
    assert.equal(r1.taskDefinition?.status, 'ACTIVE');
    assert.ok(r1.taskDefinition?.compatibilities?.includes('EC2'));
    assert.ok(r1.taskDefinition?.registeredAt instanceof Date, 'timestamps travel as epoch seconds and parse as dates');
    assert.ok(Math.abs(r1.taskDefinition!.registeredAt!.getTime() - Date.now()) < 60_000);
    assert.deepEqual(r1.tags, [{ key: 'app', value: 'web' }]);
  });

  it('describes by family (latest ACTIVE), family:revision and ARN, with tags on request', async () => {
    const byFamily = await server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    assert.equal(byFamily.taskDefinition?.revision, 2);
    const byRev = await server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1', include: ['TAGS'] }));
    assert.equal(byRev.taskDefinition?.revision, 1);
    assert.deepEqual(byRev.tags, [{ key: 'app', value: 'web' }]);
    const byArn = await server.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1' }),
    );
    assert.equal(byArn.taskDefinition?.containerDefinitions?.[0]?.name, 'app');
    await rejectsWith(server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })), 'ClientException');
    await rejectsWith(server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:99' })), 'ClientException');
  });

  it('validates container definitions with actionable errors', async () => {
    const bad = (containerDefinitions: unknown[], extra: Record<string, unknown> = {}) =>
      server.ecs.send(new RegisterTaskDefinitionCommand({ family: 'bad', containerDefinitions: containerDefinitions as never, ...extra }));
    await rejectsWith(bad([]), 'ClientException');
    await rejectsWith(bad(Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, image: 'x', memory: 64 }))), 'ClientException');
    await rejectsWith(
      bad([
        { name: 'a', image: 'x', memory: 64 },
        { name: 'a', image: 'x', memory: 64 },
      ]),
      'ClientException',
    );
    await rejectsWith(bad([{ name: 'a', image: 'x', memory: 64, essential: false }]), 'ClientException');
    await rejectsWith(bad([{ name: 'a', image: 'x' }]), 'ClientException');
    await rejectsWith(bad([{ name: 'a', image: 'x', memory: 64, mountPoints: [{ sourceVolume: 'missing', containerPath: '/d' }] }]), 'ClientException');
    await rejectsWith(
      bad([
        { name: 'a', image: 'x', memory: 64, dependsOn: [{ containerName: 'b', condition: 'START' }] },
        { name: 'b', image: 'x', memory: 64, dependsOn: [{ containerName: 'a', condition: 'START' }] },
      ]),
      'ClientException',
    );
    await rejectsWith(bad([{ name: 'a', image: 'x', memory: 64, dependsOn: [{ containerName: 'ghost', condition: 'START' }] }]), 'ClientException');
    const families = await server.ecs.send(new ListTaskDefinitionFamiliesCommand({}));
    assert.ok(!families.families?.includes('bad'), 'rejected registrations leave nothing behind');
  });

  it('rejects an invalid enum with InvalidParameterException naming the member', async () => {
    await rejectsWith(
      server.ecs.send(new RegisterTaskDefinitionCommand({ ...webTaskDefinition, networkMode: 'carrier-pigeon' as never })),
      'InvalidParameterException',
      /networkMode/,
    );
  });

  it('lists definitions and families with filters, sort and pagination', async () => {
    for (let i = 0; i < 3; i++) await server.ecs.send(new RegisterTaskDefinitionCommand({ ...webTaskDefinition, family: 'worker' }));
    const asc = await server.ecs.send(new ListTaskDefinitionsCommand({}));
    assert.deepEqual(
      asc.taskDefinitionArns?.map((a) => a.split('/')[1]),
      ['web:1', 'web:2', 'worker:1', 'worker:2', 'worker:3'],
    );
    const desc = await server.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'worker', sort: 'DESC' }));
    assert.deepEqual(desc.taskDefinitionArns?.map((a) => a.split(':').pop()), ['3', '2', '1']);
    const p1 = await server.ecs.send(new ListTaskDefinitionsCommand({ maxResults: 2 }));
    const p2 = await server.ecs.send(new ListTaskDefinitionsCommand({ maxResults: 2, nextToken: p1.nextToken }));
    const p3 = await server.ecs.send(new ListTaskDefinitionsCommand({ maxResults: 2, nextToken: p2.nextToken }));
    assert.deepEqual([...p1.taskDefinitionArns!, ...p2.taskDefinitionArns!, ...p3.taskDefinitionArns!], asc.taskDefinitionArns);
    assert.equal(p3.nextToken, undefined);
    const fams = await server.ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'wo' }));
    assert.deepEqual(fams.families, ['worker']);
  });

  it('deregisters to INACTIVE and deletes only INACTIVE revisions', async () => {
    await rejectsWith(server.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'worker' })), 'ClientException', /^The specified task definition does not exist\.$/);
    const d = await server.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'worker:3' }));
    assert.equal(d.taskDefinition?.status, 'INACTIVE');
    assert.ok(d.taskDefinition?.deregisteredAt instanceof Date);
    const latest = await server.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'worker' }));
    assert.equal(latest.taskDefinition?.revision, 2, 'the family resolves to the latest ACTIVE revision');
    const inactive = await server.ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }));
    assert.deepEqual(inactive.taskDefinitionArns?.map((a) => a.split('/')[1]), ['worker:3']);
    const del = await server.ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['worker:3', 'worker:2'] }));
    assert.equal(del.taskDefinitions?.[0]?.status, 'DELETE_IN_PROGRESS');
    assert.equal(del.failures?.[0]?.arn, 'arn:aws:ecs:us-east-1:000000000000:task-definition/worker:2');
    for (const r of ['worker:1', 'worker:2']) await server.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: r }));
    const fams = await server.ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'INACTIVE' }));
    assert.deepEqual(fams.families, ['worker']);
    const active = await server.ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'ACTIVE' }));
    assert.deepEqual(active.families, ['web']);
  });
});

describe('container instances, attributes and tags', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'ci' }));
  });
  after(async () => {
    await server.stop();
  });

  it('registers with resources and attributes, and re-registration keeps the identity', async () => {
    const a = await registerInstance(server.ecs, 'ci', 'i-0000000000000aaaa');
    assert.match(a!.containerInstanceArn!, /^arn:aws:ecs:us-east-1:000000000000:container-instance\/ci\/[0-9a-f]{32}$/);
    assert.equal(a!.ec2InstanceId, 'i-0000000000000aaaa');
    assert.equal(a!.status, 'ACTIVE');
    assert.equal(a!.registeredResources?.find((r) => r.name === 'CPU')?.integerValue, 2048);
    assert.equal(a!.remainingResources?.find((r) => r.name === 'MEMORY')?.integerValue, 3900);
    assert.ok(a!.attributes?.some((x) => x.name === 'ecs.availability-zone' && x.value === 'us-east-1a'));
    const again = await registerInstance(server.ecs, 'ci', 'i-0000000000000aaaa', { containerInstanceArn: a!.containerInstanceArn });
    assert.equal(again!.containerInstanceArn, a!.containerInstanceArn);
    const list = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'ci' }));
    assert.deepEqual(list.containerInstanceArns, [a!.containerInstanceArn]);
    const d = await server.ecs.send(new DescribeClustersCommand({ clusters: ['ci'] }));
    assert.equal(d.clusters?.[0]?.registeredContainerInstancesCount, 1);
  });

  it('tells agents where to connect (DiscoverPollEndpoint), for known clusters and instances only', async () => {
    const a = await registerInstance(server.ecs, 'ci', 'i-0000000000000dddd');
    const out = await server.ecs.send(new DiscoverPollEndpointCommand({ cluster: 'ci', containerInstance: a!.containerInstanceArn }));
    assert.equal(out.endpoint, server.url);
    assert.equal(out.telemetryEndpoint, server.url);
    await rejectsWith(server.ecs.send(new DiscoverPollEndpointCommand({ cluster: 'nowhere' })), 'ClusterNotFoundException');
    await rejectsWith(server.ecs.send(new DiscoverPollEndpointCommand({ cluster: 'ci', containerInstance: '0123456789abcdef0123456789abcdef' })), 'InvalidParameterException');
    await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'ci', containerInstance: a!.containerInstanceArn }));
  });

  it('describes, drains and lists by status', async () => {
    const b = await registerInstance(server.ecs, 'ci', 'i-0000000000000bbbb');
    const id = b!.containerInstanceArn!.split('/').pop()!;
    const d = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'ci', containerInstances: [id, 'nope'] }));
    assert.equal(d.containerInstances?.[0]?.ec2InstanceId, 'i-0000000000000bbbb');
    assert.equal(d.failures?.[0]?.reason, 'MISSING');
    const u = await server.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: 'ci', containerInstances: [id], status: 'DRAINING' }));
    assert.equal(u.containerInstances?.[0]?.status, 'DRAINING');
    const draining = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'ci', status: 'DRAINING' }));
    assert.deepEqual(draining.containerInstanceArns, [b!.containerInstanceArn]);
    await rejectsWith(
      server.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: 'ci', containerInstances: [id], status: 'REGISTERING' })),
      'InvalidParameterException',
    );
  });

  it('puts, lists and deletes custom attributes, with limits', async () => {
    const c = await registerInstance(server.ecs, 'ci', 'i-0000000000000cccc');
    const arn = c!.containerInstanceArn!;
    await server.ecs.send(new PutAttributesCommand({ cluster: 'ci', attributes: [{ name: 'stack', value: 'prod', targetId: arn }] }));
    const listed = await server.ecs.send(new ListAttributesCommand({ cluster: 'ci', targetType: 'container-instance', attributeName: 'stack' }));
    assert.deepEqual(listed.attributes, [{ name: 'stack', value: 'prod', targetType: 'container-instance', targetId: arn }]);
    await rejectsWith(
      server.ecs.send(
        new PutAttributesCommand({
          cluster: 'ci',
          attributes: [{ name: 'x', value: 'y', targetId: 'arn:aws:ecs:us-east-1:000000000000:container-instance/ci/ffffffffffffffffffffffffffffffff' }],
        }),
      ),
      'TargetNotFoundException',
    );
    await rejectsWith(
      server.ecs.send(new PutAttributesCommand({ cluster: 'ci', attributes: [{ name: 'bad name', value: 'y', targetId: arn }] })),
      'InvalidParameterException',
    );
    for (let i = 0; i < 9; i++) {
      await server.ecs.send(new PutAttributesCommand({ cluster: 'ci', attributes: [{ name: `a${i}`, value: 'v', targetId: arn }] }));
    }
    await rejectsWith(
      server.ecs.send(new PutAttributesCommand({ cluster: 'ci', attributes: [{ name: 'one-too-many', value: 'v', targetId: arn }] })),
      'AttributeLimitExceededException',
    );
    await server.ecs.send(new DeleteAttributesCommand({ cluster: 'ci', attributes: [{ name: 'stack', targetId: arn }] }));
    const after = await server.ecs.send(new ListAttributesCommand({ cluster: 'ci', targetType: 'container-instance', attributeName: 'stack' }));
    assert.deepEqual(after.attributes, []);
  });

  it('tags every taggable resource and refuses unknown ones', async () => {
    const cluster = (await server.ecs.send(new DescribeClustersCommand({ clusters: ['ci'] }))).clusters![0]!.clusterArn!;
    const td = (await server.ecs.send(new RegisterTaskDefinitionCommand(webTaskDefinition))).taskDefinition!.taskDefinitionArn!;
    const inst = (await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'ci' }))).containerInstanceArns![0]!;
    for (const arn of [cluster, td, inst]) {
      await server.ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'env', value: 'test' }, { key: 'x', value: '1' }] }));
      await server.ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['x'] }));
      const t = await server.ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
      assert.deepEqual(t.tags, [{ key: 'env', value: 'test' }], arn);
    }
    await rejectsWith(
      server.ecs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/ghost' })),
      'ResourceNotFoundException',
    );
    await rejectsWith(server.ecs.send(new TagResourceCommand({ resourceArn: 'not-an-arn', tags: [] })), 'InvalidParameterException');
    const many = Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    await rejectsWith(server.ecs.send(new TagResourceCommand({ resourceArn: cluster, tags: many })), 'InvalidParameterException');
  });

  it('deregisters an instance to INACTIVE and keeps it describable', async () => {
    const d = await registerInstance(server.ecs, 'ci', 'i-0000000000000dddd');
    const out = await server.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'ci', containerInstance: d!.containerInstanceArn! }));
    assert.equal(out.containerInstance?.status, 'INACTIVE');
    const desc = await server.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'ci', containerInstances: [d!.containerInstanceArn!] }));
    assert.equal(desc.containerInstances?.[0]?.status, 'INACTIVE');
    const list = await server.ecs.send(new ListContainerInstancesCommand({ cluster: 'ci' }));
    assert.ok(!list.containerInstanceArns?.includes(d!.containerInstanceArn!));
    await rejectsWith(
      server.ecs.send(new RegisterContainerInstanceCommand({ cluster: 'nope', totalResources: resources(1024, 1024) })),
      'ClusterNotFoundException',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreReader } from '../../store/store.js';
import { ecrResources, ecsResources, elbv2Resources, iamResources, requestTagContext, ssmResources, stsResources } from './resources.js';
import { registryAction } from '../../registry/server.js';

/** A store that holds nothing: resources resolve to the ARNs their names imply. */
const empty: StoreReader = {
  get: () => Promise.resolve(undefined),
  find: () => Promise.resolve([]),
  count: () => Promise.resolve(0),
  distinctNames: () => Promise.resolve([]),
};
const scope = { accountId: '123456789012', region: 'eu-west-1', store: empty };
const E = 'arn:aws:ecs:eu-west-1:123456789012';

describe('action and resource tables', () => {
  it('ECS: clusters, services, tasks and task definitions by ARN; list operations on * with ecs:cluster', async () => {
    assert.deepEqual(
      (await ecsResources('DescribeClusters', { clusters: ['a', `${E}:cluster/b`] }, scope)).map((c) => [c.action, c.resource]),
      [
        ['ecs:DescribeClusters', `${E}:cluster/a`],
        ['ecs:DescribeClusters', `${E}:cluster/b`],
      ],
    );
    assert.equal((await ecsResources('DescribeClusters', {}, scope))[0]!.resource, `${E}:cluster/default`);
    assert.equal((await ecsResources('UpdateService', { cluster: 'c', service: 'web' }, scope))[0]!.resource, `${E}:service/c/web`);
    assert.equal((await ecsResources('StopTask', { cluster: 'c', task: 'abc' }, scope))[0]!.resource, `${E}:task/c/abc`);
    const run = (await ecsResources('RunTask', { cluster: 'c', taskDefinition: 'web:3', tags: [{ key: 'team', value: 'blue' }] }, scope))[0]!;
    assert.equal(run.resource, `${E}:task-definition/web:3`);
    assert.equal(run.context?.['ecs:cluster'], `${E}:cluster/c`);
    assert.equal(run.context?.['aws:RequestTag/team'], 'blue');
    const list = (await ecsResources('ListTasks', { cluster: 'c' }, scope))[0]!;
    assert.deepEqual([list.resource, list.context?.['ecs:cluster']], ['*', `${E}:cluster/c`]);
    assert.equal((await ecsResources('ListClusters', {}, scope))[0]!.resource, '*');
  });

  it("ECS: RunTask and StartTask pass the task's roles to ecs-tasks.amazonaws.com (iam:PassRole)", async () => {
    const R = (n: string) => `arn:aws:iam::123456789012:role/${n}`;
    const store: StoreReader = {
      ...empty,
      get: <T>() => Promise.resolve({ status: 'ACTIVE', doc: { taskDefinition: { taskRoleArn: R('app'), executionRoleArn: R('exec') } } } as unknown as never as T),
    };
    const checks = await ecsResources('RunTask', { cluster: 'c', taskDefinition: 'web:3' }, { ...scope, store });
    assert.deepEqual(
      checks.map((c) => [c.action, c.resource, c.context?.['iam:PassedToService']]),
      [
        ['ecs:RunTask', `${E}:task-definition/web:3`, undefined],
        ['iam:PassRole', R('app'), 'ecs-tasks.amazonaws.com'],
        ['iam:PassRole', R('exec'), 'ecs-tasks.amazonaws.com'],
      ],
    );
    const overridden = await ecsResources('StartTask', { taskDefinition: 'web:3', overrides: { taskRoleArn: R('other') } }, { ...scope, store });
    assert.deepEqual(overridden.slice(1).map((c) => c.resource), [R('other'), R('exec')]);
    // A definition without roles passes none.
    assert.equal((await ecsResources('RunTask', { taskDefinition: 'web:3' }, scope)).length, 1);
  });

  it('ECS: aws:ResourceTag from the stored resource', async () => {
    const store: StoreReader = { ...empty, get: <T>() => Promise.resolve({ doc: { tags: [{ key: 'team', value: 'red' }] } } as unknown as never as T) };
    const c = (await ecsResources('DescribeClusters', { clusters: ['a'] }, { ...scope, store }))[0]!;
    assert.equal(c.context?.['aws:ResourceTag/team'], 'red');
  });

  it('ECR, ELBv2, SSM, IAM, STS', async () => {
    assert.equal((await ecrResources('PutImage', { repositoryName: 'app' }, scope))[0]!.resource, 'arn:aws:ecr:eu-west-1:123456789012:repository/app');
    assert.equal((await ecrResources('GetAuthorizationToken', {}, scope))[0]!.resource, '*');
    const lb = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1';
    assert.deepEqual((await elbv2Resources('DeleteLoadBalancer', { LoadBalancerArn: lb }, scope)).map((c) => [c.action, c.resource]), [['elasticloadbalancing:DeleteLoadBalancer', lb]]);
    assert.equal((await ssmResources('GetParameter', { Name: '/app/db' }, scope))[0]!.resource, 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/db');
    assert.equal((await iamResources('CreateUser', { UserName: 'ana' }, scope))[0]!.resource, 'arn:aws:iam::123456789012:user/ana');
    assert.equal((await iamResources('ListUsers', {}, scope))[0]!.resource, '*');
    assert.deepEqual(await stsResources('GetCallerIdentity', {}, scope), []);
    assert.equal((await stsResources('AssumeRole', { RoleArn: 'arn:aws:iam::123456789012:role/r' }, scope))[0]!.resource, 'arn:aws:iam::123456789012:role/r');
  });

  it('request tags become aws:RequestTag/* and aws:TagKeys', () => {
    assert.deepEqual(requestTagContext([{ Key: 'a', Value: '1' }, { key: 'b', value: '2' }]), { 'aws:RequestTag/a': '1', 'aws:RequestTag/b': '2', 'aws:TagKeys': ['a', 'b'] });
  });

  it('/v2/ requests map to ECR actions', () => {
    assert.equal(registryAction('PUT', '/v2/app/manifests/latest'), 'ecr:PutImage');
    assert.equal(registryAction('GET', '/v2/app/manifests/latest'), 'ecr:BatchGetImage');
    assert.equal(registryAction('HEAD', '/v2/app/blobs/sha256:ab'), 'ecr:BatchCheckLayerAvailability');
    assert.equal(registryAction('GET', '/v2/app/blobs/sha256:ab'), 'ecr:GetDownloadUrlForLayer');
    assert.equal(registryAction('POST', '/v2/app/blobs/uploads/'), 'ecr:InitiateLayerUpload');
    assert.equal(registryAction('PATCH', '/v2/app/blobs/uploads/u1'), 'ecr:UploadLayerPart');
    assert.equal(registryAction('PUT', '/v2/app/blobs/uploads/u1'), 'ecr:CompleteLayerUpload');
    assert.equal(registryAction('GET', '/v2/'), undefined);
  });
});

// IAM, STS and authorization end to end: the AWS SDKs, the AWS CLI and raw /v2/ against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeletePolicyVersionCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListGroupsForUserCommand,
  ListPolicyVersionsCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SetDefaultPolicyVersionCommand,
  TagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateClusterCommand, DescribeClustersCommand, ListClustersCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { CreateRepositoryCommand, DeleteRepositoryPolicyCommand, GetAuthorizationTokenCommand, GetRepositoryPolicyCommand, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import { CreateSecretCommand, GetSecretValueCommand, PutResourcePolicyCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { ecsClient, startTestServer, TEST_CREDENTIALS } from './helpers.js';
import { ecrClient } from './registry-helpers.js';

const run = promisify(execFile);
type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const ACCOUNT = '000000000000';
const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('IAM, STS and authorization', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let iam: IAMClient;
  const clients: { destroy(): void }[] = [];
  const iamAs = (c: Creds) => {
    const x = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: c, maxAttempts: 1 });
    clients.push(x);
    return x;
  };
  const stsAs = (c: Creds) => {
    const x = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: c, maxAttempts: 1 });
    clients.push(x);
    return x;
  };
  const ecsAs = (c: Creds): ECSClient => {
    const x = ecsClient(server.url, c as typeof TEST_CREDENTIALS);
    clients.push(x);
    return x;
  };
  /** A new user with an access key and the given inline policy. */
  async function userWith(name: string, policy?: string): Promise<Creds> {
    await iam.send(new CreateUserCommand({ UserName: name }));
    if (policy) await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'inline', PolicyDocument: policy }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  }

  before(async () => {
    server = await startTestServer();
    iam = iamAs(TEST_CREDENTIALS);
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'alpha' }));
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'beta', tags: [{ key: 'team', value: 'blue' }] }));
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'gamma', tags: [{ key: 'team', value: 'red' }] }));
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server.stop();
  });

  it('manages users, groups, keys and policies with IAM errors and messages', async () => {
    const created = await iam.send(new CreateUserCommand({ UserName: 'ana', Path: '/dev/', Tags: [{ Key: 'team', Value: 'blue' }] }));
    assert.equal(created.User!.Arn, `arn:aws:iam::${ACCOUNT}:user/dev/ana`);
    assert.match(created.User!.UserId!, /^AIDA[A-Z2-7]{16}$/);
    await assert.rejects(iam.send(new CreateUserCommand({ UserName: 'ana' })), { name: 'EntityAlreadyExistsException', message: 'User with name ana already exists.' });
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'nobody' })), { name: 'NoSuchEntityException', message: 'The user with name nobody cannot be found.' });
    assert.deepEqual((await iam.send(new ListUserTagsCommand({ UserName: 'ana' }))).Tags, [{ Key: 'team', Value: 'blue' }]);
    await iam.send(new TagUserCommand({ UserName: 'ana', Tags: [{ Key: 'env', Value: 'dev' }] }));
    assert.equal((await iam.send(new ListUserTagsCommand({ UserName: 'ana' }))).Tags!.length, 2);
    assert.ok((await iam.send(new ListUsersCommand({}))).Users!.some((u) => u.UserName === 'ana'));

    const k1 = (await iam.send(new CreateAccessKeyCommand({ UserName: 'ana' }))).AccessKey!;
    assert.match(k1.AccessKeyId!, /^AKIA/);
    assert.equal(k1.SecretAccessKey!.length, 40);
    for (const f of readdirSync(server.dataDir)) {
      if (f.startsWith('berth.db')) assert.ok(!readFileSync(join(server.dataDir, f)).includes(k1.SecretAccessKey!), `${f} holds a secret access key in clear`);
    }
    await iam.send(new CreateAccessKeyCommand({ UserName: 'ana' }));
    await assert.rejects(iam.send(new CreateAccessKeyCommand({ UserName: 'ana' })), { name: 'LimitExceededException', message: 'Cannot exceed quota for AccessKeysPerUser: 2' });
    await assert.rejects(iam.send(new DeleteUserCommand({ UserName: 'ana' })), { name: 'DeleteConflictException', message: 'Cannot delete entity, must delete access keys first.' });

    // A user's own key answers GetUser without a name; an Inactive key is refused.
    const own = iamAs({ accessKeyId: k1.AccessKeyId!, secretAccessKey: k1.SecretAccessKey! });
    await iam.send(new PutUserPolicyCommand({ UserName: 'ana', PolicyName: 'self', PolicyDocument: doc([{ Effect: 'Allow', Action: 'iam:GetUser', Resource: '*' }]) }));
    assert.equal((await own.send(new GetUserCommand({}))).User!.Arn, `arn:aws:iam::${ACCOUNT}:user/dev/ana`);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'ana', AccessKeyId: k1.AccessKeyId!, Status: 'Inactive' }));
    await assert.rejects(own.send(new GetUserCommand({})), { name: 'InvalidClientTokenId' });
    const policy = decodeURIComponent((await iam.send(new GetUserPolicyCommand({ UserName: 'ana', PolicyName: 'self' }))).PolicyDocument!);
    assert.equal(JSON.parse(policy).Statement[0].Action, 'iam:GetUser');
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'ana', PolicyName: 'self' }));

    await assert.rejects(iam.send(new PutUserPolicyCommand({ UserName: 'ana', PolicyName: 'bad', PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}' })), {
      name: 'MalformedPolicyDocumentException',
    });

    await iam.send(new CreateGroupCommand({ GroupName: 'devs' }));
    await iam.send(new AddUserToGroupCommand({ GroupName: 'devs', UserName: 'ana' }));
    assert.deepEqual((await iam.send(new ListGroupsForUserCommand({ UserName: 'ana' }))).Groups!.map((g) => g.GroupName), ['devs']);

    const p = (await iam.send(new CreatePolicyCommand({ PolicyName: 'read', PolicyDocument: doc([{ Effect: 'Allow', Action: 'ecs:Describe*', Resource: '*' }]) }))).Policy!;
    assert.equal(p.Arn, `arn:aws:iam::${ACCOUNT}:policy/read`);
    for (let i = 2; i <= 5; i++) await iam.send(new CreatePolicyVersionCommand({ PolicyArn: p.Arn, PolicyDocument: doc([{ Effect: 'Allow', Action: `ecs:List${i}`, Resource: '*' }]) }));
    await assert.rejects(iam.send(new CreatePolicyVersionCommand({ PolicyArn: p.Arn, PolicyDocument: doc([{ Effect: 'Allow', Action: 'ecs:X', Resource: '*' }]) })), {
      name: 'LimitExceededException',
      message: 'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
    });
    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: p.Arn, VersionId: 'v3' }));
    await assert.rejects(iam.send(new DeletePolicyVersionCommand({ PolicyArn: p.Arn, VersionId: 'v3' })), { name: 'DeleteConflictException' });
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: p.Arn, VersionId: 'v1' }));
    assert.deepEqual((await iam.send(new ListPolicyVersionsCommand({ PolicyArn: p.Arn }))).Versions!.map((v) => [v.VersionId, v.IsDefaultVersion]), [
      ['v5', false],
      ['v4', false],
      ['v3', true],
      ['v2', false],
    ]);
    assert.match(decodeURIComponent((await iam.send(new GetPolicyVersionCommand({ PolicyArn: p.Arn, VersionId: 'v3' }))).PolicyVersion!.Document!), /ecs:List3/);
    await iam.send(new AttachUserPolicyCommand({ UserName: 'ana', PolicyArn: p.Arn }));
    assert.deepEqual((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'ana' }))).AttachedPolicies, [{ PolicyName: 'read', PolicyArn: p.Arn }]);
    assert.deepEqual((await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: p.Arn }))).PolicyUsers!.map((u) => u.UserName), ['ana']);

    // Tear down in IAM's order.
    for (const k of (await iam.send(new ListAccessKeysCommand({ UserName: 'ana' }))).AccessKeyMetadata!) {
      await iam.send(new DeleteAccessKeyCommand({ UserName: 'ana', AccessKeyId: k.AccessKeyId! }));
    }
    await assert.rejects(iam.send(new DeleteUserCommand({ UserName: 'ana' })), { name: 'DeleteConflictException', message: 'Cannot delete entity, must detach all policies first.' });
    await iam.send(new DetachUserPolicyCommand({ UserName: 'ana', PolicyArn: p.Arn }));
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'devs', UserName: 'ana' }));
    await iam.send(new DeleteUserCommand({ UserName: 'ana' }));
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'ana' })), { name: 'NoSuchEntityException' });
  });

  it('lets a user do only what its policy allows, with AWS denial messages', async () => {
    const creds = await userWith('viewer', doc([{ Effect: 'Allow', Action: 'ecs:DescribeClusters', Resource: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/alpha` }]));
    const ecs = ecsAs(creds);
    const described = await ecs.send(new DescribeClustersCommand({ clusters: ['alpha'] }));
    assert.equal(described.clusters![0]!.clusterName, 'alpha');
    await assert.rejects(ecs.send(new DescribeClustersCommand({ clusters: ['beta'] })), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/viewer is not authorized to perform: ecs:DescribeClusters on resource: arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/beta because no identity-based policy allows the ecs:DescribeClusters action`,
    });
    await assert.rejects(ecs.send(new ListClustersCommand({})), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/viewer is not authorized to perform: ecs:ListClusters on resource: * because no identity-based policy allows the ecs:ListClusters action`,
    });
    await assert.rejects(ecs.send(new CreateClusterCommand({ clusterName: 'mine' })), { name: 'AccessDeniedException' });
    // Query protocols answer AccessDenied with the same sentence.
    await assert.rejects(iamAs(creds).send(new ListUsersCommand({})), {
      name: 'AccessDenied',
      message: `User: arn:aws:iam::${ACCOUNT}:user/viewer is not authorized to perform: iam:ListUsers on resource: * because no identity-based policy allows the iam:ListUsers action`,
    });
    // Everyone may ask who they are.
    assert.equal((await stsAs(creds).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${ACCOUNT}:user/viewer`);
  });

  it('authorizes CloudWatch Logs, CloudWatch and Application Auto Scaling too', async () => {
    const creds = await userWith('logreader', doc([{ Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: '*' }]));
    const opts = { endpoint: server.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 };
    const logs = new CloudWatchLogsClient(opts);
    const cw = new CloudWatchClient(opts);
    const aas = new ApplicationAutoScalingClient(opts);
    clients.push(logs, cw, aas);
    assert.ok(Array.isArray((await logs.send(new DescribeLogGroupsCommand({}))).logGroups));
    await assert.rejects(logs.send(new CreateLogGroupCommand({ logGroupName: 'app' })), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/logreader is not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:${ACCOUNT}:log-group:app because no identity-based policy allows the logs:CreateLogGroup action`,
    });
    await assert.rejects(cw.send(new ListMetricsCommand({})), (err: Error) => {
      assert.match(err.message, /is not authorized to perform: cloudwatch:ListMetrics on resource: \*/);
      return true;
    });
    await assert.rejects(aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' })), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/logreader is not authorized to perform: application-autoscaling:DescribeScalableTargets on resource: * because no identity-based policy allows the application-autoscaling:DescribeScalableTargets action`,
    });
  });

  it('lets an explicit deny override an allow, from a group policy too', async () => {
    const creds = await userWith('denied', doc([{ Effect: 'Allow', Action: 'ecs:*', Resource: '*' }]));
    const ecs = ecsAs(creds);
    assert.ok((await ecs.send(new ListClustersCommand({}))).clusterArns!.length >= 3);
    await iam.send(new CreateGroupCommand({ GroupName: 'no-list' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'denied', PolicyName: 'inline', PolicyDocument: doc([{ Effect: 'Allow', Action: 'ecs:*', Resource: '*' }]) }));
    await iam.send(
      new CreatePolicyCommand({ PolicyName: 'deny-list', PolicyDocument: doc([{ Sid: 'NoList', Effect: 'Deny', Action: 'ecs:ListClusters', Resource: '*' }]) }),
    );
    await iam.send(new AddUserToGroupCommand({ GroupName: 'no-list', UserName: 'denied' }));
    await iam.send(new (await import('@aws-sdk/client-iam')).AttachGroupPolicyCommand({ GroupName: 'no-list', PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/deny-list` }));
    await assert.rejects(ecs.send(new ListClustersCommand({})), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/denied is not authorized to perform: ecs:ListClusters on resource: * with an explicit deny in an identity-based policy`,
    });
    assert.equal((await ecs.send(new DescribeClustersCommand({ clusters: ['alpha'] }))).clusters!.length, 1);
  });

  it('evaluates aws:ResourceTag conditions on ECS clusters', async () => {
    const creds = await userWith(
      'blue',
      doc([{ Effect: 'Allow', Action: 'ecs:DescribeClusters', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/team': 'blue' } } }]),
    );
    const ecs = ecsAs(creds);
    assert.equal((await ecs.send(new DescribeClustersCommand({ clusters: ['beta'] }))).clusters![0]!.clusterName, 'beta');
    await assert.rejects(ecs.send(new DescribeClustersCommand({ clusters: ['gamma'] })), { name: 'AccessDeniedException', message: /cluster\/gamma because no identity-based policy allows/ });
    await assert.rejects(ecs.send(new DescribeClustersCommand({ clusters: ['alpha'] })), { name: 'AccessDeniedException' });

    // aws:SourceIp is the caller's address: loopback here.
    const local = await userWith('local', doc([{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }]));
    assert.ok((await ecsAs(local).send(new ListClustersCommand({}))).clusterArns!.length >= 3);
    const remote = await userWith('remote', doc([{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }]));
    await assert.rejects(ecsAs(remote).send(new ListClustersCommand({})), { name: 'AccessDeniedException' });
  });

  it('assumes a role whose trust policy allows it, and refuses session credentials once expired', async () => {
    const caller = await userWith('deployer', doc([{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${ACCOUNT}:role/ecs-reader` }]));
    const trust = doc([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }]);
    await iam.send(new CreateRoleCommand({ RoleName: 'ecs-reader', AssumeRolePolicyDocument: trust, MaxSessionDuration: 7200 }));
    assert.equal(JSON.parse(decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: 'ecs-reader' }))).Role!.AssumeRolePolicyDocument!)).Statement[0].Action, 'sts:AssumeRole');
    await iam.send(new (await import('@aws-sdk/client-iam')).PutRolePolicyCommand({ RoleName: 'ecs-reader', PolicyName: 'read', PolicyDocument: doc([{ Effect: 'Allow', Action: ['ecs:ListClusters', 'ecs:DescribeClusters'], Resource: '*' }]) }));

    const sts = stsAs(caller);
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ecs-reader`, RoleSessionName: 'ci', DurationSeconds: 7201 })), {
      name: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    });
    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/ecs-reader`,
        RoleSessionName: 'ci',
        DurationSeconds: 900,
        Policy: doc([{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*' }]),
      }),
    );
    assert.match(assumed.Credentials!.AccessKeyId!, /^ASIA/);
    assert.equal(assumed.AssumedRoleUser!.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/ecs-reader/ci`);
    const session: Creds = { accessKeyId: assumed.Credentials!.AccessKeyId!, secretAccessKey: assumed.Credentials!.SecretAccessKey!, sessionToken: assumed.Credentials!.SessionToken! };
    assert.equal((await stsAs(session).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/ecs-reader/ci`);
    const ecs = ecsAs(session);
    assert.ok((await ecs.send(new ListClustersCommand({}))).clusterArns!.length >= 3);
    // The session policy intersects with the role's: DescribeClusters is the role's, not the session's.
    await assert.rejects(ecs.send(new DescribeClustersCommand({ clusters: ['alpha'] })), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/ecs-reader/ci is not authorized to perform: ecs:DescribeClusters on resource: arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/alpha because no identity-based policy allows the ecs:DescribeClusters action`,
    });
    // Without its token, the session key is not accepted.
    await assert.rejects(ecsAs({ accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey }).send(new ListClustersCommand({})), { name: 'UnrecognizedClientException' });

    // A user not allowed sts:AssumeRole by the trust policy's account delegation is refused.
    const other = await userWith('outsider');
    await assert.rejects(stsAs(other).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/ecs-reader`, RoleSessionName: 'x' })), {
      name: 'AccessDenied',
      message: `User: arn:aws:iam::${ACCOUNT}:user/outsider is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/ecs-reader because no identity-based policy allows the sts:AssumeRole action`,
    });

    // The session's expiry passes (moved into the past in the store, as 15 minutes would).
    await server.store.transaction(async (tx) => {
      const row = await tx.get<{ expiration: number }>('stsSession', session.accessKeyId);
      assert.ok(row);
      await tx.update('stsSession', { ...row, doc: { ...row.doc, expiration: Date.now() - 1000 } });
    });
    await assert.rejects(ecs.send(new ListClustersCommand({})), { name: 'ExpiredTokenException', message: 'The security token included in the request is expired' });
    await assert.rejects(stsAs(session).send(new GetCallerIdentityCommand({})), { name: 'ExpiredToken', message: 'The security token included in the request is expired' });

    // GetSessionToken: the user's own permissions, as the user.
    const st = await stsAs(caller).send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    const userSession = { accessKeyId: st.Credentials!.AccessKeyId!, secretAccessKey: st.Credentials!.SecretAccessKey!, sessionToken: st.Credentials!.SessionToken! };
    assert.equal((await stsAs(userSession).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${ACCOUNT}:user/deployer`);
  });

  it('refuses a /v2/ push by a user without ecr:PutImage with DENIED, and lets it pull', async () => {
    await ecrClient(server.url).send(new CreateRepositoryCommand({ repositoryName: 'app' }));
    const creds = await userWith(
      'puller',
      doc([
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload'], Resource: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app` },
      ]),
    );
    const ecr = ecrClient(server.url, creds as typeof TEST_CREDENTIALS);
    clients.push(ecr);
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    const auth = { authorization: `Basic ${token}` };
    const base = await fetch(`${server.url}/v2/`, { headers: auth });
    assert.equal(base.status, 200);
    const missing = await fetch(`${server.url}/v2/app/manifests/latest`, { headers: auth });
    assert.equal(missing.status, 404, 'a pull is allowed (the image is just not there)');
    const put = await fetch(`${server.url}/v2/app/manifests/latest`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }),
    });
    assert.equal(put.status, 403);
    const body = (await put.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    assert.equal(
      body.errors[0]!.message,
      `User: arn:aws:iam::${ACCOUNT}:user/puller is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app because no identity-based policy allows the ecr:PutImage action`,
    );
    const other = await fetch(`${server.url}/v2/other/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(other.status, 403);

    // A repository policy naming the user grants it PutImage on that repository.
    const admin = ecrClient(server.url);
    clients.push(admin);
    await assert.rejects(admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'app' })), { name: 'RepositoryPolicyNotFoundException' });
    const policyText = doc([{ Sid: 'push', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/puller` }, Action: 'ecr:PutImage' }]);
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'app', policyText }));
    assert.equal((await admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'app' }))).policyText, policyText);
    const again = await fetch(`${server.url}/v2/app/manifests/latest`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }),
    });
    assert.notEqual(again.status, 403, 'the repository policy allows the push (the manifest itself may still be refused)');
    await admin.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'app' }));
  });

  it('grants through a secret\'s resource policy naming the user, and an explicit deny there wins', async () => {
    const sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    clients.push(sm);
    const secret = await sm.send(new CreateSecretCommand({ Name: 'shared', SecretString: 'v1' }));
    const creds = await userWith('reader');
    const as = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    clients.push(as);
    await assert.rejects(as.send(new GetSecretValueCommand({ SecretId: 'shared' })), {
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/reader is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secret.ARN} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    });
    const grant = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/reader` }, Action: 'secretsmanager:GetSecretValue', Resource: '*' };
    await sm.send(new PutResourcePolicyCommand({ SecretId: 'shared', ResourcePolicy: doc([grant]) }));
    assert.equal((await as.send(new GetSecretValueCommand({ SecretId: 'shared' }))).SecretString, 'v1');
    await sm.send(new PutResourcePolicyCommand({ SecretId: 'shared', ResourcePolicy: doc([grant, { ...grant, Effect: 'Deny' }]) }));
    await assert.rejects(as.send(new GetSecretValueCommand({ SecretId: 'shared' })), { name: 'AccessDeniedException', message: /with an explicit deny in a resource-based policy$/ });
  });

  it('is driven by the AWS CLI: a user and its keys, then calls as that user', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' };
    const aws = async (e: NodeJS.ProcessEnv, ...args: string[]) =>
      JSON.parse((await run('aws', [...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'], { env: e })).stdout || '{}') as Record<string, Record<string, string>>;
    assert.equal((await aws(env, 'sts', 'get-caller-identity')).Arn as unknown as string, `arn:aws:iam::${ACCOUNT}:root`);
    await aws(env, 'iam', 'create-user', '--user-name', 'cli-user');
    await aws(env, 'iam', 'put-user-policy', '--user-name', 'cli-user', '--policy-name', 'list', '--policy-document', doc([{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*' }]));
    const key = (await aws(env, 'iam', 'create-access-key', '--user-name', 'cli-user')).AccessKey!;
    const as = { ...process.env, AWS_ACCESS_KEY_ID: key.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.SecretAccessKey, AWS_PAGER: '' };
    assert.equal((await aws(as, 'sts', 'get-caller-identity')).Arn as unknown as string, `arn:aws:iam::${ACCOUNT}:user/cli-user`);
    assert.ok(Array.isArray((await aws(as, 'ecs', 'list-clusters')).clusterArns));
    const denied = await run('aws', ['ecs', 'describe-clusters', '--clusters', 'alpha', '--endpoint-url', server.url, '--region', 'us-east-1'], { env: as }).catch((e: { stderr: string }) => e);
    assert.match((denied as { stderr: string }).stderr, /AccessDeniedException.*user\/cli-user is not authorized to perform: ecs:DescribeClusters/);
  });
});

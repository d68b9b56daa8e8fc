// Secrets Manager end to end: the AWS SDK and CLI against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { startTestServer, TEST_CREDENTIALS } from './helpers.js';

const run = promisify(execFile);

describe('Secrets Manager', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let sm: SecretsManagerClient;

  before(async () => {
    server = await startTestServer();
    sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    sm.destroy();
    await server.stop();
  });

  it('creates a secret with an ARN ending in a random suffix and returns its value', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'prod/db', SecretString: '{"user":"app","password":"s3cr3t-db"}', Description: 'database' }));
    assert.match(created.ARN!, /^arn:aws:secretsmanager:us-east-1:000000000000:secret:prod\/db-[A-Za-z0-9]{6}$/);
    assert.ok(created.VersionId);
    for (const id of ['prod/db', created.ARN!, created.ARN!.slice(0, -7)]) {
      const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      assert.equal(got.SecretString, '{"user":"app","password":"s3cr3t-db"}');
      assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
      assert.equal(got.ARN, created.ARN);
      assert.ok(got.CreatedDate instanceof Date);
    }
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'prod/db', SecretString: 'x' })), {
      name: 'ResourceExistsException',
      message: 'The operation failed because the secret prod/db already exists.',
    });
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'nope' })), {
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('answers a retried CreateSecret (same token, same value) as the first call', async () => {
    const token = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
    const a = await sm.send(new CreateSecretCommand({ Name: 'retry', SecretString: 'v', ClientRequestToken: token }));
    const b = await sm.send(new CreateSecretCommand({ Name: 'retry', SecretString: 'v', ClientRequestToken: token }));
    assert.equal(a.ARN, b.ARN);
    assert.equal(b.VersionId, token);
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'retry', SecretString: 'other', ClientRequestToken: token })), { name: 'ResourceExistsException' });
  });

  it('keeps versions with AWSCURRENT and AWSPREVIOUS and reads any of them', async () => {
    const { ARN, VersionId: v1 } = await sm.send(new CreateSecretCommand({ Name: 'rotating', SecretString: 'one' }));
    const { VersionId: v2, VersionStages } = await sm.send(new PutSecretValueCommand({ SecretId: 'rotating', SecretString: 'two' }));
    assert.deepEqual(VersionStages, ['AWSCURRENT']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString, 'two');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: ARN, VersionStage: 'AWSPREVIOUS' }))).SecretString, 'one');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: ARN, VersionId: v1 }))).SecretString, 'one');
    const { VersionId: v3 } = await sm.send(new UpdateSecretCommand({ SecretId: 'rotating', SecretString: 'three' }));
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'rotating' }));
    assert.deepEqual(described.VersionIdsToStages, { [v2!]: ['AWSPREVIOUS'], [v3!]: ['AWSCURRENT'] });
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'rotating' }));
    assert.deepEqual(new Set(versions.Versions?.map((v) => v.VersionId)), new Set([v2, v3]));
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'rotating', IncludeDeprecated: true }));
    assert.equal(all.Versions?.length, 3);
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: ARN, VersionStage: 'NOPE' })), {
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: NOPE",
    });
    // Moving AWSCURRENT back to v1 needs the version it is on.
    await assert.rejects(sm.send(new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: v1 })), { name: 'InvalidParameterException' });
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: ARN, VersionStage: 'AWSCURRENT', MoveToVersionId: v1, RemoveFromVersionId: v3 }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString, 'one');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: ARN, VersionStage: 'AWSPREVIOUS' }))).SecretString, 'three');
  });

  it('stores binary secrets', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'bin', SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'bin' }));
    assert.deepEqual(Buffer.from(got.SecretBinary!), Buffer.from(bytes));
    assert.equal(got.SecretString, undefined);
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'both', SecretBinary: bytes, SecretString: 'x' })), { name: 'InvalidParameterException' });
  });

  it('schedules deletion, refuses access meanwhile, restores, and deletes at once when forced', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'bye' }));
    await assert.rejects(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 3 })), {
      name: 'InvalidParameterException',
      message: 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
    });
    await assert.rejects(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })), { name: 'InvalidParameterException' });
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7 }));
    const days = (deleted.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `deletion in ${days} days`);
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'doomed' })), {
      name: 'InvalidRequestException',
      message: "You can't perform this operation on the secret because it was marked for deletion.",
    });
    assert.ok((await sm.send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate instanceof Date);
    const listed = async (include: boolean) =>
      ((await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: include, Filters: [{ Key: 'name', Values: ['doomed'] }] }))).SecretList ?? []).length;
    assert.equal(await listed(false), 0);
    assert.equal(await listed(true), 1);
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'again' })), { name: 'InvalidRequestException' });
    await sm.send(new RestoreSecretCommand({ SecretId: 'doomed' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'doomed' }))).SecretString, 'bye');
    await sm.send(new DeleteSecretCommand({ SecretId: 'doomed', ForceDeleteWithoutRecovery: true }));
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: 'doomed' })), { name: 'ResourceNotFoundException' });
  });

  it('lists with filters and pages, never showing values', async () => {
    for (let i = 0; i < 5; i++) {
      await sm.send(new CreateSecretCommand({ Name: `list/item-${i}`, SecretString: `value-${i}`, Tags: [{ Key: 'team', Value: i % 2 ? 'red' : 'blue' }] }));
    }
    const names = async (filters: { Key: 'name' | 'tag-key' | 'tag-value' | 'all' | 'description'; Values: string[] }[]) => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await sm.send(new ListSecretsCommand({ Filters: filters, MaxResults: 2, ...(token ? { NextToken: token } : {}) }));
        assert.ok((page.SecretList ?? []).length <= 2);
        for (const s of page.SecretList ?? []) {
          assert.ok(!JSON.stringify(s).includes('value-'), 'ListSecrets shows no value');
          out.push(s.Name!);
        }
        token = page.NextToken;
      } while (token);
      return out;
    };
    assert.deepEqual(await names([{ Key: 'name', Values: ['list/'] }]), ['list/item-0', 'list/item-1', 'list/item-2', 'list/item-3', 'list/item-4']);
    assert.deepEqual(await names([{ Key: 'tag-value', Values: ['red'] }]), ['list/item-1', 'list/item-3']);
    assert.deepEqual(await names([{ Key: 'name', Values: ['list/'] }, { Key: 'tag-value', Values: ['!red'] }]), ['list/item-0', 'list/item-2', 'list/item-4']);
    await assert.rejects(sm.send(new ListSecretsCommand({ NextToken: 'garbage' })), { name: 'InvalidNextTokenException' });
  });

  it('fetches several secrets at once, reporting the missing ones', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'batch-a', SecretString: 'A' }));
    const out = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['batch-a', 'batch-missing'] }));
    assert.deepEqual(out.SecretValues?.map((v) => v.SecretString), ['A']);
    assert.deepEqual(out.Errors?.map((e) => [e.SecretId, e.ErrorCode]), [['batch-missing', 'ResourceNotFoundException']]);
  });

  it('tags secrets and keeps a validated resource policy', async () => {
    const { ARN } = await sm.send(new CreateSecretCommand({ Name: 'tagged', SecretString: 't' }));
    await sm.send(new TagResourceCommand({ SecretId: ARN, Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await sm.send(new UntagResourceCommand({ SecretId: ARN, TagKeys: ['a'] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: ARN }))).Tags, [{ Key: 'b', Value: '2' }]);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:role/app' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
    });
    await sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: policy }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy, policy);
    await assert.rejects(
      sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' }] }) })),
      { name: 'MalformedPolicyDocumentException', message: 'Missing required field Principal' },
    );
    await sm.send(new DeleteResourcePolicyCommand({ SecretId: ARN }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: ARN }))).ResourcePolicy, undefined);
  });

  it('keeps values encrypted at rest under a master key outside the database', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'at-rest', SecretString: 'plaintext-canary-7d1f' }));
    for (const f of readdirSync(server.dataDir)) {
      if (!f.startsWith('berth.db')) continue;
      assert.ok(!readFileSync(join(server.dataDir, f)).includes('plaintext-canary-7d1f'), `${f} holds the value in clear`);
    }
    assert.equal(statSync(join(server.dataDir, 'master-key.json')).mode & 0o777, 0o600);
  });

  it('is driven by the AWS CLI', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' };
    const aws = async (...args: string[]) =>
      JSON.parse((await run('aws', ['secretsmanager', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'], { env })).stdout) as Record<string, unknown>;
    const created = await aws('create-secret', '--name', 'cli/secret', '--secret-string', 'from-cli');
    assert.match(String(created.ARN), /:secret:cli\/secret-[A-Za-z0-9]{6}$/);
    assert.equal((await aws('get-secret-value', '--secret-id', 'cli/secret')).SecretString, 'from-cli');
    const missing = await run('aws', ['secretsmanager', 'get-secret-value', '--secret-id', 'cli/none', '--endpoint-url', server.url, '--region', 'us-east-1'], { env }).catch(
      (e: { stderr: string }) => e,
    );
    assert.match((missing as { stderr: string }).stderr, /ResourceNotFoundException.*Secrets Manager can't find the specified secret/);
  });
});

// Parameter Store end to end: the AWS SDK and CLI against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { startTestServer, TEST_CREDENTIALS } from './helpers.js';

const run = promisify(execFile);

describe('Parameter Store', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let ssm: SSMClient;

  before(async () => {
    server = await startTestServer();
    ssm = new SSMClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    ssm.destroy();
    await server.stop();
  });

  it('puts and gets String, StringList and SecureString parameters', async () => {
    assert.deepEqual(await ssm.send(new PutParameterCommand({ Name: '/app/url', Value: 'http://db', Type: 'String' })).then((r) => [r.Version, r.Tier]), [1, 'Standard']);
    await ssm.send(new PutParameterCommand({ Name: '/app/hosts', Value: 'a,b,c', Type: 'StringList' }));
    await ssm.send(new PutParameterCommand({ Name: '/app/password', Value: 'hunter2-canary', Type: 'SecureString' }));
    const url = (await ssm.send(new GetParameterCommand({ Name: '/app/url' }))).Parameter!;
    assert.equal(url.Value, 'http://db');
    assert.equal(url.Type, 'String');
    assert.equal(url.ARN, 'arn:aws:ssm:us-east-1:000000000000:parameter/app/url');
    assert.equal(url.Version, 1);
    assert.equal(url.DataType, 'text');
    assert.equal((await ssm.send(new GetParameterCommand({ Name: '/app/hosts' }))).Parameter!.Value, 'a,b,c');
    const hidden = (await ssm.send(new GetParameterCommand({ Name: '/app/password' }))).Parameter!;
    assert.notEqual(hidden.Value, 'hunter2-canary');
    assert.equal((await ssm.send(new GetParameterCommand({ Name: '/app/password', WithDecryption: true }))).Parameter!.Value, 'hunter2-canary');
    assert.equal((await ssm.send(new GetParameterCommand({ Name: url.ARN!, WithDecryption: true }))).Parameter!.Value, 'http://db');
    await assert.rejects(ssm.send(new GetParameterCommand({ Name: '/app/none' })), { name: 'ParameterNotFound' });
    for (const f of readdirSync(server.dataDir)) {
      if (f.startsWith('berth.db')) assert.ok(!readFileSync(join(server.dataDir, f)).includes('hunter2-canary'), `${f} holds a SecureString in clear`);
    }
  });

  it('refuses to overwrite without Overwrite, keeps history, versions and labels', async () => {
    await ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'v1', Type: 'String', Description: 'first' }));
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'v2' })), {
      name: 'ParameterAlreadyExists',
      message: 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
    });
    assert.equal((await ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'v2', Overwrite: true }))).Version, 2);
    assert.equal((await ssm.send(new PutParameterCommand({ Name: 'plain', Value: 'v3', Overwrite: true }))).Version, 3);
    assert.equal((await ssm.send(new GetParameterCommand({ Name: 'plain:1' }))).Parameter!.Value, 'v1');
    const labelled = await ssm.send(new LabelParameterVersionCommand({ Name: 'plain', ParameterVersion: 2, Labels: ['stable', 'aws-bad', '1x'] }));
    assert.deepEqual(labelled.InvalidLabels, ['aws-bad', '1x']);
    assert.equal((await ssm.send(new GetParameterCommand({ Name: 'plain:stable' }))).Parameter!.Value, 'v2');
    await ssm.send(new LabelParameterVersionCommand({ Name: 'plain', Labels: ['stable'] }));
    assert.equal((await ssm.send(new GetParameterCommand({ Name: 'plain:stable' }))).Parameter!.Value, 'v3', 'the label moved to the newest version');
    await assert.rejects(ssm.send(new GetParameterCommand({ Name: 'plain:9' })), { name: 'ParameterVersionNotFound' });
    const history = (await ssm.send(new GetParameterHistoryCommand({ Name: 'plain' }))).Parameters!;
    assert.deepEqual(history.map((h) => [h.Version, h.Value, h.Labels]), [[1, 'v1', []], [2, 'v2', []], [3, 'v3', ['stable']]]);
    assert.equal(history[2]!.Description, 'first');
  });

  it('checks names, hierarchies, tiers and allowed patterns as Parameter Store does', async () => {
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/aws/x', Value: 'v' })), { name: 'ValidationException' });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: 'a/b', Value: 'v' })), { name: 'ValidationException', message: 'Parameter name must be a fully qualified name.' });
    const deep = '/' + Array.from({ length: 16 }, (_, i) => `l${i}`).join('/');
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: deep, Value: 'v' })), { name: 'HierarchyLevelLimitExceededException' });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/big', Value: 'x'.repeat(4097) })), { name: 'ValidationException', message: /Standard tier parameters support a maximum parameter value of 4096 characters/ });
    assert.equal((await ssm.send(new PutParameterCommand({ Name: '/big', Value: 'x'.repeat(4097), Tier: 'Advanced' }))).Tier, 'Advanced');
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/big', Value: 'x', Tier: 'Standard', Overwrite: true })), { name: 'ValidationException', message: /can't downgrade/ });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/huge', Value: 'x'.repeat(8193), Tier: 'Advanced' })), { name: 'ValidationException' });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/num', Value: 'abc', AllowedPattern: '^\\d+$' })), {
      name: 'ParameterPatternMismatchException',
      message: 'Parameter value, cannot be validated against allowedPattern: ^\\d+$',
    });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/t', Value: 'v', Tags: [{ Key: 'a', Value: 'b' }], Overwrite: true })), { name: 'ValidationException', message: /tags and overwrite can't be used together/ });
    await assert.rejects(ssm.send(new PutParameterCommand({ Name: '/x', Value: 'v', Type: 'Bogus' as 'String' })), { name: 'ValidationException' });
  });

  it('reads by path, recursively or one level, in pages, decrypting only when asked', async () => {
    for (const n of ['/svc/a', '/svc/b', '/svc/c', '/svc/deep/d', '/svc/deep/er/e']) await ssm.send(new PutParameterCommand({ Name: n, Value: `val${n}`, Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: '/svc/secret', Value: 'classified', Type: 'SecureString' }));
    const names = async (recursive: boolean, decrypt = false) => {
      const out: [string, string][] = [];
      let token: string | undefined;
      do {
        const page = await ssm.send(new GetParametersByPathCommand({ Path: '/svc', Recursive: recursive, MaxResults: 2, WithDecryption: decrypt, ...(token ? { NextToken: token } : {}) }));
        assert.ok(page.Parameters!.length <= 2);
        out.push(...page.Parameters!.map((p) => [p.Name!, p.Value!] as [string, string]));
        token = page.NextToken;
      } while (token);
      return out;
    };
    assert.deepEqual((await names(false)).map((p) => p[0]), ['/svc/a', '/svc/b', '/svc/c', '/svc/secret']);
    const all = await names(true, true);
    assert.deepEqual(all.map((p) => p[0]), ['/svc/a', '/svc/b', '/svc/c', '/svc/deep/d', '/svc/deep/er/e', '/svc/secret']);
    assert.equal(all.find((p) => p[0] === '/svc/secret')![1], 'classified');
    assert.notEqual((await names(false)).find((p) => p[0] === '/svc/secret')![1], 'classified');
    const typed = await ssm.send(new GetParametersByPathCommand({ Path: '/svc', Recursive: true, ParameterFilters: [{ Key: 'Type', Values: ['SecureString'] }] }));
    assert.deepEqual(typed.Parameters!.map((p) => p.Name), ['/svc/secret']);
    await assert.rejects(ssm.send(new GetParametersByPathCommand({ Path: '/svc', ParameterFilters: [{ Key: 'Name', Values: ['x'] }] })), { name: 'InvalidFilterKey' });
  });

  it('gets and deletes several at once, listing the invalid names', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/multi/one', Value: '1' }));
    await ssm.send(new PutParameterCommand({ Name: '/multi/two', Value: '2' }));
    const got = await ssm.send(new GetParametersCommand({ Names: ['/multi/one', '/multi/two', '/multi/none'] }));
    assert.deepEqual(got.Parameters!.map((p) => p.Value), ['1', '2']);
    assert.deepEqual(got.InvalidParameters, ['/multi/none']);
    const del = await ssm.send(new DeleteParametersCommand({ Names: ['/multi/one', '/multi/none'] }));
    assert.deepEqual([del.DeletedParameters, del.InvalidParameters], [['/multi/one'], ['/multi/none']]);
    await ssm.send(new DeleteParameterCommand({ Name: '/multi/two' }));
    await assert.rejects(ssm.send(new DeleteParameterCommand({ Name: '/multi/two' })), { name: 'ParameterNotFound' });
  });

  it('describes parameters with filters and tags them', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/desc/a', Value: 'a', Type: 'SecureString', Tags: [{ Key: 'team', Value: 'red' }] }));
    await ssm.send(new PutParameterCommand({ Name: '/desc/b', Value: 'b', Type: 'String' }));
    const d = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/desc'] }] }));
    assert.deepEqual(d.Parameters!.map((p) => [p.Name, p.Type, p.KeyId]), [['/desc/a', 'SecureString', 'alias/aws/ssm'], ['/desc/b', 'String', undefined]]);
    assert.ok(!JSON.stringify(d).includes('"Value"'), 'DescribeParameters shows no value');
    const tagged = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'tag:team', Values: ['red'] }] }));
    assert.deepEqual(tagged.Parameters!.map((p) => p.Name), ['/desc/a']);
    await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: '/desc/b', Tags: [{ Key: 'env', Value: 'prod' }] }));
    assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/desc/b' }))).TagList, [{ Key: 'env', Value: 'prod' }]);
    await ssm.send(new RemoveTagsFromResourceCommand({ ResourceType: 'Parameter', ResourceId: '/desc/b', TagKeys: ['env'] }));
    assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/desc/b' }))).TagList, []);
    await assert.rejects(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/desc/none' })), { name: 'InvalidResourceId' });
  });

  it('is driven by the AWS CLI', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' };
    const aws = async (...args: string[]) =>
      JSON.parse((await run('aws', ['ssm', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'], { env })).stdout) as Record<string, any>;
    assert.equal((await aws('put-parameter', '--name', '/cli/token', '--value', 'cli-secret', '--type', 'SecureString')).Version, 1);
    assert.equal((await aws('get-parameter', '--name', '/cli/token', '--with-decryption')).Parameter.Value, 'cli-secret');
    // The CLI follows NextToken itself.
    for (let i = 0; i < 12; i++) await ssm.send(new PutParameterCommand({ Name: `/cli/many/p${String(i).padStart(2, '0')}`, Value: `${i}` }));
    assert.equal((await aws('get-parameters-by-path', '--path', '/cli/many')).Parameters.length, 12);
  });
});

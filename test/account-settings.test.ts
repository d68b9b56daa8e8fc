// Account settings end to end: a Berth server with its SQLite store, the AWS
// SDK and the AWS CLI as the user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CreateClusterCommand,
  DeleteAccountSettingCommand,
  DescribeClustersCommand,
  ListAccountSettingsCommand,
  PutAccountSettingCommand,
  PutAccountSettingDefaultCommand,
  paginateListAccountSettings,
  type Setting,
} from '@aws-sdk/client-ecs';
import { startTestServer, TEST_CREDENTIALS } from './helpers.js';

const run = promisify(execFile);
const ROOT = 'arn:aws:iam::000000000000:root';
const ROLE = 'arn:aws:iam::000000000000:role/deployer';

describe('account settings', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  const effective = async (principalArn?: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for await (const page of paginateListAccountSettings({ client: server.ecs }, { effectiveSettings: true, ...(principalArn ? { principalArn } : {}) })) {
      for (const s of page.settings ?? []) out[s.name!] = s.value!;
    }
    return out;
  };

  it("lists ECS's defaults as the effective settings of an account that set nothing, ten to a page", async () => {
    const first = await server.ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true }));
    assert.equal(first.settings?.length, 10);
    assert.ok(first.nextToken);
    assert.deepEqual(await effective(), {
      awsvpcTrunking: 'disabled',
      containerInsights: 'disabled',
      containerInstanceLongArnFormat: 'enabled',
      defaultLogDriverMode: 'non-blocking',
      fargateEventWindows: 'disabled',
      fargateFIPSMode: 'disabled',
      fargateTaskRetirementWaitPeriod: '7',
      guardDutyActivate: 'off',
      serviceLongArnFormat: 'enabled',
      tagResourceAuthorization: 'on',
      taskLongArnFormat: 'enabled',
    });
    const guardDuty = first.settings?.find((s) => s.name === 'guardDutyActivate') ?? (await server.ecs.send(new ListAccountSettingsCommand({ effectiveSettings: true, name: 'guardDutyActivate' }))).settings![0];
    assert.equal(guardDuty?.type, 'aws_managed');
    assert.deepEqual((await server.ecs.send(new ListAccountSettingsCommand({}))).settings, [], 'nothing set explicitly');
  });

  it('stores settings per principal: a principal’s own, else the account default, else ECS’s', async () => {
    const put = await server.ecs.send(new PutAccountSettingDefaultCommand({ name: 'awsvpcTrunking', value: 'enabled' }));
    assert.deepEqual(put.setting, { name: 'awsvpcTrunking', value: 'enabled', principalArn: ROOT, type: 'user' });
    const own = await server.ecs.send(new PutAccountSettingCommand({ name: 'awsvpcTrunking', value: 'disabled', principalArn: ROLE }));
    assert.deepEqual(own.setting, { name: 'awsvpcTrunking', value: 'disabled', principalArn: ROLE, type: 'user' });
    await server.ecs.send(new PutAccountSettingCommand({ name: 'tagResourceAuthorization', value: 'off' }));

    assert.equal((await effective(ROLE)).awsvpcTrunking, 'disabled');
    assert.equal((await effective(ROLE)).tagResourceAuthorization, 'off', 'the root user’s setting is the default for other principals');
    assert.equal((await effective()).awsvpcTrunking, 'enabled');

    const explicit = (await server.ecs.send(new ListAccountSettingsCommand({}))).settings ?? [];
    assert.deepEqual(
      explicit.map((s: Setting) => [s.name, s.value, s.principalArn]),
      [
        ['awsvpcTrunking', 'enabled', ROOT],
        ['tagResourceAuthorization', 'off', ROOT],
      ],
    );
    const filtered = await server.ecs.send(new ListAccountSettingsCommand({ name: 'awsvpcTrunking', value: 'disabled', principalArn: ROLE }));
    assert.deepEqual(filtered.settings?.map((s) => [s.name, s.value, s.principalArn]), [['awsvpcTrunking', 'disabled', ROLE]]);
    assert.deepEqual((await server.ecs.send(new ListAccountSettingsCommand({ name: 'awsvpcTrunking', value: 'enabled', principalArn: ROLE }))).settings, []);

    const deleted = await server.ecs.send(new DeleteAccountSettingCommand({ name: 'awsvpcTrunking', principalArn: ROLE }));
    assert.deepEqual(deleted.setting, { name: 'awsvpcTrunking', value: 'disabled', principalArn: ROLE, type: 'user' });
    assert.equal((await effective(ROLE)).awsvpcTrunking, 'enabled', 'back to the account default');
    await server.ecs.send(new DeleteAccountSettingCommand({ name: 'awsvpcTrunking' }));
    await server.ecs.send(new DeleteAccountSettingCommand({ name: 'tagResourceAuthorization' }));
    assert.equal((await effective(ROLE)).awsvpcTrunking, 'disabled', 'back to ECS’s default');
  });

  it('refuses values, names and principals ECS refuses', async () => {
    const refused = async (input: ConstructorParameters<typeof PutAccountSettingCommand>[0], message: RegExp) =>
      assert.rejects(server.ecs.send(new PutAccountSettingCommand(input)), (err: Error) => err.name === 'InvalidParameterException' && message.test(err.message));
    await refused({ name: 'containerInsights', value: 'on' }, /Valid values: enabled, disabled, enhanced/);
    await refused({ name: 'fargateTaskRetirementWaitPeriod', value: '3' }, /Valid values: 0, 7, 14/);
    await refused({ name: 'fargateTaskRetirementWaitPeriod', value: '14', principalArn: ROLE }, /root user/);
    await refused({ name: 'guardDutyActivate', value: 'on' }, /managed by AWS/);
    await refused({ name: 'awsvpcTrunking', value: 'enabled', principalArn: 'arn:aws:iam::111111111111:root' }, /this account/);
    await refused({ name: 'awsvpcTrunking', value: 'enabled', principalArn: 'not-an-arn' }, /principalArn/);
    await assert.rejects(server.ecs.send(new PutAccountSettingCommand({ name: 'noSuchSetting' as 'awsvpcTrunking', value: 'enabled' })), { name: 'InvalidParameterException' });
    await assert.rejects(server.ecs.send(new ListAccountSettingsCommand({ value: 'enabled' })), { name: 'InvalidParameterException' });
    await assert.rejects(server.ecs.send(new ListAccountSettingsCommand({ maxResults: 11 })), { name: 'InvalidParameterException' });
    await server.ecs.send(new PutAccountSettingCommand({ name: 'fargateTaskRetirementWaitPeriod', value: '14' }));
    assert.equal((await effective()).fargateTaskRetirementWaitPeriod, '14');
    await server.ecs.send(new DeleteAccountSettingCommand({ name: 'fargateTaskRetirementWaitPeriod' }));
  });

  it('gives new clusters the containerInsights account setting unless they name their own', async () => {
    await server.ecs.send(new PutAccountSettingDefaultCommand({ name: 'containerInsights', value: 'enhanced' }));
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'insightful' }));
    await server.ecs.send(new CreateClusterCommand({ clusterName: 'quiet', settings: [{ name: 'containerInsights', value: 'disabled' }] }));
    const d = await server.ecs.send(new DescribeClustersCommand({ clusters: ['insightful', 'quiet'], include: ['SETTINGS'] }));
    assert.deepEqual(d.clusters?.map((c) => [c.clusterName, c.settings]), [
      ['insightful', [{ name: 'containerInsights', value: 'enhanced' }]],
      ['quiet', [{ name: 'containerInsights', value: 'disabled' }]],
    ]);
    await server.ecs.send(new DeleteAccountSettingCommand({ name: 'containerInsights' }));
  });

  it('is driven by the AWS CLI', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' };
    const aws = async (...args: string[]) => JSON.parse((await run('aws', ['ecs', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'], { env })).stdout) as { settings?: Setting[]; setting?: Setting };
    assert.deepEqual((await aws('put-account-setting', '--name', 'containerInsights', '--value', 'enabled')).setting?.value, 'enabled');
    // The CLI follows nextToken itself: every setting in one answer.
    const all = (await aws('list-account-settings', '--effective-settings')).settings ?? [];
    assert.equal(all.length, 11);
    assert.equal(all.find((s) => s.name === 'containerInsights')?.value, 'enabled');
    await aws('delete-account-setting', '--name', 'containerInsights');
    assert.deepEqual((await aws('list-account-settings')).settings, []);
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keyring } from '../core/envelope.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import * as iam from './entities.js';
import type { IamContext } from './model.js';
import { Principals } from './principals.js';
import { assumeRole } from './sts.js';

const ROOT = { accessKeyId: 'AKIAROOTROOTROOT0001', secretAccessKey: 'root-secret' };
const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('principal resolution', () => {
  let dir: string;
  let store: Store;
  let ctx: IamContext;
  let principals: Principals;
  let clock = Date.UTC(2026, 0, 1);
  const settle = () => new Promise((r) => setTimeout(r, 20));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-iam-'));
    store = await openSqliteStore({ path: join(dir, 'state.db'), driver: chooseSqliteDriver().driver });
    ctx = { store, region: 'us-east-1', accountId: '123456789012', keyring: new Keyring({ id: 'mk-test', key: randomBytes(32) }), now: () => clock };
    principals = new Principals(ctx, ROOT);
    await principals.start();
  });
  after(async () => {
    principals.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves the root key to the account root, and unknown keys to nothing', async () => {
    const root = await principals.resolve(ROOT.accessKeyId);
    assert.equal(root?.kind, 'root');
    assert.equal(root?.arn, 'arn:aws:iam::123456789012:root');
    assert.deepEqual(await principals.policiesOf(root!), []);
    assert.equal(await principals.resolve('AKIANOSUCHKEY0000000'), undefined);
  });

  it('resolves a user key to the user with its own and its groups policies, and follows changes', async () => {
    await iam.createUser(ctx, { UserName: 'ana', Path: '/team/' });
    const { AccessKey } = await iam.createAccessKey(ctx, { UserName: 'ana' }, undefined);
    const id = await principals.resolve(AccessKey.AccessKeyId);
    assert.equal(id?.kind, 'user');
    assert.equal(id?.arn, 'arn:aws:iam::123456789012:user/team/ana');
    assert.equal(id?.secret, AccessKey.SecretAccessKey);
    assert.equal(principals.secretFor(AccessKey.AccessKeyId), AccessKey.SecretAccessKey);
    assert.deepEqual(await principals.policiesOf(id!), []);

    await iam.putInlinePolicy('user')(ctx, { UserName: 'ana', PolicyName: 'mine', PolicyDocument: doc([{ Effect: 'Allow', Action: 'ecs:List*', Resource: '*' }]) });
    await iam.createGroup(ctx, { GroupName: 'ops' });
    await iam.addUserToGroup(ctx, { GroupName: 'ops', UserName: 'ana' });
    const { Policy } = await iam.createPolicy(ctx, { PolicyName: 'deny', PolicyDocument: doc([{ Effect: 'Deny', Action: '*', Resource: '*' }]) });
    await iam.attachPolicy('group')(ctx, { GroupName: 'ops', PolicyArn: Policy.Arn });
    await settle();
    assert.deepEqual((await principals.policiesOf(id!)).map((p) => p.id).sort(), [Policy.Arn, 'user/ana/mine'].sort());

    await iam.updateAccessKey(ctx, { UserName: 'ana', AccessKeyId: AccessKey.AccessKeyId, Status: 'Inactive' }, undefined);
    await settle();
    assert.equal((await principals.resolve(AccessKey.AccessKeyId))?.active, false);
    assert.equal(principals.secretFor(AccessKey.AccessKeyId), undefined);
  });

  it('resolves session credentials to the assumed role with its session policy and expiry', async () => {
    await iam.createRole(ctx, { RoleName: 'r', AssumeRolePolicyDocument: doc([{ Effect: 'Allow', Principal: { AWS: '123456789012' }, Action: 'sts:AssumeRole' }]) });
    await iam.putInlinePolicy('role')(ctx, { RoleName: 'r', PolicyName: 'p', PolicyDocument: doc([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]) });
    const root = (await principals.resolve(ROOT.accessKeyId))!;
    const out = await assumeRole(ctx, { RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 'build', Policy: doc([{ Effect: 'Allow', Action: 's3:Get*', Resource: '*' }]) }, root);
    const s = await principals.resolve(out.Credentials.AccessKeyId);
    assert.equal(s?.kind, 'assumed-role');
    assert.equal(s?.arn, 'arn:aws:sts::123456789012:assumed-role/r/build');
    assert.match(s!.userId, /^AROA[A-Z2-7]{16}:build$/);
    assert.equal(s?.expiresAt, clock + 3600_000);
    assert.ok(s?.sessionPolicy);
    assert.ok(s?.tokenHash && !s.tokenHash.includes(out.Credentials.SessionToken));
    assert.deepEqual((await principals.policiesOf(s!)).map((p) => p.id), ['role/r/p']);
    clock += 3600_000;
    assert.equal(principals.secretFor(out.Credentials.AccessKeyId), undefined, 'expired credentials are unknown to the registry');
  });
});

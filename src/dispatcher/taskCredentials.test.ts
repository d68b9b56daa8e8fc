import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keyring } from '../core/envelope.js';
import { silentLogger } from '../core/log.js';
import type { TaskWithDefinition } from '../ecs/model.js';
import * as iam from '../iam/entities.js';
import type { IamContext } from '../iam/model.js';
import { Principals } from '../iam/principals.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { TaskCredentialIssuer } from './taskCredentials.js';

const ACCOUNT = '123456789012';
const trust = (principal: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }] });
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** A task as the dispatcher reads it, with only what the issuer looks at. */
function task(id: string, def: Record<string, unknown>, overrides: Record<string, unknown> = {}, lastStatus = 'RUNNING'): TaskWithDefinition {
  return {
    stored: { task: { taskArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/c/${id}`, desiredStatus: 'RUNNING', lastStatus, overrides } },
    taskDefinition: def,
  } as unknown as TaskWithDefinition;
}

describe('task role credentials on the server', () => {
  let dir: string;
  let store: Store;
  let ctx: IamContext;
  let principals: Principals;
  let clock = Date.UTC(2026, 0, 1);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-task-creds-'));
    store = await openSqliteStore({ path: join(dir, 'state.db'), driver: chooseSqliteDriver().driver });
    ctx = { store, region: 'us-east-1', accountId: ACCOUNT, keyring: new Keyring({ id: 'mk-test', key: randomBytes(32) }), now: () => clock };
    principals = new Principals(ctx, { accessKeyId: 'AKIAROOTROOTROOT0001', secretAccessKey: 'root' });
    await principals.start();
    await iam.createRole(ctx, { RoleName: 'app', AssumeRolePolicyDocument: trust({ Service: 'ecs-tasks.amazonaws.com' }) });
    await iam.createRole(ctx, { RoleName: 'exec', AssumeRolePolicyDocument: trust({ Service: ['ecs-tasks.amazonaws.com'] }) });
    await iam.createRole(ctx, { RoleName: 'lambda-only', AssumeRolePolicyDocument: trust({ Service: 'lambda.amazonaws.com' }) });
  });
  after(async () => {
    principals.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('assumes task and execution roles as ECS, in sessions named after the task, and keeps them until renewal', async () => {
    const issuer = new TaskCredentialIssuer(ctx, silentLogger(), { sessionSeconds: 3600, renewAfterMs: 600_000 });
    const tasks = [task('t1', { taskRoleArn: role('app'), executionRoleArn: role('exec') }), task('t2', {}, { taskRoleArn: role('app') }), task('t3', {})];
    const first = await issuer.forInstance('i-1', tasks);
    assert.deepEqual(first.failures, []);
    assert.deepEqual(first.credentials.map((c) => [c.taskArn.slice(-2), c.role, c.roleArn]), [
      ['t1', 'task', role('app')],
      ['t1', 'execution', role('exec')],
      ['t2', 'task', role('app')],
    ]);
    const id = await principals.resolve(first.credentials[0]!.accessKeyId);
    assert.equal(id?.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/t1`);
    assert.equal(first.credentials[0]!.expiration, clock + 3600_000);

    // Within the renewal period the same credentials are sent again.
    clock += 599_000;
    assert.equal(issuer.dueForRenewal('i-1'), false);
    const again = await issuer.forInstance('i-1', tasks);
    assert.deepEqual(again.credentials.map((c) => c.accessKeyId), first.credentials.map((c) => c.accessKeyId));
    // Then they are renewed, well before they expire.
    clock += 2_000;
    assert.equal(issuer.dueForRenewal('i-1'), true);
    const renewed = await issuer.forInstance('i-1', tasks);
    for (let i = 0; i < renewed.credentials.length; i++) assert.notEqual(renewed.credentials[i]!.accessKeyId, first.credentials[i]!.accessKeyId);
    assert.equal(issuer.dueForRenewal('i-1'), false);

    // A task that has stopped gets none, and what was held for it is dropped.
    const stopping = await issuer.forInstance('i-1', [task('t1', { taskRoleArn: role('app') }, {}, 'STOPPED')]);
    assert.deepEqual(stopping.credentials, []);
  });

  it("answers ECS's reason for roles that are missing or do not trust ecs-tasks.amazonaws.com", async () => {
    const issuer = new TaskCredentialIssuer(ctx, silentLogger());
    const out = await issuer.forInstance('i-2', [task('a', { taskRoleArn: role('lambda-only') }), task('b', { executionRoleArn: role('gone') }), task('c', { taskRoleArn: role('app') })]);
    assert.deepEqual(out.credentials.map((c) => c.taskArn.slice(-1)), ['c']);
    assert.deepEqual(
      out.failures.map((f) => [f.taskArn.slice(-1), f.reason]),
      ['lambda-only', 'gone'].map((r, i) => [
        'ab'[i],
        `ECS was unable to assume the role '${role(r)}' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.`,
      ]),
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadKeyring } from '../core/envelope.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import type { SecretsContext } from './context.js';
import { createSecret, deleteSecret, describeSecret, getSecretValue, purgeExpiredSecrets, putSecretValue, resolveSecretReference } from './secrets.js';

const DAY = 86_400_000;

describe('secrets (domain)', () => {
  let dir: string;
  let store: Store;
  let clock = Date.UTC(2026, 0, 1);
  let ctx: SecretsContext;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-secrets-'));
    store = await openSqliteStore({ path: join(dir, 'berth.db') });
    ctx = { store, region: 'us-east-1', accountId: '000000000000', keyring: loadKeyring(dir, {}), now: () => clock };
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forgets a secret once its deletion date has passed, and frees its name', async () => {
    await createSecret(ctx, { Name: 'short-lived', SecretString: 'v' });
    await deleteSecret(ctx, { SecretId: 'short-lived', RecoveryWindowInDays: 7 });
    clock += 6 * DAY;
    assert.equal(await purgeExpiredSecrets(ctx), 0);
    await assert.rejects(getSecretValue(ctx, { SecretId: 'short-lived' }), { type: 'InvalidRequestException' });
    clock += 2 * DAY;
    await assert.rejects(describeSecret(ctx, { SecretId: 'short-lived' }), { type: 'ResourceNotFoundException' });
    assert.equal(await purgeExpiredSecrets(ctx), 1);
    assert.equal((await store.find('secret', { name: 'short-lived' })).length, 0);
    await createSecret(ctx, { Name: 'short-lived', SecretString: 'again' });
    assert.equal((await getSecretValue(ctx, { SecretId: 'short-lived' })).SecretString, 'again');
  });

  it('resolves container references: whole value, JSON key, stage and version', async () => {
    const { ARN, VersionId: v1 } = (await createSecret(ctx, { Name: 'ref', SecretString: '{"k":"one","n":1}' })) as { ARN: string; VersionId: string };
    await putSecretValue(ctx, { SecretId: 'ref', SecretString: '{"k":"two"}' });
    assert.equal(await resolveSecretReference(ctx, ARN), '{"k":"two"}');
    assert.equal(await resolveSecretReference(ctx, `${ARN}:k::`), 'two');
    assert.equal(await resolveSecretReference(ctx, `${ARN}:k:AWSPREVIOUS:`), 'one');
    assert.equal(await resolveSecretReference(ctx, `${ARN}:n::${v1}`), '1');
    assert.equal(await resolveSecretReference(ctx, 'ref'), '{"k":"two"}');
    await assert.rejects(resolveSecretReference(ctx, `${ARN}:missing::`), { type: 'ResourceNotFoundException' });
  });
});

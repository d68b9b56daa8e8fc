// Rotating the master key: values written under the old key stay readable
// after the server re-wraps their data keys and the old key is retired.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { addMasterKey, retireOldMasterKeys } from '../src/core/envelope.js';
import { silentLogger } from '../src/core/log.js';
import { startServer } from '../src/server/app.js';
import { tempDir, TEST_CREDENTIALS } from './helpers.js';

describe('master key rotation', () => {
  it('re-wraps every stored data key under a new master key, after which the old key can go', async () => {
    const dir = tempDir('berth-rotation-');
    process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    const start = () => startServer({ host: '127.0.0.1', port: 0, dataDir: dir.path, region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal' });
    const clients = (url: string) => ({
      sm: new SecretsManagerClient({ endpoint: url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 }),
      ssm: new SSMClient({ endpoint: url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 }),
    });
    const keyIds = () => (JSON.parse(readFileSync(join(dir.path, 'master-key.json'), 'utf8')) as { keys: { id: string }[] }).keys.map((k) => k.id);
    try {
      let server = await start();
      let c = clients(server.url);
      await c.sm.send(new CreateSecretCommand({ Name: 'kept', SecretString: 'survives rotation' }));
      await c.ssm.send(new PutParameterCommand({ Name: '/kept', Value: 'also survives', Type: 'SecureString' }));
      c.sm.destroy();
      c.ssm.destroy();
      await server.close();

      const [oldId] = keyIds();
      const newId = addMasterKey(dir.path);
      server = await start();
      const sealedUnder = (await server.store.find<{ versions: { value: { kid: string } }[] }>('secret', {}))[0]!.doc.versions[0]!.value.kid;
      assert.equal(sealedUnder, newId, 'the data key was re-wrapped at start');
      await server.close();

      assert.deepEqual(retireOldMasterKeys(dir.path), [oldId]);
      assert.deepEqual(keyIds(), [newId]);
      server = await start();
      c = clients(server.url);
      assert.equal((await c.sm.send(new GetSecretValueCommand({ SecretId: 'kept' }))).SecretString, 'survives rotation');
      assert.equal((await c.ssm.send(new GetParameterCommand({ Name: '/kept', WithDecryption: true }))).Parameter?.Value, 'also survives');
      c.sm.destroy();
      c.ssm.destroy();
      await server.close();
    } finally {
      dir.remove();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EcsApiError } from '../channel/ecs.js';
import { resolveRepositoryCredentials, resolveSecrets, SecretRetrievalError, type SecretSource } from './secrets.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf';

/** A source over fixed values that records how it was asked. */
function source(secrets: Record<string, string>, params: Record<string, string>): SecretSource & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    asked,
    getSecretString(id, stage, versionId) {
      const v = secrets[`${id}|${stage ?? ''}|${versionId ?? ''}`] ?? secrets[id];
      if (v === undefined) return Promise.reject(new EcsApiError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400));
      return Promise.resolve(v);
    },
    getParameters(names) {
      asked.push(names);
      const values = new Map(names.filter((n) => params[n] !== undefined).map((n) => [n, params[n]!]));
      return Promise.resolve({ values, invalid: names.filter((n) => params[n] === undefined) });
    },
    close() {},
  };
}

describe('container secrets on the agent', () => {
  it('reads whole secrets, JSON keys, stages and versions, and parameters in batches of ten', async () => {
    const params = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`/p/${i}`, `v${i}`]));
    const src = source({ [ARN]: '{"user":"app","port":5432}', [`${ARN}|AWSPREVIOUS|`]: '{"user":"old"}' }, params);
    const env = await resolveSecrets(src, [
      { name: 'WHOLE', valueFrom: ARN },
      { name: 'USER', valueFrom: `${ARN}:user::` },
      { name: 'PORT', valueFrom: `${ARN}:port::` },
      { name: 'OLD_USER', valueFrom: `${ARN}:user:AWSPREVIOUS:` },
      ...Object.keys(params).map((p, i) => ({ name: `P${i}`, valueFrom: p })),
    ]);
    assert.equal(env.WHOLE, '{"user":"app","port":5432}');
    assert.equal(env.USER, 'app');
    assert.equal(env.PORT, '5432');
    assert.equal(env.OLD_USER, 'old');
    assert.equal(env.P11, 'v11');
    assert.deepEqual(src.asked.map((a) => a.length), [10, 2]);
  });

  it('fails with ECS\'s reasons for a missing secret, JSON key or parameter, and lets server faults through for a retry', async () => {
    const src = source({ [ARN]: '{"user":"app"}' }, {});
    await assert.rejects(resolveSecrets(src, [{ name: 'X', valueFrom: `${ARN.replace('db', 'none')}` }]), (e: unknown) => {
      assert.ok(e instanceof SecretRetrievalError);
      assert.match(e.message, /^unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time\(s\): failed to fetch secret .* from secrets manager: ResourceNotFoundException: /);
      return true;
    });
    await assert.rejects(resolveSecrets(src, [{ name: 'X', valueFrom: `${ARN}:password::` }]), /did not contain json key password/);
    await assert.rejects(resolveSecrets(src, [{ name: 'X', valueFrom: '/missing' }]), /unable to retrieve secrets from ssm: .*invalid parameters: \/missing$/);
    const down: SecretSource = { ...src, getSecretString: () => Promise.reject(new EcsApiError('ServerException', 'boom', 500)) };
    await assert.rejects(resolveSecrets(down, [{ name: 'X', valueFrom: ARN }]), (e: unknown) => !(e instanceof SecretRetrievalError));
  });

  it('reads registry credentials from a secret', async () => {
    const src = source({ [ARN]: '{"username":"bot","password":"pw"}', bad: 'not json' }, {});
    assert.deepEqual(await resolveRepositoryCredentials(src, ARN), { username: 'bot', password: 'pw' });
    await assert.rejects(resolveRepositoryCredentials(src, 'bad'), /must be JSON with "username" and "password"/);
  });
});

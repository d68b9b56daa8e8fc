import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../core/log.js';
import { EcsApiError } from '../channel/ecs.js';
import { RegistryAuthRefusedError, RegistryCredentials, registryHostOf, type EcrTokenSource } from './registry.js';

function source(answers: (() => { authorizationToken: string; expiresAt: number; proxyEndpoint: string })[]): EcrTokenSource & { calls: number } {
  const s = {
    calls: 0,
    getAuthorizationToken() {
      const next = answers[Math.min(s.calls, answers.length - 1)]!;
      s.calls++;
      return Promise.resolve().then(next);
    },
    close() {},
  };
  return s;
}

const token = (password: string, expiresAtSeconds: number) => ({
  authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
  expiresAt: expiresAtSeconds,
  proxyEndpoint: 'http://127.0.0.1:4566',
});

describe('registry credentials of the agent', () => {
  it('reads the registry host of an image reference', () => {
    assert.equal(registryHostOf('127.0.0.1:4566/team/web:v1'), '127.0.0.1:4566');
    assert.equal(registryHostOf('registry.example.com/app@sha256:abc'), 'registry.example.com');
    assert.equal(registryHostOf('localhost/app'), 'localhost');
    assert.equal(registryHostOf('berth-test/busybox:latest'), undefined);
    assert.equal(registryHostOf('busybox'), undefined);
  });

  it('gives the server\'s token to images on its registry host only, asking once while the token is fresh', async () => {
    let now = 1_000_000;
    const src = source([() => token('pw1', now / 1000 + 12 * 3600)]);
    const creds = new RegistryCredentials({ source: src, log: silentLogger(), now: () => now });
    assert.deepEqual(await creds.authFor('127.0.0.1:4566/team/web:v1'), { username: 'AWS', password: 'pw1', serverAddress: '127.0.0.1:4566' });
    assert.equal(await creds.authFor('127.0.0.1:9999/team/web:v1'), undefined);
    assert.equal(await creds.authFor('busybox:latest'), undefined);
    await creds.authFor('127.0.0.1:4566/other:v2');
    assert.equal(src.calls, 1);
    now += 11.5 * 3600 * 1000;
    await creds.authFor('127.0.0.1:4566/team/web:v1');
    assert.equal(src.calls, 2, 'renewed within the last hour of the token');
  });

  it('lets the pull go ahead without credentials when the server cannot be asked, and asks again later', async () => {
    let now = 0;
    let fail = true;
    const src = source([
      () => {
        if (fail) throw new Error('connection refused');
        return token('pw2', now / 1000 + 12 * 3600);
      },
    ]);
    const creds = new RegistryCredentials({ source: src, log: silentLogger(), now: () => now });
    assert.equal(await creds.authFor('127.0.0.1:4566/app:v1'), undefined);
    fail = false;
    assert.equal(await creds.authFor('127.0.0.1:4566/app:v1'), undefined, 'not asked again at once');
    now += 20_000;
    assert.equal((await creds.authFor('127.0.0.1:4566/app:v1'))?.password, 'pw2');
  });

  it("fails the pull with the server's refusal when acting as a task's execution role", async () => {
    let now = 0;
    let refuse = true;
    const denied = 'User: arn:aws:sts::000000000000:assumed-role/exec/t1 is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action';
    const src = source([
      () => {
        if (refuse) throw new EcsApiError('AccessDeniedException', denied, 400);
        return token('pw3', now / 1000 + 12 * 3600);
      },
    ]);
    const strict = new RegistryCredentials({ source: src, log: silentLogger(), now: () => now, refusalFails: true });
    await assert.rejects(strict.authFor('127.0.0.1:4566/app:v1'), (err: Error) => err instanceof RegistryAuthRefusedError && err.message === `AccessDeniedException: ${denied}`);
    assert.equal(await strict.authFor('busybox:latest'), undefined, 'images elsewhere need no token');
    refuse = false;
    now += 20_000;
    assert.equal((await strict.authFor('127.0.0.1:4566/app:v1'))?.password, 'pw3');
    // The agent's own identity lets the pull go ahead instead.
    refuse = true;
    const lenient = new RegistryCredentials({ source: src, log: silentLogger(), now: () => now });
    assert.equal(await lenient.authFor('127.0.0.1:4566/app:v1'), undefined);
  });
});

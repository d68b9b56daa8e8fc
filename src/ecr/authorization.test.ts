import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RegistryTokens, TOKEN_LIFETIME_MS } from './authorization.js';

function keys(...ids: string[]): { secretFor(id: string): string | undefined; ids: Set<string> } {
  const set = new Set(ids);
  return { ids: set, secretFor: (id) => (set.has(id) ? 'secret' : undefined) };
}

describe('registry authorization tokens', () => {
  it('decode to AWS:<password>, the password free of ":", and speak for the key that asked', () => {
    const tokens = new RegistryTokens(Buffer.alloc(32, 1), keys('AKIA1'));
    const t = tokens.issue('AKIA1');
    const decoded = Buffer.from(t.authorizationToken, 'base64').toString('utf8');
    assert.ok(decoded.startsWith('AWS:'));
    assert.equal(decoded.slice(4), t.password);
    assert.ok(!t.password.includes(':'));
    assert.equal(tokens.verifyLogin('AWS', t.password), 'AKIA1');
    assert.equal(tokens.verifyToken(t.authorizationToken), 'AKIA1');
  });

  it('are refused with another user name, a changed payload, another server secret, after 12 hours, or once the key is gone', () => {
    let now = 1_000_000;
    const creds = keys('AKIA1', 'AKIA2');
    const tokens = new RegistryTokens(Buffer.alloc(32, 1), creds, () => now);
    const t = tokens.issue('AKIA1');
    assert.equal(tokens.verifyLogin('admin', t.password), undefined);
    const [payload, sig] = t.password.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ k: 'AKIA2', e: now + TOKEN_LIFETIME_MS })).toString('base64url');
    assert.equal(tokens.verifyPassword(`${forged}.${sig}`), undefined);
    assert.equal(new RegistryTokens(Buffer.alloc(32, 2), creds, () => now).verifyPassword(t.password), undefined);
    assert.equal(tokens.verifyPassword(`${payload}.`), undefined);
    now += TOKEN_LIFETIME_MS - 1;
    assert.equal(tokens.verifyPassword(t.password), 'AKIA1');
    now += 1;
    assert.equal(tokens.verifyPassword(t.password), undefined);
    const fresh = tokens.issue('AKIA1');
    creds.ids.delete('AKIA1');
    assert.equal(tokens.verifyPassword(fresh.password), undefined);
  });

  it('keep their signing secret in a private file that survives restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-secret-'));
    try {
      const file = join(dir, 'registry', 'token-secret');
      const a = RegistryTokens.loadSecret(file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(a.equals(RegistryTokens.loadSecret(file)));
      const t = new RegistryTokens(a, keys('K')).issue('K');
      assert.equal(new RegistryTokens(RegistryTokens.loadSecret(file), keys('K')).verifyPassword(t.password), 'K');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

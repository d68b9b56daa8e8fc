import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { addMasterKey, DecryptionError, loadKeyring, retireOldMasterKeys } from './envelope.js';

function dir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'berth-envelope-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

describe('envelope encryption', () => {
  it('seals each value under its own data key, bound to where it belongs', () => {
    const d = dir();
    try {
      const ring = loadKeyring(d.path, {});
      assert.equal(statSync(join(d.path, 'master-key.json')).mode & 0o777, 0o600);
      const a = ring.seal(Buffer.from('hello'), 'secret:a');
      const b = ring.seal(Buffer.from('hello'), 'secret:a');
      assert.notEqual(a.dk, b.dk, 'a new data key per value');
      assert.notEqual(a.ct, b.ct);
      assert.ok(!Buffer.from(a.ct, 'base64').includes('hello'));
      assert.equal(ring.open(a, 'secret:a').toString(), 'hello');
      assert.throws(() => ring.open(a, 'secret:b'), DecryptionError, 'a value moved elsewhere does not open');
      const tampered = Buffer.from(a.ct, 'base64');
      tampered[14]! ^= 1;
      assert.throws(() => ring.open({ ...a, ct: tampered.toString('base64') }, 'secret:a'), DecryptionError);
    } finally {
      d.remove();
    }
  });

  it('rotates: a new key seals, old values re-wrap without re-encryption, and open after the old key is retired', () => {
    const d = dir();
    try {
      const first = loadKeyring(d.path, {});
      const old = first.seal(Buffer.from('value'), 'ctx');
      const newId = addMasterKey(d.path, {});
      const second = loadKeyring(d.path, {});
      assert.equal(second.current.id, newId);
      assert.ok(second.needsRewrap(old));
      const moved = second.rewrap(old);
      assert.equal(moved.kid, newId);
      assert.equal(moved.ct, old.ct, 'the value itself is not re-encrypted');
      assert.deepEqual(retireOldMasterKeys(d.path, {}), [first.current.id]);
      const third = loadKeyring(d.path, {});
      assert.equal(third.open(moved, 'ctx').toString(), 'value');
      assert.throws(() => third.open(old, 'ctx'), /not in the key file/);
    } finally {
      d.remove();
    }
  });

  it('takes BERTH_MASTER_KEY_FILE and refuses a key file others can read', () => {
    const d = dir();
    try {
      const file = join(d.path, 'elsewhere.json');
      const ring = loadKeyring(join(d.path, 'data'), { BERTH_MASTER_KEY_FILE: file });
      assert.equal(ring.path, file);
      chmodSync(file, 0o644);
      assert.throws(() => loadKeyring(join(d.path, 'data'), { BERTH_MASTER_KEY_FILE: file }), /readable by other users/);
      writeFileSync(file, '{"keys":[]}', { mode: 0o600 });
      chmodSync(file, 0o600);
      assert.throws(() => loadKeyring(join(d.path, 'data'), { BERTH_MASTER_KEY_FILE: file }), /at least one key/);
    } finally {
      d.remove();
    }
  });
});

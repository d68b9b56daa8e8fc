/**
 * Envelope encryption for values kept at rest (secrets, SecureString
 * parameters).
 *
 * Every value gets its own random 256-bit data key; the value is encrypted
 * with it (AES-256-GCM, bound by additional data to where the value belongs,
 * so a ciphertext copied to another secret does not decrypt there), and the
 * data key is itself encrypted ("wrapped") under a master key that never
 * enters the database. Each sealed value names the master key that wrapped
 * it, so the master key can be rotated: a new key becomes current, existing
 * data keys are re-wrapped under it (the values' ciphertexts stay as they
 * are), and the old key can then be dropped.
 *
 * The master keys live in a key file (`<data dir>/master-key.json`, mode
 * 0600, created on first use) or the file `BERTH_MASTER_KEY_FILE` names:
 * `{"keys":[{"id":"...","key":"<base64 of 32 bytes>"}, ...]}`, the last key
 * being current.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A value as stored: all fields base64 except the key id. */
export interface SealedValue {
  /** Format version. */
  v: 1;
  /** The master key that wrapped `dk`. */
  kid: string;
  /** The data key, wrapped: iv (12) + ciphertext (32) + tag (16). */
  dk: string;
  /** The value: iv (12) + ciphertext + tag (16). */
  ct: string;
}

export interface MasterKey {
  id: string;
  key: Buffer;
}

const IV = 12;
const TAG = 16;

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

function gcmOpen(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV + TAG) throw new DecryptionError('sealed value is truncated');
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([d.update(sealed.subarray(IV, sealed.length - TAG)), d.final()]);
  } catch {
    throw new DecryptionError('authentication failed');
  }
}

/** A sealed value could not be opened: unknown master key, or altered or misplaced ciphertext. */
export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** The master keys: the current one seals, any of them opens. */
export class Keyring {
  private readonly byId: Map<string, Buffer>;

  constructor(
    readonly current: MasterKey,
    others: readonly MasterKey[] = [],
  ) {
    if (current.key.length !== 32) throw new Error(`master key ${current.id} must be 32 bytes`);
    this.byId = new Map([...others, current].map((k) => [k.id, k.key]));
  }

  /** Encrypts `plaintext` under a new data key; `context` names where the value belongs (it must be given again to open it). */
  seal(plaintext: Buffer, context: string): SealedValue {
    const dataKey = randomBytes(32);
    try {
      return {
        v: 1,
        kid: this.current.id,
        dk: gcmSeal(this.current.key, dataKey, `berth-data-key:${this.current.id}`).toString('base64'),
        ct: gcmSeal(dataKey, plaintext, context).toString('base64'),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  open(sealed: SealedValue, context: string): Buffer {
    const dataKey = this.unwrap(sealed);
    try {
      return gcmOpen(dataKey, Buffer.from(sealed.ct, 'base64'), context);
    } finally {
      dataKey.fill(0);
    }
  }

  /** Whether `sealed` is wrapped under an older master key. */
  needsRewrap(sealed: SealedValue): boolean {
    return sealed.kid !== this.current.id;
  }

  /** The same value with its data key wrapped under the current master key (the value's ciphertext is unchanged). */
  rewrap(sealed: SealedValue): SealedValue {
    if (!this.needsRewrap(sealed)) return sealed;
    const dataKey = this.unwrap(sealed);
    try {
      return { ...sealed, kid: this.current.id, dk: gcmSeal(this.current.key, dataKey, `berth-data-key:${this.current.id}`).toString('base64') };
    } finally {
      dataKey.fill(0);
    }
  }

  private unwrap(sealed: SealedValue): Buffer {
    const master = this.byId.get(sealed.kid);
    if (!master) throw new DecryptionError(`master key ${sealed.kid} is not in the key file`);
    return gcmOpen(master, Buffer.from(sealed.dk, 'base64'), `berth-data-key:${sealed.kid}`);
  }
}

interface KeyFile {
  keys: { id: string; key: string }[];
}

function newKey(): { id: string; key: string } {
  return { id: `mk-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`, key: randomBytes(32).toString('base64') };
}

/** Where the key file is: `BERTH_MASTER_KEY_FILE`, else `<dataDir>/master-key.json`. */
export function masterKeyPath(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_MASTER_KEY_FILE || join(dataDir, 'master-key.json');
}

function readKeyFile(path: string): KeyFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`master key file ${path} is not readable JSON: ${(err as Error).message}`);
  }
  const keys = (parsed as Partial<KeyFile>).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`master key file ${path} must hold {"keys":[{"id","key"}...]} with at least one key`);
  for (const k of keys) {
    if (typeof k?.id !== 'string' || typeof k.key !== 'string' || Buffer.from(k.key, 'base64').length !== 32) {
      throw new Error(`master key file ${path}: every key needs an "id" and a "key" of 32 bytes in base64`);
    }
  }
  return { keys };
}

function writeKeyFile(path: string, file: KeyFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * The keyring from the key file, creating the file with one new key (mode
 * 0600) when it does not exist. Refuses a key file that others can read.
 */
export function loadKeyring(dataDir: string, env: NodeJS.ProcessEnv = process.env): Keyring & { path: string; created: boolean } {
  const path = masterKeyPath(dataDir, env);
  let created = false;
  if (!existsSync(path)) {
    writeKeyFile(path, { keys: [newKey()] });
    created = true;
  }
  const mode = statSync(path).mode & 0o077;
  if (mode !== 0) throw new Error(`master key file ${path} is readable by other users (mode ${(statSync(path).mode & 0o777).toString(8)}); chmod 600 it`);
  const { keys } = readKeyFile(path);
  const all = keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }));
  const ring = new Keyring(all[all.length - 1]!, all.slice(0, -1));
  return Object.assign(ring, { path, created });
}

/** Appends a new current key to the key file (the old ones stay, to open what they wrapped); returns its id. */
export function addMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = masterKeyPath(dataDir, env);
  const file = existsSync(path) ? readKeyFile(path) : { keys: [] };
  const k = newKey();
  writeKeyFile(path, { keys: [...file.keys, k] });
  return k.id;
}

/** Removes every key but the current one from the key file (after all values were re-wrapped). */
export function retireOldMasterKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const path = masterKeyPath(dataDir, env);
  const file = readKeyFile(path);
  const retired = file.keys.slice(0, -1).map((k) => k.id);
  writeKeyFile(path, { keys: file.keys.slice(-1) });
  return retired;
}

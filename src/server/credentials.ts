import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialLookup } from '../core/credentials.js';

export interface RootCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId(): string {
  const bytes = randomBytes(16);
  let s = 'AKIA';
  for (let i = 0; i < 16; i++) s += ALNUM[bytes[i]! % ALNUM.length];
  return s;
}

/**
 * The root credentials of a Berth server: from BERTH_ACCESS_KEY_ID /
 * BERTH_SECRET_ACCESS_KEY when set, else a pair generated on first start and
 * kept (mode 0600) in `<dataDir>/credentials.json`. `created` tells the caller
 * to print the new pair once.
 */
export function loadRootCredentials(dataDir: string, env = process.env): RootCredentials & { created: boolean; source: string } {
  const id = env.BERTH_ACCESS_KEY_ID;
  const secret = env.BERTH_SECRET_ACCESS_KEY;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret, created: false, source: 'environment' };
  if (id || secret) {
    throw new Error('Set both BERTH_ACCESS_KEY_ID and BERTH_SECRET_ACCESS_KEY, or neither (a pair is then generated and kept in the data dir).');
  }
  const file = join(dataDir, 'credentials.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RootCredentials>;
    if (!parsed.accessKeyId || !parsed.secretAccessKey) throw new Error(`${file} is damaged: it must hold accessKeyId and secretAccessKey.`);
    return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey, created: false, source: file };
  }
  mkdirSync(dataDir, { recursive: true });
  const creds = { accessKeyId: randomKeyId(), secretAccessKey: randomBytes(30).toString('base64').replace(/[+/=]/g, 'x').slice(0, 40) };
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { ...creds, created: true, source: file };
}

/** Access keys the server accepts. */
export class CredentialRegistry implements CredentialLookup {
  private readonly keys = new Map<string, string>();

  add(c: RootCredentials): void {
    this.keys.set(c.accessKeyId, c.secretAccessKey);
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.keys.get(accessKeyId);
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CredentialLookup } from '../core/credentials.js';

/** ECR authorization tokens are valid for 12 hours. */
export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

/** The user name `docker login` takes with an ECR password. */
export const REGISTRY_USER = 'AWS';

export interface IssuedToken {
  /** base64("AWS:" + password): ECR's `authorizationToken`. */
  authorizationToken: string;
  password: string;
  expiresAt: number;
}

/**
 * Registry passwords: an HMAC-signed statement "access key K may use the
 * registry until T", signed with a secret kept in the data dir. The password
 * is `<base64url payload>.<base64url signature>` and so never holds a `:`
 * (which would break `aws ecr get-login-password`). A password is accepted
 * only before its expiry and while its access key is still a valid credential.
 */
export class RegistryTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly credentials: CredentialLookup,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the signing secret from `file`, creating it (mode 0600) on first use. */
  static loadSecret(file: string): Buffer {
    if (existsSync(file)) {
      const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      if (secret.length < 32) throw new Error(`${file} is damaged: it must hold a base64 secret of at least 32 bytes.`);
      return secret;
    }
    mkdirSync(dirname(file), { recursive: true });
    const secret = randomBytes(32);
    writeFileSync(file, secret.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  }

  issue(accessKeyId: string): IssuedToken {
    const expiresAt = this.now() + TOKEN_LIFETIME_MS;
    const payload = Buffer.from(JSON.stringify({ k: accessKeyId, e: expiresAt })).toString('base64url');
    const password = `${payload}.${this.sign(payload)}`;
    return { password, expiresAt, authorizationToken: Buffer.from(`${REGISTRY_USER}:${password}`).toString('base64') };
  }

  /** The access key a password speaks for, or undefined when it is forged, expired or its key is no longer valid. */
  verifyPassword(password: string): string | undefined {
    const dot = password.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = password.slice(0, dot);
    const given = Buffer.from(password.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: { k?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { k?: unknown; e?: unknown };
    } catch {
      return undefined;
    }
    if (typeof claims.k !== 'string' || typeof claims.e !== 'number' || claims.e <= this.now()) return undefined;
    if (this.credentials.secretFor(claims.k) === undefined) return undefined;
    return claims.k;
  }

  /** Verifies user and password as `docker login` sends them. */
  verifyLogin(user: string, password: string): string | undefined {
    return user === REGISTRY_USER ? this.verifyPassword(password) : undefined;
  }

  /** Verifies an `authorizationToken` (also the registry's bearer token): base64("AWS:" + password). */
  verifyToken(token: string): string | undefined {
    const text = Buffer.from(token, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return colon < 0 ? undefined : this.verifyLogin(text.slice(0, colon), text.slice(colon + 1));
  }

  /**
   * The query string that lets anyone holding it read one blob of one
   * repository until `expiresAt` (GetDownloadUrlForLayer's pre-authorized URL).
   */
  signDownload(repositoryName: string, digest: string, expiresAt: number): string {
    const expires = String(Math.floor(expiresAt / 1000));
    return `X-Berth-Expires=${expires}&X-Berth-Signature=${this.sign(`download\n${repositoryName}\n${digest}\n${expires}`)}`;
  }

  /** Whether `query` (from `signDownload`) authorizes reading `digest` of `repositoryName` now. */
  verifyDownload(repositoryName: string, digest: string, query: URLSearchParams): boolean {
    const expires = query.get('X-Berth-Expires');
    const signature = query.get('X-Berth-Signature');
    if (expires === null || signature === null || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 <= this.now()) return false;
    const given = Buffer.from(signature, 'base64url');
    const expected = Buffer.from(this.sign(`download\n${repositoryName}\n${digest}\n${expires}`), 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/**
 * Credentials for pulling from the Berth server's own image registry, got by
 * the agent itself as the ECS agent gets ECR credentials with its instance
 * role: GetAuthorizationToken, signed with the agent's keys, answers a token
 * for `AWS` and the registry's host (`proxyEndpoint`). Images on that host
 * are pulled with it; images elsewhere get no credentials from here.
 *
 * Contract: `authFor` never throws. When the server cannot be asked (or
 * refuses), it answers undefined and the pull goes ahead without
 * credentials, so the registry's own refusal becomes the pull's reason.
 * Except when acting as a task's execution role (`refusalFails`): a refusal
 * (AccessDeniedException, say) then throws RegistryAuthRefusedError, which
 * fails the pull with ECS's CannotPullECRContainerError.
 */
import type { Logger } from '../../core/log.js';
import type { RegistryAuth } from '../runtime/runtime.js';
import { EcsApiError, EcsClient } from '../channel/ecs.js';
import type { AwsCredentials } from '../channel/sign.js';

/** A token is renewed this long before it expires (tokens last 12 hours). */
const RENEW_BEFORE_MS = 60 * 60 * 1000;
/** After a failed GetAuthorizationToken, the next pull asks again no sooner than this. */
const RETRY_AFTER_MS = 10_000;

/** The registry host of an image reference (`host[:port]/repo:tag`), or undefined for Docker Hub style names. */
export function registryHostOf(image: string): string | undefined {
  const slash = image.indexOf('/');
  if (slash < 0) return undefined;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** The server refused GetAuthorizationToken to the identity asking; `message` is `<exception>: <message>`. */
export class RegistryAuthRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryAuthRefusedError';
  }
}

interface Token {
  host: string;
  auth: RegistryAuth;
  renewAt: number;
}

export class RegistryCredentials {
  private readonly ecr: EcrTokenSource;
  private token: Token | undefined;
  private inFlight: Promise<Token | undefined> | undefined;
  private failedAt = -Infinity;
  private refusal: RegistryAuthRefusedError | undefined;
  private readonly refusalFails: boolean;

  constructor(
    options: ({ endpoint: string; region: string; credentials: AwsCredentials } | { source: EcrTokenSource }) & { log: Logger; now?: () => number; refusalFails?: boolean },
  ) {
    this.refusalFails = options.refusalFails === true;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.ecr = 'source' in options ? options.source : new EcrTokenClient(options.endpoint, options.region, options.credentials);
  }

  private readonly log: Logger;
  private readonly now: () => number;

  /** The auth config to pull `image` with, or undefined when Berth's registry is not where it lives. */
  async authFor(image: string): Promise<RegistryAuth | undefined> {
    const host = registryHostOf(image);
    if (host === undefined) return undefined;
    const token = await this.current();
    if (!token && this.refusalFails && this.refusal) throw this.refusal;
    return token && token.host === host ? token.auth : undefined;
  }

  private async current(): Promise<Token | undefined> {
    if (this.token && this.now() < this.token.renewAt) return this.token;
    if (this.now() - this.failedAt < RETRY_AFTER_MS) return this.token;
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<Token | undefined> {
    try {
      const data = await this.ecr.getAuthorizationToken();
      const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const host = new URL(data.proxyEndpoint).host;
      this.token = {
        host,
        auth: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serverAddress: host },
        renewAt: data.expiresAt * 1000 - RENEW_BEFORE_MS,
      };
      this.refusal = undefined;
      return this.token;
    } catch (err) {
      this.failedAt = this.now();
      if (err instanceof EcsApiError && err.statusCode >= 400 && err.statusCode < 500) this.refusal = new RegistryAuthRefusedError(`${err.name}: ${err.message}`);
      this.log.warn({ err }, 'could not get registry credentials from the server (GetAuthorizationToken); pulls from its registry go without');
      return this.token;
    }
  }

  close(): void {
    this.ecr.close();
  }
}

/** Where authorization tokens come from (the server's ECR API; a fake in tests). */
export interface EcrTokenSource {
  getAuthorizationToken(): Promise<{ authorizationToken: string; expiresAt: number; proxyEndpoint: string }>;
  close(): void;
}

class EcrTokenClient implements EcrTokenSource {
  private readonly client: EcsClient;

  constructor(endpoint: string, region: string, credentials: AwsCredentials) {
    this.client = new EcsClient({ endpoint, region, credentials, service: { targetPrefix: 'AmazonEC2ContainerRegistry_V20150921.', signingName: 'ecr' } });
  }

  async getAuthorizationToken(): Promise<{ authorizationToken: string; expiresAt: number; proxyEndpoint: string }> {
    const out = await this.client.call<{ authorizationData?: { authorizationToken?: string; expiresAt?: number; proxyEndpoint?: string }[] }>('GetAuthorizationToken', {});
    const d = out.authorizationData?.[0];
    if (!d?.authorizationToken || d.expiresAt === undefined || !d.proxyEndpoint) throw new Error('GetAuthorizationToken answered no authorization data');
    return { authorizationToken: d.authorizationToken, expiresAt: d.expiresAt, proxyEndpoint: d.proxyEndpoint };
  }

  close(): void {
    this.client.close();
  }
}

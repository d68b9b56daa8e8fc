import { join } from 'node:path';
import type { CredentialLookup } from '../core/credentials.js';
import { KeyedLock } from '../core/keyedLock.js';
import type { Logger } from '../core/log.js';
import { RegistryTokens } from '../ecr/authorization.js';
import type { EcrContext } from '../ecr/context.js';
import { PullTimeRecorder } from '../ecr/pullTimes.js';
import type { Store } from '../store/store.js';
import { createRegistryServer } from './server.js';
import { FsBlobStore } from './storage/fs.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RegistryOptions {
  store: Store;
  dataDir: string;
  region: string;
  accountId: string;
  credentials: CredentialLookup;
  log: Logger;
  /** `host[:port]` for repository URIs; undefined: the server's own loopback address, set by `listening`. */
  registryHost?: string;
  /** Reads a Secrets Manager secret's current string (pull-through cache credentials). */
  secretString?(secretArn: string): Promise<string | undefined>;
  /** How long a tag cached through a pull-through cache rule is served before the upstream is asked again (ms; default 24 hours). */
  pullThroughRefreshMs?: number;
  /** Memory for recently read blobs (bytes; default 128 MiB, 0 for none). */
  blobCacheBytes?: number;
  /** `https` when the server serves TLS (default `http`). */
  scheme?: 'http' | 'https';
  observe?(operation: string, outcome: string, seconds: number): void;
  /** Authorizes `/v2/` requests by their ECR action on the repository (see `createRegistryServer`). */
  authorize?(accessKeyId: string, action: string, repositoryName: string): Promise<void>;
}

export interface Registry {
  ctx: EcrContext;
  /** The `/v2/` registry protocol. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Tells the registry the port the server listens on (the default registry host is `127.0.0.1:<port>`). */
  listening(port: number): void;
}

/** Assembles the registry: blobs under `<dataDir>/registry`, metadata in the store, the ECR API and `/v2/`. */
export async function openRegistry(opts: RegistryOptions): Promise<Registry> {
  const root = join(opts.dataDir, 'registry');
  const blobs = await FsBlobStore.open(root, opts.blobCacheBytes !== undefined ? { cacheBytes: opts.blobCacheBytes } : {});
  const tokens = new RegistryTokens(RegistryTokens.loadSecret(join(root, 'token-secret')), opts.credentials);
  const ctx: EcrContext = {
    store: opts.store,
    region: opts.region,
    accountId: opts.accountId,
    registryHost: opts.registryHost ?? '127.0.0.1',
    registryScheme: opts.scheme ?? 'http',
    blobs,
    blobLocks: new KeyedLock(),
    tokens,
    pulls: new PullTimeRecorder(),
    ...(opts.secretString ? { secretString: opts.secretString } : {}),
    ...(opts.pullThroughRefreshMs !== undefined ? { pullThroughRefreshMs: opts.pullThroughRefreshMs } : {}),
    now: Date.now,
  };
  return {
    ctx,
    handle: createRegistryServer(ctx, { log: opts.log, ...(opts.observe ? { observe: opts.observe } : {}), ...(opts.authorize ? { authorize: opts.authorize } : {}) }),
    listening(port) {
      if (opts.registryHost === undefined) ctx.registryHost = `127.0.0.1:${port}`;
    },
  };
}

import type { KeyedLock } from '../core/keyedLock.js';
import type { BlobStore } from '../registry/storage/blobStore.js';
import type { Store } from '../store/store.js';
import type { RegistryTokens } from './authorization.js';
import type { PullTimeRecorder } from './pullTimes.js';

/** What every ECR operation and the registry protocol need. */
export interface EcrContext {
  store: Store;
  region: string;
  accountId: string;
  /** `host[:port]` that clients use for the registry; repository URIs are `<registryHost>/<name>`. */
  registryHost: string;
  /** The scheme of the registry's proxyEndpoint: `http` for loopback without TLS. */
  registryScheme: 'http' | 'https';
  blobs: BlobStore;
  /**
   * Held per digest while a blob is linked to a repository and while garbage
   * collection decides to delete it: a link is only ever made to a blob that
   * exists, and a blob is only deleted while no link names it.
   */
  blobLocks: KeyedLock;
  tokens: RegistryTokens;
  /** Notes manifest pulls for `lastRecordedPullTime`. */
  pulls: PullTimeRecorder;
  /**
   * The current string value of a Secrets Manager secret (the credentials of
   * a pull-through cache rule), undefined when there is none; absent when the
   * registry runs without Secrets Manager.
   */
  secretString?(secretArn: string): Promise<string | undefined>;
  /** How long a tag cached through a pull-through cache rule is served before the upstream is asked again where it points (ms). */
  pullThroughRefreshMs?: number;
  /** Epoch milliseconds. */
  now(): number;
}

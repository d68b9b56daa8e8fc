import type { Keyring } from '../core/envelope.js';
import type { Store } from '../store/store.js';

/** What every Secrets Manager operation needs. */
export interface SecretsContext {
  store: Store;
  region: string;
  accountId: string;
  /** Seals and opens secret values; the master keys never enter the store. */
  keyring: Keyring;
  /** Epoch milliseconds. */
  now(): number;
}

import type { Keyring } from '../core/envelope.js';
import type { Store } from '../store/store.js';

/** What every Parameter Store operation needs. */
export interface SsmContext {
  store: Store;
  region: string;
  accountId: string;
  /** Seals and opens SecureString values; the master keys never enter the store. */
  keyring: Keyring;
  /** Epoch milliseconds. */
  now(): number;
}

import type { Store } from '../store/store.js';

/** What every domain operation needs: the store and the identity of this Berth region. */
export interface DomainContext {
  store: Store;
  region: string;
  accountId: string;
  /** Epoch milliseconds; injectable so tests and reconcilers control time. */
  now(): number;
}

/** ECS wire timestamps are epoch seconds (fractional). */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

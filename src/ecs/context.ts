import type { ClusterStateCache } from '../controllers/clusterState.js';
import type { Store } from '../store/store.js';
import type { TaskDefinitionCache } from './taskDefinitions.js';

/** What every domain operation needs: the store and the identity of this Berth region. */
export interface DomainContext {
  store: Store;
  region: string;
  accountId: string;
  /** Epoch milliseconds; injectable so tests and reconcilers control time. */
  now(): number;
  /** Placement state kept from the change feed; without it RunTask reads the whole cluster per call. */
  clusterState?: ClusterStateCache;
  /** Parsed task definitions for the tasks that run them; without it each lookup reads the store. */
  taskDefinitions?: TaskDefinitionCache;
}

/** ECS wire timestamps are epoch seconds (fractional). */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

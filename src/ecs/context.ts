import type { Store } from '../store/store.js';
import { ClusterStateCache, StoreClusterState, type ClusterState } from '../state/clusterState.js';
import { TaskDefinitionCache } from '../state/taskDefinitions.js';
import type { Logger } from '../core/log.js';

/** The read models ECS operations and controllers read through; always present. */
export interface ReadModels {
  /** Placement state of each cluster. */
  readonly clusters: ClusterState;
  /** Parsed task definitions of the tasks that run them. */
  readonly taskDefinitions: TaskDefinitionCache;
}

/** What every ECS operation needs: the store, the read models and the identity of this Berth region. */
export interface DomainContext {
  store: Store;
  region: string;
  accountId: string;
  /** Epoch milliseconds; injectable so tests and reconcilers control time. */
  now(): number;
  state: ReadModels;
}

/**
 * The server's read models, kept from the store's change feed. `plain`
 * reads the store on every call instead (no background work; for tools and
 * tests that want the simplest behaviour). Close them with `closeReadModels`.
 */
export function createReadModels(store: Store, opts: { plain?: boolean; log?: Logger } = {}): ReadModels {
  return {
    clusters: opts.plain === true ? new StoreClusterState(store) : new ClusterStateCache(store, opts.log ? { log: opts.log } : {}),
    taskDefinitions: new TaskDefinitionCache(store),
  };
}

export function closeReadModels(models: ReadModels): void {
  models.clusters.close();
  models.taskDefinitions.close();
}

/** ECS wire timestamps are epoch seconds (fractional). */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

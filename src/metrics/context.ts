import type { Store } from '../store/store.js';
import type { MetricStorage } from './storage.js';

/** What CloudWatch operations need: the store (alarms), the metric storage and this Berth region's identity. */
export interface MetricsContext {
  store: Store;
  storage: MetricStorage;
  region: string;
  accountId: string;
  /** Epoch milliseconds. */
  now(): number;
}

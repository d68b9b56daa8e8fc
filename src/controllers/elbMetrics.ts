/**
 * The load balancers' metrics loop: every interval (60 s, ELB's own period;
 * BERTH_ELB_METRICS_INTERVAL_MS) it reads the data plane's traffic
 * counters, turns the interval's traffic into `AWS/ApplicationELB` and
 * `AWS/NetworkELB` values (`elbv2/metrics.ts`) and stores them in
 * CloudWatch's metric storage, where GetMetricData, alarms and target
 * tracking read them. Intervals shorter than a minute are stored at one
 * second resolution, so that short alarm periods see each reading.
 *
 * Nothing is published while no data plane runs (no load balancer yet, or
 * HAProxy missing); a reading that fails is logged and skipped, and the next
 * one covers both intervals.
 */
import type { Logger } from '../core/log.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import type { TrafficCounters } from '../dataplane/traffic.js';
import { elbMetrics, type MeteredLoadBalancer } from '../elbv2/metrics.js';
import type { LoadBalancerDoc } from '../elbv2/model.js';
import { loadBalancerView } from '../elbv2/view.js';
import type { MetricStorage } from '../metrics/storage.js';
import type { StoreReader } from '../store/store.js';

export interface ElbMetricsOptions {
  /** The data plane now serving, if any. */
  dataPlane: () => DataPlane | undefined;
  intervalMs?: number;
  log?: Logger;
  now?: () => number;
}

export class ElbMetricsController {
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private previous: TrafficCounters | undefined;
  private previousPlane: DataPlane | undefined;

  constructor(
    private readonly store: StoreReader,
    private readonly storage: MetricStorage,
    private readonly opts: ElbMetricsOptions,
  ) {
    const env = Number(process.env.BERTH_ELB_METRICS_INTERVAL_MS);
    this.intervalMs = opts.intervalMs ?? (Number.isFinite(env) && env > 0 ? env : 60_000);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running || this.stopped) return;
      this.running = this.tick()
        .catch((err: unknown) => {
          if (!this.stopped) this.opts.log?.warn({ err }, 'could not publish load balancer metrics');
        })
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One reading: publishes the traffic since the previous one. */
  async tick(): Promise<void> {
    const plane = this.opts.dataPlane();
    if (!plane) return;
    const counters = await plane.traffic();
    const previous = plane === this.previousPlane ? this.previous : undefined;
    this.previous = counters;
    this.previousPlane = plane;
    const nowMs = (this.opts.now ?? Date.now)();
    const loadBalancers: MeteredLoadBalancer[] = [];
    for (const row of await this.store.find<LoadBalancerDoc>('loadBalancer')) {
      const view = await loadBalancerView(this.store, row.arn, nowMs);
      if (view) loadBalancers.push({ arn: row.arn, type: row.doc.Type, targetGroupArns: Object.keys(view.targetGroups) });
    }
    const resolution = this.intervalMs < 60_000 ? 1 : 60;
    const t = nowMs / 1000;
    for (const m of elbMetrics(loadBalancers, previous, counters)) {
      const sample = typeof m.value === 'number' ? { kind: 'values' as const, values: [m.value] } : { kind: 'set' as const, ...m.value };
      this.storage.put({ namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions }, t, sample, m.unit, resolution, nowMs);
    }
  }
}

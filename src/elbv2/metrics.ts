/**
 * Elastic Load Balancing's CloudWatch metrics (`AWS/ApplicationELB`,
 * `AWS/NetworkELB`) from the data plane's traffic counters: a pure function
 * from two readings of the counters (the previous one and now) to the
 * metric values of the interval between them.
 *
 * Names, dimensions and units are ELB's:
 * - dimension values are the ARN's tail, `app/<name>/<id>` or
 *   `net/<name>/<id>` (LoadBalancer) and `targetgroup/<name>/<id>`
 *   (TargetGroup);
 * - application load balancers, per LoadBalancer: RequestCount,
 *   HTTPCode_ELB_3XX_Count, HTTPCode_ELB_4XX_Count and HTTPCode_ELB_5XX_Count (responses the load
 *   balancer sent itself: fixed responses, redirects, 503 when no target is
 *   available), HTTPCode_Target_2XX..5XX_Count, TargetResponseTime (seconds,
 *   one statistic set weighted by requests), ActiveConnectionCount and
 *   NewConnectionCount (client and target sides), ProcessedBytes; per
 *   LoadBalancer + TargetGroup: RequestCount, HTTPCode_Target_*,
 *   TargetResponseTime, HealthyHostCount, UnHealthyHostCount and
 *   RequestCountPerTarget; RequestCountPerTarget also per TargetGroup alone.
 *   RequestCountPerTarget is the group's requests divided by its healthy
 *   targets (all of its targets when none is healthy); read it with Sum.
 * - network load balancers, per LoadBalancer: ActiveFlowCount(_TCP),
 *   NewFlowCount(_TCP), ProcessedBytes(_TCP); per LoadBalancer +
 *   TargetGroup: HealthyHostCount, UnHealthyHostCount.
 *
 * Counts are published every interval, zeros included (ELB reports its
 * per-target request count always; publishing idle intervals as zero lets
 * alarms and target tracking see a load balancer go quiet). A counter that
 * went down, or a new `generation`, started again from zero: its whole
 * value is the interval's.
 */
import type { TrafficCounters, ResponseCounts } from '../dataplane/traffic.js';
import { targetKey } from '../dataplane/model.js';
import type { LoadBalancerType } from './model.js';

export const APPLICATION_ELB_NAMESPACE = 'AWS/ApplicationELB';
export const NETWORK_ELB_NAMESPACE = 'AWS/NetworkELB';

export interface MetricDimension {
  Name: string;
  Value: string;
}

/** One value to store: a count or gauge, or a statistic set (TargetResponseTime). */
export interface ElbMetricValue {
  namespace: string;
  metricName: string;
  dimensions: MetricDimension[];
  unit: 'Count' | 'Seconds' | 'Bytes' | 'None';
  value: number | { count: number; sum: number; min: number; max: number };
}

/** A load balancer as the metrics need it. */
export interface MeteredLoadBalancer {
  arn: string;
  type: LoadBalancerType;
  /** Target groups its listeners and rules forward to. */
  targetGroupArns: string[];
}

/** `app/<name>/<id>` from `arn:...:loadbalancer/app/<name>/<id>`. */
export function loadBalancerDimension(arn: string): string {
  const i = arn.indexOf(':loadbalancer/');
  return i < 0 ? arn : arn.slice(i + ':loadbalancer/'.length);
}

/** `targetgroup/<name>/<id>` from `arn:...:targetgroup/<name>/<id>`. */
export function targetGroupDimension(arn: string): string {
  const i = arn.lastIndexOf(':targetgroup/');
  return i < 0 ? arn : arn.slice(i + 1);
}

function counter(previous: Map<string, number> | undefined, key: string, now: number): number {
  const before = previous?.get(key);
  return before === undefined || now < before ? now : now - before;
}

/** Every cumulative counter of a reading, by a key naming its owner and column. */
export function counterIndex(t: TrafficCounters): Map<string, number> {
  const out = new Map<string, number>();
  const codes = (prefix: string, r: ResponseCounts) => {
    for (const [k, v] of Object.entries(r)) out.set(`${prefix} ${k}`, v);
  };
  for (const l of t.listeners) {
    const p = `l ${l.loadBalancerId} ${l.listenerId}`;
    out.set(`${p} connections`, l.connections);
    out.set(`${p} requests`, l.requests);
    out.set(`${p} bytes`, l.bytesIn + l.bytesOut);
    codes(p, l.responses);
  }
  for (const g of t.targetGroups) {
    out.set(`g ${g.targetGroupId} requests`, g.requests);
    for (const s of g.targets) {
      const p = `t ${g.targetGroupId} ${targetKey(s)}`;
      out.set(`${p} connections`, s.connections);
      out.set(`${p} requests`, s.requests);
      codes(p, s.responses);
    }
  }
  return out;
}

/**
 * The metric values of the interval from `previous` (undefined for the first
 * reading, whose counters all belong to it) to `current`.
 */
export function elbMetrics(loadBalancers: readonly MeteredLoadBalancer[], previous: TrafficCounters | undefined, current: TrafficCounters): ElbMetricValue[] {
  const before = previous && previous.generation === current.generation ? counterIndex(previous) : undefined;
  const now = counterIndex(current);
  const d = (key: string) => counter(before, key, now.get(key) ?? 0);
  const groups = new Map(current.targetGroups.map((g) => [g.targetGroupId, g]));
  const out: ElbMetricValue[] = [];

  for (const lb of loadBalancers) {
    const network = lb.type === 'network';
    const namespace = network ? NETWORK_ELB_NAMESPACE : APPLICATION_ELB_NAMESPACE;
    const lbDim = { Name: 'LoadBalancer', Value: loadBalancerDimension(lb.arn) };
    const put = (metricName: string, dimensions: MetricDimension[], unit: ElbMetricValue['unit'], value: ElbMetricValue['value']) => out.push({ namespace, metricName, dimensions, unit, value });
    const listeners = current.listeners.filter((l) => l.loadBalancerId === lb.arn);

    let clientConnections = 0;
    let newClientConnections = 0;
    let requests = 0;
    let bytes = 0;
    const lbCodes = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    for (const l of listeners) {
      const p = `l ${l.loadBalancerId} ${l.listenerId}`;
      clientConnections += l.currentConnections;
      newClientConnections += d(`${p} connections`);
      requests += d(`${p} requests`);
      bytes += d(`${p} bytes`);
      for (const k of Object.keys(lbCodes) as (keyof ResponseCounts)[]) lbCodes[k] += d(`${p} ${k}`);
    }

    let targetConnections = 0;
    let newTargetConnections = 0;
    const targetCodes = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const timing = { count: 0, sum: 0, min: Infinity, max: -Infinity };
    for (const tgArn of lb.targetGroupArns) {
      const g = groups.get(tgArn);
      if (!g) continue;
      const tgDims = [lbDim, { Name: 'TargetGroup', Value: targetGroupDimension(tgArn) }];
      const groupCodes = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
      const groupTiming = { count: 0, sum: 0, min: Infinity, max: -Infinity };
      let healthy = 0;
      let unhealthy = 0;
      for (const s of g.targets) {
        const p = `t ${tgArn} ${targetKey(s)}`;
        if (s.state === 'up') healthy++;
        else if (s.state === 'down') unhealthy++;
        targetConnections += s.currentConnections;
        newTargetConnections += d(`${p} connections`);
        for (const k of Object.keys(groupCodes) as (keyof ResponseCounts)[]) groupCodes[k] += d(`${p} ${k}`);
        const answered = d(`${p} requests`);
        if (answered > 0) {
          const seconds = s.responseTimeMs / 1000;
          for (const t of [groupTiming, timing]) {
            t.count += answered;
            t.sum += answered * seconds;
            t.min = Math.min(t.min, seconds);
            t.max = Math.max(t.max, seconds);
          }
        }
      }
      for (const k of Object.keys(groupCodes) as (keyof ResponseCounts)[]) targetCodes[k] += groupCodes[k];
      put('HealthyHostCount', tgDims, 'Count', healthy);
      put('UnHealthyHostCount', tgDims, 'Count', unhealthy);
      if (network) continue;
      const groupRequests = d(`g ${tgArn} requests`);
      put('RequestCount', tgDims, 'Count', groupRequests);
      for (const k of Object.keys(groupCodes) as (keyof ResponseCounts)[]) put(`HTTPCode_Target_${k.toUpperCase()}_Count`, tgDims, 'Count', groupCodes[k]);
      if (groupTiming.count > 0) put('TargetResponseTime', tgDims, 'Seconds', groupTiming);
      const counted = healthy > 0 ? healthy : g.targets.filter((s) => s.state !== 'draining').length;
      if (counted > 0) {
        const perTarget = groupRequests / counted;
        put('RequestCountPerTarget', tgDims, 'None', perTarget);
        put('RequestCountPerTarget', [tgDims[1]!], 'None', perTarget);
      }
    }

    if (network) {
      for (const suffix of ['', '_TCP']) {
        put(`ActiveFlowCount${suffix}`, [lbDim], 'Count', clientConnections);
        put(`NewFlowCount${suffix}`, [lbDim], 'Count', newClientConnections);
        put(`ProcessedBytes${suffix}`, [lbDim], 'Bytes', bytes);
      }
      continue;
    }
    put('RequestCount', [lbDim], 'Count', requests);
    put('HTTPCode_ELB_3XX_Count', [lbDim], 'Count', Math.max(0, lbCodes['3xx'] - targetCodes['3xx']));
    put('HTTPCode_ELB_4XX_Count', [lbDim], 'Count', Math.max(0, lbCodes['4xx'] - targetCodes['4xx']));
    put('HTTPCode_ELB_5XX_Count', [lbDim], 'Count', Math.max(0, lbCodes['5xx'] - targetCodes['5xx']));
    for (const k of Object.keys(targetCodes) as (keyof ResponseCounts)[]) put(`HTTPCode_Target_${k.toUpperCase()}_Count`, [lbDim], 'Count', targetCodes[k]);
    if (timing.count > 0) put('TargetResponseTime', [lbDim], 'Seconds', timing);
    put('ActiveConnectionCount', [lbDim], 'Count', clientConnections + targetConnections);
    put('NewConnectionCount', [lbDim], 'Count', newClientConnections + newTargetConnections);
    put('ProcessedBytes', [lbDim], 'Bytes', bytes);
  }
  return out;
}

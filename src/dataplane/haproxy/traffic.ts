import type { DataPlaneConfig } from '../model.js';
import type { ListenerTraffic, ResponseCounts, TargetGroupTraffic, TrafficCounters } from '../traffic.js';
import { frontendName, type Rendered } from './render.js';

const num = (row: Record<string, string> | undefined, column: string): number => {
  const v = Number(row?.[column] ?? '');
  return Number.isFinite(v) ? v : 0;
};

const responses = (row: Record<string, string> | undefined): ResponseCounts => ({
  '2xx': num(row, 'hrsp_2xx'),
  '3xx': num(row, 'hrsp_3xx'),
  '4xx': num(row, 'hrsp_4xx'),
  '5xx': num(row, 'hrsp_5xx'),
});

/**
 * The data plane's traffic counters from HAProxy's `show stat` rows: one
 * FRONTEND row per listener, one server row per target (BACKEND rows count
 * the requests HAProxy answered itself for want of a target). `config` is
 * what the listeners were rendered from, `running` what the worker serves.
 * Listeners and targets missing from the rows (not yet serving) count zero.
 */
export function trafficFromStat(rows: readonly Record<string, string>[], config: DataPlaneConfig, running: Rendered, generation: string): TrafficCounters {
  const byName = new Map(rows.map((r) => [`${r.pxname}/${r.svname}`, r]));
  const listeners: ListenerTraffic[] = [];
  for (const lb of config.loadBalancers) {
    for (const l of lb.listeners) {
      const row = byName.get(`${frontendName(lb, l)}/FRONTEND`);
      listeners.push({
        loadBalancerId: lb.id,
        listenerId: l.id,
        currentConnections: num(row, 'scur'),
        connections: num(row, 'conn_tot') || num(row, 'stot'),
        requests: num(row, 'req_tot'),
        bytesIn: num(row, 'bin'),
        bytesOut: num(row, 'bout'),
        responses: responses(row),
      });
    }
  }
  const targetGroups: TargetGroupTraffic[] = [];
  for (const [tgId, b] of running.backends) {
    const backend = byName.get(`${b.name}/BACKEND`);
    const http = b.targetGroup.protocol !== 'TCP';
    targetGroups.push({
      targetGroupId: tgId,
      requests: http ? num(backend, 'req_tot') : num(backend, 'stot'),
      targets: [...b.servers.values()].map((s) => {
        const row = byName.get(`${b.name}/${s.name}`);
        const status = (row?.status ?? 'DOWN').split(' ')[0] ?? '';
        const up = status === 'UP' || status === 'NOLB' || row?.status === 'no check';
        return {
          host: s.target.host,
          port: s.target.port,
          state: s.draining || status === 'MAINT' || status === 'DRAIN' ? ('draining' as const) : up ? ('up' as const) : ('down' as const),
          currentConnections: num(row, 'scur'),
          connections: num(row, 'connect') || num(row, 'stot'),
          requests: http ? num(row, 'req_tot') : num(row, 'stot'),
          responses: responses(row),
          responseTimeMs: num(row, 'rtime'),
        };
      }),
    });
  }
  return { generation, listeners, targetGroups };
}

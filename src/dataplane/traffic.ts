/**
 * What a data plane has carried: counters per listener, per target group and
 * per target, read from the proxy on demand. They are cumulative since the
 * proxy process serving them started; `generation` changes whenever the
 * counters started again from zero (a reload or a restart), so a reader
 * taking differences knows when not to subtract.
 */

/** HTTP responses by status class. */
export interface ResponseCounts {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

export interface ListenerTraffic {
  loadBalancerId: string;
  listenerId: string;
  /** Client connections open now. */
  currentConnections: number;
  /** Client connections accepted. */
  connections: number;
  /** HTTP requests received (0 on TCP listeners). */
  requests: number;
  /** Bytes received from and sent to clients. */
  bytesIn: number;
  bytesOut: number;
  /** Every response the listener sent, the load balancer's own (fixed responses, redirects, 503s) included. */
  responses: ResponseCounts;
}

export interface TargetTraffic {
  host: string;
  port: number;
  /** `up`: passes its checks (or is not checked); `down`: fails them; `draining`: deregistered, finishing its requests. */
  state: 'up' | 'down' | 'draining';
  /** Connections to the target open now. */
  currentConnections: number;
  /** Connections opened to the target. */
  connections: number;
  /** Requests the target answered or was sent. */
  requests: number;
  /** Responses the target itself sent. */
  responses: ResponseCounts;
  /** Average time to the target's response headers over its recent requests, in milliseconds. */
  responseTimeMs: number;
}

export interface TargetGroupTraffic {
  targetGroupId: string;
  /** Requests routed to the group, answered by a target or not (no target available). */
  requests: number;
  targets: TargetTraffic[];
}

export interface TrafficCounters {
  /** Changes when the counters restart from zero. */
  generation: string;
  listeners: ListenerTraffic[];
  targetGroups: TargetGroupTraffic[];
}

const sumResponses = (a: ResponseCounts | undefined, b: ResponseCounts): ResponseCounts => ({
  '2xx': (a?.['2xx'] ?? 0) + b['2xx'],
  '3xx': (a?.['3xx'] ?? 0) + b['3xx'],
  '4xx': (a?.['4xx'] ?? 0) + b['4xx'],
  '5xx': (a?.['5xx'] ?? 0) + b['5xx'],
});

/**
 * `current` with the cumulative counters of `carried` added: what a proxy
 * that replaced its process (a reload) carried before. Gauges (open
 * connections, state, response time) are `current`'s; what `current` no
 * longer has (a listener or target that went) is dropped.
 */
export function addTraffic(carried: TrafficCounters | undefined, current: TrafficCounters): TrafficCounters {
  if (!carried) return current;
  const listeners = new Map(carried.listeners.map((l) => [`${l.loadBalancerId}\n${l.listenerId}`, l]));
  const groups = new Map(carried.targetGroups.map((g) => [g.targetGroupId, g]));
  return {
    generation: current.generation,
    listeners: current.listeners.map((l) => {
      const c = listeners.get(`${l.loadBalancerId}\n${l.listenerId}`);
      return {
        ...l,
        connections: (c?.connections ?? 0) + l.connections,
        requests: (c?.requests ?? 0) + l.requests,
        bytesIn: (c?.bytesIn ?? 0) + l.bytesIn,
        bytesOut: (c?.bytesOut ?? 0) + l.bytesOut,
        responses: sumResponses(c?.responses, l.responses),
      };
    }),
    targetGroups: current.targetGroups.map((g) => {
      const c = groups.get(g.targetGroupId);
      const targets = new Map((c?.targets ?? []).map((t) => [`${t.host}\n${t.port}`, t]));
      return {
        ...g,
        requests: (c?.requests ?? 0) + g.requests,
        targets: g.targets.map((t) => {
          const ct = targets.get(`${t.host}\n${t.port}`);
          return { ...t, connections: (ct?.connections ?? 0) + t.connections, requests: (ct?.requests ?? 0) + t.requests, responses: sumResponses(ct?.responses, t.responses) };
        }),
      };
    }),
  };
}

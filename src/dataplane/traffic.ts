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

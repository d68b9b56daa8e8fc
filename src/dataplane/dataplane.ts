import type { DataPlaneConfig } from './model.js';
import type { TrafficCounters } from './traffic.js';

/**
 * A load-balancer data plane: a proxy made to serve a `DataPlaneConfig`.
 *
 * Contract (checked by `dataPlaneContract` against every implementation):
 * - `apply` returns once the proxy serves the new configuration; applying the
 *   same configuration twice changes nothing. Target additions, removals and
 *   weight changes take effect without interrupting traffic; so do structural
 *   changes (listeners, rules, target groups): no connection is refused and no
 *   request fails because of an `apply`.
 * - A target that leaves its target group drains: it gets no new requests,
 *   requests in flight finish, and after the group's deregistration delay it
 *   is gone (connections still open then are closed).
 * - Health is the proxy's own checks; `targetHealth` reports it per target in
 *   ELB's words, and `onHealthChange` hears every state change.
 * - A proxy that dies is started again with the last applied configuration.
 * - `traffic` reports cumulative counters per listener, target group and
 *   target, for the load balancers' CloudWatch metrics.
 */
export interface DataPlane {
  start(): Promise<void>;
  apply(config: DataPlaneConfig): Promise<ApplyOutcome>;
  targetHealth(): Promise<TargetHealth[]>;
  /** Called with each target whose state or reason changed; returns an unsubscribe function. */
  onHealthChange(listener: (changes: TargetHealth[]) => void): () => void;
  /** What the proxy has carried so far (see `traffic.ts`); rejects when the proxy is not running. */
  traffic(): Promise<TrafficCounters>;
  /** Stops the proxy; listeners close. */
  stop(): Promise<void>;
}

/** How an `apply` took effect. */
export interface ApplyOutcome {
  /** The proxy reloaded its configuration (structural change), seamlessly. */
  reloaded: boolean;
  /** Changes made in place through the proxy's runtime interface. */
  runtimeChanges: number;
}

/** ELB's target health states (DescribeTargetHealth `TargetHealth.State`). */
export type TargetHealthState = 'initial' | 'healthy' | 'unhealthy' | 'draining' | 'unavailable';

/** ELB's reason codes for a state other than healthy. */
export type TargetHealthReason =
  | 'Elb.InitialHealthChecking'
  | 'Elb.RegistrationInProgress'
  | 'Target.ResponseCodeMismatch'
  | 'Target.Timeout'
  | 'Target.FailedHealthChecks'
  | 'Target.DeregistrationInProgress'
  | 'Target.HealthCheckDisabled';

export interface TargetHealth {
  targetGroupId: string;
  host: string;
  port: number;
  state: TargetHealthState;
  reason?: TargetHealthReason;
  /** ELB-style sentence, for example "Health checks failed with these codes: [500]". */
  description?: string;
}

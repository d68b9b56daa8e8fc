/**
 * ELBv2 resources mapped onto the data plane's desired configuration: a pure
 * function from load balancer views (`view.ts`) to a `DataPlaneConfig`.
 *
 * Promises:
 * - Every listener binds `bindHost` (ELB listens on the load balancer's
 *   addresses; Berth's are those of the server's host).
 * - A load balancer that cannot be served as a whole (a port another load
 *   balancer already binds, a protocol the data plane does not speak, a
 *   certificate that is gone) is left out with the reasons, and the others
 *   are served: one broken load balancer never takes the rest down.
 * - Draining targets are left out of their target group: the data plane
 *   drains a target that leaves for the group's deregistration delay.
 * - `targets` tells, for every target the data plane checks, which ELBv2
 *   target (id and port) it is, so that health reports can be recorded.
 */
import {
  DataPlaneConfigError,
  targetGroup as dataPlaneTargetGroup,
  targetKey,
  validateConfig,
  type Action,
  type Algorithm,
  type Condition,
  type DataPlaneConfig,
  type Listener,
  type LoadBalancer,
  type TargetGroup,
  type TargetGroupProtocol,
} from '../dataplane/model.js';
import type { ActionDoc, ConditionDoc } from './model.js';
import type { ListenerView, LoadBalancerView, TargetGroupView } from './view.js';

export interface MappingInput {
  views: readonly LoadBalancerView[];
  /** The address every listener binds. */
  bindHost: string;
  /** The host address of an instance target, by the id it is registered with; undefined when unknown. */
  instanceHost(id: string): string | undefined;
  /** PEM certificate (with its chain) and key of an ACM certificate, by ARN; undefined when gone. */
  certificate(arn: string): { certificatePem: string; privateKeyPem: string } | undefined;
}

/** The ELBv2 target behind a data plane target. */
export interface TargetRef {
  targetGroupArn: string;
  id: string;
  port: number;
}

export interface MappingResult {
  config: DataPlaneConfig;
  /** Load balancers left out, with every reason, by ARN. */
  failed: Map<string, string[]>;
  /** By `dataPlaneTargetId(targetGroupArn, host, port)`. */
  targets: Map<string, TargetRef>;
}

/** The key of a data plane target in `MappingResult.targets`. */
export function dataPlaneTargetId(targetGroupArn: string, host: string, port: number): string {
  return `${targetGroupArn} ${targetKey({ host, port })}`;
}

class Unservable extends Error {}

function intAttribute(attributes: Record<string, string>, key: string, fallback: number): number {
  const v = Number(attributes[key]);
  return attributes[key] !== undefined && attributes[key] !== '' && Number.isFinite(v) ? v : fallback;
}

function values(c: ConditionDoc, config: { Values?: string[] } | undefined): string[] {
  return config?.Values ?? c.Values ?? [];
}

export function mapCondition(c: ConditionDoc): Condition {
  switch (c.Field) {
    case 'host-header':
      return { field: 'host-header', values: values(c, c.HostHeaderConfig) };
    case 'path-pattern':
      return { field: 'path-pattern', values: values(c, c.PathPatternConfig) };
    case 'http-header':
      return { field: 'http-header', headerName: c.HttpHeaderConfig?.HttpHeaderName ?? '', values: c.HttpHeaderConfig?.Values ?? [] };
    case 'http-request-method':
      return { field: 'http-request-method', values: values(c, c.HttpRequestMethodConfig) };
    case 'query-string':
      return { field: 'query-string', values: (c.QueryStringConfig?.Values ?? []).map((v) => ({ ...(v.Key !== undefined ? { key: v.Key } : {}), value: v.Value ?? '' })) };
    case 'source-ip':
      return { field: 'source-ip', values: values(c, c.SourceIpConfig) };
    default:
      throw new Unservable(`condition field ${c.Field ?? '(none)'} is not served`);
  }
}

/** The action that decides a request: the last by `Order` (authenticate actions before it are not served). */
export function mapActions(actions: readonly ActionDoc[]): Action {
  const sorted = [...actions].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0));
  const a = sorted[sorted.length - 1];
  if (!a) throw new Unservable('a rule has no action');
  switch (a.Type) {
    case 'forward': {
      const tuples = a.ForwardConfig?.TargetGroups?.length ? a.ForwardConfig.TargetGroups : a.TargetGroupArn ? [{ TargetGroupArn: a.TargetGroupArn }] : [];
      return { type: 'forward', targetGroups: tuples.map((t) => ({ targetGroupId: t.TargetGroupArn, ...(tuples.length > 1 ? { weight: t.Weight ?? 1 } : {}) })) };
    }
    case 'redirect': {
      const r = a.RedirectConfig;
      if (!r) throw new Unservable('a redirect action has no RedirectConfig');
      return {
        type: 'redirect',
        statusCode: r.StatusCode === 'HTTP_302' ? 'HTTP_302' : 'HTTP_301',
        ...(r.Protocol !== undefined ? { protocol: r.Protocol } : {}),
        ...(r.Host !== undefined ? { host: r.Host } : {}),
        ...(r.Port !== undefined ? { port: r.Port } : {}),
        ...(r.Path !== undefined ? { path: r.Path } : {}),
        ...(r.Query !== undefined ? { query: r.Query } : {}),
      };
    }
    case 'fixed-response': {
      const f = a.FixedResponseConfig;
      if (!f) throw new Unservable('a fixed-response action has no FixedResponseConfig');
      return {
        type: 'fixed-response',
        statusCode: Number(f.StatusCode),
        ...(f.ContentType !== undefined ? { contentType: f.ContentType } : {}),
        ...(f.MessageBody !== undefined ? { messageBody: f.MessageBody } : {}),
      };
    }
    default:
      throw new Unservable(`action type ${a.Type} is not served`);
  }
}

function listenerProtocol(protocol: string): Listener['protocol'] {
  if (protocol === 'HTTP' || protocol === 'HTTPS' || protocol === 'TCP') return protocol;
  throw new Unservable(`${protocol} listeners are not served`);
}

function mapListener(view: ListenerView, input: MappingInput): Listener {
  const l = view.listener;
  const protocol = listenerProtocol(l.Protocol);
  let certificate: Listener['certificate'];
  if (protocol === 'HTTPS') {
    const ref = l.Certificates?.find((c) => c.IsDefault) ?? l.Certificates?.[0];
    certificate = ref?.CertificateArn ? input.certificate(ref.CertificateArn) : undefined;
    if (!certificate) throw new Unservable(`certificate ${ref?.CertificateArn ?? '(none)'} of the HTTPS listener on port ${l.Port} is not found`);
  }
  // The certificate list: chosen by SNI; one that is gone is left out (ACM refuses to delete a certificate in use).
  const sniCertificates = protocol === 'HTTPS' ? (l.additionalCertificates ?? []).map((arn) => input.certificate(arn)).filter((c) => c !== undefined) : [];
  const rules = view.rules.filter((r) => r.priority !== 'default');
  const def = view.rules.find((r) => r.priority === 'default');
  if (!def) throw new Unservable(`the listener on port ${l.Port} has no default action`);
  return {
    id: l.ListenerArn,
    port: l.Port,
    protocol,
    bindHost: input.bindHost,
    ...(certificate ? { certificate } : {}),
    ...(sniCertificates.length ? { sniCertificates } : {}),
    rules: protocol === 'TCP' ? [] : rules.map((r) => ({ priority: r.priority as number, conditions: r.conditions.map(mapCondition), action: mapActions(r.actions) })),
    defaultAction: mapActions(def.actions),
  };
}

function mapTargetGroup(arn: string, view: TargetGroupView, input: MappingInput, refs: Map<string, TargetRef>): TargetGroup {
  const tg = view.targetGroup;
  const protocol: TargetGroupProtocol = tg.Protocol === 'HTTPS' || tg.Protocol === 'TCP' ? tg.Protocol : tg.Protocol === 'HTTP' || tg.Protocol === undefined ? 'HTTP' : 'TCP';
  const attrs = tg.attributes;
  const hcProtocol = tg.HealthCheckProtocol === 'HTTPS' || tg.HealthCheckProtocol === 'TCP' || tg.HealthCheckProtocol === 'HTTP' ? tg.HealthCheckProtocol : protocol;
  const hcPort = tg.HealthCheckPort === undefined || tg.HealthCheckPort === 'traffic-port' ? ('traffic-port' as const) : Number(tg.HealthCheckPort);
  const algorithm: Algorithm = attrs['load_balancing.algorithm.type'] === 'least_outstanding_requests' ? 'least_outstanding_requests' : 'round_robin';
  const sticky = attrs['stickiness.enabled'] === 'true' && (attrs['stickiness.type'] ?? 'lb_cookie') === 'lb_cookie' && protocol !== 'TCP';
  const targets: { host: string; port: number }[] = [];
  for (const t of view.targets) {
    if (t.draining) continue;
    const host = tg.TargetType === 'instance' ? input.instanceHost(t.id) : t.id;
    if (host === undefined) continue;
    const key = dataPlaneTargetId(arn, host, t.port);
    if (refs.has(key)) continue;
    refs.set(key, { targetGroupArn: arn, id: t.id, port: t.port });
    targets.push({ host, port: t.port });
  }
  return dataPlaneTargetGroup({
    id: arn,
    protocol,
    targets,
    healthCheck: {
      protocol: hcProtocol,
      ...(tg.HealthCheckPath !== undefined ? { path: tg.HealthCheckPath } : {}),
      port: hcPort,
      intervalSeconds: tg.HealthCheckIntervalSeconds,
      timeoutSeconds: tg.HealthCheckTimeoutSeconds,
      healthyThreshold: tg.HealthyThresholdCount,
      unhealthyThreshold: tg.UnhealthyThresholdCount,
      ...(tg.Matcher?.HttpCode !== undefined ? { matcher: tg.Matcher.HttpCode } : {}),
    },
    deregistrationDelaySeconds: intAttribute(attrs, 'deregistration_delay.timeout_seconds', 300),
    algorithm,
    slowStartSeconds: intAttribute(attrs, 'slow_start.duration_seconds', 0),
    ...(sticky ? { stickiness: { type: 'lb_cookie' as const, durationSeconds: intAttribute(attrs, 'stickiness.lb_cookie.duration_seconds', 86400) } } : {}),
  });
}

/** Maps every load balancer it can serve; see the module comment for what is promised. */
export function toDataPlaneConfig(input: MappingInput): MappingResult {
  const config: DataPlaneConfig = { loadBalancers: [], targetGroups: [] };
  const failed = new Map<string, string[]>();
  const targets = new Map<string, TargetRef>();
  const groupIds = new Set<string>();
  for (const view of input.views) {
    const lbDoc = view.loadBalancer;
    const refs = new Map<string, TargetRef>();
    let lb: LoadBalancer;
    const groups: TargetGroup[] = [];
    try {
      lb = {
        id: lbDoc.LoadBalancerArn,
        type: lbDoc.Type,
        idleTimeoutSeconds: lbDoc.Type === 'application' ? intAttribute(lbDoc.attributes, 'idle_timeout.timeout_seconds', 60) : 350,
        listeners: view.listeners.map((l) => mapListener(l, input)),
      };
      for (const [arn, tgView] of Object.entries(view.targetGroups)) {
        if (groupIds.has(arn)) continue;
        groups.push(mapTargetGroup(arn, tgView, input, refs));
      }
    } catch (err) {
      if (!(err instanceof Unservable)) throw err;
      failed.set(lbDoc.LoadBalancerArn, [err.message]);
      continue;
    }
    const candidate: DataPlaneConfig = { loadBalancers: [...config.loadBalancers, lb], targetGroups: [...config.targetGroups, ...groups] };
    try {
      validateConfig(candidate);
    } catch (err) {
      if (!(err instanceof DataPlaneConfigError)) throw err;
      failed.set(lbDoc.LoadBalancerArn, err.problems);
      continue;
    }
    config.loadBalancers = candidate.loadBalancers;
    config.targetGroups = candidate.targetGroups;
    for (const g of groups) groupIds.add(g.id);
    for (const [k, v] of refs) targets.set(k, v);
  }
  return { config, failed, targets };
}

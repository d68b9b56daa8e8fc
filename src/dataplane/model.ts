/**
 * The desired configuration of Berth's load-balancer data plane: what every
 * load balancer listens on, how its rules route, and which targets each target
 * group holds. It is a plain value, independent of the store and of the proxy
 * that implements it: the ELBv2 side maps its resources onto it, and a
 * `DataPlane` makes a proxy serve exactly it.
 *
 * Semantics follow Elastic Load Balancing v2:
 * - a listener evaluates its rules by ascending priority; the first rule whose
 *   conditions all match decides (conditions AND, values within one condition
 *   OR); no match means the listener's default action;
 * - path-pattern and http-request-method compare case-sensitively; host-header,
 *   http-header values and query-string keys/values case-insensitively;
 *   `*` matches any run of characters and `?` exactly one (a backslash makes
 *   the next character literal);
 * - a network load balancer's TCP listener only forwards to TCP target groups.
 */

export type LoadBalancerType = 'application' | 'network';
export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TCP';
export type TargetGroupProtocol = 'HTTP' | 'HTTPS' | 'TCP';
export type HealthCheckProtocol = 'HTTP' | 'HTTPS' | 'TCP';
export type Algorithm = 'round_robin' | 'least_outstanding_requests';

export interface DataPlaneConfig {
  loadBalancers: LoadBalancer[];
  targetGroups: TargetGroup[];
}

export interface LoadBalancer {
  /** Unique among load balancers (for example the ELBv2 ARN). */
  id: string;
  type: LoadBalancerType;
  /** Seconds a connection may stay idle before the load balancer closes it (ELB default 60). */
  idleTimeoutSeconds: number;
  listeners: Listener[];
}

export interface Listener {
  /** Unique within its load balancer. */
  id: string;
  port: number;
  protocol: ListenerProtocol;
  /** The address the listener binds; ELB listens on all addresses, so 0.0.0.0 when absent. */
  bindHost?: string;
  /** PEM certificate (with its chain) and private key: required for HTTPS. */
  certificate?: { certificatePem: string; privateKeyPem: string };
  /**
   * HTTPS only: further certificates, each served to clients whose SNI host
   * name it covers; `certificate` answers every other name and clients
   * without SNI, as ELB's default certificate does.
   */
  sniCertificates?: { certificatePem: string; privateKeyPem: string }[];
  /** Evaluated by ascending priority; an application load balancer's only. */
  rules: Rule[];
  defaultAction: Action;
}

export interface Rule {
  /** 1..50000, unique within the listener. */
  priority: number;
  /** All must match; at least one. */
  conditions: Condition[];
  action: Action;
}

export type Condition =
  | { field: 'path-pattern'; values: string[] }
  | { field: 'host-header'; values: string[] }
  | { field: 'http-header'; headerName: string; values: string[] }
  | { field: 'http-request-method'; values: string[] }
  | { field: 'query-string'; values: { key?: string; value: string }[] }
  | { field: 'source-ip'; values: string[] };

export type Action = ForwardAction | RedirectAction | FixedResponseAction;

export interface ForwardAction {
  type: 'forward';
  /** One target group, or several with weights 0..999 splitting requests in proportion. */
  targetGroups: { targetGroupId: string; weight?: number }[];
}

export interface RedirectAction {
  type: 'redirect';
  /**
   * Each part may reuse the request's with #{protocol}, #{host}, #{port},
   * #{path} (without its leading slash) and #{query}; ELB's defaults apply
   * to absent parts.
   */
  protocol?: string;
  host?: string;
  port?: string;
  path?: string;
  query?: string;
  statusCode: 'HTTP_301' | 'HTTP_302';
}

export interface FixedResponseAction {
  type: 'fixed-response';
  /** 2XX, 4XX or 5XX. */
  statusCode: number;
  contentType?: string;
  messageBody?: string;
}

export interface TargetGroup {
  /** Unique among target groups (for example the ELBv2 ARN). */
  id: string;
  protocol: TargetGroupProtocol;
  targets: Target[];
  healthCheck: HealthCheck;
  /** Seconds a deregistered target keeps its in-flight requests before it is removed (ELB default 300). */
  deregistrationDelaySeconds: number;
  algorithm: Algorithm;
  /** Seconds over which a newly healthy target ramps up to its full share; 0 is off (else 30..900 on ELB). */
  slowStartSeconds: number;
  /** Load-balancer-generated cookie (AWSALB) binding a client to a target. */
  stickiness?: { type: 'lb_cookie'; durationSeconds: number };
}

export interface Target {
  host: string;
  port: number;
  /** Relative share of requests, 0..256 (1 when absent); 0 takes no new requests. */
  weight?: number;
}

export interface HealthCheck {
  protocol: HealthCheckProtocol;
  /** HTTP and HTTPS checks only. */
  path: string;
  /** 'traffic-port' checks each target on its own port. */
  port: 'traffic-port' | number;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** HTTP codes that mean healthy: "200", "200,302", "200-299". */
  matcher: string;
}

/** The ELB health-check defaults for a target group of this protocol. */
export function defaultHealthCheck(protocol: TargetGroupProtocol): HealthCheck {
  if (protocol === 'TCP') {
    return { protocol: 'TCP', path: '/', port: 'traffic-port', intervalSeconds: 30, timeoutSeconds: 10, healthyThreshold: 5, unhealthyThreshold: 2, matcher: '200-399' };
  }
  return { protocol, path: '/', port: 'traffic-port', intervalSeconds: 30, timeoutSeconds: 5, healthyThreshold: 5, unhealthyThreshold: 2, matcher: '200' };
}

/** A target group with ELB's defaults for everything not given. */
export function targetGroup(spec: Partial<Omit<TargetGroup, 'healthCheck'>> & { id: string; healthCheck?: Partial<HealthCheck> }): TargetGroup {
  const protocol = spec.protocol ?? 'HTTP';
  return {
    id: spec.id,
    protocol,
    targets: spec.targets ?? [],
    healthCheck: { ...defaultHealthCheck(protocol), ...spec.healthCheck },
    deregistrationDelaySeconds: spec.deregistrationDelaySeconds ?? 300,
    algorithm: spec.algorithm ?? 'round_robin',
    slowStartSeconds: spec.slowStartSeconds ?? 0,
    ...(spec.stickiness ? { stickiness: spec.stickiness } : {}),
  };
}

/** `host:port`, the identity of a target within its target group. */
export function targetKey(t: { host: string; port: number }): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** A configuration the data plane cannot serve; `problems` lists every reason. */
export class DataPlaneConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid data plane configuration: ${problems.join('; ')}`);
    this.name = 'DataPlaneConfigError';
  }
}

const STATUS_MATCHER = /^([1-5][0-9][0-9](-[1-5][0-9][0-9])?)(,[1-5][0-9][0-9](-[1-5][0-9][0-9])?)*$/;
const METHOD = /^[A-Za-z_-]{1,40}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$/;
const REDIRECT_PLACEHOLDERS = /#\{(protocol|host|port|path|query)\}/g;

function isIpv4Cidr(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

function isIpv6Cidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  return rest.length === 0 && !!addr && addr.includes(':') && /^[0-9A-Fa-f:.]+$/.test(addr) && !!bits && /^\d{1,3}$/.test(bits) && Number(bits) <= 128;
}

/**
 * Checks every invariant the data plane relies on and throws a
 * `DataPlaneConfigError` listing all violations. ELBv2 request validation
 * happens before this, in the API; this guards the proxy from a mapping bug.
 */
export function validateConfig(config: DataPlaneConfig): void {
  const problems: string[] = [];
  const groups = new Map<string, TargetGroup>();
  for (const tg of config.targetGroups) {
    if (groups.has(tg.id)) problems.push(`target group ${tg.id} is defined twice`);
    groups.set(tg.id, tg);
    const keys = new Set<string>();
    for (const t of tg.targets) {
      const key = targetKey(t);
      if (keys.has(key)) problems.push(`target group ${tg.id} lists target ${key} twice`);
      keys.add(key);
      if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) problems.push(`target ${key} of ${tg.id}: port must be 1..65535`);
      if (!/^[0-9A-Za-z.:-]+$/.test(t.host)) problems.push(`target ${key} of ${tg.id}: host must be an address or a host name`);
      if (t.weight !== undefined && (!Number.isInteger(t.weight) || t.weight < 0 || t.weight > 256)) problems.push(`target ${key} of ${tg.id}: weight must be 0..256`);
    }
    const hc = tg.healthCheck;
    if (hc.protocol !== 'TCP' && !STATUS_MATCHER.test(hc.matcher)) problems.push(`target group ${tg.id}: matcher "${hc.matcher}" is not codes like 200, 200,302 or 200-299`);
    if (hc.protocol !== 'TCP' && !/^\/[\x21-\x7e]*$/.test(hc.path)) problems.push(`target group ${tg.id}: health check path must start with / and hold no spaces`);
    if (hc.port !== 'traffic-port' && (!Number.isInteger(hc.port) || hc.port < 1 || hc.port > 65535)) problems.push(`target group ${tg.id}: health check port must be traffic-port or 1..65535`);
    if (!(hc.intervalSeconds > 0) || !(hc.timeoutSeconds > 0)) problems.push(`target group ${tg.id}: health check interval and timeout must be positive`);
    if (!(hc.timeoutSeconds < hc.intervalSeconds)) problems.push(`target group ${tg.id}: health check timeout must be smaller than the interval`);
    if (!(hc.healthyThreshold >= 1) || !(hc.unhealthyThreshold >= 1)) problems.push(`target group ${tg.id}: thresholds must be at least 1`);
    if (!(tg.deregistrationDelaySeconds >= 0)) problems.push(`target group ${tg.id}: deregistration delay must be 0 or more`);
    if (!(tg.slowStartSeconds >= 0)) problems.push(`target group ${tg.id}: slow start must be 0 or more`);
    if (tg.stickiness && !(tg.stickiness.durationSeconds >= 1)) problems.push(`target group ${tg.id}: stickiness duration must be at least 1 second`);
    if (tg.stickiness && tg.protocol === 'TCP') problems.push(`target group ${tg.id}: lb_cookie stickiness needs an HTTP or HTTPS target group`);
  }

  const lbIds = new Set<string>();
  const bound: { host: string; port: number; where: string }[] = [];
  for (const lb of config.loadBalancers) {
    if (lbIds.has(lb.id)) problems.push(`load balancer ${lb.id} is defined twice`);
    lbIds.add(lb.id);
    if (!(lb.idleTimeoutSeconds >= 1)) problems.push(`load balancer ${lb.id}: idle timeout must be at least 1 second`);
    const listenerIds = new Set<string>();
    for (const l of lb.listeners) {
      const where = `listener ${l.id} of ${lb.id}`;
      if (listenerIds.has(l.id)) problems.push(`${where} is defined twice`);
      listenerIds.add(l.id);
      if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535) problems.push(`${where}: port must be 1..65535`);
      const host = l.bindHost ?? '0.0.0.0';
      const other = bound.find((b) => b.port === l.port && (b.host === host || b.host === '0.0.0.0' || host === '0.0.0.0'));
      if (other) problems.push(`${where}: ${host}:${l.port} is already used by ${other.where}`);
      bound.push({ host, port: l.port, where });
      const tcp = l.protocol === 'TCP';
      if (lb.type === 'network' && !tcp) problems.push(`${where}: a network load balancer's listeners use TCP`);
      if (lb.type === 'application' && tcp) problems.push(`${where}: an application load balancer's listeners use HTTP or HTTPS`);
      if (l.protocol === 'HTTPS' && !l.certificate) problems.push(`${where}: HTTPS needs a certificate`);
      if (tcp && l.rules.length > 0) problems.push(`${where}: TCP listeners have no rules`);
      const priorities = new Set<number>();
      for (const r of l.rules) {
        if (!Number.isInteger(r.priority) || r.priority < 1 || r.priority > 50000) problems.push(`${where}: rule priority ${r.priority} must be 1..50000`);
        if (priorities.has(r.priority)) problems.push(`${where}: priority ${r.priority} is used twice`);
        priorities.add(r.priority);
        if (r.conditions.length === 0) problems.push(`${where}: rule ${r.priority} has no condition`);
        for (const c of r.conditions) checkCondition(c, `${where} rule ${r.priority}`, problems);
        checkAction(r.action, `${where} rule ${r.priority}`, tcp, groups, problems);
      }
      checkAction(l.defaultAction, `${where} default action`, tcp, groups, problems);
    }
  }
  if (problems.length) throw new DataPlaneConfigError(problems);
}

function checkCondition(c: Condition, where: string, problems: string[]): void {
  if (c.values.length === 0) problems.push(`${where}: ${c.field} needs at least one value`);
  switch (c.field) {
    case 'path-pattern':
    case 'host-header':
      for (const v of c.values) if (!v || /\s/.test(v)) problems.push(`${where}: ${c.field} value "${v}" must be non-empty without spaces`);
      break;
    case 'http-header':
      if (!HEADER_NAME.test(c.headerName)) problems.push(`${where}: header name "${c.headerName}" is not a valid header name`);
      for (const v of c.values) if (!v) problems.push(`${where}: http-header values must be non-empty`);
      break;
    case 'http-request-method':
      for (const v of c.values) if (!METHOD.test(v)) problems.push(`${where}: method "${v}" must be letters, _ and -`);
      break;
    case 'query-string':
      for (const v of c.values) if (!v.value) problems.push(`${where}: query-string values must be non-empty`);
      break;
    case 'source-ip':
      for (const v of c.values) if (!isIpv4Cidr(v) && !isIpv6Cidr(v)) problems.push(`${where}: "${v}" is not a CIDR block`);
      break;
  }
}

function checkAction(a: Action, where: string, tcp: boolean, groups: Map<string, TargetGroup>, problems: string[]): void {
  if (tcp && a.type !== 'forward') problems.push(`${where}: TCP listeners only forward`);
  switch (a.type) {
    case 'forward': {
      if (a.targetGroups.length === 0) problems.push(`${where}: forward needs a target group`);
      if (tcp && a.targetGroups.length > 1) problems.push(`${where}: a TCP listener forwards to one target group`);
      if (a.targetGroups.length > 1 && a.targetGroups.every((g) => (g.weight ?? 1) === 0)) problems.push(`${where}: at least one target group weight must be above 0`);
      const seen = new Set<string>();
      for (const g of a.targetGroups) {
        const tg = groups.get(g.targetGroupId);
        if (seen.has(g.targetGroupId)) problems.push(`${where}: target group ${g.targetGroupId} listed twice`);
        seen.add(g.targetGroupId);
        if (!tg) problems.push(`${where}: target group ${g.targetGroupId} does not exist`);
        else if ((tg.protocol === 'TCP') !== tcp) problems.push(`${where}: target group ${g.targetGroupId} uses ${tg.protocol}, which this listener cannot forward to`);
        if (g.weight !== undefined && (!Number.isInteger(g.weight) || g.weight < 0 || g.weight > 999)) problems.push(`${where}: target group weight must be 0..999`);
      }
      break;
    }
    case 'redirect': {
      for (const part of [a.protocol, a.host, a.port, a.path, a.query]) {
        if (part !== undefined && /[\s"]/.test(part)) problems.push(`${where}: redirect parts hold no spaces or quotes`);
        if (part !== undefined && part.replace(REDIRECT_PLACEHOLDERS, '').includes('#{')) problems.push(`${where}: unknown placeholder in "${part}"`);
      }
      if (a.path !== undefined && !a.path.startsWith('/')) problems.push(`${where}: redirect path must start with /`);
      if (a.protocol !== undefined && !['HTTP', 'HTTPS', '#{protocol}'].includes(a.protocol)) problems.push(`${where}: redirect protocol must be HTTP, HTTPS or #{protocol}`);
      break;
    }
    case 'fixed-response':
      if (!Number.isInteger(a.statusCode) || !/^[245]\d\d$/.test(String(a.statusCode))) problems.push(`${where}: fixed-response status must be 2XX, 4XX or 5XX`);
      if ((a.messageBody ?? '').length > 1024) problems.push(`${where}: fixed-response body is at most 1024 characters`);
      if (a.contentType !== undefined && /[\s"']/.test(a.contentType.replace(/; /g, ';'))) problems.push(`${where}: content type "${a.contentType}" is not valid`);
      break;
  }
}

/**
 * The regular expression (anchored, no flags) for an ELB wildcard value:
 * `*` any run, `?` one character, `\x` a literal x; everything else literal.
 */
export function wildcardToRegex(pattern: string, wildcards: { any: string; one: string } = { any: '.*', one: '.' }, anchored = true): string {
  let out = anchored ? '^' : '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      out += escapeRegexChar(pattern[++i] as string);
    } else if (ch === '*') out += wildcards.any;
    else if (ch === '?') out += wildcards.one;
    else out += escapeRegexChar(ch);
  }
  return anchored ? `${out}$` : out;
}

function escapeRegexChar(ch: string): string {
  return /[A-Za-z0-9_/~@:&=%,-]/.test(ch) ? ch : `\\${ch}`;
}

/**
 * ELBv2 documents as Berth stores them, and who writes which field.
 *
 * Every document keeps the members ELBv2 describes under their ELBv2 names
 * (`LoadBalancerArn`, `DNSName`, ...), with timestamps in epoch milliseconds.
 *
 * Writers:
 * - Load balancers, target groups, listeners and rules: the API operations
 *   only (spec from the user); `State` of a load balancer: the data plane's
 *   controller only (`setLoadBalancerState`), once it serves the load
 *   balancer's listeners or knows it cannot.
 * - Targets: one row per registered target (kind `target`, indexed by target
 *   group), so that registering one target never rewrites the target group and
 *   the data plane can report health at any rate. `registeredAt` and
 *   `drainingUntil` belong to RegisterTargets/DeregisterTargets; `health`
 *   belongs to the data plane's health checks only (`writers/targetHealth.ts`).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

export interface Elbv2Context {
  store: Store;
  region: string;
  accountId: string;
  /** Epoch milliseconds. */
  now(): number;
}

export interface Tag {
  Key: string;
  Value?: string;
}

export type LoadBalancerType = 'application' | 'network';

export interface LoadBalancerDoc {
  LoadBalancerArn: string;
  DNSName: string;
  CanonicalHostedZoneId: string;
  CreatedTime: number;
  LoadBalancerName: string;
  Scheme: 'internet-facing' | 'internal';
  VpcId: string;
  State: { Code: 'provisioning' | 'active' | 'active_impaired' | 'failed'; Reason?: string };
  Type: LoadBalancerType;
  AvailabilityZones: { ZoneName: string; SubnetId?: string }[];
  SecurityGroups?: string[];
  IpAddressType: string;
  attributes: Record<string, string>;
  Tags: Tag[];
}

export interface Matcher {
  HttpCode?: string;
  GrpcCode?: string;
}

export interface TargetGroupDoc {
  TargetGroupArn: string;
  TargetGroupName: string;
  Protocol?: string;
  Port?: number;
  VpcId?: string;
  HealthCheckProtocol?: string;
  HealthCheckPort?: string;
  HealthCheckEnabled: boolean;
  HealthCheckIntervalSeconds: number;
  HealthCheckTimeoutSeconds: number;
  HealthyThresholdCount: number;
  UnhealthyThresholdCount: number;
  HealthCheckPath?: string;
  Matcher?: Matcher;
  TargetType: 'instance' | 'ip' | 'lambda' | 'alb';
  ProtocolVersion?: string;
  IpAddressType: string;
  CreatedTime: number;
  attributes: Record<string, string>;
  Tags: Tag[];
}

export interface TargetGroupTuple {
  TargetGroupArn: string;
  Weight?: number;
}

/** A listener or rule action in the shape ELBv2 describes it. */
export interface ActionDoc {
  Type: string;
  Order?: number;
  TargetGroupArn?: string;
  ForwardConfig?: { TargetGroups?: TargetGroupTuple[]; TargetGroupStickinessConfig?: { Enabled?: boolean; DurationSeconds?: number } };
  RedirectConfig?: { Protocol?: string; Port?: string; Host?: string; Path?: string; Query?: string; StatusCode: string };
  FixedResponseConfig?: { MessageBody?: string; StatusCode: string; ContentType?: string };
}

export interface CertificateRef {
  CertificateArn?: string;
  IsDefault?: boolean;
}

export interface ListenerDoc {
  ListenerArn: string;
  LoadBalancerArn: string;
  Port: number;
  Protocol: string;
  /** The default certificate (ELB describes only it here). */
  Certificates?: CertificateRef[];
  /** The listener's certificate list besides the default (AddListenerCertificates), chosen by SNI. */
  additionalCertificates?: string[];
  SslPolicy?: string;
  DefaultActions: ActionDoc[];
  AlpnPolicy?: string[];
  CreatedTime: number;
  /** Listener attributes as set; keys not set have their defaults (`listenerAttributeDefaults`). */
  attributes?: Record<string, string>;
  Tags: Tag[];
}

export interface ConditionDoc {
  Field?: string;
  Values?: string[];
  HostHeaderConfig?: { Values?: string[] };
  PathPatternConfig?: { Values?: string[] };
  HttpHeaderConfig?: { HttpHeaderName?: string; Values?: string[] };
  QueryStringConfig?: { Values?: { Key?: string; Value?: string }[] };
  HttpRequestMethodConfig?: { Values?: string[] };
  SourceIpConfig?: { Values?: string[] };
}

/** A non-default rule; a listener's default rule is derived from the listener (`defaultRuleArn`). */
export interface RuleDoc {
  RuleArn: string;
  ListenerArn: string;
  Priority: number;
  Conditions: ConditionDoc[];
  Actions: ActionDoc[];
  CreatedTime: number;
  Tags: Tag[];
}

/** What the data plane last observed about a target. */
export interface TargetHealthReport {
  State: 'healthy' | 'unhealthy' | 'initial' | 'unavailable';
  Reason?: string;
  Description?: string;
  /** Epoch milliseconds of the observation. */
  at: number;
}

export interface TargetDoc {
  TargetGroupArn: string;
  Id: string;
  Port: number;
  AvailabilityZone?: string;
  /** Written by RegisterTargets. */
  registeredAt: number;
  /** Written by DeregisterTargets: the target drains until then (epoch ms); absent while registered. */
  drainingUntil?: number;
  /** Written by the data plane only. */
  health?: TargetHealthReport;
}

// ---------------------------------------------------------------------------
// Names, ARNs and DNS names
// ---------------------------------------------------------------------------

/** A fresh 16-hex-digit id, as ELBv2 ARNs end. */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export function arnPrefix(ctx: Elbv2Context): string {
  return `arn:aws:elasticloadbalancing:${ctx.region}:${ctx.accountId}:`;
}

export function typeSegment(type: LoadBalancerType): 'app' | 'net' {
  return type === 'network' ? 'net' : 'app';
}

/**
 * The DNS name of a load balancer: `<name>-<id>.<region>.elb.localhost`.
 * Names under `.localhost` resolve to the loopback address on most systems
 * (RFC 6761), where Berth's data plane listens.
 */
export function dnsName(ctx: Elbv2Context, name: string, id: string, scheme: string): string {
  return `${scheme === 'internal' ? 'internal-' : ''}${name}-${id}.${ctx.region}.elb.localhost`.toLowerCase();
}

/** The ARN of a listener's default rule, derived from the listener's: the rule has no row of its own. */
export function defaultRuleArn(listenerArn: string): string {
  const id = createHash('sha256').update(listenerArn).digest('hex').slice(0, 16);
  return listenerArn.replace(':listener/', ':listener-rule/') + '/' + id;
}

/** The listener ARN a rule ARN belongs to (`listener-rule/app/lb/lbid/listenerid/ruleid`). */
export function listenerOfRule(ruleArn: string): string | undefined {
  const i = ruleArn.lastIndexOf('/');
  if (i < 0 || !ruleArn.includes(':listener-rule/')) return undefined;
  return ruleArn.slice(0, i).replace(':listener-rule/', ':listener/');
}

export const CANONICAL_HOSTED_ZONE: Record<LoadBalancerType, string> = { application: 'Z35SXDOTRQ7X7K', network: 'Z26RNL4JYFTOTI' };

/** The VPC every Berth resource reports: Berth has no VPCs, and a VpcId given by the caller is kept as given. */
export const DEFAULT_VPC_ID = 'vpc-berth';

// ---------------------------------------------------------------------------
// Attributes and their defaults (ELBv2's, per load balancer type)
// ---------------------------------------------------------------------------

export const LOAD_BALANCER_ATTRIBUTE_DEFAULTS: Record<LoadBalancerType, Readonly<Record<string, string>>> = {
  application: {
    'access_logs.s3.enabled': 'false',
    'access_logs.s3.bucket': '',
    'access_logs.s3.prefix': '',
    'client_keep_alive.seconds': '3600',
    'connection_logs.s3.enabled': 'false',
    'connection_logs.s3.bucket': '',
    'connection_logs.s3.prefix': '',
    'deletion_protection.enabled': 'false',
    'idle_timeout.timeout_seconds': '60',
    'routing.http.desync_mitigation_mode': 'defensive',
    'routing.http.drop_invalid_header_fields.enabled': 'false',
    'routing.http.preserve_host_header.enabled': 'false',
    'routing.http.x_amzn_tls_version_and_cipher_suite.enabled': 'false',
    'routing.http.xff_client_port.enabled': 'false',
    'routing.http.xff_header_processing.mode': 'append',
    'routing.http2.enabled': 'true',
    'waf.fail_open.enabled': 'false',
    'zonal_shift.config.enabled': 'false',
  },
  network: {
    'access_logs.s3.enabled': 'false',
    'access_logs.s3.bucket': '',
    'access_logs.s3.prefix': '',
    'deletion_protection.enabled': 'false',
    'dns_record.client_routing_policy': 'any_availability_zone',
    'load_balancing.cross_zone.enabled': 'false',
    'zonal_shift.config.enabled': 'false',
  },
};

/** Target group attribute defaults for HTTP/HTTPS (application) target groups. */
export const HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS: Readonly<Record<string, string>> = {
  'deregistration_delay.timeout_seconds': '300',
  'load_balancing.algorithm.type': 'round_robin',
  'load_balancing.algorithm.anomaly_mitigation': 'off',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'slow_start.duration_seconds': '0',
  'stickiness.enabled': 'false',
  'stickiness.type': 'lb_cookie',
  'stickiness.lb_cookie.duration_seconds': '86400',
  'stickiness.app_cookie.cookie_name': '',
  'stickiness.app_cookie.duration_seconds': '86400',
  'target_group_health.dns_failover.minimum_healthy_targets.count': '1',
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': 'off',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': 'off',
};

/** Target group attribute defaults for TCP, TLS, UDP and TCP_UDP (network) target groups. */
export const NETWORK_TARGET_GROUP_ATTRIBUTE_DEFAULTS: Readonly<Record<string, string>> = {
  'deregistration_delay.timeout_seconds': '300',
  'deregistration_delay.connection_termination.enabled': 'false',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'preserve_client_ip.enabled': 'true',
  'proxy_protocol_v2.enabled': 'false',
  'stickiness.enabled': 'false',
  'stickiness.type': 'source_ip',
  'target_group_health.dns_failover.minimum_healthy_targets.count': '1',
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': 'off',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': 'off',
};

/** Listener attribute defaults by listener protocol (those Berth knows). */
export function listenerAttributeDefaults(protocol: string): Readonly<Record<string, string>> {
  if (protocol === 'HTTP' || protocol === 'HTTPS') return { 'routing.http.response.server.enabled': 'true' };
  if (protocol === 'TCP') return { 'tcp.idle_timeout.seconds': '350' };
  return {};
}

export const HTTP_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTPS']);
export const NETWORK_PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'TLS', 'UDP', 'TCP_UDP']);

/** The SSL policy a secure listener gets when none is named (ELBv2's current default). */
export const DEFAULT_SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

/** Security policies Berth accepts by name. */
export const SSL_POLICIES: ReadonlySet<string> = new Set([
  'ELBSecurityPolicy-TLS13-1-2-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06',
  'ELBSecurityPolicy-TLS13-1-1-2021-06',
  'ELBSecurityPolicy-TLS13-1-0-2021-06',
  'ELBSecurityPolicy-2016-08',
  'ELBSecurityPolicy-TLS-1-1-2017-01',
  'ELBSecurityPolicy-TLS-1-2-2017-01',
  'ELBSecurityPolicy-TLS-1-2-Ext-2018-06',
  'ELBSecurityPolicy-FS-2018-06',
  'ELBSecurityPolicy-FS-1-1-2019-08',
  'ELBSecurityPolicy-FS-1-2-2019-08',
  'ELBSecurityPolicy-FS-1-2-Res-2019-08',
  'ELBSecurityPolicy-FS-1-2-Res-2020-10',
  'ELBSecurityPolicy-2015-05',
]);

/** ELBv2's quotas as DescribeAccountLimits reports them; Berth enforces those it has resources for. */
export const LIMITS = {
  'application-load-balancers': 50,
  'network-load-balancers': 50,
  'target-groups': 3000,
  'listeners-per-application-load-balancer': 50,
  'listeners-per-network-load-balancer': 50,
  'rules-per-application-load-balancer': 100,
  'targets-per-application-load-balancer': 1000,
  'targets-per-network-load-balancer': 3000,
  'targets-per-availability-zone-per-network-load-balancer': 500,
  'target-groups-per-application-load-balancer': 100,
  'target-groups-per-action-on-application-load-balancer': 5,
  'target-groups-per-action-on-network-load-balancer': 1,
  'certificates-per-application-load-balancer': 25,
  'certificates-per-network-load-balancer': 25,
  'condition-values-per-alb-rule': 5,
  'condition-wildcards-per-alb-rule': 5,
} as const;

/** Targets one target group holds at most (`TooManyTargets` beyond). */
export const MAX_TARGETS_PER_TARGET_GROUP = 1000;
/** Tags one resource holds at most. */
export const MAX_TAGS = 50;

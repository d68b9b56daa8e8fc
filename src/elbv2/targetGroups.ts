/** Target groups: create, describe, modify, delete, and their attributes. */
import {
  DuplicateTargetGroupNameException,
  InvalidConfigurationRequestException,
  LoadBalancerNotFoundException,
  ResourceInUseException,
  TargetGroupNotFoundException,
  TooManyTargetGroupsException,
  ValidationError,
} from '../core/errors.js';
import { AlreadyExistsError, withRetry, type Row } from '../store/store.js';
import { getTargetGroup, mergeTags, page, targetGroupUsage } from './common.js';
import { checkName } from './loadBalancers.js';
import {
  DEFAULT_VPC_ID,
  HTTP_PROTOCOLS,
  HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS,
  LIMITS,
  NETWORK_PROTOCOLS,
  NETWORK_TARGET_GROUP_ATTRIBUTE_DEFAULTS,
  arnPrefix,
  newId,
  type Elbv2Context,
  type Matcher,
  type Tag,
  type TargetGroupDoc,
} from './model.js';

export interface HealthCheckInput {
  HealthCheckProtocol?: string;
  HealthCheckPort?: string;
  HealthCheckEnabled?: boolean;
  HealthCheckPath?: string;
  HealthCheckIntervalSeconds?: number;
  HealthCheckTimeoutSeconds?: number;
  HealthyThresholdCount?: number;
  UnhealthyThresholdCount?: number;
  Matcher?: Matcher;
}

export interface CreateTargetGroupInput extends HealthCheckInput {
  Name: string;
  Protocol?: string;
  ProtocolVersion?: string;
  Port?: number;
  VpcId?: string;
  TargetType?: string;
  Tags?: Tag[];
  IpAddressType?: string;
}

/** The TargetGroup structure as ELBv2 describes it. */
export function describeTargetGroup(tg: TargetGroupDoc, loadBalancerArns: readonly string[]): Record<string, unknown> {
  const { attributes: _a, Tags: _t, CreatedTime: _c, ...wire } = tg;
  return { ...wire, LoadBalancerArns: [...loadBalancerArns] };
}

function range(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`1 validation error detected: Value '${value}' at '${name}' failed to satisfy constraint: Member must have value ${value < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`}`);
  }
}

/** Checks the health check settings of a (new or modified) target group as ELBv2 does. */
function checkHealthCheck(tg: Pick<TargetGroupDoc, 'Protocol' | 'HealthCheckProtocol' | 'HealthCheckPort' | 'HealthCheckIntervalSeconds' | 'HealthCheckTimeoutSeconds' | 'HealthCheckPath' | 'Matcher' | 'TargetType' | 'HealthCheckEnabled'>, input: HealthCheckInput): void {
  range('healthCheckIntervalSeconds', input.HealthCheckIntervalSeconds, 5, 300);
  range('healthCheckTimeoutSeconds', input.HealthCheckTimeoutSeconds, 2, 120);
  range('healthyThresholdCount', input.HealthyThresholdCount, 2, 10);
  range('unhealthyThresholdCount', input.UnhealthyThresholdCount, 2, 10);
  if (tg.HealthCheckTimeoutSeconds >= tg.HealthCheckIntervalSeconds) {
    throw new ValidationError('Health check interval must be greater than the timeout.');
  }
  const hc = tg.HealthCheckProtocol;
  if (hc !== undefined && !['HTTP', 'HTTPS', 'TCP'].includes(hc)) {
    throw new ValidationError(`Health check protocol '${hc}' is not supported`);
  }
  if (hc === 'TCP' && tg.Protocol !== undefined && HTTP_PROTOCOLS.has(tg.Protocol)) {
    throw new ValidationError(`Health check protocol 'TCP' is not supported for target groups with the protocol '${tg.Protocol}'`);
  }
  const port = tg.HealthCheckPort;
  if (port !== undefined && port !== 'traffic-port') {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw new ValidationError(`Health check port '${port}' must be 'traffic-port' or a number between 1 and 65535`);
  }
  if (tg.HealthCheckPath !== undefined && !tg.HealthCheckPath.startsWith('/')) {
    throw new ValidationError('Health check path must begin with a \'/\' character');
  }
  if (tg.HealthCheckPath !== undefined && tg.HealthCheckPath.length > 1024) {
    throw new ValidationError('Health check path cannot be longer than 1024 characters');
  }
  const code = tg.Matcher?.HttpCode;
  if (code !== undefined) {
    const ok = code.split(',').every((part) => {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part.trim());
      if (!m) return false;
      const lo = Number(m[1]);
      const hi = m[2] !== undefined ? Number(m[2]) : lo;
      return lo >= 200 && hi <= 499 && lo <= hi;
    });
    if (!ok) throw new ValidationError(`Health check matcher HTTP code '${code}' must be a value or range between 200 and 499, like '200', '200,202' or '200-299'`);
  }
  if ((tg.TargetType === 'instance' || tg.TargetType === 'ip') && tg.HealthCheckEnabled === false) {
    throw new ValidationError("Health check enabled must be true for target groups with target type 'instance' or 'ip'");
  }
}

function sameSettings(tg: TargetGroupDoc, candidate: TargetGroupDoc): boolean {
  const keys = ['Protocol', 'Port', 'TargetType', 'HealthCheckProtocol', 'HealthCheckPort', 'HealthCheckPath', 'HealthCheckIntervalSeconds', 'HealthCheckTimeoutSeconds', 'HealthyThresholdCount', 'UnhealthyThresholdCount'] as const;
  return keys.every((k) => tg[k] === candidate[k]) && tg.Matcher?.HttpCode === candidate.Matcher?.HttpCode;
}

/** A new target group document with ELBv2's defaults for its protocol and target type. */
function newTargetGroup(ctx: Elbv2Context, input: CreateTargetGroupInput): TargetGroupDoc {
  checkName(input.Name, 'Target group');
  const targetType = (input.TargetType ?? 'instance') as TargetGroupDoc['TargetType'];
  if (targetType === 'lambda' || targetType === 'alb') {
    throw new ValidationError(`Target type '${targetType}' is not supported by Berth; use 'instance' or 'ip'`);
  }
  const protocol = input.Protocol;
  if (protocol === undefined) throw new ValidationError(`A protocol must be specified`);
  if (input.Port === undefined) throw new ValidationError(`A port must be specified`);
  range('port', input.Port, 1, 65535);
  if (protocol === 'GENEVE') throw new ValidationError(`Protocol 'GENEVE' is not supported by Berth`);
  const http = HTTP_PROTOCOLS.has(protocol);
  if (!http && !NETWORK_PROTOCOLS.has(protocol)) throw new ValidationError(`Protocol '${protocol}' is not supported`);
  if (input.ProtocolVersion !== undefined && !http) throw new ValidationError('Protocol version is only supported for HTTP and HTTPS target groups');
  if (input.ProtocolVersion !== undefined && !['HTTP1', 'HTTP2', 'GRPC'].includes(input.ProtocolVersion)) {
    throw new ValidationError(`Protocol version '${input.ProtocolVersion}' must be one of 'HTTP1, HTTP2, GRPC'`);
  }
  const hcProtocol = input.HealthCheckProtocol ?? (http ? protocol : 'TCP');
  const hcHttp = hcProtocol === 'HTTP' || hcProtocol === 'HTTPS';
  if (!hcHttp && (input.HealthCheckPath !== undefined || input.Matcher !== undefined)) {
    throw new ValidationError('Custom health check paths and matchers are not supported for health checks with the protocol TCP');
  }
  const grpc = input.ProtocolVersion === 'GRPC';
  const doc: TargetGroupDoc = {
    TargetGroupArn: `${arnPrefix(ctx)}targetgroup/${input.Name}/${newId()}`,
    TargetGroupName: input.Name,
    Protocol: protocol,
    Port: input.Port,
    VpcId: input.VpcId ?? DEFAULT_VPC_ID,
    HealthCheckProtocol: hcProtocol,
    HealthCheckPort: input.HealthCheckPort ?? 'traffic-port',
    HealthCheckEnabled: input.HealthCheckEnabled ?? true,
    HealthCheckIntervalSeconds: input.HealthCheckIntervalSeconds ?? 30,
    HealthCheckTimeoutSeconds: input.HealthCheckTimeoutSeconds ?? (hcHttp ? (http ? 5 : 6) : 10),
    HealthyThresholdCount: input.HealthyThresholdCount ?? 5,
    UnhealthyThresholdCount: input.UnhealthyThresholdCount ?? 2,
    ...(hcHttp ? { HealthCheckPath: input.HealthCheckPath ?? (grpc ? '/AWS.ALB/healthcheck' : '/'), Matcher: input.Matcher ?? (grpc ? { GrpcCode: '12' } : { HttpCode: http ? '200' : '200-399' }) } : {}),
    TargetType: targetType,
    ...(http ? { ProtocolVersion: input.ProtocolVersion ?? 'HTTP1' } : {}),
    IpAddressType: input.IpAddressType ?? 'ipv4',
    CreatedTime: ctx.now(),
    attributes: { ...(http ? HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS : NETWORK_TARGET_GROUP_ATTRIBUTE_DEFAULTS) },
    Tags: mergeTags([], input.Tags ?? []),
  };
  checkHealthCheck(doc, input);
  return doc;
}

export async function createTargetGroup(ctx: Elbv2Context, input: CreateTargetGroupInput): Promise<unknown> {
  const doc = newTargetGroup(ctx, input);
  const row = await withRetry(ctx.store, async (tx) => {
    const same = (await tx.find<TargetGroupDoc>('targetGroup', { name: input.Name }))[0];
    if (same) {
      // CreateTargetGroup is idempotent: the same name with the same settings returns the target group.
      if (sameSettings(same.doc, doc)) return same;
      throw new DuplicateTargetGroupNameException(`A target group with the same name '${input.Name}' exists, but with different settings`);
    }
    if ((await tx.count('targetGroup')) >= LIMITS['target-groups']) {
      throw new TooManyTargetGroupsException('You have reached the maximum number of target groups for your account');
    }
    try {
      return await tx.insert<TargetGroupDoc>('targetGroup', { arn: doc.TargetGroupArn, cluster: '', name: doc.TargetGroupName, status: 'active', seq: doc.CreatedTime, doc });
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw new DuplicateTargetGroupNameException(`A target group with the same name '${input.Name}' exists, but with different settings`);
      throw err;
    }
  });
  const usage = await targetGroupUsage(ctx.store);
  return { TargetGroups: [describeTargetGroup(row.doc, [...(usage.get(row.arn) ?? [])])] };
}

export interface DescribeTargetGroupsInput {
  LoadBalancerArn?: string;
  TargetGroupArns?: string[];
  Names?: string[];
  Marker?: string;
  PageSize?: number;
}

export async function describeTargetGroups(ctx: Elbv2Context, input: DescribeTargetGroupsInput): Promise<unknown> {
  const given = [input.LoadBalancerArn, input.TargetGroupArns, input.Names].filter((x) => x !== undefined).length;
  if (given > 1) throw new ValidationError('Only one of load balancer ARN, target group ARNs or names can be specified');
  const usage = await targetGroupUsage(ctx.store);
  let rows: Row<TargetGroupDoc>[];
  if (input.TargetGroupArns !== undefined) {
    rows = [];
    for (const arn of new Set(input.TargetGroupArns)) rows.push(await getTargetGroup(ctx.store, arn));
  } else if (input.Names !== undefined) {
    rows = [];
    for (const name of new Set(input.Names)) {
      const row = (await ctx.store.find<TargetGroupDoc>('targetGroup', { name }))[0];
      if (!row) throw new TargetGroupNotFoundException('One or more target groups not found');
      rows.push(row);
    }
  } else {
    rows = await ctx.store.find<TargetGroupDoc>('targetGroup');
    if (input.LoadBalancerArn !== undefined) {
      const lb = input.LoadBalancerArn;
      if (!(await ctx.store.get('loadBalancer', lb))) throw new LoadBalancerNotFoundException('One or more load balancers not found');
      rows = rows.filter((r) => usage.get(r.arn)?.has(lb) === true);
    }
  }
  const { items, next } = page(rows, input.Marker, input.PageSize, 'DescribeTargetGroups');
  return { TargetGroups: items.map((r) => describeTargetGroup(r.doc, [...(usage.get(r.arn) ?? [])])), ...(next !== undefined ? { NextMarker: next } : {}) };
}

export async function modifyTargetGroup(ctx: Elbv2Context, input: HealthCheckInput & { TargetGroupArn: string }): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getTargetGroup(tx, input.TargetGroupArn);
    const tg = row.doc;
    const hcProtocol = input.HealthCheckProtocol ?? tg.HealthCheckProtocol;
    const hcHttp = hcProtocol === 'HTTP' || hcProtocol === 'HTTPS';
    if (!hcHttp && (input.HealthCheckPath !== undefined || input.Matcher !== undefined)) {
      throw new ValidationError('Custom health check paths and matchers are not supported for health checks with the protocol TCP');
    }
    const next: TargetGroupDoc = {
      ...tg,
      ...(hcProtocol !== undefined ? { HealthCheckProtocol: hcProtocol } : {}),
      ...(input.HealthCheckPort !== undefined ? { HealthCheckPort: input.HealthCheckPort } : {}),
      ...(input.HealthCheckEnabled !== undefined ? { HealthCheckEnabled: input.HealthCheckEnabled } : {}),
      ...(input.HealthCheckIntervalSeconds !== undefined ? { HealthCheckIntervalSeconds: input.HealthCheckIntervalSeconds } : {}),
      ...(input.HealthCheckTimeoutSeconds !== undefined ? { HealthCheckTimeoutSeconds: input.HealthCheckTimeoutSeconds } : {}),
      ...(input.HealthyThresholdCount !== undefined ? { HealthyThresholdCount: input.HealthyThresholdCount } : {}),
      ...(input.UnhealthyThresholdCount !== undefined ? { UnhealthyThresholdCount: input.UnhealthyThresholdCount } : {}),
    };
    if (hcHttp) {
      next.HealthCheckPath = input.HealthCheckPath ?? tg.HealthCheckPath ?? '/';
      next.Matcher = input.Matcher ?? tg.Matcher ?? { HttpCode: '200' };
    } else {
      delete next.HealthCheckPath;
      delete next.Matcher;
    }
    checkHealthCheck(next, input);
    return tx.update<TargetGroupDoc>('targetGroup', { ...row, doc: next });
  });
  const usage = await targetGroupUsage(ctx.store);
  return { TargetGroups: [describeTargetGroup(row.doc, [...(usage.get(row.arn) ?? [])])] };
}

/** Deletes a target group no listener or rule uses, with its targets; one that does not exist is already deleted. */
export async function deleteTargetGroup(ctx: Elbv2Context, input: { TargetGroupArn: string }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<TargetGroupDoc>('targetGroup', input.TargetGroupArn);
    if (!row) return;
    if ((await targetGroupUsage(tx)).has(row.arn)) {
      throw new ResourceInUseException(`Target group '${row.arn}' is currently in use by a listener or a rule`);
    }
    for (const t of await tx.find('target', { where: { targetGroup: row.arn } })) await tx.remove('target', t.arn, t.version);
    await tx.remove('targetGroup', row.arn, row.version);
  });
  return {};
}

export async function describeTargetGroupAttributes(ctx: Elbv2Context, input: { TargetGroupArn: string }): Promise<unknown> {
  const row = await getTargetGroup(ctx.store, input.TargetGroupArn);
  return { Attributes: Object.entries(row.doc.attributes).map(([Key, Value]) => ({ Key, Value })) };
}

function checkTargetGroupAttribute(key: string, value: string): void {
  const int = (min: number, max: number, what: string): void => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new ValidationError(`${what} must be between ${min} and ${max}`);
  };
  if (key.endsWith('.enabled')) {
    if (!/^(true|false)$/.test(value)) throw new ValidationError(`Target group attribute '${key}' must be 'true' or 'false'`);
    return;
  }
  switch (key) {
    case 'deregistration_delay.timeout_seconds':
      return int(0, 3600, 'Deregistration delay timeout');
    case 'slow_start.duration_seconds':
      if (value !== '0') int(30, 900, 'Slow start duration');
      return;
    case 'stickiness.lb_cookie.duration_seconds':
    case 'stickiness.app_cookie.duration_seconds':
      return int(1, 604800, 'Stickiness duration');
    case 'stickiness.type':
      if (!['lb_cookie', 'app_cookie', 'source_ip', 'source_ip_dest_ip', 'source_ip_dest_ip_proto'].includes(value)) {
        throw new ValidationError(`Stickiness type '${value}' is not supported`);
      }
      return;
    case 'load_balancing.algorithm.type':
      if (!['round_robin', 'least_outstanding_requests', 'weighted_random'].includes(value)) {
        throw new ValidationError(`Load balancing algorithm type '${value}' must be one of 'round_robin, least_outstanding_requests, weighted_random'`);
      }
      return;
    default:
      return;
  }
}

export async function modifyTargetGroupAttributes(ctx: Elbv2Context, input: { TargetGroupArn: string; Attributes: { Key?: string; Value?: string }[] }): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getTargetGroup(tx, input.TargetGroupArn);
    const http = row.doc.Protocol !== undefined && HTTP_PROTOCOLS.has(row.doc.Protocol);
    const known = http ? HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS : NETWORK_TARGET_GROUP_ATTRIBUTE_DEFAULTS;
    const attributes = { ...row.doc.attributes };
    for (const a of input.Attributes) {
      const key = a.Key ?? '';
      if (!Object.hasOwn(known, key)) throw new ValidationError(`Target group attribute key '${key}' is not recognized`);
      const value = a.Value ?? '';
      checkTargetGroupAttribute(key, value);
      attributes[key] = value;
    }
    if (attributes['stickiness.type'] === 'lb_cookie' || attributes['stickiness.type'] === 'app_cookie') {
      if (!http) throw new InvalidConfigurationRequestException(`Stickiness type '${attributes['stickiness.type']}' is not supported for target groups with the ${row.doc.Protocol ?? ''} protocol`);
    } else if (http && attributes['stickiness.type'] !== undefined) {
      throw new InvalidConfigurationRequestException(`Stickiness type '${attributes['stickiness.type']}' is not supported for target groups with the ${row.doc.Protocol ?? ''} protocol`);
    }
    if (attributes['stickiness.type'] === 'app_cookie' && attributes['stickiness.enabled'] === 'true' && attributes['stickiness.app_cookie.cookie_name'] === '') {
      throw new ValidationError('Application cookie name must be specified for app_cookie stickiness');
    }
    return tx.update<TargetGroupDoc>('targetGroup', { ...row, doc: { ...row.doc, attributes } });
  });
  return { Attributes: Object.entries(row.doc.attributes).map(([Key, Value]) => ({ Key, Value })) };
}

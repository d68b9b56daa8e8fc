/** Load balancers: CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer and their attributes. */
import {
  DuplicateLoadBalancerNameException,
  InvalidConfigurationRequestException,
  LoadBalancerNotFoundException,
  OperationNotPermittedException,
  TooManyLoadBalancersException,
  ValidationError,
} from '../core/errors.js';
import { AlreadyExistsError, withRetry, type Row } from '../store/store.js';
import { getLoadBalancer, mergeTags, page } from './common.js';
import {
  CANONICAL_HOSTED_ZONE,
  DEFAULT_VPC_ID,
  LIMITS,
  LOAD_BALANCER_ATTRIBUTE_DEFAULTS,
  arnPrefix,
  dnsName,
  newId,
  typeSegment,
  type Elbv2Context,
  type ListenerDoc,
  type LoadBalancerDoc,
  type LoadBalancerType,
  type Tag,
} from './model.js';

export interface CreateLoadBalancerInput {
  Name: string;
  Subnets?: string[];
  SubnetMappings?: { SubnetId?: string }[];
  SecurityGroups?: string[];
  Scheme?: 'internet-facing' | 'internal';
  Tags?: Tag[];
  Type?: string;
  IpAddressType?: string;
}

/** ELBv2's load balancer (and target group) name rule: 1 to 32 letters, digits and hyphens, no hyphen first or last. */
export function checkName(name: string, what: 'LoadBalancer' | 'Target group'): void {
  if (name.length === 0) throw new ValidationError(`${what} name cannot be empty`);
  if (name.length > 32) throw new ValidationError(`${what} name cannot be longer than '32' characters`);
  if (!/^[A-Za-z0-9-]+$/.test(name)) throw new ValidationError(`${what} name '${name}' cannot contain characters that are not letters, or digits or the dash`);
  if (name.startsWith('-') || name.endsWith('-')) throw new ValidationError(`${what} name '${name}' cannot begin or end with '-' character`);
  if (what === 'LoadBalancer' && name.startsWith('internal-')) throw new ValidationError(`Load balancer name '${name}' cannot begin with 'internal-'`);
}

/** The LoadBalancer structure as ELBv2 describes it (timestamps in epoch seconds). */
export function describeLoadBalancer(lb: LoadBalancerDoc): Record<string, unknown> {
  return {
    LoadBalancerArn: lb.LoadBalancerArn,
    DNSName: lb.DNSName,
    CanonicalHostedZoneId: lb.CanonicalHostedZoneId,
    CreatedTime: lb.CreatedTime / 1000,
    LoadBalancerName: lb.LoadBalancerName,
    Scheme: lb.Scheme,
    VpcId: lb.VpcId,
    State: lb.State,
    Type: lb.Type,
    AvailabilityZones: lb.AvailabilityZones,
    ...(lb.SecurityGroups ? { SecurityGroups: lb.SecurityGroups } : {}),
    IpAddressType: lb.IpAddressType,
  };
}

function sameSettings(lb: LoadBalancerDoc, input: CreateLoadBalancerInput, type: LoadBalancerType): boolean {
  return lb.Type === type && lb.Scheme === (input.Scheme ?? 'internet-facing');
}

export async function createLoadBalancer(ctx: Elbv2Context, input: CreateLoadBalancerInput): Promise<unknown> {
  checkName(input.Name, 'LoadBalancer');
  const type = input.Type ?? 'application';
  if (type !== 'application' && type !== 'network') {
    throw new ValidationError(`Load balancer type '${type}' is not supported by Berth; use 'application' or 'network'`);
  }
  if (input.Subnets !== undefined && input.SubnetMappings !== undefined) {
    throw new ValidationError('You can specify subnets or subnet mappings, not both');
  }
  const subnets = input.Subnets ?? (input.SubnetMappings ?? []).map((m) => m.SubnetId ?? '');
  if (new Set(subnets).size !== subnets.length) throw new ValidationError('Only one subnet per Availability Zone can be specified');
  const scheme = input.Scheme ?? 'internet-facing';
  const tags = mergeTags([], input.Tags ?? []);

  const created = await withRetry(ctx.store, async (tx) => {
    const existing = await tx.find<LoadBalancerDoc>('loadBalancer', { name: input.Name });
    const same = existing[0];
    if (same) {
      // CreateLoadBalancer is idempotent: the same name with the same settings returns the load balancer.
      if (sameSettings(same.doc, input, type)) return { row: same, fresh: false };
      throw new DuplicateLoadBalancerNameException(`A load balancer with the same name '${input.Name}' exists, but with different settings`);
    }
    const limitKey = type === 'network' ? 'network-load-balancers' : 'application-load-balancers';
    const all = await tx.find<LoadBalancerDoc>('loadBalancer');
    if (all.filter((r) => r.doc.Type === type).length >= LIMITS[limitKey]) {
      throw new TooManyLoadBalancersException('You have reached the maximum number of load balancers for your account');
    }
    const id = newId();
    const now = ctx.now();
    const arn = `${arnPrefix(ctx)}loadbalancer/${typeSegment(type)}/${input.Name}/${id}`;
    const zones = subnets.length === 0 ? [{ ZoneName: `${ctx.region}a` }] : subnets.map((s, i) => ({ ZoneName: `${ctx.region}${String.fromCharCode(97 + (i % 6))}`, SubnetId: s }));
    const doc: LoadBalancerDoc = {
      LoadBalancerArn: arn,
      DNSName: dnsName(ctx, input.Name, id, scheme),
      CanonicalHostedZoneId: CANONICAL_HOSTED_ZONE[type],
      CreatedTime: now,
      LoadBalancerName: input.Name,
      Scheme: scheme,
      VpcId: DEFAULT_VPC_ID,
      State: { Code: 'provisioning' },
      Type: type,
      AvailabilityZones: zones,
      ...(type === 'application' ? { SecurityGroups: input.SecurityGroups ?? [] } : input.SecurityGroups ? { SecurityGroups: input.SecurityGroups } : {}),
      IpAddressType: input.IpAddressType ?? 'ipv4',
      attributes: { ...LOAD_BALANCER_ATTRIBUTE_DEFAULTS[type] },
      Tags: tags,
    };
    try {
      return { row: await tx.insert<LoadBalancerDoc>('loadBalancer', { arn, cluster: '', name: input.Name, status: 'provisioning', seq: now, doc }), fresh: true };
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw new DuplicateLoadBalancerNameException(`A load balancer with the same name '${input.Name}' exists, but with different settings`);
      throw err;
    }
  });
  const answer = describeLoadBalancer(created.row.doc);
  return { LoadBalancers: [answer] };
}

/**
 * Records what the data plane made of a load balancer: `active` once it
 * serves every listener, `failed` with the reason when it cannot. The data
 * plane's controller is the only caller; an unchanged state writes nothing.
 */
export async function setLoadBalancerState(ctx: Elbv2Context, arn: string, state: LoadBalancerDoc['State']): Promise<boolean> {
  return withRetry(ctx.store, async (tx) => {
    const row = await tx.get<LoadBalancerDoc>('loadBalancer', arn);
    if (!row || (row.doc.State.Code === state.Code && row.doc.State.Reason === state.Reason)) return false;
    await tx.update<LoadBalancerDoc>('loadBalancer', { ...row, status: state.Code, doc: { ...row.doc, State: { ...state } } });
    return true;
  });
}

export interface DescribeLoadBalancersInput {
  LoadBalancerArns?: string[];
  Names?: string[];
  Marker?: string;
  PageSize?: number;
}

export async function describeLoadBalancers(ctx: Elbv2Context, input: DescribeLoadBalancersInput): Promise<unknown> {
  if (input.LoadBalancerArns !== undefined && input.Names !== undefined) {
    throw new ValidationError('Load balancer names and load balancer ARNs cannot be specified at the same time');
  }
  let rows: Row<LoadBalancerDoc>[];
  if (input.LoadBalancerArns !== undefined) {
    rows = [];
    for (const arn of new Set(input.LoadBalancerArns)) {
      const row = await ctx.store.get<LoadBalancerDoc>('loadBalancer', arn);
      if (!row) throw new LoadBalancerNotFoundException(`Load balancers '[${arn}]' not found`);
      rows.push(row);
    }
  } else if (input.Names !== undefined) {
    rows = [];
    const missing: string[] = [];
    for (const name of new Set(input.Names)) {
      const found = await ctx.store.find<LoadBalancerDoc>('loadBalancer', { name });
      if (found[0]) rows.push(found[0]);
      else missing.push(name);
    }
    if (missing.length > 0) throw new LoadBalancerNotFoundException(`Load balancers '[${missing.join(', ')}]' not found`);
  } else {
    rows = await ctx.store.find<LoadBalancerDoc>('loadBalancer');
  }
  const { items, next } = page(rows, input.Marker, input.PageSize, 'DescribeLoadBalancers');
  return { LoadBalancers: items.map((r) => describeLoadBalancer(r.doc)), ...(next !== undefined ? { NextMarker: next } : {}) };
}

/** Deletes a load balancer with its listeners and rules; a load balancer that does not exist is already deleted. */
export async function deleteLoadBalancer(ctx: Elbv2Context, input: { LoadBalancerArn: string }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<LoadBalancerDoc>('loadBalancer', input.LoadBalancerArn);
    if (!row) return;
    if (row.doc.attributes['deletion_protection.enabled'] === 'true') {
      throw new OperationNotPermittedException(`Load balancer '${row.arn}' cannot be deleted because deletion protection is enabled`);
    }
    for (const l of await tx.find<ListenerDoc>('listener', { where: { loadBalancer: row.arn } })) {
      for (const r of await tx.find('listenerRule', { where: { listener: l.arn } })) await tx.remove('listenerRule', r.arn, r.version);
      await tx.remove('listener', l.arn, l.version);
    }
    await tx.remove('loadBalancer', row.arn, row.version);
  });
  return {};
}

function attributeList(attrs: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(attrs).map(([Key, Value]) => ({ Key, Value }));
}

export async function describeLoadBalancerAttributes(ctx: Elbv2Context, input: { LoadBalancerArn: string }): Promise<unknown> {
  const row = await getLoadBalancer(ctx.store, input.LoadBalancerArn);
  return { Attributes: attributeList(row.doc.attributes) };
}

const BOOLEAN = /^(true|false)$/;

/** The check of each load balancer attribute value Berth knows; a key not listed for the type is refused. */
function checkLoadBalancerAttribute(key: string, value: string): void {
  const bad = (): never => {
    throw new InvalidConfigurationRequestException(`Load balancer attribute '${key}' has an invalid value '${value}'`);
  };
  if (key.endsWith('.enabled')) {
    if (!BOOLEAN.test(value)) bad();
    return;
  }
  switch (key) {
    case 'idle_timeout.timeout_seconds': {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 1 || n > 4000) throw new ValidationError(`The idle timeout must be between 1 and 4000 seconds`);
      return;
    }
    case 'client_keep_alive.seconds': {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 60 || n > 604800) throw new ValidationError('The client keep alive must be between 60 and 604800 seconds');
      return;
    }
    case 'routing.http.desync_mitigation_mode':
      if (!['monitor', 'defensive', 'strictest'].includes(value)) bad();
      return;
    case 'routing.http.xff_header_processing.mode':
      if (!['append', 'preserve', 'remove'].includes(value)) bad();
      return;
    case 'dns_record.client_routing_policy':
      if (!['availability_zone_affinity', 'partial_availability_zone_affinity', 'any_availability_zone'].includes(value)) bad();
      return;
    default:
      return;
  }
}

export async function modifyLoadBalancerAttributes(ctx: Elbv2Context, input: { LoadBalancerArn: string; Attributes: { Key?: string; Value?: string }[] }): Promise<unknown> {
  if (input.Attributes.length > 20) {
    throw new ValidationError("1 validation error detected: Value at 'attributes' failed to satisfy constraint: Member must have length less than or equal to 20");
  }
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getLoadBalancer(tx, input.LoadBalancerArn);
    const known = LOAD_BALANCER_ATTRIBUTE_DEFAULTS[row.doc.Type];
    const attributes = { ...row.doc.attributes };
    for (const a of input.Attributes) {
      const key = a.Key ?? '';
      if (!Object.hasOwn(known, key)) throw new ValidationError(`Load balancer attribute key '${key}' is not recognized`);
      const value = a.Value ?? '';
      checkLoadBalancerAttribute(key, value);
      attributes[key] = value;
    }
    return tx.update<LoadBalancerDoc>('loadBalancer', { ...row, doc: { ...row.doc, attributes } });
  });
  return { Attributes: attributeList(row.doc.attributes) };
}

/** SetSecurityGroups: recorded and reported; Berth has no security groups to apply. */
export async function setSecurityGroups(ctx: Elbv2Context, input: { LoadBalancerArn: string; SecurityGroups: string[] }): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getLoadBalancer(tx, input.LoadBalancerArn);
    return tx.update<LoadBalancerDoc>('loadBalancer', { ...row, doc: { ...row.doc, SecurityGroups: [...new Set(input.SecurityGroups)] } });
  });
  return { SecurityGroupIds: row.doc.SecurityGroups ?? [] };
}

/** SetSubnets: each subnet becomes one availability zone of the region, as at creation. */
export async function setSubnets(ctx: Elbv2Context, input: { LoadBalancerArn: string; Subnets?: string[]; SubnetMappings?: { SubnetId?: string }[]; IpAddressType?: string }): Promise<unknown> {
  if (input.Subnets !== undefined && input.SubnetMappings !== undefined) throw new ValidationError('You can specify subnets or subnet mappings, not both');
  const subnets = input.Subnets ?? (input.SubnetMappings ?? []).map((m) => m.SubnetId ?? '');
  if (subnets.length === 0) throw new ValidationError('At least one subnet must be specified');
  if (new Set(subnets).size !== subnets.length) throw new ValidationError('Only one subnet per Availability Zone can be specified');
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getLoadBalancer(tx, input.LoadBalancerArn);
    const zones = subnets.map((s, i) => ({ ZoneName: `${ctx.region}${String.fromCharCode(97 + (i % 6))}`, SubnetId: s }));
    return tx.update<LoadBalancerDoc>('loadBalancer', { ...row, doc: { ...row.doc, AvailabilityZones: zones, ...(input.IpAddressType !== undefined ? { IpAddressType: input.IpAddressType } : {}) } });
  });
  return { AvailabilityZones: row.doc.AvailabilityZones, IpAddressType: row.doc.IpAddressType };
}

export async function setIpAddressType(ctx: Elbv2Context, input: { LoadBalancerArn: string; IpAddressType: string }): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getLoadBalancer(tx, input.LoadBalancerArn);
    if (input.IpAddressType === 'dualstack-without-public-ipv4' && (row.doc.Type !== 'application' || row.doc.Scheme !== 'internet-facing')) {
      throw new ValidationError("IP address type 'dualstack-without-public-ipv4' is supported only for internet-facing Application Load Balancers");
    }
    return tx.update<LoadBalancerDoc>('loadBalancer', { ...row, doc: { ...row.doc, IpAddressType: input.IpAddressType } });
  });
  return { IpAddressType: row.doc.IpAddressType };
}

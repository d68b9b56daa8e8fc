/** Listeners and their actions: CreateListener, DescribeListeners, ModifyListener, DeleteListener. */
import {
  CertificateNotFoundException,
  DuplicateListenerException,
  IncompatibleProtocolsException,
  InvalidLoadBalancerActionException,
  OperationNotPermittedException,
  SSLPolicyNotFoundException,
  TargetGroupAssociationLimitException,
  TooManyActionsException,
  TooManyCertificatesException,
  TooManyListenersException,
  UnsupportedProtocolException,
  ValidationError,
} from '../core/errors.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import { actionTargetGroups, getListener, getLoadBalancer, listenerNotFound, mergeTags, page, targetGroupNotFound, targetGroupUsage } from './common.js';
import {
  DEFAULT_SSL_POLICY,
  HTTP_PROTOCOLS,
  LIMITS,
  NETWORK_PROTOCOLS,
  SSL_POLICIES,
  arnPrefix,
  listenerAttributeDefaults,
  newId,
  type ActionDoc,
  type CertificateRef,
  type Elbv2Context,
  type ListenerDoc,
  type LoadBalancerDoc,
  type LoadBalancerType,
  type Tag,
  type TargetGroupDoc,
} from './model.js';

/** An action as the API accepts it (the model leaves most members optional). */
export interface ActionInput {
  Type: string;
  TargetGroupArn?: string;
  Order?: number;
  RedirectConfig?: { Protocol?: string; Port?: string; Host?: string; Path?: string; Query?: string; StatusCode: string };
  FixedResponseConfig?: { MessageBody?: string; StatusCode: string; ContentType?: string };
  ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[]; TargetGroupStickinessConfig?: { Enabled?: boolean; DurationSeconds?: number } };
}

const CONTENT_TYPES = new Set(['text/plain', 'text/css', 'text/html', 'application/javascript', 'application/json']);

/**
 * Checks actions against the load balancer they will run on and returns them
 * as ELBv2 describes them: forwards always carry a ForwardConfig (weight 1
 * and stickiness off unless given), redirects carry every URI component.
 */
export async function normalizeActions(
  reader: StoreReader,
  lb: LoadBalancerDoc,
  listenerProtocol: string,
  actions: readonly ActionInput[],
): Promise<ActionDoc[]> {
  if (actions.length === 0) throw new ValidationError('At least one action must be specified');
  const terminal = actions.filter((a) => a.Type === 'forward' || a.Type === 'redirect' || a.Type === 'fixed-response');
  for (const a of actions) {
    if (a.Type === 'authenticate-oidc' || a.Type === 'authenticate-cognito' || a.Type === 'jwt-validation') {
      throw new InvalidLoadBalancerActionException(`Action type '${a.Type}' is not supported by Berth`);
    }
  }
  if (terminal.length !== 1) {
    throw new TooManyActionsException(terminal.length === 0 ? 'A forward, redirect or fixed-response action must be specified' : 'You can specify only one forward, redirect or fixed-response action');
  }
  const usage = await targetGroupUsage(reader);
  const out: ActionDoc[] = [];
  for (const [i, a] of actions.entries()) {
    if (lb.Type === 'network' && a.Type !== 'forward') {
      throw new InvalidLoadBalancerActionException(`Action type '${a.Type}' must be one of 'forward'`);
    }
    const order = a.Order ?? i + 1;
    if (!Number.isInteger(order) || order < 1 || order > 50000) throw new ValidationError('Action order must be between 1 and 50000');
    switch (a.Type) {
      case 'forward': {
        const tuples = a.ForwardConfig?.TargetGroups ?? [];
        if (a.TargetGroupArn === undefined && tuples.length === 0) {
          throw new ValidationError('A target group ARN must be specified for a forward action');
        }
        if (a.TargetGroupArn !== undefined && tuples.length > 0 && (tuples.length !== 1 || tuples[0]?.TargetGroupArn !== a.TargetGroupArn)) {
          throw new ValidationError('You cannot specify both a target group ARN and a forward config with different target groups');
        }
        const max = lb.Type === 'network' ? LIMITS['target-groups-per-action-on-network-load-balancer'] : LIMITS['target-groups-per-action-on-application-load-balancer'];
        if (tuples.length > max) throw new ValidationError(`You can specify at most ${max} target groups in a forward action`);
        const groups = tuples.length > 0 ? tuples.map((t) => ({ TargetGroupArn: t.TargetGroupArn ?? '', Weight: t.Weight ?? 1 })) : [{ TargetGroupArn: a.TargetGroupArn ?? '', Weight: 1 }];
        const seen = new Set<string>();
        for (const g of groups) {
          if (seen.has(g.TargetGroupArn)) throw new ValidationError(`Target group '${g.TargetGroupArn}' is specified more than once in the forward action`);
          seen.add(g.TargetGroupArn);
          if (!Number.isInteger(g.Weight) || g.Weight < 0 || g.Weight > 999) throw new ValidationError('Target group weight must be between 0 and 999');
          const tg = await reader.get<TargetGroupDoc>('targetGroup', g.TargetGroupArn);
          if (!tg) throw targetGroupNotFound();
          checkTargetGroupFits(lb, listenerProtocol, tg.doc, usage.get(tg.arn));
        }
        const stickiness = a.ForwardConfig?.TargetGroupStickinessConfig;
        if (stickiness?.Enabled === true) {
          const d = stickiness.DurationSeconds;
          if (d === undefined || !Number.isInteger(d) || d < 1 || d > 604800) {
            throw new ValidationError('Target group stickiness duration must be between 1 and 604800 seconds');
          }
        }
        out.push({
          Type: 'forward',
          Order: order,
          ...(groups.length === 1 ? { TargetGroupArn: groups[0]!.TargetGroupArn } : {}),
          ForwardConfig: {
            TargetGroups: groups,
            TargetGroupStickinessConfig: stickiness?.Enabled === true ? { Enabled: true, DurationSeconds: stickiness.DurationSeconds! } : { Enabled: false },
          },
        });
        break;
      }
      case 'redirect': {
        const r = a.RedirectConfig;
        if (!r) throw new ValidationError('A redirect config must be specified for a redirect action');
        if (r.StatusCode !== 'HTTP_301' && r.StatusCode !== 'HTTP_302') throw new ValidationError(`Redirect status code '${r.StatusCode}' must be one of 'HTTP_301, HTTP_302'`);
        if (r.Protocol !== undefined && !['HTTP', 'HTTPS', '#{protocol}'].includes(r.Protocol)) throw new ValidationError(`Redirect protocol '${r.Protocol}' must be one of 'HTTP, HTTPS, #{protocol}'`);
        if (r.Path !== undefined && !r.Path.startsWith('/')) throw new ValidationError("Redirect path must begin with a '/' character");
        if (r.Port !== undefined && r.Port !== '#{port}' && !(/^\d+$/.test(r.Port) && Number(r.Port) >= 1 && Number(r.Port) <= 65535)) {
          throw new ValidationError('Redirect port must be #{port} or between 1 and 65535');
        }
        const redirect = { Protocol: r.Protocol ?? '#{protocol}', Port: r.Port ?? '#{port}', Host: r.Host ?? '#{host}', Path: r.Path ?? '/#{path}', Query: r.Query ?? '#{query}', StatusCode: r.StatusCode };
        if (redirect.Protocol === '#{protocol}' && redirect.Port === '#{port}' && redirect.Host === '#{host}' && redirect.Path === '/#{path}' && redirect.Query === '#{query}') {
          throw new ValidationError('The redirect must change at least one of protocol, port, host, path or query, or it would loop');
        }
        out.push({ Type: 'redirect', Order: order, RedirectConfig: redirect });
        break;
      }
      case 'fixed-response': {
        const f = a.FixedResponseConfig;
        if (!f) throw new ValidationError('A fixed response config must be specified for a fixed-response action');
        if (!/^[245]\d\d$/.test(f.StatusCode)) throw new ValidationError(`Fixed response status code '${f.StatusCode}' must be a 2XX, 4XX or 5XX code`);
        if (f.ContentType !== undefined && !CONTENT_TYPES.has(f.ContentType)) {
          throw new ValidationError(`Fixed response content type '${f.ContentType}' must be one of 'text/plain, text/css, text/html, application/javascript, application/json'`);
        }
        if (f.MessageBody !== undefined && Buffer.byteLength(f.MessageBody) > 1024) throw new ValidationError('Fixed response message body cannot be longer than 1024 characters');
        out.push({ Type: 'fixed-response', Order: order, FixedResponseConfig: { ...(f.MessageBody !== undefined ? { MessageBody: f.MessageBody } : {}), StatusCode: f.StatusCode, ...(f.ContentType !== undefined ? { ContentType: f.ContentType } : {}) } });
        break;
      }
      default:
        throw new InvalidLoadBalancerActionException(`Action type '${a.Type}' is not supported by Berth`);
    }
  }
  return out;
}

/** A target group can serve a listener when protocols match and no other load balancer uses it. */
function checkTargetGroupFits(lb: LoadBalancerDoc, listenerProtocol: string, tg: TargetGroupDoc, usedBy: ReadonlySet<string> | undefined): void {
  const tgProtocol = tg.Protocol ?? '';
  const ok = lb.Type === 'application' ? HTTP_PROTOCOLS.has(tgProtocol) : NETWORK_PROTOCOLS.has(tgProtocol) && (listenerProtocol === tgProtocol || (listenerProtocol === 'TLS' && tgProtocol === 'TCP') || (listenerProtocol === 'TCP' && tgProtocol === 'TLS') || listenerProtocol === 'TCP_UDP');
  if (!ok) {
    throw new IncompatibleProtocolsException(`Listener protocol '${listenerProtocol}' is not supported with a target group with the protocol '${tgProtocol}'`);
  }
  const others = [...(usedBy ?? [])].filter((arn) => arn !== lb.LoadBalancerArn);
  if (others.length > 0) {
    throw new TargetGroupAssociationLimitException(`The following target groups cannot be associated with more than one load balancer: ${tg.TargetGroupArn}`);
  }
}

/** The Listener structure as ELBv2 describes it. */
export function describeListener(l: ListenerDoc): Record<string, unknown> {
  return {
    ListenerArn: l.ListenerArn,
    LoadBalancerArn: l.LoadBalancerArn,
    Port: l.Port,
    Protocol: l.Protocol,
    ...(l.Certificates ? { Certificates: l.Certificates } : {}),
    ...(l.SslPolicy !== undefined ? { SslPolicy: l.SslPolicy } : {}),
    DefaultActions: l.DefaultActions,
    ...(l.AlpnPolicy ? { AlpnPolicy: l.AlpnPolicy } : {}),
  };
}

function checkProtocol(type: LoadBalancerType, protocol: string): void {
  const allowed = type === 'application' ? ['HTTP', 'HTTPS'] : ['TCP', 'TLS', 'UDP', 'TCP_UDP'];
  if (protocol === 'GENEVE') throw new UnsupportedProtocolException(`Protocol 'GENEVE' is not supported by Berth`);
  if (!allowed.includes(protocol)) throw new ValidationError(`Listener protocol '${protocol}' must be one of '${[...allowed].reverse().join(', ')}'`);
}

/** Checks a secure listener's certificates (each must be an ACM certificate Berth holds) and SSL policy. */
async function checkSecurity(
  reader: StoreReader,
  protocol: string,
  certificates: readonly CertificateRef[] | undefined,
  sslPolicy: string | undefined,
): Promise<{ Certificates?: CertificateRef[]; SslPolicy?: string }> {
  const secure = protocol === 'HTTPS' || protocol === 'TLS';
  if (!secure) {
    if (certificates !== undefined && certificates.length > 0) throw new ValidationError(`Certificates are not supported for listeners with the protocol '${protocol}'`);
    if (sslPolicy !== undefined) throw new ValidationError(`An SSL policy is not supported for listeners with the protocol '${protocol}'`);
    return {};
  }
  if (certificates === undefined || certificates.length === 0) throw new ValidationError(`A certificate must be specified for ${protocol} listeners`);
  if (certificates.length > 1) throw new TooManyCertificatesException('You can specify only one default certificate for a listener');
  const arn = certificates[0]?.CertificateArn;
  if (arn === undefined || arn === '') throw new ValidationError('A certificate ARN must be specified');
  const cert = await reader.get('certificate', arn);
  if (!cert) throw new CertificateNotFoundException(`Certificate '${arn}' not found`);
  const policy = sslPolicy ?? DEFAULT_SSL_POLICY;
  if (!SSL_POLICIES.has(policy)) throw new SSLPolicyNotFoundException(`SSL policy '${policy}' not found`);
  return { Certificates: [{ CertificateArn: arn }], SslPolicy: policy };
}

function checkPort(port: number | undefined): number {
  if (port === undefined) throw new ValidationError('A listener port must be specified');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`1 validation error detected: Value '${port}' at 'port' failed to satisfy constraint: Member must have value ${port < 1 ? 'greater than or equal to 1' : 'less than or equal to 65535'}`);
  }
  return port;
}

export interface CreateListenerInput {
  LoadBalancerArn: string;
  Protocol?: string;
  Port?: number;
  SslPolicy?: string;
  Certificates?: CertificateRef[];
  DefaultActions: ActionInput[];
  AlpnPolicy?: string[];
  Tags?: Tag[];
}

export async function createListener(ctx: Elbv2Context, input: CreateListenerInput): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const lb = (await getLoadBalancer(tx, input.LoadBalancerArn)).doc;
    const protocol = input.Protocol ?? (lb.Type === 'application' ? 'HTTP' : 'TCP');
    checkProtocol(lb.Type, protocol);
    const port = checkPort(input.Port);
    const siblings = await tx.find<ListenerDoc>('listener', { where: { loadBalancer: lb.LoadBalancerArn } });
    if (siblings.some((l) => l.doc.Port === port)) throw new DuplicateListenerException('A listener already exists on this port for this load balancer');
    const max = lb.Type === 'network' ? LIMITS['listeners-per-network-load-balancer'] : LIMITS['listeners-per-application-load-balancer'];
    if (siblings.length >= max) throw new TooManyListenersException(`You've reached the limit on the number of listeners per load balancer`);
    const security = await checkSecurity(tx, protocol, input.Certificates, input.SslPolicy);
    if (input.AlpnPolicy !== undefined && protocol !== 'TLS') throw new ValidationError('ALPN policies are supported only for TLS listeners');
    const actions = await normalizeActions(tx, lb, protocol, input.DefaultActions);
    const now = ctx.now();
    const segments = lb.LoadBalancerArn.slice(lb.LoadBalancerArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
    const arn = `${arnPrefix(ctx)}listener/${segments}/${newId()}`;
    const doc: ListenerDoc = {
      ListenerArn: arn,
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: port,
      Protocol: protocol,
      ...security,
      DefaultActions: actions,
      ...(input.AlpnPolicy !== undefined ? { AlpnPolicy: input.AlpnPolicy } : {}),
      CreatedTime: now,
      Tags: mergeTags([], input.Tags ?? []),
    };
    return tx.insert<ListenerDoc>('listener', { arn, cluster: '', name: '', status: 'active', seq: now, keys: { loadBalancer: lb.LoadBalancerArn }, doc });
  });
  return { Listeners: [describeListener(row.doc)] };
}

export interface DescribeListenersInput {
  LoadBalancerArn?: string;
  ListenerArns?: string[];
  Marker?: string;
  PageSize?: number;
}

export async function describeListeners(ctx: Elbv2Context, input: DescribeListenersInput): Promise<unknown> {
  if (input.LoadBalancerArn === undefined && input.ListenerArns === undefined) {
    throw new ValidationError('You must specify either listener ARNs or a load balancer ARN');
  }
  if (input.LoadBalancerArn !== undefined && input.ListenerArns !== undefined) {
    throw new ValidationError('Listener ARNs and a load balancer ARN cannot be specified at the same time');
  }
  let rows: Row<ListenerDoc>[];
  if (input.ListenerArns !== undefined) {
    rows = [];
    for (const arn of new Set(input.ListenerArns)) rows.push(await getListener(ctx.store, arn));
  } else {
    const lb = await getLoadBalancer(ctx.store, input.LoadBalancerArn!);
    rows = await ctx.store.find<ListenerDoc>('listener', { where: { loadBalancer: lb.arn } });
  }
  const { items, next } = page(rows, input.Marker, input.PageSize, 'DescribeListeners');
  return { Listeners: items.map((r) => describeListener(r.doc)), ...(next !== undefined ? { NextMarker: next } : {}) };
}

export interface ModifyListenerInput {
  ListenerArn: string;
  Port?: number;
  Protocol?: string;
  SslPolicy?: string;
  Certificates?: CertificateRef[];
  DefaultActions?: ActionInput[];
  AlpnPolicy?: string[];
}

export async function modifyListener(ctx: Elbv2Context, input: ModifyListenerInput): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getListener(tx, input.ListenerArn);
    const lb = (await getLoadBalancer(tx, row.doc.LoadBalancerArn)).doc;
    const protocol = input.Protocol ?? row.doc.Protocol;
    checkProtocol(lb.Type, protocol);
    const port = input.Port !== undefined ? checkPort(input.Port) : row.doc.Port;
    if (port !== row.doc.Port) {
      const siblings = await tx.find<ListenerDoc>('listener', { where: { loadBalancer: lb.LoadBalancerArn } });
      if (siblings.some((l) => l.arn !== row.arn && l.doc.Port === port)) throw new DuplicateListenerException('A listener already exists on this port for this load balancer');
    }
    const secure = protocol === 'HTTPS' || protocol === 'TLS';
    const security = await checkSecurity(
      tx,
      protocol,
      input.Certificates ?? (secure ? row.doc.Certificates : undefined),
      input.SslPolicy ?? (secure ? row.doc.SslPolicy : undefined),
    );
    const actions = input.DefaultActions !== undefined ? await normalizeActions(tx, lb, protocol, input.DefaultActions) : row.doc.DefaultActions;
    if (input.DefaultActions === undefined && protocol !== row.doc.Protocol) {
      // Forwarding target groups must still fit the new protocol.
      await normalizeActions(tx, lb, protocol, actions);
    }
    const { Certificates: _c, SslPolicy: _s, AlpnPolicy: _a, attributes: previous, additionalCertificates: extra, ...rest } = row.doc;
    const kept = Object.entries(previous ?? {}).filter(([k]) => Object.hasOwn(listenerAttributeDefaults(protocol), k));
    const doc: ListenerDoc = {
      ...rest,
      Port: port,
      Protocol: protocol,
      ...security,
      ...(secure && extra?.length ? { additionalCertificates: extra.filter((arn) => arn !== security.Certificates?.[0]?.CertificateArn) } : {}),
      DefaultActions: actions,
      ...(protocol === 'TLS' && (input.AlpnPolicy ?? row.doc.AlpnPolicy) ? { AlpnPolicy: input.AlpnPolicy ?? row.doc.AlpnPolicy! } : {}),
      ...(kept.length > 0 ? { attributes: Object.fromEntries(kept) } : {}),
    };
    return tx.update<ListenerDoc>('listener', { ...row, doc });
  });
  return { Listeners: [describeListener(row.doc)] };
}

export async function deleteListener(ctx: Elbv2Context, input: { ListenerArn: string }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<ListenerDoc>('listener', input.ListenerArn);
    if (!row) throw listenerNotFound();
    for (const r of await tx.find('listenerRule', { where: { listener: row.arn } })) await tx.remove('listenerRule', r.arn, r.version);
    await tx.remove('listener', row.arn, row.version);
  });
  return {};
}

/** Listeners that serve a certificate, for ACM's in-use checks. */
export async function listenersUsingCertificate(reader: StoreReader, certificateArn: string): Promise<ListenerDoc[]> {
  return (await reader.find<ListenerDoc>('listener'))
    .map((r) => r.doc)
    .filter((l) => (l.Certificates ?? []).some((c) => c.CertificateArn === certificateArn) || (l.additionalCertificates ?? []).includes(certificateArn));
}


function listenerAttributes(l: ListenerDoc): { Key: string; Value: string }[] {
  return Object.entries({ ...listenerAttributeDefaults(l.Protocol), ...(l.attributes ?? {}) }).map(([Key, Value]) => ({ Key, Value }));
}

export async function describeListenerAttributes(ctx: Elbv2Context, input: { ListenerArn: string }): Promise<unknown> {
  return { Attributes: listenerAttributes((await getListener(ctx.store, input.ListenerArn)).doc) };
}

export async function modifyListenerAttributes(ctx: Elbv2Context, input: { ListenerArn: string; Attributes: { Key?: string; Value?: string }[] }): Promise<unknown> {
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getListener(tx, input.ListenerArn);
    const known = listenerAttributeDefaults(row.doc.Protocol);
    const attributes = { ...(row.doc.attributes ?? {}) };
    for (const a of input.Attributes) {
      const key = a.Key ?? '';
      const value = a.Value ?? '';
      if (!Object.hasOwn(known, key)) throw new ValidationError(`Listener attribute key '${key}' is not recognized`);
      if (key.endsWith('.enabled') && !/^(true|false)$/.test(value)) throw new ValidationError(`Listener attribute '${key}' must be 'true' or 'false'`);
      if (key === 'tcp.idle_timeout.seconds' && !(/^\d+$/.test(value) && Number(value) >= 60 && Number(value) <= 6000)) {
        throw new ValidationError('The TCP idle timeout must be between 60 and 6000 seconds');
      }
      attributes[key] = value;
    }
    return tx.update<ListenerDoc>('listener', { ...row, doc: { ...row.doc, attributes } });
  });
  return { Attributes: listenerAttributes(row.doc) };
}

/** DescribeListenerCertificates: the default certificate (IsDefault) and the listener's certificate list. */
export async function describeListenerCertificates(ctx: Elbv2Context, input: { ListenerArn: string; Marker?: string; PageSize?: number }): Promise<unknown> {
  const l = (await getListener(ctx.store, input.ListenerArn)).doc;
  const certs = [
    ...(l.Certificates ?? []).map((c) => ({ CertificateArn: c.CertificateArn, IsDefault: true })),
    ...(l.additionalCertificates ?? []).map((arn) => ({ CertificateArn: arn, IsDefault: false })),
  ];
  const { items, next } = page(certs, input.Marker, input.PageSize, 'DescribeListenerCertificates');
  return { Certificates: items, ...(next !== undefined ? { NextMarker: next } : {}) };
}

/** Certificates an application load balancer's listeners may hold besides their default ones. */
export const MAX_ADDITIONAL_CERTIFICATES = 25;

function secureListener(l: ListenerDoc): void {
  if (l.Protocol !== 'HTTPS' && l.Protocol !== 'TLS') throw new ValidationError(`Certificates are not supported for listeners with the protocol '${l.Protocol}'`);
}

function certificateArns(certificates: readonly CertificateRef[]): string[] {
  return certificates.map((c) => {
    if (c.CertificateArn === undefined || c.CertificateArn === '') throw new ValidationError('A certificate ARN must be specified');
    return c.CertificateArn;
  });
}

/**
 * AddListenerCertificates: certificates the listener serves besides its
 * default one, to clients whose SNI names them (the default certificate
 * answers every other name, and clients without SNI).
 */
export async function addListenerCertificates(ctx: Elbv2Context, input: { ListenerArn: string; Certificates: CertificateRef[] }): Promise<unknown> {
  if (input.Certificates.some((c) => c.IsDefault === true)) throw new ValidationError('You cannot add a default certificate; use ModifyListener to change the default certificate');
  const arns = certificateArns(input.Certificates);
  const row = await withRetry(ctx.store, async (tx) => {
    const row = await getListener(tx, input.ListenerArn);
    secureListener(row.doc);
    for (const arn of arns) if (!(await tx.get('certificate', arn))) throw new CertificateNotFoundException(`Certificate '${arn}' not found`);
    const defaultArn = row.doc.Certificates?.[0]?.CertificateArn;
    const list = [...(row.doc.additionalCertificates ?? [])];
    for (const arn of arns) if (arn !== defaultArn && !list.includes(arn)) list.push(arn);
    if (list.length > MAX_ADDITIONAL_CERTIFICATES) throw new TooManyCertificatesException(`You've reached the limit on the number of certificates per load balancer`);
    return tx.update<ListenerDoc>('listener', { ...row, doc: { ...row.doc, additionalCertificates: list } });
  });
  const added = new Set(arns);
  return { Certificates: (row.doc.additionalCertificates ?? []).filter((arn) => added.has(arn)).map((arn) => ({ CertificateArn: arn, IsDefault: false })) };
}

/** RemoveListenerCertificates: takes certificates off the listener's list; the default certificate stays (ModifyListener changes it). */
export async function removeListenerCertificates(ctx: Elbv2Context, input: { ListenerArn: string; Certificates: CertificateRef[] }): Promise<unknown> {
  const arns = certificateArns(input.Certificates);
  await withRetry(ctx.store, async (tx) => {
    const row = await getListener(tx, input.ListenerArn);
    secureListener(row.doc);
    const defaultArn = row.doc.Certificates?.[0]?.CertificateArn;
    if (input.Certificates.some((c) => c.IsDefault === true) || arns.includes(defaultArn ?? '')) {
      throw new OperationNotPermittedException('The default certificate of a listener cannot be removed; use ModifyListener to change it');
    }
    const list = (row.doc.additionalCertificates ?? []).filter((arn) => !arns.includes(arn));
    const { additionalCertificates: _old, ...rest } = row.doc;
    await tx.update<ListenerDoc>('listener', { ...row, doc: { ...rest, ...(list.length ? { additionalCertificates: list } : {}) } });
  });
  return {};
}

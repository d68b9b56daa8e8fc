import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  targetKey,
  wildcardToRegex,
  type Action,
  type Condition,
  type DataPlaneConfig,
  type Listener,
  type LoadBalancer,
  type RedirectAction,
  type Target,
  type TargetGroup,
} from '../model.js';

/**
 * Renders a `DataPlaneConfig` into an haproxy.cfg (pure: no file or process
 * access).
 *
 * Shape:
 * - one frontend per listener; an HTTP(S) listener tries its rules' conditions
 *   (ACLs) by ascending priority; a fixed-response or redirect acts at once, a
 *   forward records its rank in `txn.rule` so that no later rule acts and
 *   `use_backend`, which HAProxy evaluates after every `http-request` line,
 *   picks its backend; the default action comes last;
 * - weighted forwards draw one number per request (`txn.pick`) and split on it;
 * - one backend per target group, one server line per target (and per
 *   draining target, `disabled`), with the group's health check. The same
 *   server arguments serve `add server` on the runtime API, so a target added
 *   in place and one read from the file behave alike;
 * - fail-open, as ELB: each target also has an unchecked `backup` twin
 *   (`failOpenName`) and the backend has `option allbackups`, so when no
 *   checked server is up (every registered target unhealthy) requests go to
 *   every registered target; a draining target's twin is disabled with it.
 */

export interface RenderPaths {
  /** Directory holding the config, sockets and certificates. */
  dir: string;
  adminSocket: string;
  stateFile: string;
}

export interface RenderOptions {
  /** Seconds an old process may keep serving connections after a reload. */
  hardStopAfterSeconds: number;
}

/** A target that left its group and drains until its delay ends. */
export type DrainingTargets = ReadonlyMap<string, ReadonlyMap<string, Target>>;

export interface RenderedServer {
  name: string;
  /** The unchecked backup twin that serves when every target of the group is down (`failOpenName`). */
  failOpen: string;
  target: Target;
  draining: boolean;
}

export interface RenderedBackend {
  name: string;
  targetGroup: TargetGroup;
  /** By `targetKey`. */
  servers: Map<string, RenderedServer>;
}

export interface Rendered {
  text: string;
  /** The config with every server line left out: equal fingerprints mean the runtime API can make the change. */
  structure: string;
  /** Certificate files to write before HAProxy reads the config (path → PEM). */
  files: Map<string, string>;
  /** By target group id. */
  backends: Map<string, RenderedBackend>;
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
const slug = (s: string, max = 24) => s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(-max);

/** HAProxy proxy name for a target group: readable tail of its id plus a hash of all of it. */
export function backendName(targetGroupId: string): string {
  return `be_${slug(targetGroupId)}_${shortHash(targetGroupId)}`;
}

/** HAProxy proxy name for a listener of a load balancer. */
export function frontendName(lb: Pick<LoadBalancer, 'id'>, l: Pick<Listener, 'id'>): string {
  return `fe_${slug(lb.id, 16)}_${slug(l.id, 16)}_${shortHash(`${lb.id}\n${l.id}`)}`;
}

/** HAProxy server name of a target: readable, unique per host:port. */
export function serverName(t: { host: string; port: number }): string {
  const readable = `${t.host.replace(/[^A-Za-z0-9.-]/g, '_')}_${t.port}`;
  return /^[0-9A-Za-z.]+_\d+$/.test(readable) && !t.host.includes(':') ? `t_${readable}` : `t_${readable}_${shortHash(targetKey(t))}`;
}

/** Wraps a word in single quotes, in which HAProxy interprets nothing. */
export function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A log-format string in double quotes: literal text with `%[...]` samples. */
function quoteFormat(parts: (string | { sample: string })[]): string {
  const body = parts
    .map((p) => (typeof p === 'string' ? p.replace(/%/g, '%%').replace(/[\\"$]/g, (c) => `\\${c}`) : `%[${p.sample}]`))
    .join('');
  return `"${body}"`;
}

function seconds(n: number): string {
  return `${Math.max(1, Math.round(n * 1000))}ms`;
}

/**
 * The arguments after `server <name> <addr>` for a target, shared by the
 * config file and `add server` (which, unlike the file, inherits nothing from
 * `default-server`, so everything is spelled out here).
 */
export function serverArgs(tg: TargetGroup, t: Target): string[] {
  const hc = tg.healthCheck;
  const args = ['weight', String(t.weight ?? 1)];
  args.push('check', 'inter', seconds(hc.intervalSeconds), 'rise', String(hc.healthyThreshold), 'fall', String(hc.unhealthyThreshold));
  if (hc.port !== 'traffic-port') args.push('port', String(hc.port));
  if (tg.protocol === 'HTTPS') args.push('ssl', 'verify', 'none');
  else if (hc.protocol === 'HTTPS') args.push('check-ssl', 'verify', 'none');
  if (tg.slowStartSeconds > 0) args.push('slowstart', seconds(tg.slowStartSeconds));
  return args;
}

/** The fail-open twin of server `name`: same address, no health check, a backup. */
export function failOpenName(name: string): string {
  return `fo${name}`;
}

/** The arguments after `server <twin> <addr>` for a target's fail-open twin (see `serverArgs`). */
export function failOpenArgs(tg: TargetGroup, t: Target): string[] {
  const args = ['weight', String(t.weight ?? 1), 'backup'];
  if (tg.protocol === 'HTTPS') args.push('ssl', 'verify', 'none');
  return args;
}

export function serverAddress(t: Target): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

export function render(config: DataPlaneConfig, paths: RenderPaths, options: RenderOptions, draining: DrainingTargets = new Map()): Rendered {
  const files = new Map<string, string>();
  const backends = new Map<string, RenderedBackend>();
  const idleOf = new Map<string, number>();
  for (const lb of config.loadBalancers) {
    for (const l of lb.listeners) {
      for (const a of [l.defaultAction, ...l.rules.map((r) => r.action)]) {
        if (a.type !== 'forward') continue;
        for (const g of a.targetGroups) idleOf.set(g.targetGroupId, Math.max(idleOf.get(g.targetGroupId) ?? 0, lb.idleTimeoutSeconds));
      }
    }
  }

  const head = [
    'global',
    `  stats socket ${paths.adminSocket} mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    `  server-state-file ${paths.stateFile}`,
    `  hard-stop-after ${seconds(options.hardStopAfterSeconds)}`,
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    '',
    'defaults',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 60s',
    '  load-server-state-from-file global',
    '  option redispatch',
    '  retries 2',
    '',
  ];

  const frontends: string[] = [];
  for (const lb of config.loadBalancers) {
    for (const l of lb.listeners) frontends.push(...renderFrontend(lb, l, paths, files));
  }

  const structureOnly: string[] = [];
  const full: string[] = [];
  for (const tg of config.targetGroups) {
    const name = backendName(tg.id);
    const lines = renderBackendHead(tg, name, idleOf.get(tg.id) ?? 60);
    structureOnly.push(...lines, '');
    const servers = new Map<string, RenderedServer>();
    const serverLines: string[] = [];
    const used = new Set<string>();
    const add = (t: Target, isDraining: boolean) => {
      const key = targetKey(t);
      if (servers.has(key)) return;
      let sname = serverName(t);
      if (used.has(sname)) sname = `${sname}_${shortHash(key)}`;
      used.add(sname);
      servers.set(key, { name: sname, failOpen: failOpenName(sname), target: t, draining: isDraining });
      serverLines.push(`  server ${sname} ${serverAddress(t)} ${serverArgs(tg, t).join(' ')}${isDraining ? ' disabled' : ''}`);
      serverLines.push(`  server ${failOpenName(sname)} ${serverAddress(t)} ${failOpenArgs(tg, t).join(' ')}${isDraining ? ' disabled' : ''}`);
    };
    for (const t of tg.targets) add(t, false);
    for (const t of draining.get(tg.id)?.values() ?? []) add(t, true);
    backends.set(tg.id, { name, targetGroup: tg, servers });
    full.push(...lines, ...serverLines, '');
  }

  const text = [...head, ...frontends, ...full].join('\n');
  const structure = [...head, ...frontends, ...structureOnly].join('\n');
  return { text, structure, files, backends };
}

function renderBackendHead(tg: TargetGroup, name: string, idleSeconds: number): string[] {
  const hc = tg.healthCheck;
  const lines = [
    `backend ${name}`,
    `  # target group ${tg.id.replace(/[\r\n]/g, ' ')}`,
    `  mode ${tg.protocol === 'TCP' ? 'tcp' : 'http'}`,
    `  balance ${tg.algorithm === 'least_outstanding_requests' ? 'leastconn' : 'roundrobin'}`,
    `  timeout server ${seconds(idleSeconds)}`,
    `  timeout check ${seconds(hc.timeoutSeconds)}`,
    // Fail-open: with no checked server up, every backup (each target's unchecked twin) serves.
    '  option allbackups',
  ];
  if (hc.protocol !== 'TCP') {
    lines.push('  option httpchk', `  http-check send meth GET uri ${quote(hc.path)} hdr User-Agent ELB-HealthChecker/2.0`, `  http-check expect status ${hc.matcher}`);
  }
  if (tg.stickiness) {
    // Dynamic cookies follow the server's address and port, so targets added
    // at run time get a cookie too (`enable dynamic-cookie` after adding).
    lines.push(
      `  cookie AWSALB insert indirect nocache dynamic maxlife ${seconds(tg.stickiness.durationSeconds)}`,
      `  dynamic-cookie-key ${quote(shortHash(`berth-stickiness:${tg.id}`))}`,
    );
  }
  return lines;
}

function renderFrontend(lb: LoadBalancer, l: Listener, paths: RenderPaths, files: Map<string, string>): string[] {
  const name = frontendName(lb, l);
  const host = l.bindHost ?? '0.0.0.0';
  const addr = host.includes(':') ? `[${host}]:${l.port}` : `${host}:${l.port}`;
  let bind = `  bind ${addr}`;
  if (l.protocol === 'HTTPS' && l.certificate) {
    const pem = join(paths.dir, 'certs', `${name}.pem`);
    const cert = l.certificate.certificatePem.trim();
    const key = l.certificate.privateKeyPem.trim();
    files.set(pem, `${cert}\n${key}\n`);
    bind += ` ssl crt ${pem}`;
    // HAProxy serves the first certificate when no other one matches the SNI name.
    (l.sniCertificates ?? []).forEach((c, i) => {
      const extra = join(paths.dir, 'certs', `${name}.sni${i + 1}.pem`);
      files.set(extra, `${c.certificatePem.trim()}\n${c.privateKeyPem.trim()}\n`);
      bind += ` crt ${extra}`;
    });
  }
  const idle = seconds(lb.idleTimeoutSeconds);
  const out = [`frontend ${name}`, `  # load balancer ${lb.id.replace(/[\r\n]/g, ' ')}, listener ${l.id.replace(/[\r\n]/g, ' ')}`];

  if (l.protocol === 'TCP') {
    out.push('  mode tcp', bind, `  timeout client ${idle}`);
    const a = l.defaultAction;
    if (a.type === 'forward' && a.targetGroups[0]) out.push(`  default_backend ${backendName(a.targetGroups[0].targetGroupId)}`);
    out.push('');
    return out;
  }

  const proto = l.protocol === 'HTTPS' ? 'https' : 'http';
  out.push(
    '  mode http',
    bind,
    `  timeout client ${idle}`,
    `  timeout http-keep-alive ${idle}`,
    // After a reload the old process answers the next request on an idle
    // connection with "Connection: close" instead of closing it under the
    // client's feet.
    '  option idle-close-on-response',
    '  option forwardfor',
    `  http-request set-header X-Forwarded-Proto ${proto}`,
    `  http-request set-header X-Forwarded-Port ${l.port}`,
  );

  const rules = [...l.rules].sort((a, b) => a.priority - b.priority);
  // HAProxy runs `http-request` lines in order and stops at `return` or
  // `redirect`, so a fixed-response or redirect rule acts in place, guarded
  // by "no earlier rule matched"; a forward rule records its rank in
  // `txn.rule` (the backend is chosen later, by `use_backend`).
  const unmatched = '!{ var(txn.rule) -m found }';
  const backendsLines: string[] = [];
  const act = (action: Action, guard: string, rank: number) => {
    switch (action.type) {
      case 'fixed-response': {
        const body = action.messageBody ?? '';
        const ctype = action.contentType ?? 'text/plain';
        out.push(`  http-request return status ${action.statusCode}${body ? ` content-type ${quote(ctype)} string ${quote(body)}` : ''} if ${guard}`);
        break;
      }
      case 'redirect':
        out.push(...redirectLines(action, l, guard));
        break;
      case 'forward': {
        const groups = action.targetGroups.filter((g) => action.targetGroups.length === 1 || (g.weight ?? 1) > 0);
        if (rank === 0 && groups.length === 1 && groups[0]) {
          // The default action: whatever no rule took.
          backendsLines.push(`  default_backend ${backendName(groups[0].targetGroupId)}`);
          break;
        }
        out.push(`  http-request set-var(txn.rule) int(${rank}) if ${guard}`);
        const when = `{ var(txn.rule) -m int eq ${rank} }`;
        if (groups.length === 1 && groups[0]) {
          backendsLines.push(`  use_backend ${backendName(groups[0].targetGroupId)} if ${when}`);
          break;
        }
        const total = groups.reduce((sum, g) => sum + (g.weight ?? 1), 0);
        out.push(`  http-request set-var(txn.pick) rand(${total}) if ${when}`);
        let upTo = 0;
        groups.forEach((g, k) => {
          upTo += g.weight ?? 1;
          const pick = k === groups.length - 1 ? '' : ` { var(txn.pick) -m int lt ${upTo} }`;
          backendsLines.push(`  use_backend ${backendName(g.targetGroupId)} if ${when}${pick}`);
        });
        break;
      }
    }
  };
  // Rank i+1 is the rule of priority rank i; 0 is the default action.
  rules.forEach((r, i) => {
    const acls = r.conditions.map((c, j) => {
      const acl = `r${i + 1}c${j}`;
      for (const body of conditionAcls(c)) out.push(`  acl ${acl} ${body}`);
      return acl;
    });
    act(r.action, `${unmatched} ${acls.join(' ')}`, i + 1);
  });
  act(l.defaultAction, unmatched, 0);
  out.push(...backendsLines, '');
  return out;
}

/**
 * The ACL bodies (fetch, match method, patterns) for an ELB rule condition;
 * several bodies under one ACL name match when any does. Paths without
 * wildcards compare as strings and paths ending in their only `*` as
 * prefixes, which HAProxy does faster than a regular expression.
 */
export function conditionAcls(c: Condition): string[] {
  if (c.field !== 'path-pattern') return [conditionAcl(c)];
  const exact: string[] = [];
  const prefix: string[] = [];
  const regex: string[] = [];
  for (const v of c.values) {
    if (!/[*?\\]/.test(v)) exact.push(v);
    else if (/^[^*?\\]*\*$/.test(v)) prefix.push(v.slice(0, -1));
    else regex.push(v);
  }
  return [
    ...(exact.length ? [`path -m str ${exact.map(quote).join(' ')}`] : []),
    ...(prefix.length ? [`path -m beg ${prefix.map(quote).join(' ')}`] : []),
    ...(regex.length ? [conditionAcl({ field: 'path-pattern', values: regex })] : []),
  ];
}

/** One ACL body (fetch, match method and patterns) for an ELB rule condition. */
export function conditionAcl(c: Condition): string {
  switch (c.field) {
    case 'path-pattern':
      return `path -m reg ${c.values.map((v) => quote(wildcardToRegex(v))).join(' ')}`;
    case 'host-header':
      // The Host header may carry the port; ELB matches the name alone.
      return `req.hdr(host) -m reg -i ${c.values.map((v) => quote(`${wildcardToRegex(v).slice(0, -1)}(:[0-9]+)?$`)).join(' ')}`;
    case 'http-header':
      return `req.fhdr(${c.headerName}) -m reg -i ${c.values.map((v) => quote(wildcardToRegex(v))).join(' ')}`;
    case 'http-request-method':
      return `method -m str ${c.values.map(quote).join(' ')}`;
    case 'query-string':
      return `query -m reg -i ${c.values
        .map((v) => {
          const key = v.key === undefined ? '[^&=]*' : queryPart(v.key);
          return quote(`(^|&)${key}=${queryPart(v.value)}(&|$)`);
        })
        .join(' ')}`;
    case 'source-ip':
      return `src ${c.values.join(' ')}`;
  }
}

/** A wildcard as an unanchored regex confined to one query-string key or value. */
function queryPart(pattern: string): string {
  return wildcardToRegex(pattern, { any: '[^&]*', one: '[^&]' }, false);
}

function redirectLines(a: RedirectAction, l: Listener, when: string): string[] {
  const listenerProto = l.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP';
  const fill = (template: string, placeholders: Record<string, string | { sample: string }>): (string | { sample: string })[] => {
    const parts: (string | { sample: string })[] = [];
    let rest = template;
    for (;;) {
      const m = /#\{(protocol|host|port|path|query)\}/.exec(rest);
      if (!m) break;
      parts.push(rest.slice(0, m.index));
      parts.push(placeholders[m[1] as string] ?? '');
      rest = rest.slice(m.index + m[0].length);
    }
    parts.push(rest);
    return parts.filter((p) => p !== '');
  };
  const statics = { protocol: listenerProto, port: String(l.port) };
  const protocol = (a.protocol ?? '#{protocol}').replace('#{protocol}', listenerProto).toLowerCase();
  const port = (a.port ?? '#{port}').replace(/#\{port\}/g, String(l.port)).replace(/#\{protocol\}/g, listenerProto);
  const defaultPort = (protocol === 'http' && port === '80') || (protocol === 'https' && port === '443');
  const samples = {
    ...statics,
    host: { sample: 'req.hdr(host),field(1,:)' },
    path: { sample: 'path,regsub(^/,)' },
    query: { sample: 'query' },
  };
  const host = fill(a.host ?? '#{host}', samples);
  const path = fill(a.path ?? '/#{path}', samples);
  const query = a.query ?? '#{query}';
  const code = a.statusCode === 'HTTP_301' ? 301 : 302;
  const base = [`${protocol}://`, ...host, ...(defaultPort ? [] : [`:${port}`]), ...path];
  const line = (parts: (string | { sample: string })[], extra = '') => `  http-request redirect location ${quoteFormat(parts)} code ${code} if ${when}${extra}`;
  if (query === '') return [line(base)];
  if (query === '#{query}') {
    // The request's query, and no "?" when it has none.
    return [line([...base, '?', { sample: 'query' }], ' { query -m len gt 0 }'), line(base)];
  }
  return [line([...base, '?', ...fill(query, samples)])];
}

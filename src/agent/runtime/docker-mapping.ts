/**
 * Pure translations between the runtime's ECS-shaped types and the Docker
 * Engine API. No I/O here: `docker.ts` does the calls, these functions only
 * shape requests and read responses, so they are tested without an engine.
 * (The engine's wire shapes are typed with @types/dockerode, types only.)
 */
import { Transform, type TransformCallback } from 'node:stream';
import type Docker from 'dockerode';
import {
  MANAGED_LABEL,
  type ContainerEvent,
  type ContainerSpec,
  type ContainerState,
  type ContainerStatus,
  type ContainerSummary,
  type HealthStatus,
  type HostPortBinding,
  type LabelFilter,
  type Protocol,
} from './runtime.js';

/** ECS defaults for health check fields, in seconds. */
export const HEALTH_CHECK_DEFAULTS = { interval: 30, timeout: 5, retries: 3, startPeriod: 0 } as const;

const NANOS_PER_SECOND = 1_000_000_000;
const MIB = 1024 * 1024;

/** Docker's representation of "never" in container timestamps. */
const DOCKER_ZERO_TIME_PREFIX = '0001-01-01';

// ---------------------------------------------------------------------------
// Engine address

/** Where the engine listens: a unix socket, or a host and port over HTTP(S). */
export interface DockerConnection {
  socketPath?: string;
  host?: string;
  port?: string;
  protocol?: 'http' | 'https';
}

/**
 * Connection options for a Docker host string: `unix:///path`, a bare socket
 * path, `tcp://host:port` / `http://host:port` (plain HTTP), or
 * `https://host:port`. Absent: DOCKER_HOST, then /var/run/docker.sock.
 */
export function dockerConnection(host: string | undefined = process.env['DOCKER_HOST']): DockerConnection {
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || '/var/run/docker.sock' };
  if (host.startsWith('/')) return { socketPath: host };
  const url = new URL(host.includes('://') ? host : `tcp://${host}`);
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port || (protocol === 'https' ? '2376' : '2375');
  return { host: url.hostname, port, protocol };
}

// ---------------------------------------------------------------------------
// Create request

function portKey(containerPort: number, protocol: Protocol | undefined): string {
  return `${containerPort}/${protocol ?? 'tcp'}`;
}

/** ECS health check command in Docker's `Test` form. */
export function healthTest(command: readonly string[]): string[] {
  const first = command[0];
  if (first === 'CMD' || first === 'CMD-SHELL' || first === 'NONE') return [...command];
  // Without a prefix, ECS treats the array as an exec form command.
  return ['CMD', ...command];
}

function nonEmpty<T>(items: readonly T[] | undefined): T[] | undefined {
  return items && items.length > 0 ? [...items] : undefined;
}

/** The Docker create request for a container spec. Always adds MANAGED_LABEL. */
export function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const exposedPorts: Record<string, object> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const b of spec.portBindings ?? []) {
    const key = portKey(b.containerPort, b.protocol);
    exposedPorts[key] = {};
    (portBindings[key] ??= []).push({
      HostIp: b.hostIp ?? '',
      HostPort: b.hostPort ? String(b.hostPort) : '',
    });
  }

  const binds: string[] = [];
  const mounts: Docker.MountSettings[] = [];
  for (const m of spec.mounts ?? []) {
    if (m.type === 'bind') {
      // Binds (not Mounts) so a missing host directory is created, as ECS host volumes do.
      binds.push(`${m.source}:${m.containerPath}${m.readOnly ? ':ro' : ''}`);
    } else {
      mounts.push({ Type: 'volume', Source: m.source, Target: m.containerPath, ReadOnly: m.readOnly ?? false });
    }
  }

  let tmpfs: Record<string, string> | undefined;
  for (const t of spec.tmpfs ?? []) {
    tmpfs ??= {};
    tmpfs[t.containerPath] = [`size=${t.sizeMiB}m`, ...(t.mountOptions ?? [])].join(',');
  }

  const hc = spec.healthCheck;
  const healthcheck: Docker.HealthConfig | undefined = hc && {
    Test: healthTest(hc.command),
    Interval: (hc.interval ?? HEALTH_CHECK_DEFAULTS.interval) * NANOS_PER_SECOND,
    Timeout: (hc.timeout ?? HEALTH_CHECK_DEFAULTS.timeout) * NANOS_PER_SECOND,
    Retries: hc.retries ?? HEALTH_CHECK_DEFAULTS.retries,
    StartPeriod: (hc.startPeriod ?? HEALTH_CHECK_DEFAULTS.startPeriod) * NANOS_PER_SECOND,
  };

  const hostConfig: Docker.HostConfig = {
    NetworkMode: spec.networkMode ?? 'bridge',
    PortBindings: portBindings,
    Links: nonEmpty(spec.links),
    ExtraHosts: spec.extraHosts?.map((h) => `${h.hostname}:${h.ipAddress}`),
    Dns: nonEmpty(spec.dnsServers),
    DnsSearch: nonEmpty(spec.dnsSearchDomains),
    CpuShares: spec.cpuShares,
    Memory: spec.memoryBytes,
    MemoryReservation: spec.memoryReservationBytes,
    // Docker's MemorySwap is memory + swap; -1 would mean unlimited swap.
    MemorySwap:
      spec.maxSwapBytes !== undefined && spec.memoryBytes !== undefined
        ? spec.memoryBytes + spec.maxSwapBytes
        : undefined,
    MemorySwappiness: spec.swappiness,
    NanoCpus: spec.nanoCpus,
    CgroupParent: spec.cgroupParent,
    Ulimits: spec.ulimits?.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })),
    Binds: nonEmpty(binds),
    Mounts: nonEmpty(mounts),
    VolumesFrom: spec.volumesFrom?.map((v) => `${v.sourceContainer}:${v.readOnly ? 'ro' : 'rw'}`),
    Tmpfs: tmpfs,
    ShmSize: spec.sharedMemorySizeMiB !== undefined ? spec.sharedMemorySizeMiB * MIB : undefined,
    ReadonlyRootfs: spec.readonlyRootfs,
    Privileged: spec.privileged,
    Init: spec.init,
    SecurityOpt: nonEmpty(spec.securityOptions),
    CapAdd: nonEmpty(spec.capAdd),
    CapDrop: nonEmpty(spec.capDrop),
    Sysctls: spec.sysctls,
    PidMode: spec.pidMode,
    IpcMode: spec.ipcMode,
    LogConfig: spec.logConfig && { Type: spec.logConfig.driver, Config: spec.logConfig.options ?? {} },
    // The agent decides about restarts; the engine must not.
    RestartPolicy: { Name: 'no' },
  };

  return {
    name: spec.name,
    Image: spec.image,
    Cmd: spec.command,
    Entrypoint: spec.entryPoint,
    Env: spec.env && Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: spec.workingDir,
    User: spec.user,
    Hostname: spec.hostname,
    Labels: { ...spec.labels, [MANAGED_LABEL]: 'true' },
    ExposedPorts: exposedPorts,
    Healthcheck: healthcheck,
    StopTimeout: spec.stopTimeoutSeconds,
    NetworkDisabled: spec.disableNetworking,
    OpenStdin: spec.interactive,
    Tty: spec.pseudoTerminal,
    HostConfig: removeUndefined(hostConfig),
  };
}

function removeUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---------------------------------------------------------------------------
// Inspect, list

/** A Docker timestamp as a Date; null for Docker's zero time or garbage. */
export function dockerTime(value: string | undefined): Date | null {
  if (!value || value.startsWith(DOCKER_ZERO_TIME_PREFIX)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const STATUSES: ReadonlySet<string> = new Set<ContainerStatus>([
  'created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead',
]);

function toStatus(value: string | undefined): ContainerStatus {
  return value && STATUSES.has(value) ? (value as ContainerStatus) : 'dead';
}

function toHealth(value: string | undefined): HealthStatus {
  return value === 'starting' || value === 'healthy' || value === 'unhealthy' ? value : 'none';
}

/** Published ports from Docker's `NetworkSettings.Ports` map. */
export function hostPortBindings(
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null | undefined,
): HostPortBinding[] {
  const out: HostPortBinding[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = key.split('/');
    const containerPort = Number(port);
    const protocol: Protocol = proto === 'udp' ? 'udp' : 'tcp';
    for (const b of bindings ?? []) {
      const hostPort = Number(b.HostPort);
      if (!Number.isInteger(containerPort) || !Number.isInteger(hostPort) || hostPort <= 0) continue;
      out.push({ containerPort, protocol, hostIp: b.HostIp, hostPort });
    }
  }
  // By container port; bindings of one port keep the engine's order (IPv4 first).
  return out.sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

export function toContainerState(info: Docker.ContainerInspectInfo): ContainerState {
  const s = info.State;
  const status = toStatus(s.Status);
  const finishedAt = dockerTime(s.FinishedAt);
  const exited = status === 'exited' || status === 'dead' || (!s.Running && finishedAt !== null);
  const healthLog = s.Health?.Log ?? [];
  const lastProbe = healthLog[healthLog.length - 1];
  const networks = Object.entries(info.NetworkSettings?.Networks ?? {})
    .filter(([, n]) => n.IPAddress)
    .map(([name, n]) => ({ name, ipv4Address: n.IPAddress }));
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    imageId: info.Image,
    status,
    running: s.Running,
    exitCode: exited ? s.ExitCode : null,
    startedAt: dockerTime(s.StartedAt),
    finishedAt,
    health: toHealth(s.Health?.Status),
    healthOutput: lastProbe ? lastProbe.Output : null,
    portBindings: hostPortBindings(info.NetworkSettings?.Ports),
    networks,
    oomKilled: s.OOMKilled,
    error: s.Error ? s.Error : null,
    labels: { ...(info.Config.Labels ?? {}) },
    pid: s.Running && s.Pid > 0 ? s.Pid : null,
  };
}

export function toContainerSummary(info: Docker.ContainerInfo): ContainerSummary {
  return {
    id: info.Id,
    name: (info.Names[0] ?? '').replace(/^\//, ''),
    image: info.Image,
    status: toStatus(info.State),
    labels: { ...(info.Labels ?? {}) },
    createdAt: new Date(info.Created * 1000),
  };
}

/** Docker `label` filter arguments: MANAGED_LABEL plus the caller's filter. */
export function labelFilterArgs(filter: LabelFilter | undefined): string[] {
  const args = [`${MANAGED_LABEL}=true`];
  for (const [key, value] of Object.entries(filter ?? {})) {
    args.push(value === true ? key : `${key}=${value}`);
  }
  return args;
}

/** ECS spelling of the CPU architecture. */
export function normalizeArchitecture(dockerArch: string): string {
  switch (dockerArch) {
    case 'x86_64':
    case 'amd64':
      return 'x86_64';
    case 'aarch64':
    case 'arm64':
      return 'arm64';
    default:
      return dockerArch;
  }
}

// ---------------------------------------------------------------------------
// Events

/** One message of Docker's `/events` stream (the fields used here). */
export interface DockerEventMessage {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** Event attributes Docker adds next to the container's labels. */
const NON_LABEL_ATTRIBUTES = new Set(['name', 'image', 'exitCode', 'signal', 'execDuration']);

/** The container events this runtime reports; everything else is null. */
export function toContainerEvent(msg: DockerEventMessage): ContainerEvent | null {
  if (msg.Type !== 'container' || !msg.Action) return null;
  const attrs = msg.Actor?.Attributes ?? {};
  const containerId = msg.Actor?.ID ?? msg.id;
  if (!containerId) return null;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
  const time =
    msg.timeNano !== undefined ? new Date(Math.floor(msg.timeNano / 1e6)) : new Date((msg.time ?? 0) * 1000);
  const base = { containerId, name: attrs['name'] ?? '', labels, time };

  const action = msg.Action;
  if (action === 'start') return { ...base, kind: 'start' };
  if (action === 'oom') return { ...base, kind: 'oom' };
  if (action === 'destroy') return { ...base, kind: 'destroy' };
  if (action === 'die') {
    const code = attrs['exitCode'] !== undefined ? Number(attrs['exitCode']) : NaN;
    return { ...base, kind: 'die', exitCode: Number.isInteger(code) ? code : null };
  }
  if (action.startsWith('health_status')) {
    const health = action.slice('health_status'.length).replace(/^:\s*/, '').trim();
    if (health === 'healthy' || health === 'unhealthy' || health === 'starting') {
      return { ...base, kind: 'health_status', health };
    }
  }
  return null;
}

/** Docker event names to subscribe to (`health_status` matches every status). */
export const SUBSCRIBED_ACTIONS = ['start', 'die', 'oom', 'health_status', 'destroy'] as const;

/**
 * Splits a byte stream of newline-delimited JSON into messages. Feed chunks
 * in order; each call returns the complete messages so far.
 */
export class JsonLineSplitter {
  private buffer = '';

  push(chunk: string): unknown[] {
    this.buffer += chunk;
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        // A malformed line is skipped; the next one starts clean.
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Logs

/**
 * Text of a non-TTY container's log stream: Docker multiplexes stdout and
 * stderr in frames of [stream(1) 0 0 0 size(4, big endian)] + payload.
 * Input that does not look multiplexed (TTY containers) is returned as is.
 */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const stream = buf[offset];
    if (stream === undefined || stream > 2 || buf[offset + 1] !== 0 || buf[offset + 2] !== 0 || buf[offset + 3] !== 0) {
      return buf.toString('utf8');
    }
    const size = buf.readUInt32BE(offset + 4);
    parts.push(buf.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  if (offset !== buf.length) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The streaming form of `demuxLogs`: frames in, payload bytes out. Input
 * whose first bytes are not a frame header (a TTY container) passes as is.
 */
export class LogDemuxer extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private raw: boolean | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.raw) {
      done(null, chunk);
      return;
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.raw === undefined && this.pending.length >= 4) {
      const b = this.pending;
      this.raw = !(b[0]! <= 2 && b[1] === 0 && b[2] === 0 && b[3] === 0);
      if (this.raw) {
        const all = this.pending;
        this.pending = Buffer.alloc(0);
        done(null, all);
        return;
      }
    }
    // The payloads of every complete frame in this chunk go on as one buffer: a frame is one line of output, and a
    // push per line costs more than the line itself (readers split lines on their own).
    let offset = 0;
    const payloads: Buffer[] = [];
    while (offset + 8 <= this.pending.length) {
      const size = this.pending.readUInt32BE(offset + 4);
      if (offset + 8 + size > this.pending.length) break;
      payloads.push(this.pending.subarray(offset + 8, offset + 8 + size));
      offset += 8 + size;
    }
    this.pending = this.pending.subarray(offset);
    if (payloads.length === 1) this.push(payloads[0]);
    else if (payloads.length > 1) this.push(Buffer.concat(payloads));
    done();
  }
}

/** Epoch nanoseconds as the engine's `since` parameter (`<seconds>.<nanoseconds>`). */
export function nanosToSince(nanos: bigint): string {
  const s = nanos / 1_000_000_000n;
  const ns = nanos % 1_000_000_000n;
  return `${s}.${String(ns).padStart(9, '0')}`;
}

// ---------------------------------------------------------------------------
// Errors from the engine

/** The message the engine put in an error response (or the error's own message). */
export function engineMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The HTTP status of an engine error response; undefined for other failures. */
export function engineStatusCode(err: unknown): number | undefined {
  const code = err && typeof err === 'object' ? (err as { statusCode?: unknown }).statusCode : undefined;
  return typeof code === 'number' ? code : undefined;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** True for errors meaning the engine itself could not be reached. */
export function isConnectionError(err: unknown): boolean {
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}

/** `fromImage` and `tag` of an image pull for a reference (a digest counts as the tag). */
export function pullParams(ref: string): { fromImage: string; tag?: string } {
  const at = ref.indexOf('@');
  const sep = at >= 0 ? at : ref.lastIndexOf(':');
  if (sep < 0) return { fromImage: ref };
  const tag = ref.slice(sep + 1);
  // A colon followed by a slash belongs to a registry's port, not a tag.
  if (tag.includes('/')) return { fromImage: ref };
  return { fromImage: ref.slice(0, sep), tag };
}

/** Registry credentials as the engine takes them in X-Registry-Auth: URL-safe base64 of the JSON. */
export function registryAuthHeader(auth: { username: string; password: string; serverAddress?: string }): string {
  const json = JSON.stringify({ username: auth.username, password: auth.password, ...(auth.serverAddress ? { serveraddress: auth.serverAddress } : {}) });
  return Buffer.from(json, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

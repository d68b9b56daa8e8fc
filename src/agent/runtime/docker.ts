/**
 * ContainerRuntime on the Docker Engine API (through the small client in
 * `docker-api.ts`).
 *
 * Thin edge: request shapes and response readings live in
 * `docker-mapping.ts`; this module makes the calls, turns engine failures
 * into the runtime's typed errors, and keeps the little state the contract
 * needs (images pulled by this runtime, in-flight pulls, event streams).
 */
import type Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { HostCgroups } from './cgroups.js';
import { DockerApi } from './docker-api.js';
import {
  ContainerCreateError,
  ContainerNotFoundError,
  ContainerStartError,
  ContainerStopError,
  ImagePullError,
  NameConflictError,
  RuntimeError,
  RuntimeUnavailableError,
  VolumeInUseError,
  type ContainerEvent,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerState,
  type ContainerSummary,
  type EnsureImageOptions,
  type EnsureImageResult,
  type EventsOptions,
  type EventSubscription,
  type ImagePullBehavior,
  type LabelFilter,
  type FollowLogsOptions,
  type LogsOptions,
  type RegistryAuth,
  type RuntimeInfo,
  type TaskGroupResult,
  type TaskGroupSpec,
  type VolumeInfo,
  type VolumeSpec,
} from './runtime.js';
import {
  JsonLineSplitter,
  SUBSCRIBED_ACTIONS,
  LogDemuxer,
  demuxLogs,
  nanosToSince,
  dockerConnection,
  engineMessage,
  engineStatusCode,
  isConnectionError,
  labelFilterArgs,
  normalizeArchitecture,
  pullParams,
  registryAuthHeader,
  toContainerEvent,
  toContainerState,
  toContainerSummary,
  toCreateOptions,
  type DockerEventMessage,
} from './docker-mapping.js';

export interface DockerRuntimeOptions {
  /** `unix:///var/run/docker.sock`, `/path/to.sock`, `tcp://host:2375`, `https://host:2376`. Default: DOCKER_HOST, then /var/run/docker.sock. */
  dockerHost?: string;
  /** Default for ensureImage. Default `prefer-cached`. */
  pullBehavior?: ImagePullBehavior;
  /** Upper bound on one image pull. Default 10 minutes. */
  pullTimeoutMs?: number;
  /** Where the host's cgroup filesystem is mounted. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

const DEFAULT_PULL_TIMEOUT_MS = 10 * 60 * 1000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;
/** How many recent event keys are remembered to drop replayed duplicates after a reconnect. */
const EVENT_DEDUPE_WINDOW = 1024;

/** `name` → `name:latest`; references with a tag or digest are unchanged. */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? ref : `${ref}:latest`;
}

const containerPath = (id: string, action = ''): string => `/containers/${encodeURIComponent(id)}${action}`;

export class DockerRuntime implements ContainerRuntime {
  private readonly api: DockerApi;
  private readonly where: string;
  private readonly pullBehavior: ImagePullBehavior;
  private readonly pullTimeoutMs: number;
  /** References this runtime pulled successfully (for the `once` behaviour). */
  private readonly pulledByThisRuntime = new Set<string>();
  private readonly pullsInFlight = new Map<string, Promise<EnsureImageResult>>();
  private readonly subscriptions = new Set<EventSubscription>();
  private readonly localEngine: boolean;
  private readonly cgroupRoot: string;
  private cgroups: Promise<HostCgroups | { unavailable: string }> | undefined;

  constructor(options: DockerRuntimeOptions = {}) {
    const connection = dockerConnection(options.dockerHost);
    this.api = new DockerApi(connection);
    this.localEngine = connection.socketPath !== undefined;
    this.cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
    this.where = this.api.where;
    this.pullBehavior = options.pullBehavior ?? 'prefer-cached';
    this.pullTimeoutMs = options.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
  }

  /** Engine failures become typed errors; `otherwise` builds the error for non-connection failures. */
  private fail(err: unknown, otherwise: (message: string) => RuntimeError): RuntimeError {
    if (err instanceof RuntimeError) return err;
    if (isConnectionError(err)) {
      return new RuntimeUnavailableError(`cannot reach the Docker Engine at ${this.where}: ${engineMessage(err)}`, { cause: err });
    }
    return otherwise(engineMessage(err));
  }

  async ping(): Promise<void> {
    try {
      await this.api.buffer({ method: 'GET', path: '/_ping' });
    } catch (err) {
      throw this.fail(err, (m) => new RuntimeUnavailableError(`Docker Engine at ${this.where} does not answer: ${m}`));
    }
  }

  async info(): Promise<RuntimeInfo> {
    try {
      const i = await this.api.json<Record<string, unknown>>({ method: 'GET', path: '/info' });
      return {
        cpus: Number(i['NCPU']),
        memoryBytes: Number(i['MemTotal']),
        architecture: normalizeArchitecture(String(i['Architecture'] ?? '')),
        os: String(i['OSType'] ?? ''),
        serverVersion: String(i['ServerVersion'] ?? ''),
        kernelVersion: String(i['KernelVersion'] ?? ''),
        storageDriver: String(i['Driver'] ?? ''),
      };
    } catch (err) {
      throw this.fail(err, (m) => new RuntimeError(`docker info failed: ${m}`));
    }
  }

  // ---- images ---------------------------------------------------------------

  /** Id of the local image for `ref`, or null when it is not cached. */
  private async cachedImageId(ref: string): Promise<string | null> {
    try {
      const image = await this.api.json<{ Id: string }>({ method: 'GET', path: `/images/${ref}/json` });
      return image.Id;
    } catch (err) {
      if (engineStatusCode(err) === 404) return null;
      throw this.fail(err, (m) => new ImagePullError(ref, `cannot inspect image ${ref}: ${m}`));
    }
  }

  ensureImage(ref: string, options: EnsureImageOptions = {}): Promise<EnsureImageResult> {
    const behavior = options.pullBehavior ?? this.pullBehavior;
    const key = `${withDefaultTag(ref)}\u0000${behavior}`;
    const inFlight = this.pullsInFlight.get(key);
    if (inFlight) return inFlight;
    const work = this.resolveImage(withDefaultTag(ref), behavior, options.auth).finally(() => {
      this.pullsInFlight.delete(key);
    });
    this.pullsInFlight.set(key, work);
    return work;
  }

  private async resolveImage(ref: string, behavior: ImagePullBehavior, auth?: RegistryAuth): Promise<EnsureImageResult> {
    const cached = await this.cachedImageId(ref);
    switch (behavior) {
      case 'prefer-cached':
        if (cached) return { pulled: false, imageId: cached };
        return this.pullAndResolve(ref, cached, auth);
      case 'once':
        if (cached && this.pulledByThisRuntime.has(ref)) return { pulled: false, imageId: cached };
        return this.pullAndResolve(ref, cached, auth);
      case 'default':
        try {
          return await this.pullAndResolve(ref, cached, auth);
        } catch (err) {
          if (cached && err instanceof ImagePullError) return { pulled: false, imageId: cached };
          throw err;
        }
      case 'always':
        return this.pullAndResolve(ref, cached, auth);
    }
  }

  private async pullAndResolve(ref: string, cached: string | null, auth?: RegistryAuth): Promise<EnsureImageResult> {
    try {
      await this.pull(ref, auth);
    } catch (err) {
      const reason = err instanceof ImagePullError ? err.message : engineMessage(err);
      const message = cached
        ? `pulling image '${ref}' failed: ${reason}`
        : `Unable to find image '${ref}' locally, and pulling it failed: ${reason}`;
      if (isConnectionError(err)) throw this.fail(err, () => new ImagePullError(ref, message));
      throw new ImagePullError(ref, message, { cause: err });
    }
    this.pulledByThisRuntime.add(ref);
    const imageId = await this.cachedImageId(ref);
    if (!imageId) throw new ImagePullError(ref, `image '${ref}' was pulled but is not in the local image store`);
    return { pulled: true, imageId };
  }

  /** Pulls `ref`, bounded by the pull timeout. Errors reported inside the progress stream reject. */
  private async pull(ref: string, auth?: RegistryAuth): Promise<void> {
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.pullTimeoutMs);
    const timeoutError = () =>
      new ImagePullError(ref, `no answer from the registry within ${this.pullTimeoutMs / 1000}s`);
    try {
      let stream: IncomingMessage;
      try {
        stream = await this.api.stream({
          method: 'POST',
          path: '/images/create',
          query: pullParams(ref),
          ...(auth ? { headers: { 'x-registry-auth': registryAuthHeader(auth) } } : {}),
          signal: abort.signal,
        });
      } catch (err) {
        if (timedOut) throw timeoutError();
        throw err;
      }
      await new Promise<void>((resolve, reject) => {
        const splitter = new JsonLineSplitter();
        let streamError: string | undefined;
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          for (const msg of splitter.push(chunk)) {
            const m = msg as { error?: unknown; errorDetail?: { message?: unknown } };
            if (m.error !== undefined || m.errorDetail !== undefined) {
              streamError = String(m.errorDetail?.message ?? m.error);
            }
          }
        });
        stream.on('error', (err: Error) => reject(timedOut ? timeoutError() : err));
        stream.on('end', () => (streamError !== undefined ? reject(new ImagePullError(ref, streamError)) : resolve()));
        // After 'end' this is a no-op (the promise is settled); otherwise the
        // connection dropped mid-pull.
        stream.on('close', () => reject(timedOut ? timeoutError() : new Error('the engine closed the connection during the pull')));
      });
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- containers --------------------------------------------------------------

  async create(spec: ContainerSpec): Promise<string> {
    const { name, ...body } = toCreateOptions(spec);
    try {
      const created = await this.api.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body });
      return created.Id;
    } catch (err) {
      if (engineStatusCode(err) === 409) {
        throw new NameConflictError(spec.name, engineMessage(err), { cause: err });
      }
      throw this.fail(err, (m) => new ContainerCreateError(m, { cause: err }));
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.api.buffer({ method: 'POST', path: containerPath(id, '/start') });
    } catch (err) {
      const status = engineStatusCode(err);
      if (status === 304) return; // already running
      if (status === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new ContainerStartError(m, { cause: err }));
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.api.buffer({ method: 'POST', path: containerPath(id, '/stop'), query: { t: Math.max(0, Math.round(timeoutSeconds)) } });
    } catch (err) {
      const status = engineStatusCode(err);
      if (status === 304) return; // not running
      if (status === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new ContainerStopError(m, { cause: err }));
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.api.buffer({ method: 'DELETE', path: containerPath(id), query: { force: true, v: true } });
    } catch (err) {
      const status = engineStatusCode(err);
      if (status === 404) return;
      // 409: a removal is already in progress; the container is going away.
      if (status === 409 && /already in progress/i.test(engineMessage(err))) return;
      throw this.fail(err, (m) => new RuntimeError(`cannot remove container ${id}: ${m}`, { cause: err }));
    }
  }

  async inspect(id: string): Promise<ContainerState> {
    try {
      return toContainerState(await this.api.json<Docker.ContainerInspectInfo>({ method: 'GET', path: containerPath(id, '/json') }));
    } catch (err) {
      if (engineStatusCode(err) === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new RuntimeError(`cannot inspect container ${id}: ${m}`, { cause: err }));
    }
  }

  async list(labels?: LabelFilter): Promise<ContainerSummary[]> {
    try {
      const containers = await this.api.json<Docker.ContainerInfo[]>({
        method: 'GET',
        path: '/containers/json',
        query: { all: true, filters: JSON.stringify({ label: labelFilterArgs(labels) }) },
      });
      return containers.map(toContainerSummary);
    } catch (err) {
      throw this.fail(err, (m) => new RuntimeError(`cannot list containers: ${m}`, { cause: err }));
    }
  }

  async stats(id: string, options: { oneShot?: boolean } = {}): Promise<Record<string, unknown>> {
    try {
      // Not one-shot by default: the engine samples twice, so `precpu_stats` is there to compute CPU use from.
      const query = options.oneShot === true ? { stream: false, 'one-shot': true } : { stream: false };
      return await this.api.json<Record<string, unknown>>({ method: 'GET', path: containerPath(id, '/stats'), query });
    } catch (err) {
      if (engineStatusCode(err) === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new RuntimeError(`cannot read stats of container ${id}: ${m}`, { cause: err }));
    }
  }

  async followLogs(id: string, options: FollowLogsOptions): Promise<NodeJS.ReadableStream & { destroy(): void }> {
    try {
      const res = await this.api.stream({
        method: 'GET',
        path: containerPath(id, '/logs'),
        query: {
          stdout: true,
          stderr: true,
          follow: options.follow,
          timestamps: true,
          since: options.sinceNanos !== undefined ? nanosToSince(options.sinceNanos) : undefined,
        },
      });
      const raw = /raw-stream/.test(String(res.headers['content-type'] ?? ''));
      if (raw) return res;
      const demux = new LogDemuxer();
      res.on('error', (err) => demux.destroy(err));
      demux.on('close', () => res.destroy());
      return res.pipe(demux);
    } catch (err) {
      if (engineStatusCode(err) === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new RuntimeError(`cannot read the output of container ${id}: ${m}`, { cause: err }));
    }
  }

  async logs(id: string, options: LogsOptions = {}): Promise<string> {
    try {
      const buf = await this.api.buffer({
        method: 'GET',
        path: containerPath(id, '/logs'),
        query: {
          stdout: true,
          stderr: true,
          follow: false,
          tail: options.tail,
          since: options.since ? Math.floor(options.since.getTime() / 1000) : undefined,
        },
      });
      return demuxLogs(buf);
    } catch (err) {
      if (engineStatusCode(err) === 404) throw new ContainerNotFoundError(id, { cause: err });
      throw this.fail(err, (m) => new RuntimeError(`cannot read logs of container ${id}: ${m}`, { cause: err }));
    }
  }

  events(onEvent: (event: ContainerEvent) => void, options: EventsOptions = {}): EventSubscription {
    const watcher = new EventWatcher(this.api, onEvent, options);
    const subscription: EventSubscription = {
      stop: () => {
        watcher.stop();
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    watcher.start();
    return subscription;
  }

  // ---- volumes ---------------------------------------------------------------

  async createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    try {
      // Creating an existing volume answers with that volume.
      const v = await this.api.json<{ Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null }>({
        method: 'POST',
        path: '/volumes/create',
        body: { Name: spec.name, Driver: spec.driver ?? 'local', DriverOpts: spec.driverOptions ?? {}, Labels: spec.labels ?? {} },
      });
      return { name: v.Name, driver: v.Driver, mountpoint: v.Mountpoint, labels: { ...(v.Labels ?? {}) } };
    } catch (err) {
      throw this.fail(err, (m) => new RuntimeError(`cannot create volume ${spec.name}: ${m}`, { cause: err }));
    }
  }

  async inspectVolume(name: string): Promise<VolumeInfo | null> {
    try {
      const v = await this.api.json<{ Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null }>({
        method: 'GET',
        path: `/volumes/${encodeURIComponent(name)}`,
      });
      return { name: v.Name, driver: v.Driver, mountpoint: v.Mountpoint, labels: { ...(v.Labels ?? {}) } };
    } catch (err) {
      if (engineStatusCode(err) === 404) return null;
      throw this.fail(err, (m) => new RuntimeError(`cannot inspect volume ${name}: ${m}`, { cause: err }));
    }
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.api.buffer({ method: 'DELETE', path: `/volumes/${encodeURIComponent(name)}` });
    } catch (err) {
      const status = engineStatusCode(err);
      if (status === 404) return;
      if (status === 409) throw new VolumeInUseError(engineMessage(err), { cause: err });
      throw this.fail(err, (m) => new RuntimeError(`cannot remove volume ${name}: ${m}`, { cause: err }));
    }
  }

  // ---- task groups ------------------------------------------------------------

  /**
   * The host's cgroups when they are the engine's: the engine listens on a
   * local socket and uses the cgroupfs driver. Decided once per runtime.
   */
  private taskGroups(): Promise<HostCgroups | { unavailable: string }> {
    this.cgroups ??= (async () => {
      if (!this.localEngine) return { unavailable: `the Docker Engine at ${this.where} is not on this host` };
      const i = await this.api.json<Record<string, unknown>>({ method: 'GET', path: '/info' });
      const driver = String(i['CgroupDriver'] ?? '');
      if (driver !== 'cgroupfs') {
        return { unavailable: `the Docker Engine uses the '${driver}' cgroup driver; task groups need 'cgroupfs' (dockerd --exec-opt native.cgroupdriver=cgroupfs)` };
      }
      return HostCgroups.detect(this.cgroupRoot);
    })().catch((err: unknown) => {
      this.cgroups = undefined;
      throw this.fail(err, (m) => new RuntimeError(`cannot read the engine's cgroup driver: ${m}`, { cause: err }));
    });
    return this.cgroups;
  }

  async createTaskGroup(spec: TaskGroupSpec): Promise<TaskGroupResult> {
    const cgroups = await this.taskGroups();
    if ('unavailable' in cgroups) return { unsupported: cgroups.unavailable };
    try {
      return {
        cgroupParent: await cgroups.create(spec.name, {
          ...(spec.cpuUnits !== undefined ? { cpuUnits: spec.cpuUnits } : {}),
          ...(spec.memoryBytes !== undefined ? { memoryBytes: spec.memoryBytes } : {}),
        }),
      };
    } catch (err) {
      if (['EACCES', 'EPERM', 'EROFS'].includes(String((err as NodeJS.ErrnoException).code))) {
        return { unsupported: `no write access to the host's cgroups (${engineMessage(err)}); run the agent as root` };
      }
      throw new RuntimeError(`cannot create the task cgroup ${spec.name}: ${engineMessage(err)}`, { cause: err });
    }
  }

  async removeTaskGroup(name: string): Promise<void> {
    const cgroups = await this.taskGroups();
    if ('unavailable' in cgroups) return;
    try {
      await cgroups.remove(name);
    } catch (err) {
      throw new RuntimeError(`cannot remove the task cgroup ${name}: ${engineMessage(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.subscriptions]) s.stop();
    this.api.close();
  }
}

/**
 * One reconnecting subscription to the engine's event stream.
 *
 * Invariants: after `stop()` no callback runs; each engine event is
 * delivered at most once even when a reconnect replays recent history
 * (replay starts at the second of the last event seen, or of the
 * subscription, so nothing in between is lost while the engine keeps it).
 */
class EventWatcher {
  private stopped = false;
  private abort: AbortController | undefined;
  private stream: IncomingMessage | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Unix seconds to replay from on the next connection. */
  private sinceSeconds = Math.floor(Date.now() / 1000);
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];

  constructor(
    private readonly api: DockerApi,
    private readonly onEvent: (event: ContainerEvent) => void,
    private readonly options: EventsOptions,
  ) {}

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.abort?.abort();
    this.stream?.destroy();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const abort = new AbortController();
    this.abort = abort;
    let stream: IncomingMessage;
    try {
      stream = await this.api.stream({
        method: 'GET',
        path: '/events',
        query: {
          since: this.sinceSeconds,
          filters: JSON.stringify({ type: ['container'], event: [...SUBSCRIBED_ACTIONS], label: labelFilterArgs(this.options.labels) }),
        },
        signal: abort.signal,
      });
    } catch (err) {
      this.disconnected(err);
      return;
    }
    if (this.stopped) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    this.failures = 0;
    this.notify(true);
    const splitter = new JsonLineSplitter();
    let ended = false;
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      this.disconnected(err ?? new Error('event stream ended'));
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const msg of splitter.push(chunk)) this.deliver(msg as DockerEventMessage);
    });
    stream.on('error', end);
    stream.on('end', () => end());
    stream.on('close', () => end());
  }

  private deliver(msg: DockerEventMessage): void {
    if (this.stopped) return;
    const key = `${msg.Actor?.ID ?? msg.id}|${msg.Action}|${msg.timeNano ?? msg.time}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.seenOrder.push(key);
    if (this.seenOrder.length > EVENT_DEDUPE_WINDOW) this.seen.delete(this.seenOrder.shift() as string);
    if (msg.time !== undefined) this.sinceSeconds = Math.max(this.sinceSeconds, msg.time);
    const event = toContainerEvent(msg);
    if (!event) return;
    try {
      this.onEvent(event);
    } catch {
      // A consumer's exception must not end the subscription.
    }
  }

  private disconnected(err: unknown): void {
    if (this.stopped) return;
    this.stream = undefined;
    this.notify(false, err instanceof Error ? err : new Error(String(err)));
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.failures);
    this.failures++;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private notify(connected: boolean, error?: Error): void {
    if (this.stopped) return;
    try {
      this.options.onConnectionChange?.(connected, error);
    } catch {
      // Same rule as onEvent.
    }
  }
}

/**
 * The container runtime as the agent sees it.
 *
 * This is the only surface the agent uses to run containers. It speaks ECS
 * words (container definition fields, seconds, bytes) and never exposes the
 * types of the engine behind it; `docker.ts` is the Docker Engine
 * implementation, and `runtime.contract.ts` is the behaviour every
 * implementation must show.
 *
 * Ownership: every container created through a runtime carries
 * `MANAGED_LABEL=true`; `list` and `events` only ever report such containers,
 * so an agent never adopts or reacts to containers it did not create.
 */

/** Label set on every container a runtime creates. */
export const MANAGED_LABEL = 'berth.managed';

// ---------------------------------------------------------------------------
// Images

/**
 * When `ensureImage` contacts the registry, mirroring the ECS agent's
 * `ECS_IMAGE_PULL_BEHAVIOR`:
 * - `default`: always pull; if the pull fails, use the cached image when
 *   there is one.
 * - `always`: always pull; a failed pull is an error even with a cached image.
 * - `once`: pull unless this runtime already pulled the image successfully
 *   (and it is still cached); a failed pull is an error.
 * - `prefer-cached`: use the cached image when there is one, pull otherwise.
 *   Berth's default: self-hosted machines often run locally built images
 *   that no registry has.
 */
export type ImagePullBehavior = 'default' | 'always' | 'once' | 'prefer-cached';

export const IMAGE_PULL_BEHAVIORS: readonly ImagePullBehavior[] = ['default', 'always', 'once', 'prefer-cached'];

/** Credentials for a private registry (ECS `repositoryCredentials`, resolved). */
export interface RegistryAuth {
  username: string;
  password: string;
  /** Registry host, e.g. `registry.example.com:5000`; derived from the reference when absent. */
  serverAddress?: string;
}

export interface EnsureImageOptions {
  /** Overrides the runtime's configured behaviour for this call. */
  pullBehavior?: ImagePullBehavior;
  auth?: RegistryAuth;
}

export interface EnsureImageResult {
  /** True when the image was fetched from a registry by this call. */
  pulled: boolean;
  /** Content-addressed id of the image the container will run (`sha256:...`). */
  imageId: string;
}

// ---------------------------------------------------------------------------
// Container specification (what an ECS container definition turns into)

export type Protocol = 'tcp' | 'udp';

export interface PortBinding {
  containerPort: number;
  protocol?: Protocol; // default 'tcp'
  /** 0 or absent: the engine picks a free ephemeral port (ECS dynamic port mapping). */
  hostPort?: number;
  /** Host address to bind; absent or '' binds all interfaces. */
  hostIp?: string;
}

/** `container:<name or id>` shares another container's network namespace. */
export type NetworkMode = 'bridge' | 'host' | 'none' | `container:${string}`;

/**
 * ECS health check. All times are in seconds; absent fields take the ECS
 * defaults (interval 30, timeout 5, retries 3, startPeriod 0).
 */
export interface HealthCheck {
  /** `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]`, `["CMD", "/bin/check", "arg"]` or `["NONE"]`. */
  command: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

export interface Ulimit {
  name: string;
  softLimit: number;
  hardLimit: number;
}

/**
 * A volume mounted into the container.
 * - `bind`: a host path (created as a directory when missing, like ECS host volumes).
 * - `volume`: an engine-managed named volume (created when missing).
 */
export interface MountSpec {
  type: 'bind' | 'volume';
  source: string;
  containerPath: string;
  readOnly?: boolean;
}

export interface VolumesFromSpec {
  /** Name or id of the container (in this runtime) whose volumes are mounted. */
  sourceContainer: string;
  readOnly?: boolean;
}

export interface TmpfsSpec {
  containerPath: string;
  /** Size in MiB, as in ECS `linuxParameters.tmpfs`. */
  sizeMiB: number;
  mountOptions?: string[];
}

export interface LogConfig {
  driver: string;
  options?: Record<string, string>;
}

export interface ContainerSpec {
  /** Engine-side container name; unique per engine. */
  name: string;
  image: string;
  /** Replaces the image CMD when present. */
  command?: string[];
  /** Replaces the image ENTRYPOINT when present. */
  entryPoint?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  hostname?: string;

  // Resources
  /** Relative CPU weight (ECS container `cpu` units; 1024 = one vCPU). */
  cpuShares?: number;
  /** Hard memory limit in bytes (ECS `memory`); the container is OOM-killed above it. */
  memoryBytes?: number;
  /** Soft memory limit in bytes (ECS `memoryReservation`). */
  memoryReservationBytes?: number;
  /** Total swap the container may use in bytes (ECS `linuxParameters.maxSwap`); 0 disables swap. Needs `memoryBytes`. */
  maxSwapBytes?: number;
  /** 0–100 (ECS `linuxParameters.swappiness`). */
  swappiness?: number;
  /** CPU limit in units of 1e-9 CPUs (task-level `cpu` limit: 512 units = 0.5e9). */
  nanoCpus?: number;
  /** A task group from `createTaskGroup`: the container is bounded by the group's limits too. */
  cgroupParent?: string;
  ulimits?: Ulimit[];

  // Networking
  networkMode?: NetworkMode; // default 'bridge'
  portBindings?: PortBinding[];
  /** Legacy links, `name` or `name:alias` (bridge mode only). */
  links?: string[];
  extraHosts?: { hostname: string; ipAddress: string }[];
  dnsServers?: string[];
  dnsSearchDomains?: string[];
  disableNetworking?: boolean;

  // Lifecycle
  healthCheck?: HealthCheck;
  /** Seconds between SIGTERM and SIGKILL when the container is stopped (ECS `stopTimeout`). */
  stopTimeoutSeconds?: number;
  /** Run an init process as PID 1 that forwards signals and reaps zombies (ECS `initProcessEnabled`). */
  init?: boolean;

  // Storage
  mounts?: MountSpec[];
  volumesFrom?: VolumesFromSpec[];
  tmpfs?: TmpfsSpec[];
  readonlyRootfs?: boolean;
  /** /dev/shm size in MiB (ECS `sharedMemorySize`). */
  sharedMemorySizeMiB?: number;

  // Security and kernel
  privileged?: boolean;
  /** ECS `dockerSecurityOptions`, e.g. `no-new-privileges`, `apparmor:PROFILE`. */
  securityOptions?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** ECS `systemControls`. */
  sysctls?: Record<string, string>;
  pidMode?: 'host' | `container:${string}`;
  ipcMode?: 'host' | 'none' | 'private' | 'shareable' | `container:${string}`;

  // Terminal and logs
  interactive?: boolean;
  pseudoTerminal?: boolean;
  /** Absent: the engine's default log driver. */
  logConfig?: LogConfig;
}

// ---------------------------------------------------------------------------
// Observed state

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** `none`: the container has no health check. */
export type HealthStatus = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface HostPortBinding {
  containerPort: number;
  protocol: Protocol;
  hostIp: string;
  hostPort: number;
}

export interface ContainerState {
  id: string;
  name: string;
  /** The image reference the container was created from. */
  image: string;
  imageId: string;
  status: ContainerStatus;
  running: boolean;
  /** Set once the container has exited; null while it was never started or still runs. */
  exitCode: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  health: HealthStatus;
  /** Output of the most recent health check probe, when there is one. */
  healthOutput: string | null;
  /** Published ports as the engine bound them (dynamic ports resolved). */
  portBindings: HostPortBinding[];
  /** IPv4 addresses per network the container is attached to. */
  networks: { name: string; ipv4Address: string }[];
  oomKilled: boolean;
  /** Engine error recorded when the container failed to start; null otherwise. */
  error: string | null;
  labels: Record<string, string>;
  /** Host PID of the container's main process; null when not running. */
  pid: number | null;
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  status: ContainerStatus;
  labels: Record<string, string>;
  createdAt: Date;
}

/**
 * Selects containers by label: a string value must match exactly, `true`
 * only requires the label to be present.
 */
export type LabelFilter = Record<string, string | true>;

// ---------------------------------------------------------------------------
// Events

interface EventBase {
  containerId: string;
  name: string;
  /** The container's labels as reported with the event. */
  labels: Record<string, string>;
  time: Date;
}

export type ContainerEvent =
  | (EventBase & { kind: 'start' })
  | (EventBase & { kind: 'die'; exitCode: number | null })
  | (EventBase & { kind: 'oom' })
  | (EventBase & { kind: 'health_status'; health: Exclude<HealthStatus, 'none'> })
  | (EventBase & { kind: 'destroy' });

export type ContainerEventKind = ContainerEvent['kind'];

export interface EventsOptions {
  /** Only events of managed containers that also match this filter. */
  labels?: LabelFilter;
  /**
   * Called when the event stream connects (`true`) or drops (`false`, with
   * the cause). After a drop the runtime reconnects by itself and replays
   * what the engine still holds; a consumer that must not miss a transition
   * should re-inspect its containers on reconnect.
   */
  onConnectionChange?: (connected: boolean, error?: Error) => void;
}

export interface EventSubscription {
  /** Ends the subscription; no event is delivered after it returns. */
  stop(): void;
}

// ---------------------------------------------------------------------------
// Engine and volumes

export interface RuntimeInfo {
  cpus: number;
  memoryBytes: number;
  /** ECS spelling: `x86_64` or `arm64` (other engine values pass through). */
  architecture: string;
  /** `linux` or `windows`. */
  os: string;
  serverVersion: string;
  kernelVersion: string;
  storageDriver: string;
}

export interface VolumeSpec {
  name: string;
  /** Absent: the engine's `local` driver. */
  driver?: string;
  driverOptions?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface VolumeInfo {
  name: string;
  driver: string;
  /** Host path of the volume's data (for the `local` driver). */
  mountpoint: string;
  labels: Record<string, string>;
}

/** Limits shared by all containers of one task (ECS task-level `cpu` and `memory`). */
export interface TaskGroupSpec {
  /** Unique and stable per task (the task id). */
  name: string;
  /** CPU units (1024 = one CPU), enforced as a CPU quota on the group. */
  cpuUnits?: number;
  memoryBytes?: number;
}

/**
 * A created task group (`cgroupParent` goes into each container's spec), or
 * why this runtime cannot bound containers together (a remote engine, the
 * systemd cgroup driver, no write access to the host's cgroups).
 */
export type TaskGroupResult = { cgroupParent: string } | { unsupported: string };

export interface FollowLogsOptions {
  sinceNanos?: bigint;
  follow: boolean;
}

export interface LogsOptions {
  /** Only the last N lines. */
  tail?: number;
  since?: Date;
}

// ---------------------------------------------------------------------------
// The interface

export interface ContainerRuntime {
  /** Resolves when the engine answers; throws RuntimeUnavailableError otherwise. */
  ping(): Promise<void>;

  info(): Promise<RuntimeInfo>;

  /**
   * Makes `ref` available locally according to the pull behaviour.
   * Throws ImagePullError when the image is neither usable from the cache nor
   * pullable; never waits longer than the runtime's pull timeout. Concurrent
   * calls for the same reference share one pull.
   */
  ensureImage(ref: string, options?: EnsureImageOptions): Promise<EnsureImageResult>;

  /**
   * Creates (does not start) a container; returns its id. The image must be
   * local (see ensureImage). Throws NameConflictError when the name is taken,
   * ContainerCreateError otherwise.
   */
  create(spec: ContainerSpec): Promise<string>;

  /** Starts a created container; no-op when it already runs. Throws ContainerStartError. */
  start(id: string): Promise<void>;

  /**
   * Sends the stop signal (SIGTERM unless the image says otherwise), waits up
   * to `timeoutSeconds`, then SIGKILL. Resolves once the container has
   * stopped; no-op when it is not running.
   */
  stop(id: string, timeoutSeconds: number): Promise<void>;

  /** Removes the container (killing it if running) and its anonymous volumes; no-op when already gone. */
  remove(id: string): Promise<void>;

  /** Throws ContainerNotFoundError when there is no such container. */
  inspect(id: string): Promise<ContainerState>;

  /** Managed containers (running or not) matching the filter. */
  list(labels?: LabelFilter): Promise<ContainerSummary[]>;

  /**
   * One sample of the container's resource usage (CPU, memory, network,
   * block I/O) in the Docker Engine's stats format, which is what the ECS task
   * metadata endpoint serves. Throws ContainerNotFoundError. `oneShot`
   * returns at once with a single reading (no `precpu_stats`): callers
   * sampling periodically compute CPU use between their own readings.
   */
  stats(id: string, options?: { oneShot?: boolean }): Promise<Record<string, unknown>>;

  /** The container's output (stdout and stderr interleaved), as text. */
  logs(id: string, options?: LogsOptions): Promise<string>;

  /**
   * The container's output as raw bytes with each line prefixed by the
   * engine's RFC 3339 timestamp (`<timestamp> <text>`), stdout and stderr
   * interleaved, from `sinceNanos` (epoch nanoseconds, inclusive) on; with
   * `follow` the stream stays open while the container runs and ends when
   * it stops. Throws ContainerNotFoundError. Runtimes that cannot follow
   * output leave it out (awslogs is then unavailable).
   */
  followLogs?(id: string, options: FollowLogsOptions): Promise<NodeJS.ReadableStream & { destroy(): void }>;

  /** Subscribes to start/die/oom/health_status/destroy events of managed containers. */
  events(onEvent: (event: ContainerEvent) => void, options?: EventsOptions): EventSubscription;

  /** Creates a named volume; returns the existing one when the name is taken. */
  createVolume(spec: VolumeSpec): Promise<VolumeInfo>;

  /** The named volume, or null when it does not exist. */
  inspectVolume(name: string): Promise<VolumeInfo | null>;

  /** Removes a named volume; no-op when it does not exist. Throws VolumeInUseError while a container uses it. */
  removeVolume(name: string): Promise<void>;

  /**
   * Creates (or updates) a group whose limits bound the sum of the
   * containers created with its `cgroupParent`. Idempotent per name.
   */
  createTaskGroup(spec: TaskGroupSpec): Promise<TaskGroupResult>;

  /** Removes a task group once its containers have stopped; no-op when it does not exist. */
  removeTaskGroup(name: string): Promise<void>;

  /** Releases connections and event subscriptions. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Errors

/**
 * Base of every runtime error. `code` is the ECS agent's error name where one
 * exists, so `${code}: ${message}` is a ready-made ECS `stoppedReason`.
 */
export class RuntimeError extends Error {
  readonly code: string = 'RuntimeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The engine cannot be reached (socket missing, refused, permission denied). */
export class RuntimeUnavailableError extends RuntimeError {
  override readonly code = 'DockerDaemonUnavailable';
}

/** The image is not usable locally and could not be pulled. */
export class ImagePullError extends RuntimeError {
  override readonly code = 'CannotPullContainerError';
  constructor(readonly image: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class ContainerCreateError extends RuntimeError {
  override readonly code: string = 'CannotCreateContainerError';
}

/** A container with the requested name already exists. */
export class NameConflictError extends ContainerCreateError {
  constructor(readonly containerName: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class ContainerStartError extends RuntimeError {
  override readonly code = 'CannotStartContainerError';
}

export class ContainerStopError extends RuntimeError {
  override readonly code = 'CannotStopContainerError';
}

export class ContainerNotFoundError extends RuntimeError {
  override readonly code = 'CannotInspectContainerError';
  constructor(readonly containerId: string, options?: { cause?: unknown }) {
    super(`No such container: ${containerId}`, options);
  }
}

export class VolumeInUseError extends RuntimeError {
  override readonly code = 'VolumeInUseError';
}

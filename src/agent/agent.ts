/**
 * The host agent: registers this machine as a container instance, keeps the
 * control channel to the server open, runs the tasks the server places here
 * and reports what happens to them.
 *
 * Assembly only: the parts are the task engine (engine/), the durable state
 * (state/), the channel client and reporter (channel/) and the task metadata
 * endpoint (metadata/). Tasks survive the agent: `stop()` leaves containers
 * running, and the next start adopts them.
 */
import { resolveRepositoryCredentials, resolveSecrets, ServerSecretSource } from './credentials/secrets.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Attribute, Resource } from '@aws-sdk/client-ecs';
import { createLogger, type Logger } from '../core/log.js';
import { ChannelClient } from './channel/client.js';
import { Reporter, ecsStateChangeApi, isPermanentRejection } from './channel/reporter.js';
import { healthView, type HealthView } from './channel/reports.js';
import { startStatsSampler } from './metrics/start.js';
import { DEFAULT_BACKOFF, fullJitterDelay, type BackoffOptions } from '../core/backoff.js';
import { EcsApiError, EcsClient } from './channel/ecs.js';
import { RegistryCredentials, registryHostOf } from './credentials/registry.js';
import { ExecutionRoleClients } from './credentials/executionRole.js';
import { CredentialsEndpoint, TaskRoleCredentials } from './credentials/taskRoles.js';
import { credentialsFromEnv, type AwsCredentials } from './channel/sign.js';
import { TaskEngine } from './engine/engine.js';
import { LogShipper } from './logs/shipper.js';
import type { TaskRecord } from './engine/model.js';
import { metadataAddress, probeDockerHost } from './metadata/hostProbe.js';
import { MetadataServer } from './metadata/server.js';
import { DockerRuntime } from './runtime/docker.js';
import type { ContainerRuntime, ImagePullBehavior, RuntimeInfo } from './runtime/runtime.js';
import { AgentStateStore } from './state/store.js';
import { taskRolesOf } from '../protocol/agent.js';

export interface AgentOptions {
  /** The Berth server's URL, e.g. `http://10.0.0.5:4566`. */
  endpoint: string;
  /** Cluster name or ARN to join. */
  cluster: string;
  /** Where the agent keeps its state (identity, desired tasks, task records, report queue). */
  dataDir: string;
  /** Region the server serves; default AWS_REGION, AWS_DEFAULT_REGION, the cluster ARN's, or us-east-1. */
  region?: string;
  /** Reported as `ecs.availability-zone`; default `<region>a`. */
  availabilityZone?: string;
  /** Reported as `ecs.instance-type`; default `berth.host`. */
  instanceType?: string;
  /** Custom attributes registered with the instance (on top of the agent's own). */
  attributes?: Record<string, string>;
  /** CPU units to offer; default 1024 per core. */
  cpu?: number;
  /** MiB to offer; default the machine's memory minus `reservedMemoryMiB`. */
  memory?: number;
  /** MiB kept back for the host when `memory` is not given. Default 256. */
  reservedMemoryMiB?: number;
  /** Docker Engine address (see DockerRuntimeOptions). */
  dockerHost?: string;
  /** Default: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
  credentials?: AwsCredentials;
  /** How long stopped tasks keep their containers. Default 3 hours, as ECS. */
  cleanupWaitMs?: number;
  /** Port of the task metadata endpoint. Default: the port used before, else 51679; 0 picks one. */
  metadataPort?: number;
  imagePullBehavior?: ImagePullBehavior;
  /**
   * Port of the task credentials endpoint on 169.254.170.2. Default 80 (containers then get
   * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), else the port used before, else any; 0: any.
   */
  credentialsPort?: number;
  log?: Logger;
  /** A runtime to use instead of Docker at `dockerHost` (tests). Not closed by `stop()`. */
  runtime?: ContainerRuntime;
  /** Channel timings (tests). */
  channel?: { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number; backoff?: BackoffOptions };
  /**
   * Keep the process's young heap generation at the size it has (see
   * `keepYoungGenerationSmall`). Default true; it applies to the whole
   * process, so a process that also serves heavy traffic may pass false.
   */
  leanHeap?: boolean;
}

export interface RunningAgent {
  containerInstanceArn: string;
  /** `i-` + 17 hex digits, stable across restarts. */
  instanceId: string;
  /** What containers get in ECS_CONTAINER_METADATA_URI_V4, without the `/v4/<token>` path. */
  metadataEndpoint: string;
  engine: TaskEngine;
  /** Closes the channel and servers; containers keep running. */
  stop(): Promise<void>;
  /**
   * Settles when the agent stops on its own because it cannot go on (its
   * container instance was deregistered): with the error saying why. It
   * has stopped by then; its containers keep running.
   */
  readonly ended: Promise<Error>;
}

/** Host ports ECS reserves on every container instance (SSH, Docker, the ECS agent's own ports). */
export const RESERVED_PORTS = [22, 2375, 2376, 51678, 51679];
export const DEFAULT_METADATA_PORT = 51679;
export const DEFAULT_RESERVED_MEMORY_MIB = 256;
export const DEFAULT_INSTANCE_TYPE = 'berth.host';
/** docker-remote-api capabilities reported range from this version up to the engine's (at most MAX). */
const MIN_DOCKER_API = 17;
const MAX_DOCKER_API = 44;

const LEGACY = 'com.amazonaws.ecs.capability.';
const CAP = 'ecs.capability.';

/** The agent's version: Berth's package version. */
export function agentVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'berth' && pkg.version) return pkg.version;
    } catch {
      // keep looking upwards
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

/** Resources as ECS agents register them: CPU units, MiB, reserved TCP ports, UDP ports. */
export function totalResources(
  info: Pick<RuntimeInfo, 'cpus' | 'memoryBytes'>,
  opts: { cpu?: number; memory?: number; reservedMemoryMiB?: number; extraReservedPorts?: number[] } = {},
): Resource[] {
  const cpu = opts.cpu ?? Math.max(0, Math.round(info.cpus)) * 1024;
  const memory =
    opts.memory ?? Math.max(0, Math.floor(info.memoryBytes / (1024 * 1024)) - (opts.reservedMemoryMiB ?? DEFAULT_RESERVED_MEMORY_MIB));
  const ports = [...new Set([...RESERVED_PORTS, ...(opts.extraReservedPorts ?? [])])].sort((a, b) => a - b);
  return [
    { name: 'CPU', type: 'INTEGER', integerValue: cpu },
    { name: 'MEMORY', type: 'INTEGER', integerValue: memory },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: ports.map(String) },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
  ];
}

/**
 * The attributes this agent registers: the instance facts ECS sets and the
 * capabilities Berth's engine honours, named as the ECS agent names them, so
 * that `requiresAttributes` of task definitions using those features match.
 * User attributes come last and win on a name clash.
 */
export function agentAttributes(facts: {
  architecture: string;
  dockerApiVersion?: string;
  availabilityZone?: string;
  instanceType?: string;
  custom?: Record<string, string>;
  /** The task credentials endpoint is listening: tasks with a task role can run here. */
  taskRoles?: boolean;
}): Attribute[] {
  const attrs = new Map<string, string | undefined>();
  attrs.set('ecs.os-type', 'linux');
  attrs.set('ecs.os-family', 'LINUX');
  attrs.set('ecs.cpu-architecture', facts.architecture);
  if (facts.availabilityZone) attrs.set('ecs.availability-zone', facts.availabilityZone);
  if (facts.instanceType) attrs.set('ecs.instance-type', facts.instanceType);
  const minor = /^1\.(\d+)$/.exec(facts.dockerApiVersion ?? '')?.[1];
  const maxApi = Math.min(MAX_DOCKER_API, minor !== undefined ? Number(minor) : MAX_DOCKER_API);
  for (let v = MIN_DOCKER_API; v <= maxApi; v++) attrs.set(`${LEGACY}docker-remote-api.1.${v}`, undefined);
  for (const name of [
    `${LEGACY}logging-driver.awslogs`,
    `${LEGACY}logging-driver.json-file`,
    `${LEGACY}logging-driver.none`,
    `${LEGACY}privileged-container`,
    `${CAP}container-health-check`,
    `${CAP}container-ordering`,
    `${CAP}docker-plugin.local`,
    `${CAP}secrets.asm.environment-variables`,
    `${CAP}secrets.ssm.environment-variables`,
    `${CAP}private-registry-authentication.secretsmanager`,
    `${CAP}task-cpu-mem-limit`,
    `${CAP}execution-role-ecr-pull`,
    `${CAP}execution-role-awslogs`,
    ...(facts.taskRoles ? [`${LEGACY}task-iam-role`, `${LEGACY}task-iam-role-network-host`] : []),
  ]) {
    attrs.set(name, undefined);
  }
  for (const [k, v] of Object.entries(facts.custom ?? {})) attrs.set(k, v);
  return [...attrs].map(([name, value]) => (value === undefined ? { name } : { name, value }));
}

function resolveRegion(opts: AgentOptions): string {
  const fromArn = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):/.exec(opts.cluster)?.[1];
  return opts.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? fromArn ?? 'us-east-1';
}

/** The cluster ARN: the option itself when it is one, else derived from the container instance ARN. */
function clusterArnFor(cluster: string, containerInstanceArn: string): string {
  if (cluster.startsWith('arn:')) return cluster;
  const m = /^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}):container-instance\/([^/]+)\/[^/]+$/.exec(containerInstanceArn);
  return m ? `${m[1]}:cluster/${m[2]}` : cluster;
}

const clusterNameOf = (ref: string): string => ref.slice(ref.lastIndexOf('/') + 1);

async function listenWithFallback(server: MetadataServer, host: string, port: number, log: Logger): Promise<number> {
  try {
    return await server.listen(host, port);
  } catch (err) {
    if (port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    log.warn({ port }, 'metadata port in use; listening on another port (containers adopted from before keep the old address)');
    return server.listen(host, 0);
  }
}

/**
 * Stops V8 from growing the young generation (semi-space growth factor 1):
 * it otherwise grows to 16 MiB semi-spaces after a burst of work (a few
 * dozen tasks starting) and keeps them, while the agent's live heap is a
 * few MiB. Costs a little more scavenging; the agent allocates little.
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** Starts the agent; resolves once it is registered (or, with a stored registration, at once). */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  if (opts.leanHeap !== false) keepYoungGenerationSmall();
  const log = opts.log ?? createLogger('agent');
  const region = resolveRegion(opts);
  const availabilityZone = opts.availabilityZone ?? `${region}a`;
  const instanceType = opts.instanceType ?? DEFAULT_INSTANCE_TYPE;
  const credentials = opts.credentials ?? credentialsFromEnv();
  if (!credentials) throw new Error('no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass credentials');

  const state = await AgentStateStore.open(opts.dataDir);
  const identity = state.identity();
  const ownRuntime = opts.runtime === undefined;
  const runtime = opts.runtime ?? new DockerRuntime({ ...(opts.dockerHost ? { dockerHost: opts.dockerHost } : {}) });
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => log.warn({ err }, 'agent shutdown step failed'));
  };
  if (ownRuntime) closers.push(() => runtime.close());

  try {
    await runtime.ping();
    const info = await runtime.info();
    const facts = await probeDockerHost(opts.dockerHost);

    // Task metadata endpoint, where bridge-mode containers can reach it.
    let engine: TaskEngine | undefined;
    const metadata = new MetadataServer({
      source: { byMetadataToken: (token) => engine?.byMetadataToken(token) },
      stats: (id) => runtime.stats(id),
      availabilityZone,
      log,
    });
    const where = metadataAddress(facts.bridgeGateway);
    const port = await listenWithFallback(metadata, where.listenHost, opts.metadataPort ?? identity.metadataPort ?? DEFAULT_METADATA_PORT, log);
    closers.push(() => metadata.close());
    await state.saveIdentity({ metadataPort: port });
    const metadataEndpoint = `http://${where.advertiseHost}:${port}`;

    const ecs = new EcsClient({ endpoint: opts.endpoint, region, credentials });
    closers.push(async () => ecs.close());
    const registryCredentials = new RegistryCredentials({ endpoint: opts.endpoint, region, credentials, log });
    closers.push(async () => registryCredentials.close());
    const secretSource = new ServerSecretSource(opts.endpoint, region, credentials);
    closers.push(async () => secretSource.close());

    // Task roles: credentials from the server, served to containers at 169.254.170.2; execution roles act for their tasks.
    let credentialsKey = identity.credentialsKey;
    if (!credentialsKey) {
      credentialsKey = randomBytes(32).toString('hex');
      await state.saveIdentity({ credentialsKey });
    }
    const roleCredentials = new TaskRoleCredentials(Buffer.from(credentialsKey, 'hex'));
    const credentialsEndpoint = new CredentialsEndpoint({ credentials: roleCredentials, log });
    if (await credentialsEndpoint.listen(opts.credentialsPort, identity.credentialsPort)) await state.saveIdentity({ credentialsPort: credentialsEndpoint.port! });
    closers.push(() => credentialsEndpoint.close());
    const executionClients = new ExecutionRoleClients({ endpoint: opts.endpoint, region, roles: roleCredentials, own: { secrets: secretSource, registry: registryCredentials }, log });
    closers.push(async () => executionClients.closeAll());

    // Container output of awslogs containers goes to CloudWatch Logs on the same endpoint.
    const logsApi = new EcsClient({ endpoint: opts.endpoint, region, credentials, service: { targetPrefix: 'Logs_20140328.', signingName: 'logs' } });
    closers.push(async () => logsApi.close());
    const positive = (v: string | undefined): number | undefined => (Number(v) > 0 ? Number(v) : undefined);
    const flushIntervalMs = positive(process.env['BERTH_AGENT_LOG_FLUSH_MS']);
    const shipper = runtime.followLogs
      ? new LogShipper({ runtime, api: logsApi, dataDir: opts.dataDir, log, ...(flushIntervalMs !== undefined ? { flushIntervalMs } : {}) })
      : undefined;
    if (shipper) closers.push(() => shipper.stop());

    const reporter = new Reporter({ api: ecsStateChangeApi(ecs), store: state, log });
    await reporter.start();
    closers.push(() => reporter.stop());

    engine = new TaskEngine({
      runtime,
      store: state,
      log,
      metadataEndpoint,
      ...(opts.cleanupWaitMs !== undefined ? { cleanupWaitMs: opts.cleanupWaitMs } : {}),
      ...(opts.imagePullBehavior ? { pullBehavior: opts.imagePullBehavior } : {}),
      registryAuth: async (image, r) => (registryHostOf(image) === undefined ? undefined : executionClients.for(r).registry.authFor(image)),
      containerSecrets: (refs, r) => resolveSecrets(executionClients.for(r).secrets, refs),
      repositoryCredentials: (arn, r) => resolveRepositoryCredentials(executionClients.for(r).secrets, arn),
      roleEnvironment: (r) => (taskRolesOf(r.task.taskDefinition, r.task.overrides).taskRoleArn ? credentialsEndpoint.environmentFor(r.taskArn) : {}),
      ...(shipper ? { prepareAwslogs: (r: TaskRecord, name: string) => shipper.prepare(r, name) } : {}),
    });
    const taskEngine = engine;

    // Health goes over the channel (ECS state changes have no member for it).
    let channel: ChannelClient | undefined;
    const sentHealth = new Map<string, string>();
    const sendHealth = (r: TaskRecord, force: boolean) => {
      const view: HealthView = healthView(r);
      const key = JSON.stringify(view);
      if (!force && sentHealth.get(r.taskArn) === key) return;
      if (channel?.send({ type: 'health', ...view })) sentHealth.set(r.taskArn, key);
    };
    taskEngine.onChange((r) => {
      reporter.observe(r);
      shipper?.observe(r);
      if (r.status !== 'STOPPED') sendHealth(r, false);
    });
    taskEngine.onForget((arn) => {
      reporter.forget(arn);
      sentHealth.delete(arn);
    });
    await taskEngine.start();
    closers.push(() => taskEngine.stop());
    const sampler = startStatsSampler({ runtime, tasks: () => taskEngine.tasks(), send: (m) => channel?.send(m), log });
    closers.push(async () => sampler.stop());
    // Whatever the previous run changed but had not queued yet.
    for (const r of taskEngine.tasks()) {
      reporter.observe(r);
      shipper?.observe(r);
    }
    const stored = await state.loadDesired();
    if (stored) await taskEngine.setDesired(stored);

    // Registration, then the channel.
    const register = async (arn: string | undefined): Promise<string> => {
      const out = await ecs.call<{ containerInstance?: { containerInstanceArn?: string } }>('RegisterContainerInstance', {
        cluster: opts.cluster,
        ...(arn ? { containerInstanceArn: arn } : {}),
        instanceIdentityDocument: JSON.stringify({
          instanceId: identity.instanceId,
          region,
          architecture: info.architecture,
          availabilityZone,
          instanceType,
        }),
        totalResources: totalResources(info, {
          ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
          ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
          ...(opts.reservedMemoryMiB !== undefined ? { reservedMemoryMiB: opts.reservedMemoryMiB } : {}),
          // The credentials endpoint's port is taken on every address of the host for containers' host ports.
          extraReservedPorts: [port, ...(credentialsEndpoint.port !== undefined ? [credentialsEndpoint.port] : [])],
        }),
        versionInfo: { agentVersion: agentVersion(), dockerVersion: `DockerVersion: ${info.serverVersion}` },
        attributes: agentAttributes({
          architecture: info.architecture,
          ...(facts.apiVersion ? { dockerApiVersion: facts.apiVersion } : {}),
          availabilityZone,
          instanceType,
          ...(opts.attributes ? { custom: opts.attributes } : {}),
          taskRoles: credentialsEndpoint.port !== undefined,
        }),
      });
      const newArn = out.containerInstance?.containerInstanceArn;
      if (!newArn) throw new Error('RegisterContainerInstance returned no containerInstanceArn');
      return newArn;
    };

    let stopping = false;
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        await closeAll();
        await state.flush();
        log.info('agent stopped; containers keep running');
      })();
      return stopped;
    };
    let end!: (err: Error) => void;
    const ended = new Promise<Error>((resolve) => {
      end = (err) => {
        log.error({ err: err.message }, 'agent stopping');
        void stop().then(() => resolve(err));
      };
    });
    /** Registers, retrying transient failures; a stored ARN the server no longer knows is dropped once. */
    const registerWithRetry = async (): Promise<string> => {
      let arn = identity.containerInstanceArn && clusterNameOf(identity.clusterArn ?? '') === clusterNameOf(opts.cluster)
        ? identity.containerInstanceArn
        : undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          const registered = await register(arn);
          await state.saveIdentity({ containerInstanceArn: registered, clusterArn: clusterArnFor(opts.cluster, registered) });
          log.info({ containerInstanceArn: registered, instanceId: identity.instanceId }, 'container instance registered');
          return registered;
        } catch (err) {
          if (err instanceof EcsApiError && err.statusCode === 403) {
            // Retrying cannot help: the credentials or the signing region are wrong.
            throw new Error(
              `the server at ${opts.endpoint} refused the agent's signed request (${err.name}: ${err.message}). ` +
                `Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the region (${region}; --region or AWS_REGION) is the server's.`,
              { cause: err },
            );
          }
          if (isPermanentRejection(err)) {
            if (arn) {
              log.warn({ err, containerInstanceArn: arn }, 'stored registration refused; registering as a new container instance');
              arn = undefined;
              continue;
            }
            throw err;
          }
          if (stopping) throw err;
          const delay = fullJitterDelay(attempt, DEFAULT_BACKOFF);
          log.warn({ err, delay }, 'registration failed; retrying');
          await new Promise((r) => setTimeout(r, delay));
          if (stopping) throw err;
        }
      }
    };

    const connect = (containerInstanceArn: string) => {
      if (stopping) return;
      channel = new ChannelClient({
        endpoint: opts.endpoint,
        clusterArn: clusterArnFor(opts.cluster, containerInstanceArn),
        containerInstanceArn,
        region,
        credentials,
        log,
        ...(opts.channel?.backoff ? { backoff: opts.channel.backoff } : {}),
        ...(opts.channel?.heartbeatIntervalMs ? { heartbeatIntervalMs: opts.channel.heartbeatIntervalMs } : {}),
        ...(opts.channel?.heartbeatTimeoutMs ? { heartbeatTimeoutMs: opts.channel.heartbeatTimeoutMs } : {}),
        onTasks: async (tasks) => {
          await state.saveDesired(tasks);
          await taskEngine.setDesired(tasks);
        },
        onCredentials: (set) => {
          roleCredentials.replace(set);
          executionClients.prune();
        },
        onConnect: () => {
          reporter.retryNow();
          for (const r of taskEngine.tasks()) if (r.status !== 'STOPPED') sendHealth(r, true);
        },
        onRefused: (status) => {
          if (status !== 404 || stopping) return;
          // As the ECS agent does: a deregistered instance's agent stops rather than run tasks nobody tracks.
          end(
            new Error(
              `container instance ${containerInstanceArn} is no longer registered in cluster ${clusterNameOf(opts.cluster)}: it was deregistered. ` +
                'The agent stopped; running containers keep running. Start it again to register this machine as a new container instance.',
            ),
          );
        },
      });
      channel.start();
    };
    closers.push(async () => {
      stopping = true;
      await channel?.stop();
    });

    const storedArn = identity.containerInstanceArn;
    let containerInstanceArn: string;
    if (storedArn && clusterNameOf(identity.clusterArn ?? '') === clusterNameOf(opts.cluster)) {
      // Known instance: run now, confirm the registration in the background.
      containerInstanceArn = storedArn;
      void registerWithRetry().then(
        (registered) => {
          if (registered !== storedArn) log.warn({ was: storedArn, now: registered }, 'this machine was registered as a new container instance');
          connect(registered);
        },
        (err: unknown) => {
          if (!stopping) log.error({ err }, 'container instance registration failed');
        },
      );
    } else {
      containerInstanceArn = await registerWithRetry();
      connect(containerInstanceArn);
    }

    return {
      containerInstanceArn,
      instanceId: identity.instanceId,
      metadataEndpoint,
      engine: taskEngine,
      stop,
      ended,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Pure translation of a task (definition + overrides) into what the agent
 * tracks and what the runtime creates: the initial TaskRecord, engine-side
 * names and labels, and one ContainerSpec per container definition.
 *
 * Nothing here does I/O, reads the clock or draws random numbers: callers
 * pass a token source.
 */
import type {
  ContainerDefinition,
  ContainerOverride,
  KeyValuePair,
  PortMapping,
  Volume,
} from '@aws-sdk/client-ecs';
import type { AgentTask } from '../../protocol/agent.js';
import type { ContainerSpec, MountSpec, NetworkMode, PortBinding, VolumesFromSpec } from '../runtime/runtime.js';
import {
  clusterName,
  taskId,
  type ContainerRecord,
  type NetworkBinding,
  type TaskRecord,
  type VolumeRecord,
} from './model.js';

export const LABEL_TASK_ARN = 'com.amazonaws.ecs.task-arn';
export const LABEL_CONTAINER_NAME = 'com.amazonaws.ecs.container-name';
export const LABEL_CLUSTER = 'com.amazonaws.ecs.cluster';
export const LABEL_FAMILY = 'com.amazonaws.ecs.task-definition-family';
export const LABEL_REVISION = 'com.amazonaws.ecs.task-definition-version';

/** ECS agent default for `stopTimeout` (ECS_CONTAINER_STOP_TIMEOUT). */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 30;

/** Docker turns 0 CPU shares into 1024; ECS gives such containers the minimum weight instead. */
const MIN_CPU_SHARES = 2;
const MIB = 1024 * 1024;

export type EffectiveNetworkMode = 'bridge' | 'host' | 'none' | 'awsvpc';

export function networkModeOf(task: AgentTask): EffectiveNetworkMode {
  const m = task.taskDefinition['networkMode'];
  return m === 'host' || m === 'none' || m === 'awsvpc' ? m : 'bridge';
}

export function containerDefinitions(task: AgentTask): ContainerDefinition[] {
  return task.taskDefinition.containerDefinitions as ContainerDefinition[];
}

export function definitionOf(task: AgentTask, name: string): ContainerDefinition {
  const def = containerDefinitions(task).find((c) => c.name === name);
  if (!def) throw new Error(`task ${task.taskArn} has no container definition named ${name}`);
  return def;
}

function overrideOf(task: AgentTask, name: string): ContainerOverride | undefined {
  const list = (task.overrides as { containerOverrides?: ContainerOverride[] }).containerOverrides;
  return list?.find((o) => o.name === name);
}

/** Characters Docker accepts in names; anything else becomes `-`. */
function dockerSafe(s: string): string {
  return s.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** `ecs-<family>-<revision>-<container>-<task id>`: unique per task and container, stable across restarts. */
export function dockerContainerName(task: AgentTask, container: string): string {
  const td = task.taskDefinition;
  return dockerSafe(`ecs-${td.family}-${td.revision}-${container}-${taskId(task.taskArn)}`);
}

/** Engine name of a task-scope volume: `ecs-<family>-<revision>-<volume>-<task id>`. */
export function taskVolumeName(task: AgentTask, volume: string): string {
  const td = task.taskDefinition;
  return dockerSafe(`ecs-${td.family}-${td.revision}-${volume}-${taskId(task.taskArn)}`);
}

/** The ECS labels every container of the task carries (the runtime adds its managed label). */
export function taskLabels(task: AgentTask): Record<string, string> {
  return {
    [LABEL_TASK_ARN]: task.taskArn,
    [LABEL_CLUSTER]: clusterName(task.clusterArn),
    [LABEL_FAMILY]: task.taskDefinition.family,
    [LABEL_REVISION]: String(task.taskDefinition.revision),
  };
}

/** Task-level `cpu` (units) and `memory` (MiB), from the task or its definition; undefined when unset. */
export function taskLimits(task: AgentTask): { cpu?: number; memory?: number } {
  const num = (v: unknown): number | undefined => {
    const n = typeof v === 'string' || typeof v === 'number' ? Number(v) : NaN;
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const cpu = num(task.cpu ?? task.taskDefinition['cpu']);
  const memory = num(task.memory ?? task.taskDefinition['memory']);
  return { ...(cpu !== undefined ? { cpu } : {}), ...(memory !== undefined ? { memory } : {}) };
}

/** CPU units, hard and soft memory (MiB) of a container after overrides. */
export function containerLimits(task: AgentTask, name: string): { cpu: number; memory?: number; memoryReservation?: number } {
  const def = definitionOf(task, name);
  const o = overrideOf(task, name);
  const memory = o?.memory ?? def.memory;
  const memoryReservation = o?.memoryReservation ?? def.memoryReservation;
  return {
    cpu: o?.cpu ?? def.cpu ?? 0,
    ...(memory !== undefined ? { memory } : {}),
    ...(memoryReservation !== undefined ? { memoryReservation } : {}),
  };
}

function volumeRecord(task: AgentTask, v: Volume): VolumeRecord | { unsupported: string } {
  const name = v.name ?? '';
  if (v.efsVolumeConfiguration) return { unsupported: `volume '${name}': EFS volumes are not supported` };
  if (v.fsxWindowsFileServerVolumeConfiguration) return { unsupported: `volume '${name}': FSx volumes are not supported` };
  if (v.configuredAtLaunch) return { unsupported: `volume '${name}': volumes configured at launch are not supported` };
  const dv = v.dockerVolumeConfiguration;
  if (dv) {
    const shared = dv.scope === 'shared';
    return {
      name,
      kind: 'docker',
      source: shared ? name : taskVolumeName(task, name),
      scope: shared ? 'shared' : 'task',
      provision: shared ? dv.autoprovision === true : true,
      ...(dv.driver ? { driver: dv.driver } : {}),
      ...(dv.driverOpts ? { driverOptions: dv.driverOpts } : {}),
      labels: { ...(dv.labels ?? {}), ...(shared ? {} : { [LABEL_TASK_ARN]: task.taskArn }) },
      created: false,
    };
  }
  if (v.host?.sourcePath) {
    return { name, kind: 'bind', source: v.host.sourcePath, scope: 'host', provision: false, created: false };
  }
  // A bare volume (`host: {}`): scratch space that lives as long as the task.
  return {
    name,
    kind: 'docker',
    source: taskVolumeName(task, name),
    scope: 'task',
    provision: true,
    labels: { [LABEL_TASK_ARN]: task.taskArn },
    created: false,
  };
}

/** Static bindings of a host-mode container: the container port is the host port. */
function hostModeBindings(def: ContainerDefinition): NetworkBinding[] {
  return (def.portMappings ?? [])
    .filter((p) => p.containerPort !== undefined)
    .map((p) => ({
      bindIP: '0.0.0.0',
      containerPort: p.containerPort!,
      hostPort: p.hostPort || p.containerPort!,
      protocol: p.protocol === 'udp' ? 'udp' : 'tcp',
    }));
}

/**
 * The record of a task the agent has just been given. `newToken` supplies
 * each container's metadata token. `startFailure` is set when the task uses
 * something this agent cannot provide; the engine then stops it at once.
 */
export function newTaskRecord(task: AgentTask, newToken: () => string): TaskRecord {
  const mode = networkModeOf(task);
  const failures: string[] = [];
  if (mode === 'awsvpc') failures.push('CannotCreateContainerError: the awsvpc network mode is not supported by this container instance');
  const volumes: VolumeRecord[] = [];
  for (const v of (task.taskDefinition['volumes'] as Volume[] | undefined) ?? []) {
    const rec = volumeRecord(task, v);
    if ('unsupported' in rec) failures.push(`ResourceInitializationError: ${rec.unsupported}`);
    else volumes.push(rec);
  }
  const arnByName = new Map(task.containers.map((c) => [c.name, c.containerArn]));
  const containers: ContainerRecord[] = containerDefinitions(task).map((def) => {
    const name = def.name ?? '';
    return {
      name,
      containerArn: arnByName.get(name) ?? '',
      dockerName: dockerContainerName(task, name),
      metadataToken: newToken(),
      image: def.image ?? '',
      essential: def.essential !== false,
      phase: 'PENDING',
      networkBindings: mode === 'host' ? hostModeBindings(def) : [],
      ipv4Addresses: [],
      health: 'UNKNOWN',
      hasHealthCheck: (def.healthCheck?.command?.length ?? 0) > 0 && def.healthCheck?.command?.[0] !== 'NONE',
    };
  });
  const limits = taskLimits(task);
  return {
    taskArn: task.taskArn,
    task,
    inDesiredSet: true,
    status: 'PENDING',
    containers,
    volumes,
    ...(limits.cpu !== undefined || limits.memory !== undefined
      ? {
          taskGroup: {
            name: taskId(task.taskArn),
            ...(limits.cpu !== undefined ? { cpuUnits: limits.cpu } : {}),
            ...(limits.memory !== undefined ? { memoryMiB: limits.memory } : {}),
            state: 'pending' as const,
          },
        }
      : {}),
    cleaned: false,
    ...(failures.length ? { startFailure: failures.join('; ') } : {}),
  };
}

/** The effective stop timeout of a container, in seconds. */
export function stopTimeoutSeconds(task: AgentTask, name: string, fallback = DEFAULT_STOP_TIMEOUT_SECONDS): number {
  const t = definitionOf(task, name).stopTimeout;
  return t !== undefined && t >= 0 ? t : fallback;
}

/** Names this container must wait for before it starts, with the condition, as ECS orders them. */
export interface Dependency {
  container: string;
  condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';
  /** Implicit START dependencies come from links and volumesFrom. */
  implicit: boolean;
}

export function dependenciesOf(task: AgentTask, name: string): Dependency[] {
  const def = definitionOf(task, name);
  const out: Dependency[] = [];
  for (const d of def.dependsOn ?? []) {
    if (!d.containerName) continue;
    const condition = d.condition === 'COMPLETE' || d.condition === 'SUCCESS' || d.condition === 'HEALTHY' ? d.condition : 'START';
    out.push({ container: d.containerName, condition, implicit: false });
  }
  const explicit = new Set(out.map((d) => d.container));
  const implicitNames = [
    ...(def.links ?? []).map((l) => l.split(':')[0] ?? l),
    ...(def.volumesFrom ?? []).map((v) => v.sourceContainer ?? ''),
  ];
  for (const n of implicitNames) {
    if (n && !explicit.has(n)) {
      explicit.add(n);
      out.push({ container: n, condition: 'START', implicit: true });
    }
  }
  return out;
}

/** The `startTimeout` of a container in seconds, when set. */
export function startTimeoutSeconds(task: AgentTask, name: string): number | undefined {
  const t = definitionOf(task, name).startTimeout;
  return t !== undefined && t > 0 ? t : undefined;
}

export interface SpecContext {
  /** `http://<addr>:<port>` of the metadata endpoint; absent: no metadata variables. */
  metadataEndpoint?: string;
  /** The credentials endpoint variables of a task with a task role (AWS_CONTAINER_CREDENTIALS_*); none for other tasks. */
  roleEnvironment?(r: TaskRecord): Record<string, string>;
}

function mergeEnv(base: readonly KeyValuePair[] | undefined, override: readonly KeyValuePair[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of [...(base ?? []), ...(override ?? [])]) if (kv.name) env[kv.name] = kv.value ?? '';
  return env;
}

function portBindings(mappings: readonly PortMapping[] | undefined): PortBinding[] {
  const out: PortBinding[] = [];
  for (const p of mappings ?? []) {
    if (p.containerPort === undefined || p.containerPortRange !== undefined) continue;
    out.push({ containerPort: p.containerPort, protocol: p.protocol === 'udp' ? 'udp' : 'tcp', hostPort: p.hostPort ?? 0 });
  }
  return out;
}

/**
 * The runtime spec of one container of the task.
 *
 * Resource mapping (ECS semantics on Linux): `cpu` → CPU shares (at least 2);
 * `memory` → hard limit; `memoryReservation` → soft limit. Task-level `cpu`
 * and `memory` bound the task's containers together through the task group
 * (a cgroup parent). Where the host cannot provide one, each container is
 * bounded by them on its own: capped at the task's CPUs, and task-level
 * `memory` is the hard limit of containers that set none.
 */
export function containerSpec(r: TaskRecord, name: string, ctx: SpecContext): ContainerSpec {
  const task = r.task;
  const def = definitionOf(task, name);
  const o = overrideOf(task, name);
  const self = r.containers.find((c) => c.name === name);
  if (!self) throw new Error(`task ${task.taskArn} has no container named ${name}`);
  const sibling = (n: string): string => r.containers.find((c) => c.name === n)?.dockerName ?? n;
  const mode = networkModeOf(task);
  const limits = containerLimits(task, name);
  const group = r.taskGroup?.state === 'created' ? r.taskGroup.cgroupParent : undefined;
  // Inside a task group the kernel bounds the sum; otherwise each container carries the task's limits.
  const taskLimit = group ? {} : taskLimits(task);

  const env = mergeEnv(def.environment, o?.environment);
  if (ctx.metadataEndpoint) {
    env['ECS_CONTAINER_METADATA_URI'] = `${ctx.metadataEndpoint}/v3/${self.metadataToken}`;
    env['ECS_CONTAINER_METADATA_URI_V4'] = `${ctx.metadataEndpoint}/v4/${self.metadataToken}`;
  }
  if (ctx.roleEnvironment) Object.assign(env, ctx.roleEnvironment(r));

  const mounts: MountSpec[] = [];
  for (const mp of def.mountPoints ?? []) {
    const vol = r.volumes.find((v) => v.name === mp.sourceVolume);
    if (!vol || !mp.containerPath) continue;
    mounts.push({ type: vol.kind === 'bind' ? 'bind' : 'volume', source: vol.source, containerPath: mp.containerPath, readOnly: mp.readOnly === true });
  }
  const volumesFrom: VolumesFromSpec[] = (def.volumesFrom ?? [])
    .filter((v) => v.sourceContainer)
    .map((v) => ({ sourceContainer: sibling(v.sourceContainer!), readOnly: v.readOnly === true }));

  const lp = def.linuxParameters;
  const hc = def.healthCheck;
  const log = def.logConfiguration;
  const networkMode: NetworkMode = mode === 'host' ? 'host' : mode === 'none' ? 'none' : 'bridge';
  const memory = limits.memory ?? taskLimit.memory;

  const command = o?.command ?? def.command;
  const spec: ContainerSpec = {
    name: self.dockerName,
    image: def.image ?? '',
    ...(command ? { command: [...command] } : {}),
    ...(def.entryPoint ? { entryPoint: [...def.entryPoint] } : {}),
    env,
    ...(def.workingDirectory ? { workingDir: def.workingDirectory } : {}),
    ...(def.user ? { user: def.user } : {}),
    ...(def.hostname && mode === 'bridge' ? { hostname: def.hostname } : {}),
    labels: { ...(def.dockerLabels ?? {}), ...taskLabels(task), [LABEL_CONTAINER_NAME]: name },
    cpuShares: Math.max(MIN_CPU_SHARES, limits.cpu),
    ...(memory !== undefined ? { memoryBytes: memory * MIB } : {}),
    ...(limits.memoryReservation !== undefined ? { memoryReservationBytes: limits.memoryReservation * MIB } : {}),
    ...(lp?.maxSwap !== undefined && memory !== undefined ? { maxSwapBytes: lp.maxSwap * MIB } : {}),
    ...(lp?.swappiness !== undefined ? { swappiness: lp.swappiness } : {}),
    ...(taskLimit.cpu !== undefined ? { nanoCpus: Math.round((taskLimit.cpu / 1024) * 1e9) } : {}),
    ...(group ? { cgroupParent: group } : {}),
    ...(def.ulimits?.length
      ? { ulimits: def.ulimits.map((u) => ({ name: String(u.name), softLimit: u.softLimit ?? 0, hardLimit: u.hardLimit ?? 0 })) }
      : {}),
    networkMode,
    ...(mode === 'bridge' ? { portBindings: portBindings(def.portMappings) } : {}),
    ...(mode === 'bridge' && def.links?.length
      ? {
          links: def.links.map((l) => {
            const [target, alias] = l.split(':') as [string, string | undefined];
            return `${sibling(target)}:${alias ?? target}`;
          }),
        }
      : {}),
    ...(def.extraHosts?.length
      ? { extraHosts: def.extraHosts.map((h) => ({ hostname: h.hostname ?? '', ipAddress: h.ipAddress ?? '' })) }
      : {}),
    ...(def.dnsServers?.length ? { dnsServers: [...def.dnsServers] } : {}),
    ...(def.dnsSearchDomains?.length ? { dnsSearchDomains: [...def.dnsSearchDomains] } : {}),
    ...(def.disableNetworking ? { disableNetworking: true } : {}),
    ...(hc?.command?.length
      ? {
          healthCheck: {
            command: [...hc.command],
            ...(hc.interval !== undefined ? { interval: hc.interval } : {}),
            ...(hc.timeout !== undefined ? { timeout: hc.timeout } : {}),
            ...(hc.retries !== undefined ? { retries: hc.retries } : {}),
            ...(hc.startPeriod !== undefined ? { startPeriod: hc.startPeriod } : {}),
          },
        }
      : {}),
    stopTimeoutSeconds: stopTimeoutSeconds(task, name),
    ...(lp?.initProcessEnabled ? { init: true } : {}),
    ...(mounts.length ? { mounts } : {}),
    ...(volumesFrom.length ? { volumesFrom } : {}),
    ...(lp?.tmpfs?.length
      ? {
          tmpfs: lp.tmpfs.map((t) => ({
            containerPath: t.containerPath ?? '',
            sizeMiB: t.size ?? 0,
            ...(t.mountOptions?.length ? { mountOptions: [...t.mountOptions] } : {}),
          })),
        }
      : {}),
    ...(def.readonlyRootFilesystem ? { readonlyRootfs: true } : {}),
    ...(lp?.sharedMemorySize !== undefined ? { sharedMemorySizeMiB: lp.sharedMemorySize } : {}),
    ...(def.privileged ? { privileged: true } : {}),
    ...(def.dockerSecurityOptions?.length ? { securityOptions: [...def.dockerSecurityOptions] } : {}),
    ...(lp?.capabilities?.add?.length ? { capAdd: [...lp.capabilities.add] } : {}),
    ...(lp?.capabilities?.drop?.length ? { capDrop: [...lp.capabilities.drop] } : {}),
    ...(def.systemControls?.length
      ? { sysctls: Object.fromEntries(def.systemControls.filter((s) => s.namespace).map((s) => [s.namespace!, s.value ?? ''])) }
      : {}),
    ...(def.interactive ? { interactive: true } : {}),
    ...(def.pseudoTerminal ? { pseudoTerminal: true } : {}),
    ...(log?.logDriver ? { logConfig: { driver: log.logDriver, ...(log.options ? { options: { ...log.options } } : {}) } } : {}),
  };
  return spec;
}

/**
 * The business rules RegisterTaskDefinition enforces after structural
 * validation. Every rule throws ClientException, the exception ECS uses for
 * invalid task definitions; where ECS's wording is known the message starts
 * with it, and every message says what to change.
 *
 * Rules run in a fixed order (task identity, containers, volumes, resources,
 * graphs, launch-type requirements), so a definition with several problems
 * always reports the same first one.
 */
import type { ContainerDefinition, PortMapping, Volume } from '@aws-sdk/client-ecs';
import { ClientException } from '../../core/errors.js';
import { fargateTaskLevelReasons } from './compatibility.js';
import { findCycle } from './graph.js';
import { effectiveNetworkMode, type EffectiveNetworkMode, type RegisterTaskDefinitionInput } from './types.js';
import {
  INVALID_TASK_CPU,
  INVALID_TASK_MEMORY,
  MIN_CONTAINER_MEMORY_MIB,
  TASK_CPU_MAX,
  TASK_CPU_MIN,
  parseCpu,
  parseMemory,
} from './units.js';

/** Facts established by validation that normalisation reuses. */
export interface ValidatedFacts {
  networkMode: EffectiveNetworkMode;
  /** Task-level CPU units, when given. */
  cpu?: number;
  /** Task-level memory MiB, when given. */
  memory?: number;
}

export const MAX_CONTAINERS = 10;
export const MAX_PLACEMENT_CONSTRAINTS = 10;
export const MAX_ENVIRONMENT_FILES = 10;

/** Family, container, volume and link names: up to 255 letters, digits, hyphens and underscores. */
const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
/** Image references: registry/repository[:tag] with an optional @sha256 digest. */
const IMAGE_RE = /^[A-Za-z0-9._\-:/#]{1,255}(@sha256:[A-Fa-f0-9]{64})?$/;
const S3_ENV_FILE_RE = /^arn:aws[a-z-]*:s3:::[^/]+\/.+\.env$/;
const PORT_RANGE_RE = /^(\d{1,5})-(\d{1,5})$/;
const NAME_RULE = 'Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.';

const fail = (message: string): never => {
  throw new ClientException(message);
};

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

export function validateRegistration(input: RegisterTaskDefinitionInput): ValidatedFacts {
  validateFamily(input.family);
  const containers = input.containerDefinitions ?? [];
  validateContainerList(containers);

  const facts: ValidatedFacts = { networkMode: effectiveNetworkMode(input.networkMode) };
  validateTaskSize(input, facts);
  const windows = (input.runtimePlatform?.operatingSystemFamily ?? '').startsWith('WINDOWS');
  if (input.requiresCompatibilities?.includes('FARGATE')) {
    const reason = fargateTaskLevelReasons(facts.networkMode, facts.cpu, facts.memory, windows)[0];
    if (reason) fail(reason);
  }

  const volumeNames = validateVolumes(input.volumes ?? [], windows);
  const names = new Set(containers.map((c) => c.name ?? ''));
  for (const c of containers) validateContainer(c, { input, facts, names, volumeNames, windows });
  if (!containers.some((c) => c.essential !== false)) {
    fail("Task definition doesn't have any essential container. Set 'essential' to true on at least one container.");
  }
  validatePortsAcrossTask(containers, facts.networkMode);
  validateFirelens(containers);
  validateTotals(containers, facts);
  validateDependencies(containers);
  validateLinks(containers);
  validateTaskExtras(input, names);
  return facts;
}

// ---- task identity and size ----

function validateFamily(family: string | undefined): void {
  if (!family) fail(`Family should not be null or empty. ${NAME_RULE}`);
  if (!NAME_RE.test(family ?? '')) fail(`Family contains invalid characters. ${NAME_RULE}`);
}

function validateContainerList(containers: readonly ContainerDefinition[]): void {
  if (containers.length === 0) fail('Container list cannot be empty. Add at least one container definition.');
  if (containers.length > MAX_CONTAINERS) {
    fail(`Too many containers. A task definition can have at most ${MAX_CONTAINERS} container definitions; it has ${containers.length}.`);
  }
  const seen = new Set<string>();
  for (const c of containers) {
    if (!c.name) fail(`Container.name should not be null or empty. ${NAME_RULE}`);
    const name = c.name ?? '';
    if (!NAME_RE.test(name)) fail(`Container name '${name}' contains invalid characters. ${NAME_RULE}`);
    if (seen.has(name)) fail(`Duplicate container name '${name}'. Container names must be unique within a task definition.`);
    seen.add(name);
    if (!c.image) fail(`Container.image should not be null or empty. Set 'image' for container '${name}'.`);
    if (!IMAGE_RE.test(c.image ?? '')) {
      fail(
        `Container.image contains invalid characters (container '${name}'). Use repository-url/image:tag or ` +
          'repository-url/image@sha256:<64 hex digits>, up to 255 letters, numbers, hyphens, underscores, colons, periods, forward slashes and number signs.',
      );
    }
  }
}

function validateTaskSize(input: RegisterTaskDefinitionInput, facts: ValidatedFacts): void {
  if (input.cpu !== undefined) {
    const cpu = parseCpu(input.cpu);
    if (cpu < TASK_CPU_MIN || cpu > TASK_CPU_MAX) fail(INVALID_TASK_CPU);
    facts.cpu = cpu;
  }
  if (input.memory !== undefined) {
    const memory = parseMemory(input.memory);
    if (memory < MIN_CONTAINER_MEMORY_MIB) fail(INVALID_TASK_MEMORY);
    facts.memory = memory;
  }
}

// ---- volumes ----

function validateVolumes(volumes: readonly Volume[], windows: boolean): Set<string> {
  const names = new Set<string>();
  for (const v of volumes) {
    const name = v.name ?? '';
    if (!NAME_RE.test(name)) fail(`Invalid volume name '${name}'. ${NAME_RULE}`);
    if (names.has(name)) fail(`Duplicate volume name '${name}'. Volume names must be unique within a task definition.`);
    names.add(name);
    const kinds = [v.host, v.dockerVolumeConfiguration, v.efsVolumeConfiguration, v.fsxWindowsFileServerVolumeConfiguration];
    if (kinds.filter((k) => k !== undefined).length > 1) {
      fail(
        `Volume '${name}' specifies more than one volume type. Use only one of host, dockerVolumeConfiguration, ` +
          'efsVolumeConfiguration and fsxWindowsFileServerVolumeConfiguration.',
      );
    }
    const sourcePath = v.host?.sourcePath;
    if (sourcePath !== undefined) {
      if (sourcePath.trim() === '') fail(`host.sourcePath should not be blank (volume '${name}'). Omit it for a task-scoped volume.`);
      if (!windows && !sourcePath.startsWith('/')) fail(`host.sourcePath of volume '${name}' must be an absolute path.`);
    }
    const docker = v.dockerVolumeConfiguration;
    if (docker?.autoprovision !== undefined && docker.scope !== 'shared') {
      fail(`Volume '${name}': 'autoprovision' is only supported when the Docker volume scope is 'shared'.`);
    }
    const efs = v.efsVolumeConfiguration;
    if (efs) {
      const auth = efs.authorizationConfig;
      const needsTls = auth?.iam === 'ENABLED' || auth?.accessPointId !== undefined;
      if (needsTls && efs.transitEncryption !== 'ENABLED') {
        fail(`Volume '${name}': transitEncryption must be ENABLED when EFS IAM authorization or an access point is used.`);
      }
      if (auth?.accessPointId !== undefined && efs.rootDirectory !== undefined && efs.rootDirectory !== '/') {
        fail(`Volume '${name}': rootDirectory must be omitted or '/' when an EFS access point is used.`);
      }
      if (efs.transitEncryptionPort !== undefined && efs.transitEncryption !== 'ENABLED') {
        fail(`Volume '${name}': transitEncryptionPort requires transitEncryption ENABLED.`);
      }
    }
  }
  return names;
}

// ---- one container ----

interface ContainerScope {
  input: RegisterTaskDefinitionInput;
  facts: ValidatedFacts;
  names: ReadonlySet<string>;
  volumeNames: ReadonlySet<string>;
  windows: boolean;
}

function validateContainer(c: ContainerDefinition, scope: ContainerScope): void {
  const name = c.name ?? '';
  const { facts } = scope;

  if (c.cpu !== undefined && (!isInt(c.cpu) || c.cpu < 0)) {
    fail(`Invalid 'cpu' setting for container '${name}'. Use a whole number of CPU units, 0 or more.`);
  }
  if (facts.memory === undefined && c.memory === undefined && c.memoryReservation === undefined) {
    fail(
      `Invalid setting for container '${name}'. At least one of 'memory' or 'memoryReservation' must be specified. ` +
        "Set one of them on the container, or set 'memory' at the task level.",
    );
  }
  for (const [field, value] of [['memory', c.memory], ['memoryReservation', c.memoryReservation]] as const) {
    if (value !== undefined && (!isInt(value) || value < MIN_CONTAINER_MEMORY_MIB)) {
      fail(`Invalid '${field}' setting for container '${name}'. The minimum is ${MIN_CONTAINER_MEMORY_MIB} MiB (Docker reserves 6 MiB for every container).`);
    }
  }
  if (c.memory !== undefined && c.memoryReservation !== undefined && c.memory < c.memoryReservation) {
    fail(`Invalid setting for container '${name}'. 'memory' must be greater than or equal to 'memoryReservation'.`);
  }
  for (const [field, value] of [['startTimeout', c.startTimeout], ['stopTimeout', c.stopTimeout]] as const) {
    if (value !== undefined && (!isInt(value) || value < 0)) {
      fail(`Invalid '${field}' setting for container '${name}'. Use a whole number of seconds, 0 or more.`);
    }
  }

  validatePortMappings(c, facts.networkMode);
  validateNetworkingOptions(c, facts.networkMode);

  for (const mp of c.mountPoints ?? []) {
    if (!mp.sourceVolume || !scope.volumeNames.has(mp.sourceVolume)) {
      fail(
        `Unknown volume '${mp.sourceVolume ?? 'null'}'. Container '${name}' mounts a volume that is not in the task definition's ` +
          "'volumes'; add it there or fix the mount point's sourceVolume.",
      );
    }
    if (!mp.containerPath) fail(`Mount point for volume '${mp.sourceVolume}' in container '${name}' needs a 'containerPath'.`);
  }
  for (const vf of c.volumesFrom ?? []) {
    const source = vf.sourceContainer ?? '';
    if (source === name) fail(`Container '${name}' cannot mount volumes from itself. Set volumesFrom.sourceContainer to another container.`);
    if (!scope.names.has(source)) {
      fail(`Container '${name}' mounts volumes from container '${source}', which does not exist in this task definition.`);
    }
  }

  validateHealthCheck(c);
  validateUlimits(c);
  validateSecretsAndFiles(c);
  validateLinuxParameters(c);
  validateResourceRequirements(c, scope.input);
  if (c.logConfiguration && !c.logConfiguration.logDriver) {
    fail(`logConfiguration of container '${name}' needs a 'logDriver'.`);
  }
}

function validatePortMappings(c: ContainerDefinition, mode: EffectiveNetworkMode): void {
  const name = c.name ?? '';
  const mappings = c.portMappings ?? [];
  if (mode === 'none' && mappings.length) {
    fail(`Port mappings are not supported when networkMode=none (container '${name}'). Remove them or use another network mode.`);
  }
  const seen = new Set<string>();
  const names = new Set<string>();
  for (const p of mappings) {
    if (p.containerPortRange !== undefined) {
      validatePortRange(p, name, mode);
    } else {
      if (p.containerPort === undefined) {
        fail(`Port mapping in container '${name}' must specify 'containerPort' or 'containerPortRange'.`);
      }
      const port = p.containerPort ?? 0;
      if (!isInt(port) || port < 1 || port > 65535) {
        fail(`Invalid containerPort ${port} in container '${name}'. Use a port between 1 and 65535.`);
      }
      if (p.hostPort !== undefined && (!isInt(p.hostPort) || p.hostPort < 0 || p.hostPort > 65535)) {
        fail(`Invalid hostPort ${p.hostPort} in container '${name}'. Use a port between 0 and 65535 (0 or omitted picks a dynamic port in bridge mode).`);
      }
      if ((mode === 'awsvpc' || mode === 'host') && p.hostPort !== undefined && p.hostPort !== port) {
        fail(
          `When networkMode=${mode}, the host ports and container ports in port mappings must match. ` +
            `Container '${name}' maps container port ${port} to host port ${p.hostPort}; omit hostPort or set it to ${port}.`,
        );
      }
      const key = `${port}/${p.protocol ?? 'tcp'}`;
      if (seen.has(key)) fail(`Container '${name}' maps container port ${key} more than once. Remove the duplicate port mapping.`);
      seen.add(key);
    }
    if (p.name !== undefined) {
      if (names.has(p.name)) fail(`Port mapping name '${p.name}' is used more than once in container '${name}'. Port mapping names must be unique.`);
      names.add(p.name);
    }
    if (p.appProtocol !== undefined && p.name === undefined) {
      fail(`Port mapping with appProtocol in container '${name}' needs a 'name'.`);
    }
  }
}

function validatePortRange(p: PortMapping, name: string, mode: EffectiveNetworkMode): void {
  if (mode !== 'bridge' && mode !== 'awsvpc') {
    fail(`containerPortRange is only supported when networkMode is bridge or awsvpc (container '${name}').`);
  }
  if (p.containerPort !== undefined || p.hostPort !== undefined) {
    fail(`Port mapping in container '${name}' cannot combine containerPortRange with containerPort or hostPort. Use one or the other.`);
  }
  const m = PORT_RANGE_RE.exec(p.containerPortRange ?? '');
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || to > 65535 || from >= to) {
    fail(`Invalid containerPortRange '${p.containerPortRange}' in container '${name}'. Use 'first-last' with 1 <= first < last <= 65535.`);
  }
}

function validateNetworkingOptions(c: ContainerDefinition, mode: EffectiveNetworkMode): void {
  const name = c.name ?? '';
  if (c.links?.length && mode !== 'bridge') {
    fail(`Links are not supported when networkMode=${mode}. Remove 'links' from container '${name}' or use bridge mode.`);
  }
  if (mode === 'awsvpc' && c.hostname !== undefined) {
    fail(`The 'hostname' parameter is not supported when networkMode=awsvpc (container '${name}'). Remove it.`);
  }
  if (mode === 'awsvpc' && c.extraHosts?.length) {
    fail(`The 'extraHosts' parameter is not supported when networkMode=awsvpc (container '${name}'). Remove it.`);
  }
  if (mode === 'host' && c.hostname !== undefined) {
    fail(`The 'hostname' parameter is not supported when networkMode=host (container '${name}'). Remove it.`);
  }
}

function validateHealthCheck(c: ContainerDefinition): void {
  const hc = c.healthCheck;
  if (!hc) return;
  const name = c.name ?? '';
  const command = hc.command ?? [];
  if (command.length < 2 || (command[0] !== 'CMD' && command[0] !== 'CMD-SHELL')) {
    fail(
      `Invalid healthCheck command for container '${name}'. The command must start with CMD or CMD-SHELL followed by the ` +
        'command to run, for example ["CMD-SHELL", "curl -f http://localhost/ || exit 1"].',
    );
  }
  const ranges = [
    ['interval', hc.interval, 5, 300],
    ['timeout', hc.timeout, 2, 60],
    ['retries', hc.retries, 1, 10],
    ['startPeriod', hc.startPeriod, 0, 300],
  ] as const;
  for (const [field, value, min, max] of ranges) {
    if (value !== undefined && (!isInt(value) || value < min || value > max)) {
      fail(`Invalid healthCheck ${field} ${value} for container '${name}'. Use a value between ${min} and ${max}.`);
    }
  }
}

function validateUlimits(c: ContainerDefinition): void {
  const name = c.name ?? '';
  const seen = new Set<string>();
  for (const u of c.ulimits ?? []) {
    const limit = u.name ?? '';
    if (seen.has(limit)) fail(`Ulimit '${limit}' is set more than once in container '${name}'. Keep one entry per ulimit name.`);
    seen.add(limit);
    const soft = u.softLimit ?? 0;
    const hard = u.hardLimit ?? 0;
    if (!isInt(soft) || !isInt(hard) || soft < -1 || hard < -1) {
      fail(`Invalid ulimit '${limit}' in container '${name}'. softLimit and hardLimit must be whole numbers (-1 for unlimited).`);
    }
    if (hard !== -1 && (soft === -1 || soft > hard)) {
      fail(`Invalid ulimit '${limit}' in container '${name}'. softLimit (${soft}) must not be greater than hardLimit (${hard}).`);
    }
  }
}

function validateSecretsAndFiles(c: ContainerDefinition): void {
  const name = c.name ?? '';
  const seen = new Set<string>();
  for (const s of c.secrets ?? []) {
    if (!s.name) fail(`A secret in container '${name}' has an empty 'name'. Set the environment variable name.`);
    if (!s.valueFrom) fail(`Secret '${s.name}' in container '${name}' has an empty 'valueFrom'. Set the secret ARN or parameter name.`);
    if (seen.has(s.name ?? '')) fail(`Secret '${s.name}' is defined more than once in container '${name}'.`);
    seen.add(s.name ?? '');
  }
  for (const s of c.logConfiguration?.secretOptions ?? []) {
    if (!s.name || !s.valueFrom) fail(`Every logConfiguration.secretOptions entry of container '${name}' needs 'name' and 'valueFrom'.`);
  }
  const files = c.environmentFiles ?? [];
  if (files.length > MAX_ENVIRONMENT_FILES) {
    fail(`Container '${name}' has ${files.length} environment files; at most ${MAX_ENVIRONMENT_FILES} are allowed.`);
  }
  for (const f of files) {
    if (f.type !== 's3') fail(`Environment file type '${f.type}' in container '${name}' is not supported. Use 's3'.`);
    if (!S3_ENV_FILE_RE.test(f.value ?? '')) {
      fail(
        `Invalid environment file '${f.value}' in container '${name}'. Use the ARN of an S3 object with a .env extension, ` +
          'for example arn:aws:s3:::bucket/path/app.env.',
      );
    }
  }
}

function validateLinuxParameters(c: ContainerDefinition): void {
  const lp = c.linuxParameters;
  if (!lp) return;
  const name = c.name ?? '';
  if (lp.swappiness !== undefined && (!isInt(lp.swappiness) || lp.swappiness < 0 || lp.swappiness > 100)) {
    fail(`Invalid linuxParameters.swappiness for container '${name}'. Use a whole number between 0 and 100.`);
  }
  if (lp.maxSwap !== undefined && (!isInt(lp.maxSwap) || lp.maxSwap < 0)) {
    fail(`Invalid linuxParameters.maxSwap for container '${name}'. Use a whole number of MiB, 0 or more.`);
  }
  if (lp.sharedMemorySize !== undefined && (!isInt(lp.sharedMemorySize) || lp.sharedMemorySize <= 0)) {
    fail(`Invalid linuxParameters.sharedMemorySize for container '${name}'. Use a whole number of MiB greater than 0.`);
  }
  for (const t of lp.tmpfs ?? []) {
    if (!t.containerPath) fail(`A tmpfs mount in container '${name}' needs a 'containerPath'.`);
    if (!isInt(t.size) || (t.size ?? 0) <= 0) fail(`tmpfs mount '${t.containerPath}' in container '${name}' needs a 'size' in MiB greater than 0.`);
  }
  for (const d of lp.devices ?? []) {
    if (!d.hostPath) fail(`A device in container '${name}' needs a 'hostPath'.`);
  }
}

function validateResourceRequirements(c: ContainerDefinition, input: RegisterTaskDefinitionInput): void {
  const name = c.name ?? '';
  const seen = new Set<string>();
  for (const r of c.resourceRequirements ?? []) {
    const type = r.type ?? '';
    if (seen.has(type)) fail(`Resource requirement type ${type} is listed more than once in container '${name}'.`);
    seen.add(type);
    const value = r.value ?? '';
    if (type === 'GPU' || type === 'NeuronDevice') {
      if (!/^[1-9]\d*$/.test(value)) fail(`Invalid ${type} resource requirement '${value}' in container '${name}'. Use a whole number greater than 0.`);
    } else if (type === 'InferenceAccelerator') {
      if (!(input.inferenceAccelerators ?? []).some((a) => a.deviceName === value)) {
        fail(`Container '${name}' requests inference accelerator '${value}', which is not in the task definition's inferenceAccelerators.`);
      }
    }
  }
}

// ---- across containers ----

function validatePortsAcrossTask(containers: readonly ContainerDefinition[], mode: EffectiveNetworkMode): void {
  const owners = new Map<string, string>();
  for (const c of containers) {
    for (const p of c.portMappings ?? []) {
      if (p.containerPortRange !== undefined) continue;
      // In awsvpc and host mode the container port is the port on the shared interface.
      const port = mode === 'bridge' ? p.hostPort ?? 0 : p.containerPort ?? 0;
      if (port === 0) continue;
      const key = `${port}/${p.protocol ?? 'tcp'}`;
      const owner = owners.get(key);
      if (owner !== undefined) {
        const who = owner === c.name ? `container '${owner}'` : `containers '${owner}' and '${c.name}'`;
        fail(
          `Host port ${key} is mapped more than once (${who}). A port can be bound only once per task; ` +
            (mode === 'bridge' ? 'use another hostPort or 0 for a dynamic port.' : 'use another containerPort.'),
        );
      }
      owners.set(key, c.name ?? '');
    }
  }
}

function validateFirelens(containers: readonly ContainerDefinition[]): void {
  const routers = containers.filter((c) => c.firelensConfiguration);
  if (routers.length > 1) {
    fail(`Only one container can have a firelensConfiguration; found ${routers.map((c) => `'${c.name}'`).join(', ')}.`);
  }
  for (const c of containers) {
    if (c.logConfiguration?.logDriver === 'awsfirelens' && routers.length === 0) {
      fail(
        `Container '${c.name}' uses log driver awsfirelens, but no container in the task has a firelensConfiguration. ` +
          'Add a log router container with firelensConfiguration.',
      );
    }
  }
}

function validateTotals(containers: readonly ContainerDefinition[], facts: ValidatedFacts): void {
  if (facts.cpu !== undefined) {
    for (const c of containers) {
      if ((c.cpu ?? 0) > facts.cpu) fail(`The 'cpu' setting for container '${c.name}' is greater than for the task. Lower it to at most ${facts.cpu}.`);
    }
    const total = containers.reduce((sum, c) => sum + (c.cpu ?? 0), 0);
    if (total > facts.cpu) {
      fail(`The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu' (${total} > ${facts.cpu}).`);
    }
  }
  if (facts.memory !== undefined) {
    for (const c of containers) {
      if ((c.memory ?? 0) > facts.memory) {
        fail(`The 'memory' setting for container '${c.name}' is greater than for the task. Lower it to at most ${facts.memory}.`);
      }
      if ((c.memoryReservation ?? 0) > facts.memory) {
        fail(`The 'memoryReservation' setting for container '${c.name}' is greater than for the task. Lower it to at most ${facts.memory}.`);
      }
    }
    // Each container reserves its memoryReservation when set, otherwise its hard limit.
    const reserved = containers.reduce((sum, c) => sum + (c.memoryReservation ?? c.memory ?? 0), 0);
    if (reserved > facts.memory) {
      const field = containers.some((c) => c.memoryReservation !== undefined) ? 'memoryReservation' : 'memory';
      fail(`The sum of all container '${field}' values cannot be greater than the value of the task 'memory' (${reserved} > ${facts.memory}).`);
    }
  }
}

function validateDependencies(containers: readonly ContainerDefinition[]): void {
  const byName = new Map(containers.map((c) => [c.name ?? '', c]));
  const edges = new Map<string, string[]>();
  for (const c of containers) {
    const name = c.name ?? '';
    const targets: string[] = [];
    for (const d of c.dependsOn ?? []) {
      const targetName = d.containerName ?? '';
      const target = byName.get(targetName);
      if (!target) {
        fail(`Cannot depend on container + '${targetName}' because it does not exist. Fix dependsOn of container '${name}'.`);
      }
      if (targetName === name) fail(`Container '${name}' cannot depend on itself. Remove it from its own dependsOn.`);
      if ((d.condition === 'SUCCESS' || d.condition === 'COMPLETE') && target?.essential !== false) {
        fail(
          'A dependency container with SUCCESS or COMPLETE condition cannot be an essential container. ' +
            `Set 'essential' to false on container '${targetName}' or use condition START or HEALTHY.`,
        );
      }
      if (d.condition === 'HEALTHY' && !target?.healthCheck) {
        fail(
          `Container '${name}' depends on container '${targetName}' being HEALTHY, but '${targetName}' has no healthCheck. ` +
            'Add a healthCheck to it or use another condition.',
        );
      }
      targets.push(targetName);
    }
    edges.set(name, targets);
  }
  const cycle = findCycle([...byName.keys()], edges);
  if (cycle) {
    fail(`Container dependencies must not form a cycle: ${cycle.join(' -> ')}. Remove one of these dependsOn entries.`);
  }
}

function validateLinks(containers: readonly ContainerDefinition[]): void {
  const names = containers.map((c) => c.name ?? '');
  const edges = new Map<string, string[]>();
  for (const c of containers) {
    const name = c.name ?? '';
    const targets: string[] = [];
    const aliases = new Set<string>();
    for (const link of c.links ?? []) {
      const [target = '', alias, ...rest] = link.split(':');
      if (rest.length || !NAME_RE.test(target) || (alias !== undefined && !NAME_RE.test(alias))) {
        fail(`Invalid link '${link}' in container '${name}'. Use 'name' or 'name:alias'. ${NAME_RULE}`);
      }
      if (target === name) fail(`Container '${name}' cannot link to itself. Remove '${link}' from its links.`);
      if (!names.includes(target)) fail(`Container '${name}' links to container '${target}', which does not exist in this task definition.`);
      const effectiveAlias = alias ?? target;
      if (aliases.has(effectiveAlias)) fail(`Container '${name}' uses link alias '${effectiveAlias}' more than once.`);
      aliases.add(effectiveAlias);
      targets.push(target);
    }
    edges.set(name, targets);
  }
  const cycle = findCycle(names, edges);
  if (cycle) fail(`Container links should not have a cycle: ${cycle.join(' -> ')}. Remove one of these links.`);
}

function validateTaskExtras(input: RegisterTaskDefinitionInput, names: ReadonlySet<string>): void {
  const constraints = input.placementConstraints ?? [];
  if (constraints.length > MAX_PLACEMENT_CONSTRAINTS) {
    fail(`Too many placement constraints: ${constraints.length}. A task definition can have at most ${MAX_PLACEMENT_CONSTRAINTS}.`);
  }
  for (const pc of constraints) {
    if (pc.type === 'memberOf' && !pc.expression) fail("A memberOf placement constraint needs an 'expression'.");
  }
  const proxy = input.proxyConfiguration;
  if (proxy && !names.has(proxy.containerName ?? '')) {
    fail(`proxyConfiguration names container '${proxy.containerName}', which does not exist in this task definition.`);
  }
  const devices = new Set<string>();
  for (const a of input.inferenceAccelerators ?? []) {
    if (devices.has(a.deviceName ?? '')) fail(`Inference accelerator device name '${a.deviceName}' is used more than once.`);
    devices.add(a.deviceName ?? '');
  }
  const size = input.ephemeralStorage?.sizeInGiB;
  if (input.ephemeralStorage && (!isInt(size) || size < 21 || size > 200)) {
    fail(`Invalid ephemeralStorage sizeInGiB ${size}. Use a whole number of GiB between 21 and 200.`);
  }
}

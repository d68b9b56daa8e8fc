/**
 * RegisterTaskDefinition semantics: request in, stored task definition out.
 *
 * `normalizeTaskDefinition` is pure: it validates the request, fills in the
 * defaults ECS fills in, and computes the members ECS computes
 * (`taskDefinitionArn`, `status`, `requiresAttributes`, `compatibilities`).
 * The result is exactly what DescribeTaskDefinition returns for this
 * revision. Tags are not part of it.
 */
import type { ContainerDefinition, HealthCheck, PortMapping, Volume } from '@aws-sdk/client-ecs';
import { ClientException } from '../../core/errors.js';
import { computeRequiresAttributes } from './attributes.js';
import { computeCompatibilities, incompatibilityReasons } from './compatibility.js';
import type { EffectiveNetworkMode, RegisterTaskDefinitionInput, RegistrationContext, TaskDefinitionDoc } from './types.js';
import { validateRegistration } from './validate.js';

/** Health check defaults ECS stores when the request omits them. */
export const HEALTH_CHECK_DEFAULTS = { interval: 30, timeout: 5, retries: 3 } as const;

/** ContainerDefinition members in ECS model order; members outside this list are not stored. */
const CONTAINER_KEYS = [
  'name', 'image', 'repositoryCredentials', 'cpu', 'memory', 'memoryReservation', 'links', 'portMappings',
  'essential', 'restartPolicy', 'entryPoint', 'command', 'environment', 'environmentFiles', 'mountPoints',
  'volumesFrom', 'linuxParameters', 'secrets', 'dependsOn', 'startTimeout', 'stopTimeout', 'versionConsistency',
  'hostname', 'user', 'workingDirectory', 'disableNetworking', 'privileged', 'readonlyRootFilesystem', 'dnsServers',
  'dnsSearchDomains', 'extraHosts', 'dockerSecurityOptions', 'interactive', 'pseudoTerminal', 'dockerLabels',
  'ulimits', 'logConfiguration', 'healthCheck', 'systemControls', 'resourceRequirements', 'firelensConfiguration',
  'credentialSpecs',
] as const satisfies readonly (keyof ContainerDefinition)[];

const PORT_MAPPING_KEYS = ['containerPort', 'hostPort', 'protocol', 'name', 'appProtocol', 'containerPortRange'] as const satisfies readonly (keyof PortMapping)[];

const VOLUME_KEYS = [
  'name', 'host', 'dockerVolumeConfiguration', 'efsVolumeConfiguration', 'fsxWindowsFileServerVolumeConfiguration', 'configuredAtLaunch',
] as const satisfies readonly (keyof Volume)[];

/** Copies the defined members of `source` listed in `keys`, in that order. */
function ordered<T extends object>(source: T, keys: readonly (keyof T)[]): T {
  const out: Partial<T> = {};
  for (const key of keys) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  return out as T;
}

export function normalizePortMapping(p: PortMapping, mode: EffectiveNetworkMode): PortMapping {
  const out: PortMapping = { ...p, protocol: p.protocol ?? 'tcp' };
  if (p.containerPortRange === undefined) {
    // Bridge mode stores 0 (a dynamic host port); awsvpc and host mode use the container port itself.
    out.hostPort = p.hostPort ?? (mode === 'bridge' ? 0 : p.containerPort);
  }
  return ordered(out, PORT_MAPPING_KEYS);
}

function normalizeHealthCheck(hc: HealthCheck): HealthCheck {
  return {
    command: hc.command,
    interval: hc.interval ?? HEALTH_CHECK_DEFAULTS.interval,
    timeout: hc.timeout ?? HEALTH_CHECK_DEFAULTS.timeout,
    retries: hc.retries ?? HEALTH_CHECK_DEFAULTS.retries,
    ...(hc.startPeriod !== undefined ? { startPeriod: hc.startPeriod } : {}),
  };
}

/** A container definition with the defaults ECS fills in: cpu 0, essential true, and empty lists it always returns. */
export function normalizeContainer(c: ContainerDefinition, mode: EffectiveNetworkMode): ContainerDefinition {
  return ordered(
    {
      ...c,
      cpu: c.cpu ?? 0,
      portMappings: (c.portMappings ?? []).map((p) => normalizePortMapping(p, mode)),
      essential: c.essential ?? true,
      environment: c.environment ?? [],
      mountPoints: c.mountPoints ?? [],
      volumesFrom: c.volumesFrom ?? [],
      systemControls: c.systemControls ?? [],
      healthCheck: c.healthCheck ? normalizeHealthCheck(c.healthCheck) : undefined,
    },
    CONTAINER_KEYS,
  );
}

/**
 * A volume as ECS stores it: a bare name becomes a task-scoped volume (`host: {}`), Docker volumes default to task scope,
 * EFS volumes to the file system's root directory (`/`).
 */
export function normalizeVolume(v: Volume): Volume {
  const typed =
    v.host !== undefined || v.dockerVolumeConfiguration !== undefined || v.efsVolumeConfiguration !== undefined ||
    v.fsxWindowsFileServerVolumeConfiguration !== undefined || v.configuredAtLaunch === true;
  return ordered(
    {
      ...v,
      host: typed ? v.host : {},
      dockerVolumeConfiguration: v.dockerVolumeConfiguration
        ? { ...v.dockerVolumeConfiguration, scope: v.dockerVolumeConfiguration.scope ?? 'task' }
        : undefined,
      // ECS mounts the file system's root when no directory is named, and says so.
      efsVolumeConfiguration: v.efsVolumeConfiguration
        ? { ...v.efsVolumeConfiguration, rootDirectory: v.efsVolumeConfiguration.rootDirectory ?? '/' }
        : undefined,
    },
    VOLUME_KEYS,
  );
}

/**
 * Validates a RegisterTaskDefinition request and returns the task definition
 * DescribeTaskDefinition returns for it. Throws ClientException when the
 * request breaks an ECS rule, including when it does not fit a launch type
 * named in `requiresCompatibilities`. Does not modify `input`.
 */
export function normalizeTaskDefinition(input: RegisterTaskDefinitionInput, ctx: RegistrationContext): TaskDefinitionDoc {
  const req = structuredClone(input);
  const facts = validateRegistration(req);
  const family = req.family ?? '';

  const doc: TaskDefinitionDoc = {
    taskDefinitionArn: `arn:aws:ecs:${ctx.region}:${ctx.accountId}:task-definition/${family}:${ctx.revision}`,
    containerDefinitions: (req.containerDefinitions ?? []).map((c) => normalizeContainer(c, facts.networkMode)),
    family,
    taskRoleArn: req.taskRoleArn,
    executionRoleArn: req.executionRoleArn,
    networkMode: req.networkMode,
    revision: ctx.revision,
    volumes: (req.volumes ?? []).map(normalizeVolume),
    status: 'ACTIVE',
    requiresAttributes: undefined,
    placementConstraints: req.placementConstraints ?? [],
    compatibilities: [],
    runtimePlatform: req.runtimePlatform,
    requiresCompatibilities: req.requiresCompatibilities,
    cpu: facts.cpu === undefined ? undefined : String(facts.cpu),
    memory: facts.memory === undefined ? undefined : String(facts.memory),
    inferenceAccelerators: req.inferenceAccelerators,
    pidMode: req.pidMode,
    ipcMode: req.ipcMode,
    proxyConfiguration: req.proxyConfiguration,
    registeredAt: ctx.registeredAt,
    registeredBy: ctx.registeredBy,
    ephemeralStorage: req.ephemeralStorage,
    enableFaultInjection: req.enableFaultInjection ?? false,
  };

  for (const launchType of req.requiresCompatibilities ?? []) {
    const reason = incompatibilityReasons(doc, launchType)[0];
    if (reason !== undefined) throw new ClientException(reason);
  }
  doc.compatibilities = computeCompatibilities(doc);
  const attributes = computeRequiresAttributes(doc);
  if (attributes.length) doc.requiresAttributes = attributes;

  // Absent optional members are omitted, as on the wire.
  for (const key of Object.keys(doc) as (keyof TaskDefinitionDoc)[]) {
    if (doc[key] === undefined) delete doc[key];
  }
  return doc;
}

/**
 * Which launch types a task definition can run on.
 *
 * ECS validates every registration against each launch type and reports the
 * ones that pass in `compatibilities`; a launch type named in
 * `requiresCompatibilities` that does not pass makes the registration fail.
 * Each check here returns the reasons a definition does not fit, first reason
 * first, so the same code both computes `compatibilities` and explains a
 * rejection.
 *
 * The checks read a normalised doc (task `cpu`/`memory` already numeric
 * strings, container defaults filled in).
 */
import type { Compatibility, ContainerDefinition } from '@aws-sdk/client-ecs';
import { effectiveNetworkMode, type EffectiveNetworkMode, type TaskDefinitionDoc } from './types.js';

/** Valid Fargate task sizes: memory MiB allowed for each CPU value. */
const FARGATE_SIZES: ReadonlyArray<{ cpu: number; min: number; max: number; step: number; linuxOnly: boolean }> = [
  { cpu: 256, min: 512, max: 2048, step: 512, linuxOnly: true }, // 512, 1024, 2048 (1536 excluded below)
  { cpu: 512, min: 1024, max: 4096, step: 1024, linuxOnly: true },
  { cpu: 1024, min: 2048, max: 8192, step: 1024, linuxOnly: false },
  { cpu: 2048, min: 4096, max: 16384, step: 1024, linuxOnly: false },
  { cpu: 4096, min: 8192, max: 30720, step: 1024, linuxOnly: false },
  { cpu: 8192, min: 16384, max: 61440, step: 4096, linuxOnly: true },
  { cpu: 16384, min: 32768, max: 122880, step: 8192, linuxOnly: true },
];

/** True when `cpu` units and `memory` MiB are one of the Fargate task sizes. */
export function isFargateSize(cpu: number, memory: number, windows = false): boolean {
  const size = FARGATE_SIZES.find((s) => s.cpu === cpu);
  if (!size || (windows && size.linuxOnly)) return false;
  if (cpu === 256) return memory === 512 || memory === 1024 || memory === 2048;
  return memory >= size.min && memory <= size.max && (memory - size.min) % size.step === 0;
}

function fargateSizeHint(cpu: number): string {
  const size = FARGATE_SIZES.find((s) => s.cpu === cpu);
  if (!size) return `Fargate 'cpu' must be one of ${FARGATE_SIZES.map((s) => s.cpu).join(', ')}.`;
  if (cpu === 256) return "With 256 CPU, 'memory' must be 512, 1024 or 2048.";
  return `With ${cpu} CPU, 'memory' must be between ${size.min} and ${size.max} in steps of ${size.step}.`;
}

/** Fargate log drivers. */
const FARGATE_LOG_DRIVERS = ['awslogs', 'splunk', 'awsfirelens'];

const isWindows = (doc: Pick<TaskDefinitionDoc, 'runtimePlatform'>): boolean =>
  (doc.runtimePlatform?.operatingSystemFamily ?? '').startsWith('WINDOWS');

const isEcrImage = (image: string | undefined): boolean => /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com/.test(image ?? '');

/**
 * Task-level Fargate requirements: network mode and task size. Checked early
 * during registration so a Fargate definition without task-level sizes gets
 * the Fargate message rather than a per-container memory message.
 */
export function fargateTaskLevelReasons(
  networkMode: EffectiveNetworkMode,
  cpu: number | undefined,
  memory: number | undefined,
  windows: boolean,
): string[] {
  if (networkMode !== 'awsvpc') return ['Fargate only supports network mode ‘awsvpc’. Set networkMode to awsvpc.'];
  if (cpu === undefined) return ["Fargate requires that 'cpu' be defined at the task level."];
  if (memory === undefined) return ["Fargate requires that 'memory' be defined at the task level."];
  if (!isFargateSize(cpu, memory, windows)) {
    return [`No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory. ${fargateSizeHint(cpu)}`];
  }
  return [];
}

function fargateContainerReasons(doc: TaskDefinitionDoc, c: ContainerDefinition): string[] {
  const name = c.name ?? '';
  const reasons: string[] = [];
  const unsupported = (param: string): void => {
    reasons.push(`Fargate does not support '${param}' (container '${name}'). Remove it or drop FARGATE from requiresCompatibilities.`);
  };
  if (c.privileged) reasons.push('Fargate requires that the privileged setting be false at the container level.');
  if (c.links?.length) unsupported('links');
  if (c.hostname !== undefined) unsupported('hostname');
  if (c.disableNetworking !== undefined) unsupported('disableNetworking');
  if (c.dnsServers?.length) unsupported('dnsServers');
  if (c.dnsSearchDomains?.length) unsupported('dnsSearchDomains');
  if (c.extraHosts?.length) unsupported('extraHosts');
  if (c.dockerSecurityOptions?.length) unsupported('dockerSecurityOptions');
  const lp = c.linuxParameters;
  if (lp?.devices?.length) unsupported('linuxParameters.devices');
  if (lp?.sharedMemorySize !== undefined) unsupported('linuxParameters.sharedMemorySize');
  if (lp?.tmpfs?.length) unsupported('linuxParameters.tmpfs');
  if (lp?.maxSwap !== undefined) unsupported('linuxParameters.maxSwap');
  if (lp?.swappiness !== undefined) unsupported('linuxParameters.swappiness');
  const added = (lp?.capabilities?.add ?? []).filter((cap) => cap !== 'SYS_PTRACE');
  if (added.length) {
    reasons.push(`Fargate only supports adding the SYS_PTRACE kernel capability; container '${name}' adds ${added.join(', ')}.`);
  }
  if (c.resourceRequirements?.some((r) => r.type === 'GPU')) unsupported('resourceRequirements of type GPU');
  if (c.stopTimeout !== undefined && c.stopTimeout > 120) {
    reasons.push(`Fargate supports a container 'stopTimeout' of at most 120 seconds; container '${name}' sets ${c.stopTimeout}.`);
  }
  const log = c.logConfiguration;
  if (log) {
    if (!FARGATE_LOG_DRIVERS.includes(log.logDriver ?? '')) {
      reasons.push(`Fargate does not support log driver ${log.logDriver} (container '${name}'). Use one of ${FARGATE_LOG_DRIVERS.join(', ')}.`);
    }
    if (log.logDriver === 'awslogs') {
      if (!doc.executionRoleArn) {
        reasons.push('Fargate requires task definition to have execution role ARN to support log driver awslogs.');
      }
      if (!log.options?.['awslogs-stream-prefix']) {
        reasons.push('Fargate requires log configuration options to include awslogs-stream-prefix to support log driver awslogs.');
      }
    }
  }
  if (isEcrImage(c.image) && !doc.executionRoleArn) {
    reasons.push('Fargate requires task definition to have execution role ARN to support ECR images.');
  }
  return reasons;
}

/** Reasons the definition cannot run on Fargate; empty when it can. */
export function fargateReasons(doc: TaskDefinitionDoc): string[] {
  const cpu = doc.cpu === undefined ? undefined : Number(doc.cpu);
  const memory = doc.memory === undefined ? undefined : Number(doc.memory);
  const reasons = fargateTaskLevelReasons(effectiveNetworkMode(doc.networkMode), cpu, memory, isWindows(doc));
  if (doc.ipcMode !== undefined) reasons.push("Fargate does not support 'ipcMode'. Remove it or drop FARGATE from requiresCompatibilities.");
  if (doc.pidMode === 'host') reasons.push("Fargate only supports pidMode 'task'.");
  if (doc.placementConstraints.length) {
    reasons.push('Fargate does not support task placement constraints. Remove placementConstraints or drop FARGATE from requiresCompatibilities.');
  }
  if (doc.inferenceAccelerators?.length) reasons.push("Fargate does not support 'inferenceAccelerators'.");
  for (const v of doc.volumes) {
    if (v.dockerVolumeConfiguration) reasons.push(`Fargate does not support 'dockerVolumeConfiguration' (volume '${v.name}').`);
    if (v.host?.sourcePath !== undefined) {
      reasons.push(`Fargate does not support host paths (volume '${v.name}' sets host.sourcePath). Leave 'host' empty for a task-scoped volume.`);
    }
  }
  for (const c of doc.containerDefinitions) reasons.push(...fargateContainerReasons(doc, c));
  return reasons;
}

/** Reasons the definition cannot run on external (ECS Anywhere style) instances. */
export function externalReasons(doc: TaskDefinitionDoc): string[] {
  const reasons: string[] = [];
  if (effectiveNetworkMode(doc.networkMode) === 'awsvpc') {
    reasons.push('External instances do not support network mode awsvpc. Use bridge, host or none.');
  }
  for (const v of doc.volumes) {
    if (v.efsVolumeConfiguration) reasons.push(`External instances do not support EFS volumes (volume '${v.name}').`);
    if (v.fsxWindowsFileServerVolumeConfiguration) {
      reasons.push(`External instances do not support FSx for Windows File Server volumes (volume '${v.name}').`);
    }
  }
  if (doc.proxyConfiguration) reasons.push("External instances do not support 'proxyConfiguration'.");
  if (doc.inferenceAccelerators?.length) reasons.push("External instances do not support 'inferenceAccelerators'.");
  return reasons;
}

/** Reasons the definition cannot run on managed instances: they run awsvpc and host tasks only. */
export function managedInstancesReasons(doc: TaskDefinitionDoc): string[] {
  const mode = effectiveNetworkMode(doc.networkMode);
  return mode === 'awsvpc' || mode === 'host'
    ? []
    : [`Managed instances support network modes awsvpc and host only; this task definition uses ${mode}.`];
}

/** Reasons the definition does not fit `launchType`; EC2 accepts every definition that passed registration checks. */
export function incompatibilityReasons(doc: TaskDefinitionDoc, launchType: Compatibility): string[] {
  switch (launchType) {
    case 'EC2':
      return [];
    case 'FARGATE':
      return fargateReasons(doc);
    case 'EXTERNAL':
      return externalReasons(doc);
    case 'MANAGED_INSTANCES':
      return managedInstancesReasons(doc);
    default:
      return [`Unknown compatibility ${String(launchType)}. Use EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES.`];
  }
}

/**
 * The `compatibilities` member, in the order ECS lists it: EXTERNAL before EC2
 * for non-awsvpc definitions, then FARGATE, then MANAGED_INSTANCES.
 */
export function computeCompatibilities(doc: TaskDefinitionDoc): Compatibility[] {
  const order: Compatibility[] = ['EXTERNAL', 'EC2', 'FARGATE', 'MANAGED_INSTANCES'];
  return order.filter((launchType) => incompatibilityReasons(doc, launchType).length === 0);
}

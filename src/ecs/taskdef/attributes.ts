/**
 * `requiresAttributes`: the container-instance attributes a task definition
 * needs, computed from the features it uses.
 *
 * Placement only puts a task on an instance whose agent registered every one
 * of these attributes, so each entry names a capability a Berth agent reports
 * when it supports the feature. The names are the ECS agent capability names.
 *
 * Mapping (feature → attributes):
 *   awsvpc network mode            → docker-remote-api.1.18, ecs.capability.task-eni
 *   taskRoleArn                    → task-iam-role (+ task-iam-role-network-host in host mode)
 *   pidMode / ipcMode              → ecs.capability.pid-ipc-namespace-sharing
 *   proxyConfiguration             → ecs.capability.aws-appmesh
 *   inferenceAccelerators          → ecs.capability.task-eia
 *   EFS volume                     → ecs.capability.efs, ecs.capability.efsAuth, docker-remote-api.1.25
 *   FSx for Windows volume         → ecs.capability.fsxWindowsFileServer
 *   Docker volume (driver d)       → ecs.capability.docker-plugin.d (d defaults to local)
 *   enableFaultInjection           → ecs.capability.fault-injection
 *   ECR image                      → ecr-auth (+ ecs.capability.execution-role-ecr-pull with an execution role)
 *   repositoryCredentials          → ecs.capability.private-registry-authentication.secretsmanager
 *   memoryReservation              → docker-remote-api.1.21
 *   privileged                     → privileged-container
 *   dockerLabels, ulimits          → docker-remote-api.1.18
 *   dockerSecurityOptions label:/apparmor: → selinux / apparmor
 *   logConfiguration (driver d)    → logging-driver.d, docker-remote-api.1.18
 *     with options                 → docker-remote-api.1.19
 *     option mode                  → docker-remote-api.1.28
 *     option awslogs-create-group  → docker-remote-api.1.29
 *     awslogs + execution role     → ecs.capability.execution-role-awslogs
 *     secretOptions (SM / SSM)     → ecs.capability.secrets.{asm,ssm}.bootstrap.log-driver
 *     awsfirelens + log-driver-buffer-limit → ecs.capability.logging-driver.awsfirelens.log-driver-buffer-limit
 *   healthCheck                    → ecs.capability.container-health-check, docker-remote-api.1.24
 *   dependsOn/startTimeout/stopTimeout → ecs.capability.container-ordering
 *   secrets (SM / SSM)             → ecs.capability.secrets.{asm,ssm}.environment-variables
 *   environmentFiles               → ecs.capability.env-files.s3
 *   initProcessEnabled             → docker-remote-api.1.25
 *   sharedMemorySize, tmpfs        → docker-remote-api.1.22
 *   firelensConfiguration (type t) → ecs.capability.firelens.t (+ firelens.options.config.{file,s3})
 *   containerPortRange             → ecs.capability.network.container-port-range
 *   restartPolicy.enabled          → ecs.capability.container-restart-policy
 *   credentialSpecs                → ecs.capability.gmsa or ecs.capability.gmsa-domainless
 *
 * Order is deterministic (task-level features, then containers in order) and
 * each name appears once. An empty result means the member is omitted.
 */
import type { Attribute, ContainerDefinition, Secret } from '@aws-sdk/client-ecs';
import { effectiveNetworkMode, type TaskDefinitionDoc } from './types.js';

const LEGACY = 'com.amazonaws.ecs.capability.';
const CAP = 'ecs.capability.';
const dockerApi = (version: string): string => `${LEGACY}docker-remote-api.${version}`;

const isEcrImage = (image: string | undefined): boolean => /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com/.test(image ?? '');
const isSecretsManager = (s: Secret): boolean => (s.valueFrom ?? '').includes(':secretsmanager:');

function containerAttributes(doc: TaskDefinitionDoc, c: ContainerDefinition, add: (name: string) => void): void {
  if (isEcrImage(c.image)) {
    add(`${LEGACY}ecr-auth`);
    if (doc.executionRoleArn) add(`${CAP}execution-role-ecr-pull`);
  }
  if (c.repositoryCredentials) add(`${CAP}private-registry-authentication.secretsmanager`);
  if (c.memoryReservation !== undefined) add(dockerApi('1.21'));
  if (c.privileged) add(`${LEGACY}privileged-container`);
  if (c.dockerLabels && Object.keys(c.dockerLabels).length) add(dockerApi('1.18'));
  if (c.ulimits?.length) add(dockerApi('1.18'));
  for (const opt of c.dockerSecurityOptions ?? []) {
    if (opt.startsWith('label:')) add(`${LEGACY}selinux`);
    if (opt.startsWith('apparmor:')) add(`${LEGACY}apparmor`);
  }

  const log = c.logConfiguration;
  if (log?.logDriver) {
    add(`${LEGACY}logging-driver.${log.logDriver}`);
    add(dockerApi('1.18'));
    const options = log.options ?? {};
    if (Object.keys(options).length) add(dockerApi('1.19'));
    if (options['mode'] !== undefined) add(dockerApi('1.28'));
    if (options['awslogs-create-group'] !== undefined) add(dockerApi('1.29'));
    if (log.logDriver === 'awslogs' && doc.executionRoleArn) add(`${CAP}execution-role-awslogs`);
    if (log.logDriver === 'awsfirelens' && options['log-driver-buffer-limit'] !== undefined) {
      add(`${CAP}logging-driver.awsfirelens.log-driver-buffer-limit`);
    }
    for (const s of log.secretOptions ?? []) {
      add(`${CAP}secrets.${isSecretsManager(s) ? 'asm' : 'ssm'}.bootstrap.log-driver`);
    }
  }

  if (c.healthCheck) {
    add(`${CAP}container-health-check`);
    add(dockerApi('1.24'));
  }
  if (c.dependsOn?.length || c.startTimeout !== undefined || c.stopTimeout !== undefined) add(`${CAP}container-ordering`);
  for (const s of c.secrets ?? []) add(`${CAP}secrets.${isSecretsManager(s) ? 'asm' : 'ssm'}.environment-variables`);
  if (c.environmentFiles?.length) add(`${CAP}env-files.s3`);

  const lp = c.linuxParameters;
  if (lp?.initProcessEnabled) add(dockerApi('1.25'));
  if (lp?.sharedMemorySize !== undefined || lp?.tmpfs?.length) add(dockerApi('1.22'));

  const firelens = c.firelensConfiguration;
  if (firelens?.type) {
    add(`${CAP}firelens.${firelens.type}`);
    const configType = firelens.options?.['config-file-type'];
    if (configType === 'file' || configType === 's3') add(`${CAP}firelens.options.config.${configType}`);
  }
  if (c.portMappings?.some((p) => p.containerPortRange !== undefined)) add(`${CAP}network.container-port-range`);
  if (c.restartPolicy?.enabled) add(`${CAP}container-restart-policy`);
  for (const spec of c.credentialSpecs ?? []) {
    add(spec.startsWith('credentialspecdomainless:') ? `${CAP}gmsa-domainless` : `${CAP}gmsa`);
  }
}

export function computeRequiresAttributes(doc: TaskDefinitionDoc): Attribute[] {
  const names: string[] = [];
  const add = (name: string): void => {
    if (!names.includes(name)) names.push(name);
  };

  const mode = effectiveNetworkMode(doc.networkMode);
  if (mode === 'awsvpc') {
    add(dockerApi('1.18'));
    add(`${CAP}task-eni`);
  }
  if (doc.taskRoleArn) {
    add(`${LEGACY}task-iam-role`);
    if (mode === 'host') add(`${LEGACY}task-iam-role-network-host`);
  }
  if (doc.pidMode !== undefined || doc.ipcMode !== undefined) add(`${CAP}pid-ipc-namespace-sharing`);
  if (doc.proxyConfiguration) add(`${CAP}aws-appmesh`);
  if (doc.inferenceAccelerators?.length) add(`${CAP}task-eia`);
  for (const v of doc.volumes) {
    if (v.efsVolumeConfiguration) {
      add(`${CAP}efs`);
      add(`${CAP}efsAuth`);
      add(dockerApi('1.25'));
    }
    if (v.fsxWindowsFileServerVolumeConfiguration) add(`${CAP}fsxWindowsFileServer`);
    if (v.dockerVolumeConfiguration) add(`${CAP}docker-plugin.${v.dockerVolumeConfiguration.driver ?? 'local'}`);
  }
  if (doc.enableFaultInjection) add(`${CAP}fault-injection`);

  for (const c of doc.containerDefinitions) containerAttributes(doc, c, add);
  return names.map((name) => ({ name }));
}

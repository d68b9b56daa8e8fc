/**
 * Task metadata endpoint documents (version 4, also served for version 3),
 * built from the engine's records with the member names ECS containers
 * expect. Pure.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { clusterName, stopWanted, type ContainerPhase, type ContainerRecord, type TaskRecord } from '../engine/model.js';
import { containerDefinitions, containerLimits, networkModeOf, taskLabels, taskLimits, LABEL_CONTAINER_NAME } from '../engine/spec.js';

export interface MetadataContext {
  availabilityZone?: string;
}

type Json = Record<string, unknown>;

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The ECS agent's known-status names for containers. */
function knownStatus(phase: ContainerPhase): string {
  return phase === 'PENDING' ? 'NONE' : phase;
}

function compact(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function definition(r: TaskRecord, name: string): ContainerDefinition | undefined {
  return containerDefinitions(r.task).find((d) => d.name === name);
}

export function containerDocument(r: TaskRecord, c: ContainerRecord): Json {
  const def = definition(r, c.name);
  const limits = containerLimits(r.task, c.name);
  const mode = networkModeOf(r.task);
  const log = def?.logConfiguration;
  const ports = c.networkBindings.map((b) => ({ ContainerPort: b.containerPort, Protocol: b.protocol, HostPort: b.hostPort, HostIp: b.bindIP }));
  const memory = limits.memory ?? limits.memoryReservation;
  return compact({
    DockerId: c.runtimeId ?? '',
    Name: c.name,
    DockerName: c.dockerName,
    Image: c.image,
    ImageID: c.imageId,
    Ports: ports.length ? ports : undefined,
    Labels: { ...(def?.dockerLabels ?? {}), ...taskLabels(r.task), [LABEL_CONTAINER_NAME]: c.name },
    DesiredStatus: stopWanted(r) ? 'STOPPED' : 'RUNNING',
    KnownStatus: knownStatus(c.phase),
    ExitCode: c.phase === 'STOPPED' ? c.exitCode : undefined,
    Limits: compact({ CPU: limits.cpu, Memory: memory }),
    CreatedAt: iso(c.createdAt),
    StartedAt: iso(c.startedAt),
    FinishedAt: c.phase === 'STOPPED' ? iso(c.finishedAt) : undefined,
    Type: 'NORMAL',
    LogDriver: log?.logDriver,
    LogOptions: log?.options,
    ContainerARN: c.containerArn || undefined,
    Health: c.hasHealthCheck ? { status: c.health } : undefined,
    Networks: mode === 'none' ? undefined : [{ NetworkMode: mode, IPv4Addresses: c.ipv4Addresses }],
  });
}

export function taskDocument(r: TaskRecord, ctx: MetadataContext): Json {
  const limits = taskLimits(r.task);
  return compact({
    Cluster: clusterName(r.task.clusterArn),
    TaskARN: r.taskArn,
    Family: r.task.taskDefinition.family,
    Revision: String(r.task.taskDefinition.revision),
    DesiredStatus: stopWanted(r) ? 'STOPPED' : 'RUNNING',
    KnownStatus: r.status,
    Limits:
      limits.cpu !== undefined || limits.memory !== undefined
        ? compact({ CPU: limits.cpu !== undefined ? limits.cpu / 1024 : undefined, Memory: limits.memory })
        : undefined,
    PullStartedAt: iso(r.pullStartedAt),
    PullStoppedAt: iso(r.pullStoppedAt),
    ExecutionStoppedAt: iso(r.executionStoppedAt),
    AvailabilityZone: ctx.availabilityZone,
    LaunchType: 'EC2',
    Containers: r.containers.map((c) => containerDocument(r, c)),
  });
}

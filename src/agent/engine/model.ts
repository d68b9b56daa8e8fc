/**
 * The agent's view of one task: what the server wants (`task`) and what the
 * agent has observed and decided (everything else).
 *
 * A TaskRecord is plain JSON: it is persisted as is in the agent's data dir
 * and survives agent restarts. Every timestamp is epoch milliseconds.
 *
 * Field ownership: `task` and `inDesiredSet` are written only from the
 * server's pushes; every other field is written only by the engine
 * (observation, reconciliation and effect outcomes).
 */
import { AGENT_TASK_STATES, type AgentTask, type AgentTaskState, type HealthStatus, type StopCode } from '../../protocol/agent.js';

export type { HealthStatus } from '../../protocol/agent.js';

/** The task lifecycle as the agent reports it, in order (see `protocol/agent.ts`). A task only moves forward. */
export const TASK_STATUSES = AGENT_TASK_STATES;
export type TaskStatus = AgentTaskState;

export function statusIndex(s: TaskStatus): number {
  return TASK_STATUSES.indexOf(s);
}

/**
 * A container's known progress, in order. ECS reports PENDING for the first
 * three (see `apiContainerStatus`).
 */
export const CONTAINER_PHASES = ['PENDING', 'PULLED', 'CREATED', 'RUNNING', 'STOPPED'] as const;
export type ContainerPhase = (typeof CONTAINER_PHASES)[number];

export function phaseIndex(p: ContainerPhase): number {
  return CONTAINER_PHASES.indexOf(p);
}


/** ECS `NetworkBinding`. */
export interface NetworkBinding {
  bindIP: string;
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface ContainerRecord {
  name: string;
  containerArn: string;
  /** Engine-side container name; deterministic, so a lost id is found again by name. */
  dockerName: string;
  /** Secret path segment of this container's metadata endpoint. */
  metadataToken: string;
  image: string;
  essential: boolean;
  phase: ContainerPhase;
  /** Engine container id, once created. */
  runtimeId?: string;
  imageId?: string;
  exitCode?: number;
  /** ECS container `reason`: why it stopped or could not start. */
  reason?: string;
  networkBindings: NetworkBinding[];
  /** IPv4 addresses of the container on its networks (bridge mode). */
  ipv4Addresses: string[];
  /** UNKNOWN without a health check or before the first verdict. */
  health: HealthStatus;
  hasHealthCheck: boolean;
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  /** The engine container is gone (removed at cleanup, or from outside). */
  removed?: boolean;
}

export type VolumeKind = 'bind' | 'docker';

export interface VolumeRecord {
  /** Name in the task definition. */
  name: string;
  kind: VolumeKind;
  /** Host path (bind) or engine volume name (docker). */
  source: string;
  /** `task`: created for this task and removed with it; `shared`: outlives it. Bind volumes are `host`. */
  scope: 'task' | 'shared' | 'host';
  /** Whether the agent must create the volume before containers use it. */
  provision: boolean;
  driver?: string;
  driverOptions?: Record<string, string>;
  labels?: Record<string, string>;
  /** Created by the agent, or (a shared volume without autoprovision) found to exist. */
  created: boolean;
  removed?: boolean;
}

/**
 * The group bounding all containers of a task with task-level `cpu` or
 * `memory`. `pending`: to be created before the first container;
 * `created`: containers go into `cgroupParent`; `unsupported`: this host
 * cannot bound containers together, so each container is bounded by the
 * task's limits on its own (`reason` says why); `removed`: gone after stop.
 */
export interface TaskGroupRecord {
  name: string;
  cpuUnits?: number;
  memoryMiB?: number;
  state: 'pending' | 'created' | 'unsupported' | 'removed';
  cgroupParent?: string;
  reason?: string;
}

/** Why the task is stopping, and who decided it. */
export interface StopDecision {
  /** `server`: desired STOPPED (or dropped from the desired set); `agent`: the agent's own decision. */
  by: 'server' | 'agent';
  stopCode?: StopCode;
  reason?: string;
  at: number;
}

export interface TaskRecord {
  taskArn: string;
  /** The task as last pushed by the server. */
  task: AgentTask;
  /** False once a push no longer lists the task: the server no longer wants it here. */
  inDesiredSet: boolean;
  status: TaskStatus;
  stop?: StopDecision;
  containers: ContainerRecord[];
  volumes: VolumeRecord[];
  /** Present when the task has task-level `cpu` or `memory`. */
  taskGroup?: TaskGroupRecord;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  /** When the stopped task's containers and task-scope volumes are removed. */
  cleanupAt?: number;
  /** Containers and task volumes are removed; the record can be forgotten. */
  cleaned: boolean;
  /** Set after a transient runtime failure: nothing is attempted before then. */
  retryAt?: number;
  /** Why the task cannot run on this instance at all (set when the record is made); the engine stops it at once. */
  startFailure?: string;
}

/** The container status ECS shows: PENDING until started, then RUNNING, then STOPPED. */
export function apiContainerStatus(phase: ContainerPhase): 'PENDING' | 'RUNNING' | 'STOPPED' {
  return phase === 'RUNNING' ? 'RUNNING' : phase === 'STOPPED' ? 'STOPPED' : 'PENDING';
}

/**
 * Task health as ECS derives it from the essential containers that have a
 * health check: UNHEALTHY when one of them is, HEALTHY when all are,
 * UNKNOWN otherwise (also when none has a health check).
 */
export function taskHealth(containers: readonly ContainerRecord[]): HealthStatus {
  const checked = containers.filter((c) => c.essential && c.hasHealthCheck);
  if (checked.length === 0) return 'UNKNOWN';
  if (checked.some((c) => c.health === 'UNHEALTHY')) return 'UNHEALTHY';
  return checked.every((c) => c.health === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
}

/** Whether the engine should drive the task towards STOPPED. */
export function stopWanted(r: TaskRecord): boolean {
  return r.stop !== undefined || r.task.desiredStatus === 'STOPPED' || !r.inDesiredSet;
}

/** The task id: the last segment of its ARN. */
export function taskId(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1);
}

/** The cluster name from a cluster ARN (or the name itself). */
export function clusterName(clusterArnOrName: string): string {
  return clusterArnOrName.slice(clusterArnOrName.lastIndexOf('/') + 1);
}

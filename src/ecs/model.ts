/**
 * The ECS documents Berth stores, and who writes which field.
 *
 * Field ownership (every field has one writer; see also `protocol/agent.ts`):
 *
 * Task (`StoredTask`, kind `task`):
 * - Created only by the task writer (`writers/tasks.ts` `placeTasks`, on
 *   behalf of RunTask, StartTask and, next, the service controller): every
 *   field fixed at creation (definition, overrides, instance, group,
 *   startedBy, tags, containers' identities, `reservation`).
 * - `desiredStatus`, `stopCode`, `stoppedReason`, `stoppingAt`: the control
 *   plane's intent, written only by the task writer's `stopTasks` (StopTask,
 *   and later the service controller), or by `applyAgentReport` when the
 *   agent reports that it stopped the task on its own (the agent's own
 *   decision, carried in the report with its stop code).
 * - `lastStatus`, `pullStartedAt`, `pullStoppedAt`, `startedAt`,
 *   `stoppedAt`, `executionStoppedAt`, `connectivity*`, and per container
 *   `lastStatus`, `runtimeId`, `exitCode`, `reason`, `networkBindings`,
 *   `imageDigest`: observed state, written only by the task writer's
 *   `applyAgentReport` from what the instance's agent reports. The single
 *   exception is a task no agent has been sent yet (PROVISIONING without
 *   `sentToAgent`): stopping it moves it straight to STOPPED, since nothing
 *   can run.
 * - `sentToAgent` (beside the task, not on the wire): written only by
 *   `markSentToAgent`, for the dispatcher, before it pushes the task.
 * - `healthStatus` (task and containers): written only by `recordHealth`
 *   from the agent's health messages over its channel.
 * - `version`: bumped by every write of the task writer.
 *
 * Container instance (`ContainerInstanceDoc`, kind `containerInstance`):
 * - Registration fields, `status`, attributes, tags: the container instance
 *   operations (`containerInstances.ts`, `attributes.ts`, `tagging.ts`).
 * - `remainingResources`, `runningTasksCount`, `pendingTasksCount`: the
 *   instance accounting, written only by the task writer in the same
 *   transaction as the task change that moves them.
 * - `agentConnected`: written only by the dispatcher as the agent's channel
 *   opens and closes.
 */
import type { HealthStatus, StopCode, TaskState } from '../protocol/agent.js';
import type { Tag } from './tags.js';
import type { TaskDefinitionDoc } from './taskdef/types.js';

export interface Resource {
  name?: string;
  type?: string;
  doubleValue?: number;
  longValue?: number;
  integerValue?: number;
  stringSetValue?: string[];
}

export interface Attribute {
  name: string;
  value?: string;
  targetType?: string;
  targetId?: string;
}

/** A container instance as DescribeContainerInstances returns it. */
export interface ContainerInstanceDoc {
  containerInstanceArn: string;
  ec2InstanceId: string;
  version: number;
  versionInfo: { agentVersion?: string; agentHash?: string; dockerVersion?: string };
  remainingResources: Resource[];
  registeredResources: Resource[];
  status: 'REGISTERING' | 'ACTIVE' | 'DRAINING' | 'DEREGISTERING' | 'INACTIVE' | 'REGISTRATION_FAILED';
  statusReason?: string;
  agentConnected: boolean;
  runningTasksCount: number;
  pendingTasksCount: number;
  attributes: Attribute[];
  /** Epoch seconds. */
  registeredAt: number;
  attachments: unknown[];
  tags: Tag[];
  capacityProviderName?: string;
}

export interface NetworkBinding {
  bindIP?: string;
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
}

export interface TaskContainerDoc {
  containerArn: string;
  taskArn: string;
  name: string;
  image: string;
  runtimeId?: string;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
  networkBindings: NetworkBinding[];
  networkInterfaces: unknown[];
  healthStatus: HealthStatus;
  cpu?: string;
  memory?: string;
  memoryReservation?: string;
  /** Always empty: GPUs are not offered to tasks yet (see README). */
  gpuIds?: string[];
}

/** A task as DescribeTasks returns it (timestamps in epoch seconds). */
export interface TaskDoc {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  containerInstanceArn?: string;
  availabilityZone?: string;
  overrides: Record<string, unknown>;
  lastStatus: TaskState;
  desiredStatus: 'RUNNING' | 'STOPPED';
  healthStatus: HealthStatus;
  /** The task size: the definition's (after overrides), else the sum over its containers; absent only in rows written before it was always set. */
  cpu?: string;
  memory?: string;
  containers: TaskContainerDoc[];
  startedBy?: string;
  group: string;
  launchType: 'EC2' | 'EXTERNAL';
  version: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  executionStoppedAt?: number;
  connectivity?: string;
  connectivityAt?: number;
  stopCode?: StopCode;
  stoppedReason?: string;
  tags: Tag[];
  attachments: unknown[];
  attributes: unknown[];
  inferenceAccelerators?: unknown[];
  enableExecuteCommand: boolean;
}

/** What a task holds on its container instance until it stops. */
export interface Reservation {
  cpu: number;
  memory: number;
  tcpPorts: number[];
  udpPorts: number[];
}

/**
 * A stored task: the API document and what it reserved. The definition it
 * runs is the task definition row named by `task.taskDefinitionArn` (see
 * `taskDefinitionOf`); that row stays while a task that is not STOPPED runs it.
 */
export interface StoredTask {
  task: TaskDoc;
  reservation: Reservation;
  /** A copy of the definition, in rows written before tasks named theirs; read in preference to the row. */
  taskDefinition?: TaskDefinitionDoc;
  /**
   * Set once a push holding the task was about to go to its agent (written by
   * `markSentToAgent` for the dispatcher): a stop then waits for the agent.
   */
  sentToAgent?: boolean;
}

/** A task with the definition it runs, as the agent on its instance needs it. */
export interface TaskWithDefinition {
  stored: StoredTask;
  taskDefinition: TaskDefinitionDoc;
}

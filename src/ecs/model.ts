/**
 * The ECS documents Berth stores, and who writes which field.
 *
 * Field ownership (every field has one writer; see also `protocol/agent.ts`):
 *
 * Task (`StoredTask`, kind `task`):
 * - Created only by the task writer (`writers/tasks.ts` `placeTasks`, on
 *   behalf of RunTask, StartTask and the service controller): every
 *   field fixed at creation (definition, overrides, instance, group,
 *   startedBy, containers' identities, `reservation`).
 * - `tags`: set at creation; changed afterwards only by the task writer's
 *   `setTaskTags`, on behalf of TagResource and UntagResource (`tagging.ts`).
 * - `desiredStatus`, `stopCode`, `stoppedReason`, `stoppingAt`: the control
 *   plane's intent, written only by the task writer's `stopTaskInTx` (StopTask
 *   and the service controller), or by `applyAgentReport` when the
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
 * - `loadBalancers` (beside the document): fixed at creation by `placeTasks`.
 * - `drainHold` (beside the document): the control plane's hold on a stop
 *   while the task's targets drain; while it is set the task's `lastStatus`
 *   is DEACTIVATING (written by `stopTaskInTx`, like PROVISIONING a state of
 *   the server's own) and the dispatcher keeps asking the agent to run it.
 * - `protection` (on `StoredTask`, beside the document: scale-in protection
 *   is not a member of ECS's Task): written only by the task writer's
 *   `setTaskProtection`, on behalf of UpdateTaskProtection
 *   (`taskProtection.ts`). The service controller only reads it.
 *
 * Container instance (`ContainerInstanceDoc`, kind `containerInstance`):
 * - Registration fields, `status`, attributes, tags: the container instance
 *   operations (`containerInstances.ts`, `attributes.ts`, `tagging.ts`).
 * - `remainingResources`, `runningTasksCount`, `pendingTasksCount`: the
 *   instance accounting, written only by the task writer in the same
 *   transaction as the task change that moves them.
 * - `agentConnected`: written only by the dispatcher as the agent's channel
 *   opens and closes.
 *
 * Account setting (`Setting` in `accountSettings.ts`, kind `accountSetting`,
 * one row per principal and setting name): written only by the account
 * setting operations in `accountSettings.ts`.
 */
import type { BlueGreenState } from './deployments/blueGreen.js';
import type { HealthStatus, StopCode, TaskState } from '../protocol/agent.js';
import type { ServiceLoadBalancer } from './loadBalancers.js';
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
  /** Scale-in protection (UpdateTaskProtection); absent when never set. See `isTaskProtected`. */
  protection?: TaskProtection;
  /**
   * The target groups a service task is registered with (its deployment's or
   * task set's `loadBalancers` when it was placed); fixed at creation. Absent
   * on tasks of no service and on rows written before tasks named theirs
   * (their service's `loadBalancers` then apply).
   */
  loadBalancers?: ServiceLoadBalancer[];
  /**
   * Set while a service task stopped by the scheduler waits for its targets
   * to drain (`lastStatus` DEACTIVATING): its agent is still told to run it.
   * Written only by the task writer (`stopTaskInTx` with `drain`, and
   * `releaseDrainedTask` once every target of the task has drained).
   */
  drainHold?: boolean;
}

/** A task's scale-in protection as last set; it lapses at `expiresAt` (epoch seconds) without another write. */
export interface TaskProtection {
  enabled: boolean;
  expiresAt?: number;
}

/** Whether scale-in protection is on for `stored` at `nowMs`: enabled and not yet expired. */
export function isTaskProtected(stored: Pick<StoredTask, 'protection'>, nowMs: number): boolean {
  const p = stored.protection;
  return p !== undefined && p.enabled && p.expiresAt !== undefined && p.expiresAt * 1000 > nowMs;
}

/** A task with the definition it runs, as the agent on its instance needs it. */
export interface TaskWithDefinition {
  stored: StoredTask;
  taskDefinition: TaskDefinitionDoc;
}

// ---------------------------------------------------------------------------
// Services
//
// Service (`StoredService`, kind `service`, name = service name):
// - The spec — taskDefinition, desiredCount, deploymentConfiguration,
//   placement, schedulingStrategy, propagateTags, tags (also TagResource and
//   UntagResource in `tagging.ts`)... — and the fixed
//   fields of each new deployment (id, taskDefinition, createdAt) are written
//   only by the service operations (`services.ts`, through
//   `writers/services.ts`), as the user asked.
// - Everything observed or decided by the control loop — runningCount,
//   pendingCount, each deployment's counts, status, rolloutState and
//   rolloutStateReason, failedTasks, events, the service's DRAINING →
//   INACTIVE move, and the new deployment (and taskDefinition) of a
//   circuit-breaker rollback, which ECS makes on the user's behalf — is
//   written only by the service controller
//   (the service controller), through the same writer.
// - Tasks of a service are created and stopped only through the task writer,
//   with startedBy = the deployment id and group `service:<name>`.
//
// Task sets (`ServiceDoc.taskSets`, services with the EXTERNAL deployment
// controller, which have no ECS deployments):
// - Created, and their spec written — taskDefinition, launchType, externalId,
//   scale, tags, createdAt, updatedAt, and the status moves PRIMARY ⇄ ACTIVE
//   and → DRAINING — only by the task set operations (`taskSets.ts`:
//   CreateTaskSet, UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet)
//   and DeleteService, through the service writer. UpdateServicePrimaryTaskSet
//   also writes the service's taskDefinition and launchType (the primary task
//   set's, as ECS describes the service). A task set's tags change afterwards
//   only through TagResource and UntagResource (`tagging.ts`).
// - runningCount, pendingCount, stabilityStatus, stabilityStatusAt, and the
//   removal of a DRAINING task set once its tasks are gone: only the service
//   controller.
// - computedDesiredCount is not stored: it is ⌈service desiredCount × scale /
//   100⌉ (0 once DRAINING), computed where the task set is described
//   (`taskSetView.ts`), which also reads a stored STEADY_STATE as STABILIZING
//   while the counts do not match it yet.
// - Tasks of a task set carry startedBy = the task set id, as on ECS.

export type DeploymentStatus = 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

export interface DeploymentDoc {
  id: string;
  status: DeploymentStatus;
  taskDefinition: string;
  desiredCount: number;
  pendingCount: number;
  runningCount: number;
  failedTasks: number;
  /** Epoch seconds. */
  createdAt: number;
  updatedAt: number;
  launchType: 'EC2' | 'EXTERNAL';
  rolloutState: RolloutState;
  rolloutStateReason: string;
  networkConfiguration?: unknown;
}

export interface ServiceEvent {
  id: string;
  /** Epoch seconds. */
  createdAt: number;
  message: string;
}

export interface DeploymentConfiguration {
  deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
  maximumPercent: number;
  minimumHealthyPercent: number;
  strategy?: string;
  bakeTimeInMinutes?: number;
  linearConfiguration?: { stepPercent?: number; stepBakeTimeInMinutes?: number };
  canaryConfiguration?: { canaryPercent?: number; canaryBakeTimeInMinutes?: number };
  /** CloudWatch alarms watched during BLUE_GREEN, LINEAR and CANARY deployments (the blue/green controller rolls back on ALARM). */
  alarms?: { alarmNames: string[]; enable: boolean; rollback: boolean };
}

/** A service as DescribeServices returns it (timestamps in epoch seconds). */
export interface ServiceDoc {
  serviceArn: string;
  serviceName: string;
  clusterArn: string;
  loadBalancers: unknown[];
  serviceRegistries: unknown[];
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  launchType?: 'EC2' | 'EXTERNAL';
  /** Absent for an EXTERNAL service without a primary task set. */
  taskDefinition?: string;
  deploymentConfiguration: DeploymentConfiguration;
  deployments: DeploymentDoc[];
  /** EXTERNAL deployment controller only: the service's task sets, newest first. */
  taskSets?: TaskSetDoc[];
  events: ServiceEvent[];
  createdAt: number;
  createdBy: string;
  placementConstraints: { type: string; expression?: string }[];
  placementStrategy: { type: string; field?: string }[];
  healthCheckGracePeriodSeconds?: number;
  schedulingStrategy: 'REPLICA' | 'DAEMON';
  deploymentController: { type: 'ECS' | 'CODE_DEPLOY' | 'EXTERNAL' };
  enableECSManagedTags: boolean;
  propagateTags: 'TASK_DEFINITION' | 'SERVICE' | 'NONE';
  enableExecuteCommand: boolean;
  availabilityZoneRebalancing?: string;
  tags: Tag[];
}

export type TaskSetStatus = 'PRIMARY' | 'ACTIVE' | 'DRAINING';

/** A task set as stored (DescribeTaskSets adds `computedDesiredCount`; timestamps in epoch seconds). */
export interface TaskSetDoc {
  /** `ecs-svc/` and 19 digits, as ECS; the `startedBy` of its tasks. */
  id: string;
  taskSetArn: string;
  serviceArn: string;
  clusterArn: string;
  externalId?: string;
  status: TaskSetStatus;
  taskDefinition: string;
  pendingCount: number;
  runningCount: number;
  createdAt: number;
  updatedAt: number;
  launchType: 'EC2' | 'EXTERNAL';
  loadBalancers: unknown[];
  serviceRegistries: unknown[];
  scale: { value: number; unit: 'PERCENT' };
  stabilityStatus: 'STEADY_STATE' | 'STABILIZING';
  stabilityStatusAt: number;
  tags: Tag[];
}

/** A task set's computed desired count as ECS has it: ⌈service desiredCount × scale percent / 100⌉. */
export function computedDesiredCount(desired: number, scalePercent: number): number {
  return Math.max(0, Math.ceil((desired * scalePercent) / 100 - 1e-9));
}

export interface StoredService {
  service: ServiceDoc;
  /** The deployment the service last completed, for a circuit-breaker rollback. */
  lastCompleted?: { id: string; taskDefinition: string };
  /** Whether the launch throttle's event has been said for the current run of failures. */
  throttled?: boolean;
  /** Whether the last steady-state event is still true (so it is said once per steady period). */
  steady?: boolean;
  /** Service deployments (ListServiceDeployments), newest first, at most MAX_DEPLOYMENT_RECORDS. */
  history?: ServiceDeploymentRecord[];
  /** Service revisions (DescribeServiceRevisions), newest first, at most MAX_DEPLOYMENT_RECORDS. */
  revisions?: ServiceRevisionRecord[];
  /**
   * Traffic-shifting deployments (BLUE_GREEN, LINEAR, CANARY): which target groups serve production and
   * the deployment shifting now. Written by the blue/green controller; StopServiceDeployment only asks
   * for a rollback in it.
   */
  blueGreen?: BlueGreenState;
}

export type ServiceDeploymentStatus =
  | 'PENDING'
  | 'IN_PROGRESS'
  | 'SUCCESSFUL'
  | 'STOPPED'
  | 'STOP_REQUESTED'
  | 'ROLLBACK_REQUESTED'
  | 'ROLLBACK_IN_PROGRESS'
  | 'ROLLBACK_SUCCESSFUL'
  | 'ROLLBACK_FAILED';

/**
 * A service deployment as ECS records it: the move from the revisions that
 * ran to a target revision. `deploymentId` is the entry of the service's
 * `deployments` list it follows; a circuit-breaker or requested rollback is
 * the same record (`rollback`), carried out by a deployment of its own
 * (`rollbackDeploymentId`).
 */
export interface ServiceDeploymentRecord {
  id: string;
  deploymentId: string;
  targetRevisionId: string;
  sourceRevisionIds: string[];
  status: ServiceDeploymentStatus;
  statusReason?: string;
  /** Epoch seconds. */
  createdAt: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  stoppedAt?: number;
  deploymentConfiguration: DeploymentConfiguration;
  rollback?: { reason: string; startedAt: number; revisionId: string };
  rollbackDeploymentId?: string;
  failureCount: number;
  /** Traffic-shifting deployments: the lifecycle stage reached (written by the blue/green controller). */
  lifecycleStage?: string;
}

export interface ServiceRevisionRecord {
  id: string;
  taskDefinition: string;
  launchType: 'EC2' | 'EXTERNAL';
  containerImages: { containerName: string; image: string }[];
  createdAt: number;
}

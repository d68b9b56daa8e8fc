/**
 * The control channel between a Berth server and its host agents.
 *
 * Transport: one WebSocket per agent at `GET /v1/agent/connect?cluster=<cluster ARN>&containerInstance=<container instance ARN>`,
 * the upgrade request signed with SigV4 (service `ecs`) like any API call.
 *
 * Contract:
 * - The server is the only writer of desired state; it pushes the COMPLETE
 *   desired set of tasks for the instance (`tasks`) whenever it changes and
 *   right after connect. Each push has a strictly increasing `seq` per
 *   connection; the agent answers `ack` with that seq once it has stored the
 *   set durably (a set that wants what the stored one wants, versions
 *   aside, is not written again). A push replaces every earlier one: missing
 *   tasks in a push are tasks the server no longer wants on this instance
 *   (stop them).
 * - The agent is the only writer of observed state; it reports through the
 *   ECS operations SubmitTaskStateChange / SubmitContainerStateChange over
 *   signed HTTP, retried until accepted. The server ignores reports that go
 *   backwards (a task never returns from STOPPED), so retries are idempotent.
 * - Both sides send `heartbeat` every HEARTBEAT_INTERVAL_MS; a side that hears
 *   nothing for HEARTBEAT_TIMEOUT_MS closes the connection. The server marks
 *   the instance `agentConnected: false` when the channel closes.
 * - The agent reconnects with exponential backoff and full jitter, capped at
 *   a few seconds. After a server start, instances whose agents were
 *   connected stay connected for a grace period while the agents reconnect.
 */

// ---------------------------------------------------------------------------
// Task lifecycle, health and stop codes: one definition for the server and the agent

/**
 * The task lifecycle as ECS reports it, in order; a task only moves forward.
 * PROVISIONING is the server's alone (no agent has acted on the task yet);
 * agents report from PENDING on.
 */
export const TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** The states an agent reports (everything after PROVISIONING). */
export const AGENT_TASK_STATES = ['PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type AgentTaskState = (typeof AGENT_TASK_STATES)[number];

/** Every state but STOPPED: the task still holds its instance's resources. */
export const ACTIVE_TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING'] as const;
/** States before RUNNING. */
export const PENDING_TASK_STATES = ['PROVISIONING', 'PENDING', 'ACTIVATING'] as const;

/** Position of a state in the lifecycle; -1 for a string that is none. */
export function taskStateIndex(state: string): number {
  return (TASK_STATES as readonly string[]).indexOf(state);
}

/** Container and task health as ECS reports it. */
export type HealthStatus = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

/** ECS `TaskStopCode` values. */
export type StopCode =
  | 'TaskFailedToStart'
  | 'EssentialContainerExited'
  | 'UserInitiated'
  | 'ServiceSchedulerInitiated'
  | 'SpotInterruption'
  | 'TerminationNotice'
  | 'InfrastructureHealth';

/** The reason ECS gives when an essential container of a running task exits. */
export const ESSENTIAL_EXITED_REASON = 'Essential container in task exited';

/**
 * The member Berth's agent adds to SubmitTaskStateChange when it stops a task
 * on its own: the stop code it decided, as a field (the ECS model has no
 * member for it, and unknown members pass validation untouched). A report
 * without it (another agent) gets its stop code from the reported containers:
 * an essential container that exited with a code means
 * EssentialContainerExited, anything else TaskFailedToStart.
 */
export const REPORT_STOP_CODE_MEMBER = 'berthStopCode';

// ---------------------------------------------------------------------------
// The channel

export const AGENT_CONNECT_PATH = '/v1/agent/connect';
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 20_000;

/** A container to run, as the agent needs it. */
export interface AgentContainer {
  name: string;
  containerArn: string;
}

/**
 * A task the server wants on this instance. Of a task already pushed, only
 * `desiredStatus`, `stopCode`, `stoppedReason` and `version` change in later
 * pushes; everything else is fixed when the task is created.
 */
export interface AgentTask {
  taskArn: string;
  clusterArn: string;
  /** 'RUNNING' to run it; 'STOPPED' to stop it (with `stopCode`/`stoppedReason`). */
  desiredStatus: 'RUNNING' | 'STOPPED';
  stopCode?: StopCode;
  stoppedReason?: string;
  /** The task definition as DescribeTaskDefinition returns it (ECS member names). */
  taskDefinition: Record<string, unknown> & {
    taskDefinitionArn: string;
    family: string;
    revision: number;
    containerDefinitions: Record<string, unknown>[];
  };
  /** RunTask/StartTask overrides (ECS `TaskOverride`). */
  overrides: Record<string, unknown>;
  containers: AgentContainer[];
  /** Task-level reservations in CPU units and MiB, when set. */
  cpu?: string;
  memory?: string;
  group?: string;
  startedBy?: string;
  /** Epoch seconds. */
  createdAt: number;
  /** The task's version on the server; it moves with every change there, observed state included. */
  version: number;
}

/** What a push of a task can change (besides `version`); see AgentTask. */
export type AgentTaskWish = Pick<AgentTask, 'desiredStatus' | 'stopCode' | 'stoppedReason'>;

/** Whether two pushes of a task want the same thing. */
export function sameTask(a: AgentTaskWish, b: AgentTaskWish): boolean {
  return a.desiredStatus === b.desiredStatus && a.stopCode === b.stopCode && a.stoppedReason === b.stoppedReason;
}

/**
 * Role credentials of one task: its task role (served to its containers) or
 * its execution role (used by the agent for the task's own needs: secrets,
 * registry credentials). Session credentials from STS, as ECS hands them to
 * its agents; the agent keeps them in memory only.
 */
export interface AgentTaskCredentials {
  taskArn: string;
  role: 'task' | 'execution';
  roleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch milliseconds. */
  expiration: number;
}

/**
 * `credentials`: the complete set of role credentials for the instance's
 * tasks not yet stopped, sent before each `tasks` push and whenever one is
 * renewed; it replaces every earlier set (a task missing from it has none).
 * Never acknowledged, never stored by the agent: after a reconnect the
 * server sends it again.
 */
export type ServerMessage =
  | { type: 'tasks'; seq: number; tasks: AgentTask[] }
  | { type: 'credentials'; credentials: AgentTaskCredentials[] }
  | { type: 'heartbeat'; at: number };

/** Container health as ECS reports it. */
export type AgentHealthStatus = HealthStatus;

/**
 * `health`: the health of a task's containers, which SubmitTaskStateChange
 * cannot carry. Sent whenever it changes and, for every task not yet
 * STOPPED, after each connect (level-triggered: the latest message wins).
 * `healthStatus` is the task's health as the agent derives it from its
 * essential containers.
 */
export type AgentMessage =
  | { type: 'ack'; seq: number }
  | AgentStatsMessage
  | { type: 'heartbeat'; at: number }
  | {
      type: 'health';
      taskArn: string;
      healthStatus: AgentHealthStatus;
      containers: { name: string; healthStatus: AgentHealthStatus }[];
    };

/** Resource use of one container over the last sampling interval. */
export interface AgentContainerStats {
  name: string;
  /** CPU used, in CPU units (1024 per core), averaged over the interval. */
  cpuUnits: number;
  /** Memory in use (without the page cache), MiB. */
  memoryMiB: number;
}

/** Resource use of one RUNNING task: its containers' figures and their sums. */
export interface AgentTaskStats {
  taskArn: string;
  cpuUnits: number;
  memoryMiB: number;
  containers: AgentContainerStats[];
}

/**
 * `stats`: the resource use of the instance's running tasks, sent every
 * sampling interval (10 s) from the Docker Engine's one-shot stats. A task
 * appears once two readings of it exist (CPU use is a difference).
 */
export interface AgentStatsMessage {
  type: 'stats';
  /** Epoch ms of the reading. */
  at: number;
  tasks: AgentTaskStats[];
}

/** How often agents sample their containers' resource use. */
export const STATS_INTERVAL_MS = 10_000;

/** A task's task role and execution role: RunTask's overrides win over the task definition's. */
export function taskRolesOf(
  taskDefinition: Record<string, unknown>,
  overrides: Record<string, unknown>,
): { taskRoleArn?: string; executionRoleArn?: string } {
  const pick = (k: string): string | undefined => {
    const v = overrides[k] ?? taskDefinition[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const taskRoleArn = pick('taskRoleArn');
  const executionRoleArn = pick('executionRoleArn');
  return { ...(taskRoleArn ? { taskRoleArn } : {}), ...(executionRoleArn ? { executionRoleArn } : {}) };
}

/** The service principal ECS assumes task roles and execution roles as. */
export const ECS_TASKS_SERVICE = 'ecs-tasks.amazonaws.com';

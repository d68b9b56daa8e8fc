/**
 * Types of the placement engine: the cluster snapshot it reads, the request
 * it answers and the plan it returns.
 *
 * The engine is pure: the control plane builds a snapshot from its store,
 * calls `place`, re-checks the plan with `commitCheck` at commit time and
 * applies it. Nothing here touches a database, Docker, the clock or
 * Math.random.
 */
import type { CqlInstance } from './cql/types.js';

/** Container instance statuses of the ECS API. Only ACTIVE instances receive tasks. */
export type InstanceStatus = 'ACTIVE' | 'DRAINING' | 'INACTIVE' | 'REGISTERING' | 'DEREGISTERING' | 'REGISTRATION_FAILED';

export type LaunchType = 'EC2' | 'EXTERNAL' | 'FARGATE';

export type NetworkMode = 'bridge' | 'host' | 'awsvpc' | 'none';

/**
 * One container instance as the engine sees it. Resource figures are what is
 * left after the tasks already on the instance (ECS `remainingResources`).
 */
export interface InstanceSnapshot extends CqlInstance {
  readonly arn: string;
  readonly status: InstanceStatus;
  readonly remaining: {
    /** CPU units (1024 per vCPU). */
    readonly cpu: number;
    /** MiB. */
    readonly memory: number;
    /** Identifiers of the GPUs not assigned to any task, in assignment order. */
    readonly gpus: readonly string[];
  };
  /** Host ports in use, reserved ones included (ECS `PORTS` and `PORTS_UDP`). */
  readonly usedPorts: { readonly tcp: readonly number[]; readonly udp: readonly number[] };
  /** Launch types the instance can run; absent means any. */
  readonly launchTypes?: readonly LaunchType[];
  /** Network modes the instance supports; absent means any. */
  readonly networkModes?: readonly NetworkMode[];
}

/** `distinctInstance` takes no expression; `memberOf` requires one (cluster query language). */
export interface PlacementConstraint {
  readonly type: 'distinctInstance' | 'memberOf';
  readonly expression?: string;
}

/**
 * `binpack` takes `cpu` or `memory`; `spread` takes `instanceId`, `host` (same
 * as instanceId) or `attribute:<name>`; `random` takes no field.
 */
export interface PlacementStrategy {
  readonly type: 'binpack' | 'spread' | 'random';
  readonly field?: string;
}

/** ECS accepts at most this many placement constraints per request. */
export const MAX_PLACEMENT_CONSTRAINTS = 10;
/** ECS accepts at most this many placement strategies per request. */
export const MAX_PLACEMENT_STRATEGIES = 5;

/**
 * `count` identical tasks to place.
 *
 * Resource figures are what one task reserves; the caller derives them from
 * the task definition (task-level cpu/memory when set, otherwise the sum over
 * containers of the hard limit, else the soft reservation).
 *
 * Strategy defaults are the caller's choice, as in ECS: services default to
 * spread(attribute:ecs.availability-zone) then spread(instanceId); ECS
 * documents no strategy for RunTask. An empty list here behaves as `random`.
 */
export interface PlacementRequest {
  /** Task group: `service:<name>` for service tasks, `family:<name>` by default for RunTask. */
  readonly group: string;
  readonly cpu: number;
  readonly memory: number;
  /** Static host ports (non-zero) the task binds; none for awsvpc, where each task has its own interface. */
  readonly tcpPorts?: readonly number[];
  readonly udpPorts?: readonly number[];
  readonly gpus?: number;
  /** Attributes the task definition requires: present, and equal to `value` when given. */
  readonly requiresAttributes?: readonly { readonly name: string; readonly value?: string }[];
  readonly networkMode?: NetworkMode;
  readonly launchType?: LaunchType;
  readonly placementConstraints?: readonly PlacementConstraint[];
  readonly placementStrategy?: readonly PlacementStrategy[];
  readonly count: number;
}

/** Reasons, as ECS reports them in `failures[].reason`, why an instance cannot take a task. */
export type FailureReason =
  | 'AGENT'
  | 'ATTRIBUTE'
  | 'RESOURCE:CPU'
  | 'RESOURCE:MEMORY'
  | 'RESOURCE:GPU'
  | 'RESOURCE:PORTS'
  | 'RESOURCE:PORTS_UDP'
  | 'MemberOf placement constraint unsatisfied'
  | 'DistinctInstance placement constraint unsatisfied'
  /** Not ACTIVE (DRAINING, INACTIVE...), or gone, when re-checked at commit. */
  | 'INACTIVE'
  | 'MISSING';

export interface Placement {
  readonly instanceArn: string;
  /** GPUs assigned to the task, taken from the instance's free GPUs. */
  readonly gpuIds: readonly string[];
}

/** One ECS `Failure`: `arn` is the container instance. */
export interface PlacementFailure {
  readonly arn: string;
  readonly reason: FailureReason;
}

/** The filters of the placement pipeline, cheapest first; an instance is rejected by the first that fails. */
export type FilterName =
  | 'status'
  | 'agent'
  | 'launchType'
  | 'networkMode'
  | 'attributes'
  | 'memberOf'
  | 'distinctInstance'
  | 'cpu'
  | 'memory'
  | 'gpu'
  | 'tcpPorts'
  | 'udpPorts';

export interface FilterRejections {
  readonly filter: FilterName;
  readonly reason: FailureReason;
  /** Instances this filter was the first to reject. */
  readonly instances: number;
}

/**
 * Why instances could not take (another) task of the request, in the
 * state reached at the end of the batch: the answer to "why did my task not
 * start", for service events and `failures`.
 */
export interface PlacementDiagnosis {
  /** Container instances in the snapshot. */
  readonly instances: number;
  /** Instances that could still take one more task. */
  readonly eligible: number;
  /** Filters that rejected at least one instance, in pipeline order. */
  readonly rejected: readonly FilterRejections[];
  /** The rejected instance that passed the most filters (ECS's "closest matching container instance"). */
  readonly closest?: { readonly instanceArn: string; readonly reason: FailureReason };
  /** One line for humans, e.g. `0 of 12 container instances can take the task: 3 not ACTIVE, 9 RESOURCE:MEMORY`. */
  readonly message: string;
}

export interface PlacementPlan {
  readonly request: PlacementRequest;
  /** One entry per placed task, in placement order; at most `request.count`. */
  readonly placements: readonly Placement[];
  /** Tasks of the request that found no instance. */
  readonly unplaced: number;
  /**
   * When `unplaced > 0`: one ECS failure per container instance that could not
   * take the next task, with the first filter that rejected it. Instances that
   * are not ACTIVE are not candidates and are left out, as in ECS.
   */
  readonly failures: readonly PlacementFailure[];
  readonly diagnosis: PlacementDiagnosis;
}

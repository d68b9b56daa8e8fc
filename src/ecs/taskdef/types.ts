/**
 * Shapes of a task definition as Berth receives and stores it.
 *
 * The request side is the ECS model type itself. The stored side is the
 * `TaskDefinition` that DescribeTaskDefinition returns, except that
 * timestamps are epoch seconds (the wire format) rather than `Date`.
 */
import type {
  Compatibility,
  ContainerDefinition,
  RegisterTaskDefinitionCommandInput,
  TaskDefinition,
} from '@aws-sdk/client-ecs';

/** A RegisterTaskDefinition request that already passed structural validation against the ECS model. */
export type RegisterTaskDefinitionInput = RegisterTaskDefinitionCommandInput;

/** Who and what a new revision is: everything the pure normaliser cannot know by itself. */
export interface RegistrationContext {
  region: string;
  accountId: string;
  /** The revision number this registration gets within its family (1 for the first). */
  revision: number;
  /** Epoch seconds. */
  registeredAt: number;
  /** ARN of the caller, echoed as `registeredBy`. */
  registeredBy: string;
}

/**
 * A registered task definition exactly as DescribeTaskDefinition returns it.
 *
 * Invariants: every member name is the ECS member name; `cpu` and `memory`
 * (when present) are decimal strings of CPU units and MiB; `containerDefinitions`
 * carry the defaults ECS fills in; `tags` are never inside (they are returned
 * next to the task definition).
 */
export type TaskDefinitionDoc = Omit<
  TaskDefinition,
  'registeredAt' | 'deregisteredAt' | 'deleteRequestedAt' | 'containerDefinitions' | 'compatibilities'
> & {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE' | 'DELETE_IN_PROGRESS';
  containerDefinitions: ContainerDefinition[];
  volumes: NonNullable<TaskDefinition['volumes']>;
  placementConstraints: NonNullable<TaskDefinition['placementConstraints']>;
  compatibilities: Compatibility[];
  /** Epoch seconds. */
  registeredAt: number;
  registeredBy: string;
  /** Epoch seconds; set by DeregisterTaskDefinition. */
  deregisteredAt?: number;
  /** Epoch seconds; set by DeleteTaskDefinitions. */
  deleteRequestedAt?: number;
};

/** The network mode a task actually runs with; ECS omits `networkMode` from the doc when it defaults to bridge. */
export type EffectiveNetworkMode = 'bridge' | 'host' | 'awsvpc' | 'none';

export function effectiveNetworkMode(networkMode: string | undefined): EffectiveNetworkMode {
  return networkMode === 'host' || networkMode === 'awsvpc' || networkMode === 'none' ? networkMode : 'bridge';
}

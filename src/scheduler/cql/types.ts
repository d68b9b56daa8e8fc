/**
 * Types of the ECS cluster query language (CQL): what an expression can look
 * at on a container instance, and the syntax tree the parser produces.
 */

/**
 * The fields of a container instance that a CQL expression can read.
 * Placement snapshots (`InstanceSnapshot`) extend it; the API layer can build
 * one from a stored container instance to filter `ListContainerInstances`.
 */
export interface CqlInstance {
  /** Empty or absent for instances that are not EC2 instances (for example external ones). */
  readonly ec2InstanceId?: string;
  readonly agentConnected: boolean;
  readonly agentVersion?: string;
  /** Registration time, epoch milliseconds. */
  readonly registeredAt: number;
  /** Attribute name → value; a name mapped to `undefined` is an attribute present without a value. */
  readonly attributes: ReadonlyMap<string, string | undefined>;
  /** Tasks on the instance that are not stopped. */
  readonly runningTasksCount: number;
  /** Task group (`service:api`, `family:web`, custom) → number of its tasks on the instance. */
  readonly taskGroups: ReadonlyMap<string, number>;
}

/**
 * Tasks that a placement batch has planned on the instance but that the
 * snapshot does not show yet. `task:group` and `runningTasksCount` include them.
 */
export interface CqlContext {
  readonly pendingTasks: number;
  /** The task group of the pending tasks. */
  readonly pendingGroup: string;
}

export type CqlSubject =
  | { readonly kind: 'agentConnected' }
  | { readonly kind: 'agentVersion' }
  | { readonly kind: 'attribute'; readonly name: string }
  | { readonly kind: 'ec2InstanceId' }
  | { readonly kind: 'registeredAt' }
  | { readonly kind: 'runningTasksCount' }
  | { readonly kind: 'taskGroup' };

/** Canonical operator names (the word forms of the ECS documentation). */
export type CqlOperator =
  | 'equals'
  | 'not_equals'
  | 'greater_than'
  | 'greater_than_equal'
  | 'less_than'
  | 'less_than_equal'
  | 'exists'
  | 'not_exists'
  | 'in'
  | 'not_in'
  | 'matches'
  | 'not_matches';

export interface CqlLiteral {
  readonly value: string;
  /** Offset of the literal in the source expression (0-based). */
  readonly position: number;
}

export type CqlExpression =
  | { readonly kind: 'and'; readonly left: CqlExpression; readonly right: CqlExpression }
  | { readonly kind: 'or'; readonly left: CqlExpression; readonly right: CqlExpression }
  | { readonly kind: 'not'; readonly operand: CqlExpression }
  | {
      readonly kind: 'compare';
      readonly subject: CqlSubject;
      readonly operator: CqlOperator;
      /** One literal for most operators, a list for `in`/`not_in`, none for `exists`/`not_exists`. */
      readonly argument: readonly CqlLiteral[];
      readonly position: number;
    };

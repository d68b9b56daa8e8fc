/**
 * Every generated service model, by Berth's name for the service, and the
 * TypeScript types derived from them.
 *
 * `OperationInput<'ecs', 'RunTask'>` is the type of a RunTask input once the
 * validator (`../validate.ts`) has accepted it: required members present, enum
 * members one of their values, timestamps as epoch seconds, blobs as base64
 * text (or bytes from a binary protocol), documents as any JSON. Optional
 * members may be absent; a `null` the caller sent for one has been removed by
 * the validator. The types are computed from the model itself, so they cannot
 * drift from what the validator enforces.
 *
 * The SDK's own `XCommandInput` types describe what a client passes to the SDK,
 * not what arrives on the wire: timestamps are `Date`, blobs `Uint8Array`,
 * unions carry an `$unknown` variant, and awsQuery or CBOR decoding has no
 * part in them. A handler typed with them would be promised values it never
 * receives, so Berth derives its own.
 */

import type { ApiRequest } from '../protocol.js';
import type { ACM_MODEL } from './acm.generated.js';
import type { AUTOSCALING_MODEL } from './autoscaling.generated.js';
import type { CLOUDWATCH_MODEL } from './cloudwatch.generated.js';
import type { ECR_MODEL } from './ecr.generated.js';
import type { ECS_MODEL } from './ecs.generated.js';
import type { ELBV2_MODEL } from './elbv2.generated.js';
import type { IAM_MODEL } from './iam.generated.js';
import type { LOGS_MODEL } from './logs.generated.js';
import type { SECRETSMANAGER_MODEL } from './secretsmanager.generated.js';
import type { SSM_MODEL } from './ssm.generated.js';
import type { STS_MODEL } from './sts.generated.js';

/** The generated models by service name (types only: importing this module loads no model). */
export interface Models {
  acm: typeof ACM_MODEL;
  autoscaling: typeof AUTOSCALING_MODEL;
  cloudwatch: typeof CLOUDWATCH_MODEL;
  ecr: typeof ECR_MODEL;
  ecs: typeof ECS_MODEL;
  elbv2: typeof ELBV2_MODEL;
  iam: typeof IAM_MODEL;
  logs: typeof LOGS_MODEL;
  secretsmanager: typeof SECRETSMANAGER_MODEL;
  ssm: typeof SSM_MODEL;
  sts: typeof STS_MODEL;
}

export type ServiceName = keyof Models;

/** The operation names of service `S`. */
export type OperationName<S extends ServiceName> = keyof Models[S]['operations'] & string;

type Shapes<S extends ServiceName> = Models[S]['shapes'];

/** The value type of shape `N` of service `S`. */
export type ShapeValue<S extends ServiceName, N> = N extends keyof Shapes<S> ? ValueOf<S, N, Shapes<S>[N]> : never;

type ValueOf<S extends ServiceName, N, Shape> = Shape extends { readonly type: 'structure' }
  ? StructureValue<S, N>
  : Shape extends { readonly type: 'union' }
    ? UnionValue<S, N>
  : Shape extends { readonly type: 'list'; readonly member: infer E }
    ? ShapeValue<S, E>[]
    : Shape extends { readonly type: 'map'; readonly value: infer V }
      ? Record<string, ShapeValue<S, V>>
      : Shape extends { readonly type: 'string'; readonly enum: readonly (infer E)[] }
        ? E
        : Shape extends { readonly type: 'string' }
          ? string
          : Shape extends { readonly type: 'boolean' }
            ? boolean
            : Shape extends { readonly type: 'blob' }
              ? string | Uint8Array
              : Shape extends { readonly type: 'document' }
                ? unknown
                : number;

type MembersOf<S extends ServiceName, N> = N extends keyof Shapes<S>
  ? Shapes<S>[N] extends { readonly members: infer M }
    ? M
    : never
  : never;

type RequiredKeys<M> = { [K in keyof M]: M[K] extends { readonly required: true } ? K : never }[keyof M];

type TargetValue<S extends ServiceName, Spec> = Spec extends { readonly target: infer T } ? ShapeValue<S, T> : never;

/** Structure `N` of service `S`: required members, then optional ones. */
export type StructureValue<S extends ServiceName, N> = {
  [K in RequiredKeys<MembersOf<S, N>>]: TargetValue<S, MembersOf<S, N>[K]>;
} & {
  [K in Exclude<keyof MembersOf<S, N>, RequiredKeys<MembersOf<S, N>>>]?: TargetValue<S, MembersOf<S, N>[K]>;
};

/** Union `N` of service `S`: an object with exactly one of its members. */
export type UnionValue<S extends ServiceName, N> = {
  [K in keyof MembersOf<S, N>]: { [P in K]: TargetValue<S, MembersOf<S, N>[K]> };
}[keyof MembersOf<S, N>];

/** The validated input of operation `Op` of service `S`. */
export type OperationInput<S extends ServiceName, Op extends OperationName<S>> = Models[S]['operations'][Op] extends {
  readonly input: infer I;
}
  ? ShapeValue<S, I>
  : never;

/** The output of operation `Op` of service `S`, as the JSON wire carries it. */
export type OperationOutput<S extends ServiceName, Op extends OperationName<S>> = Models[S]['operations'][Op] extends {
  readonly output: infer O;
}
  ? ShapeValue<S, O>
  : never;

/**
 * A handler of operation `Op` of service `S`: the input the model accepted,
 * and the request it came in.
 */
export type Handler<S extends ServiceName, Op extends OperationName<S>> = (input: OperationInput<S, Op>, req: ApiRequest) => Promise<unknown>;

/**
 * Handlers by operation name of service `S`. Each key only takes a handler
 * whose input type accepts that operation's validated input, so a handler
 * wired to the wrong operation, or one that expects a member the operation
 * does not have (or has optional where the handler needs it), is a compile
 * error.
 */
export type Operations<S extends ServiceName> = { readonly [Op in OperationName<S>]?: Handler<S, Op> };

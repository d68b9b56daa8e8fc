/**
 * The shape of Berth's ECS API model (`model.generated.ts`) and typed accessors.
 *
 * The model is generated from the official ECS model shipped with the AWS SDK
 * (`npm run gen:model`); nothing here is hand-maintained API knowledge.
 */

import { OPERATIONS, SHAPES, type EcsOperationName } from './model.generated.js';

export type { EcsOperationName } from './model.generated.js';
export { MODEL_SOURCE } from './model.generated.js';

export interface MemberSpec {
  /** Name of the target shape in `SHAPES`. */
  readonly target: string;
  /** Present (true) when the service rejects a request that omits the member. */
  readonly required?: true;
  /** The value must not be logged. */
  readonly sensitive?: true;
}

export type ModelShape =
  | { readonly type: 'structure' | 'union'; readonly members: Readonly<Record<string, MemberSpec>>; readonly sensitive?: true }
  | { readonly type: 'list'; readonly member: string }
  | { readonly type: 'map'; readonly key: string; readonly value: string }
  | { readonly type: 'string'; readonly enum?: readonly string[]; readonly sensitive?: true }
  /** 'number' when the source model does not say whether the number is integral. */
  | { readonly type: 'integer' | 'long' | 'float' | 'double' | 'number' }
  | { readonly type: 'boolean' | 'timestamp' | 'blob' | 'document' };

export interface OperationIo {
  /** Name of the input structure in `SHAPES`. */
  readonly input: string;
  /** Name of the output structure in `SHAPES`. */
  readonly output: string;
}

/** A model: the generated one, or a smaller one in tests. */
export interface ApiModel {
  readonly operations: Readonly<Record<string, OperationIo>>;
  readonly shapes: Readonly<Record<string, ModelShape>>;
}

export const ECS_MODEL: ApiModel = { operations: OPERATIONS, shapes: SHAPES };

/** Every ECS operation name, sorted. */
export const OPERATION_NAMES: readonly EcsOperationName[] = Object.freeze(
  (Object.keys(OPERATIONS) as EcsOperationName[]).sort(),
);

export function isKnownOperation(op: string): op is EcsOperationName {
  return Object.hasOwn(OPERATIONS, op);
}

/** Input and output shape names of an operation, or undefined if it is not an ECS operation. */
export function operationIo(op: string): OperationIo | undefined {
  return isKnownOperation(op) ? OPERATIONS[op] : undefined;
}

/** A shape by name, or undefined. */
export function shape(name: string): ModelShape | undefined {
  return Object.hasOwn(SHAPES, name) ? SHAPES[name] : undefined;
}

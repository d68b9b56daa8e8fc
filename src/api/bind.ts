import type { OperationHandler } from './awsJson.js';
import type { OperationInput, OperationName, Operations, ServiceName } from './models/index.js';

/**
 * An operation of a service's domain module, `fn(ctx, input)`, serving
 * operation `Op` of service `S` with context `C`. It is called with its
 * context and input alone (never the request), so a domain function with
 * further optional parameters keeps their defaults.
 */
export type ContextHandler<S extends ServiceName, C, Op extends OperationName<S>> = (ctx: C, input: OperationInput<S, Op>) => Promise<unknown>;

/**
 * Context handlers by operation name of service `S`; as with `Operations`, a
 * handler whose input type does not accept its operation's validated input
 * does not compile.
 */
export type ContextOperations<S extends ServiceName, C> = { readonly [Op in OperationName<S>]?: ContextHandler<S, C, Op> };

/** The operations of `table` as API handlers, their context bound once to `ctx`. */
export function bindOperations<S extends ServiceName, C>(ctx: C, table: ContextOperations<S, C>): Operations<S> {
  const bound: Record<string, OperationHandler> = {};
  for (const [name, fn] of Object.entries(table) as [string, (ctx: C, input: unknown) => Promise<unknown>][]) {
    bound[name] = (input) => fn(ctx, input);
  }
  return bound as unknown as Operations<S>;
}

/**
 * A typed operations table as the protocols call it. Every protocol calls a
 * handler only after the model accepted the input for that handler's
 * operation: the one place where validated input becomes
 * `OperationInput<S, Op>`.
 */
export function handlerTable<S extends ServiceName>(operations: Operations<S>): Readonly<Record<string, OperationHandler>> {
  return operations as unknown as Readonly<Record<string, OperationHandler>>;
}

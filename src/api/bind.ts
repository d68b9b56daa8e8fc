import type { OperationHandler } from './awsJson.js';
import type { Operations, ServiceName } from './models/index.js';

/**
 * An operation of a service's domain module, `fn(ctx, input)`, as an API
 * handler of its input alone: each service's operations table binds its
 * context once with `const op = bindContext(ctx)`.
 */
export function bindContext<C>(ctx: C) {
  return <I>(fn: (ctx: C, input: I) => Promise<unknown>): ((input: I) => Promise<unknown>) =>
    (input) =>
      fn(ctx, input);
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

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

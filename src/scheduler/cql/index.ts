/**
 * The ECS cluster query language: parse once, evaluate many times.
 *
 *   const expr = parseCql('attribute:ecs.instance-type =~ t3.* and not(task:group == service:db)');
 *   instances.filter((i) => expr.matches(i));
 *
 * Used by placement (`memberOf` constraints) and by `ListContainerInstances --filter`.
 */
import { compileExpression, dependsOnTasks } from './compile.js';
import { parseCqlSyntax } from './parser.js';
import type { CqlContext, CqlExpression, CqlInstance } from './types.js';

export { CqlSyntaxError } from './errors.js';
export { compareMixed, compareVersions, parseDateSpan } from './compile.js';
export type { CqlContext, CqlExpression, CqlInstance, CqlLiteral, CqlOperator, CqlSubject } from './types.js';

export interface CompiledExpression {
  /** The expression as written. */
  readonly source: string;
  readonly ast: CqlExpression;
  /**
   * True when the result depends on the tasks on the instance (`task:group`,
   * `runningTasksCount`) and can change as tasks are placed; false when it
   * depends only on the instance itself.
   */
  readonly dependsOnTasks: boolean;
  /** Whether the instance satisfies the expression; `ctx` adds tasks a batch has planned there. */
  matches(instance: CqlInstance, ctx?: CqlContext): boolean;
}

/** Parses and compiles an expression; throws `CqlSyntaxError` (a `PlacementInputError`) when it is malformed. */
export function parseCql(source: string): CompiledExpression {
  const ast = parseCqlSyntax(source);
  const predicate = compileExpression(ast);
  return {
    source,
    ast,
    dependsOnTasks: dependsOnTasks(ast),
    matches: (instance, ctx) => predicate(instance, ctx),
  };
}

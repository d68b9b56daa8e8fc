import { PlacementInputError } from '../errors.js';

/**
 * A malformed cluster query language expression.
 *
 * It is a `PlacementInputError`: ECS answers it as the
 * `InvalidParameterException` it returns for a bad placement constraint or
 * `--filter`.
 * `position` is the 0-based offset in the expression where the problem was
 * found, and the message names both: `Unexpected token ')' at position 17`.
 */
export class CqlSyntaxError extends PlacementInputError {
  override readonly name = 'CqlSyntaxError';
  readonly position: number;
  /** The problem without its position, for callers that compose their own message. */
  readonly problem: string;

  constructor(problem: string, position: number, hint?: string) {
    super(`${problem} at position ${position}${hint === undefined ? '' : `; ${hint}`}`);
    this.problem = problem;
    this.position = position;
  }
}

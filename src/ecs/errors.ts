import { InvalidParameterException } from '../core/errors.js';
import { PlacementInputError } from '../scheduler/errors.js';

/**
 * Maps errors of the parts ECS builds on to the exceptions ECS answers with:
 * a placement input the scheduler refuses (bad constraint, strategy or
 * cluster query expression) is an `InvalidParameterException` with the
 * scheduler's message. Anything else passes through unchanged.
 */
export function toEcsError(err: unknown): unknown {
  if (err instanceof PlacementInputError) return new InvalidParameterException(err.message);
  return err;
}

/**
 * A placement request the engine cannot accept as given: a malformed
 * constraint, strategy, expression or resource figure. The scheduler knows no
 * service; each service that places tasks maps this to its own error (ECS:
 * `InvalidParameterException`, see `ecs/errors.ts`), keeping the message.
 */
export class PlacementInputError extends Error {
  override readonly name: string = 'PlacementInputError';
}

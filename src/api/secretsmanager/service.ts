import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { InvalidRequestException } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { SECRETSMANAGER_MODEL, type SecretsmanagerOperationName } from '../models/secretsmanager.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import type { SecretsContext } from '../../secrets/context.js';
import * as secrets from '../../secrets/secrets.js';

export const SECRETSMANAGER_TARGET_PREFIX = 'secretsmanager';

/** The input of Secrets Manager operation `Op` once the model has accepted it. */
export type SecretsManagerInput<Op extends SecretsmanagerOperationName> = OperationInput<'secretsmanager', Op>;

/** A handler of Secrets Manager operation `Op`. */
export type SecretsManagerHandler<Op extends SecretsmanagerOperationName> = (input: SecretsManagerInput<Op>, req: ApiRequest) => Promise<unknown>;

/** Handlers by operation name; a handler whose input type does not accept its operation's input does not compile. */
export type SecretsManagerOperations = { readonly [Op in SecretsmanagerOperationName]?: SecretsManagerHandler<Op> };

// Constraint violations are InvalidParameterException, the error Secrets Manager models for them.
const validateInput = createValidator(SECRETSMANAGER_MODEL);

/** The Secrets Manager operations Berth serves. */
export function secretsManagerOperations(ctx: SecretsContext): SecretsManagerOperations {
  const op = bindContext(ctx);
  return {
    CreateSecret: op(secrets.createSecret),
    GetSecretValue: op(secrets.getSecretValue),
    PutSecretValue: op(secrets.putSecretValue),
    UpdateSecret: op(secrets.updateSecret),
    DescribeSecret: op(secrets.describeSecret),
    ListSecrets: op(secrets.listSecrets),
    DeleteSecret: op(secrets.deleteSecret),
    RestoreSecret: op(secrets.restoreSecret),
    ListSecretVersionIds: op(secrets.listSecretVersionIds),
    UpdateSecretVersionStage: op(secrets.updateSecretVersionStage),
    BatchGetSecretValue: op(secrets.batchGetSecretValue),
    TagResource: op(secrets.tagResource),
    UntagResource: op(secrets.untagResource),
    PutResourcePolicy: op(secrets.putResourcePolicy),
    GetResourcePolicy: op(secrets.getResourcePolicy),
    DeleteResourcePolicy: op(secrets.deleteResourcePolicy),
    ValidateResourcePolicy: op(secrets.validateResourcePolicy),
  };
}

/** Secrets Manager over AWS JSON 1.1 (signing name `secretsmanager`). */
export function secretsManagerProtocol(ctx: SecretsContext): ServiceProtocol {
  // awsJsonService calls a handler only after validateInput accepted the input for that handler's operation.
  const handlers = secretsManagerOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'secretsmanager',
    targetPrefix: SECRETSMANAGER_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(SECRETSMANAGER_MODEL, name),
    validate: validateInput,
    unsupported: (name) => new InvalidRequestException(`Berth does not implement ${name} yet. The README lists the Secrets Manager operations that work today.`),
  });
}

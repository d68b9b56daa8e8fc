import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { InvalidRequestException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { SECRETSMANAGER_MODEL, type SecretsmanagerOperationName } from '../models/secretsmanager.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import type { SecretsContext } from '../../secrets/context.js';
import * as secrets from '../../secrets/secrets.js';

export const SECRETSMANAGER_TARGET_PREFIX = jsonProtocolOf(SECRETSMANAGER_MODEL).targetPrefix;

export type SecretsManagerInput<Op extends SecretsmanagerOperationName> = OperationInput<'secretsmanager', Op>;
export type SecretsManagerHandler<Op extends SecretsmanagerOperationName> = Handler<'secretsmanager', Op>;
export type SecretsManagerOperations = Operations<'secretsmanager'>;

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
  // Constraint violations are InvalidParameterException, the error Secrets Manager models for them.
  return awsJsonServiceOf('secretsmanager', SECRETSMANAGER_MODEL, {
    operations: secretsManagerOperations(ctx),
    unsupported: (name) => new InvalidRequestException(`Berth does not implement ${name} yet. The README lists the Secrets Manager operations that work today.`),
  });
}

import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { InvalidRequestException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { SECRETSMANAGER_MODEL } from '../models/secretsmanager.generated.js';
import type { SecretsContext } from '../../secrets/context.js';
import * as secrets from '../../secrets/secrets.js';

/** The Secrets Manager operations Berth serves. */
const OPERATIONS: ContextOperations<'secretsmanager', SecretsContext> = {
  CreateSecret: secrets.createSecret,
  GetSecretValue: secrets.getSecretValue,
  PutSecretValue: secrets.putSecretValue,
  UpdateSecret: secrets.updateSecret,
  DescribeSecret: secrets.describeSecret,
  ListSecrets: secrets.listSecrets,
  DeleteSecret: secrets.deleteSecret,
  RestoreSecret: secrets.restoreSecret,
  ListSecretVersionIds: secrets.listSecretVersionIds,
  UpdateSecretVersionStage: secrets.updateSecretVersionStage,
  BatchGetSecretValue: secrets.batchGetSecretValue,
  TagResource: secrets.tagResource,
  UntagResource: secrets.untagResource,
  PutResourcePolicy: secrets.putResourcePolicy,
  GetResourcePolicy: secrets.getResourcePolicy,
  DeleteResourcePolicy: secrets.deleteResourcePolicy,
  ValidateResourcePolicy: secrets.validateResourcePolicy,
};

/** Secrets Manager over AWS JSON 1.1 (signing name `secretsmanager`). */
export function secretsManagerProtocol(ctx: SecretsContext): ServiceProtocol {
  // Constraint violations are InvalidParameterException, the error Secrets Manager models for them.
  return awsJsonServiceOf('secretsmanager', SECRETSMANAGER_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    unsupported: (name) => new InvalidRequestException(`Berth does not implement ${name} yet. The README lists the Secrets Manager operations that work today.`),
  });
}

/**
 * A container's `secrets` (environment variables whose values come from
 * Secrets Manager or Parameter Store), fetched by the agent just before it
 * creates the container, as the ECS agent does with the task's execution
 * role. The agent signs these calls with its own keys today; the source
 * interface is where an execution role's credentials will plug in.
 *
 * Values live only in memory on their way to the container's environment:
 * they are never written to the agent's state, its task records or its logs.
 *
 * A secret that cannot be fetched fails the container with ECS's reason,
 * `ResourceInitializationError: unable to pull secrets or registry auth:
 * execution resource retrieval failed: unable to retrieve secret from asm:
 * ...` (or `secrets from ssm`), which stops the task.
 */
import { EcsApiError, EcsClient } from '../channel/ecs.js';
import type { AwsCredentials } from '../channel/sign.js';

/** One entry of a container definition's `secrets`. */
export interface SecretReference {
  name?: string;
  valueFrom?: string;
}

/** The secret could not be fetched for a reason retrying will not fix; `message` is ECS's reason without the error code. */
export class SecretRetrievalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretRetrievalError';
  }
}

/** Where secret values come from (the server's Secrets Manager and SSM APIs; a fake in tests). */
export interface SecretSource {
  /** GetSecretValue: the SecretString of `secretId` at `versionStage`/`versionId` (AWSCURRENT when neither). */
  getSecretString(secretId: string, versionStage?: string, versionId?: string): Promise<string>;
  /** GetParameters WithDecryption: values by name; names it could not find are listed apart. */
  getParameters(names: string[]): Promise<{ values: Map<string, string>; invalid: string[] }>;
  close(): void;
}

const PREFIX = 'unable to pull secrets or registry auth: execution resource retrieval failed';

/** `arn:...:secret:name-AbCdEf[:json-key:version-stage:version-id]`. */
function parseSecretArn(valueFrom: string): { id: string; jsonKey: string; stage: string; versionId: string } | undefined {
  const m = /^(arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:[^:]+)(?::([^:]*):([^:]*):([^:]*))?$/.exec(valueFrom);
  if (!m) return undefined;
  return { id: m[1]!, jsonKey: m[2] ?? '', stage: m[3] ?? '', versionId: m[4] ?? '' };
}

/**
 * The environment variables of `secrets`. Throws SecretRetrievalError for a
 * missing secret, parameter, version or JSON key; other errors (the server
 * unreachable) are thrown as they are, for a retry.
 */
export async function resolveSecrets(source: SecretSource, secrets: readonly SecretReference[]): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const ssm: { name: string; param: string }[] = [];
  for (const s of secrets) {
    if (!s.name || !s.valueFrom) continue;
    const asm = parseSecretArn(s.valueFrom);
    if (!asm) {
      ssm.push({ name: s.name, param: s.valueFrom });
      continue;
    }
    let text: string;
    try {
      text = await source.getSecretString(asm.id, asm.stage || undefined, asm.versionId || undefined);
    } catch (err) {
      if (err instanceof EcsApiError && err.statusCode < 500) {
        throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret ${s.valueFrom} from secrets manager: ${err.name}: ${err.message}`);
      }
      throw err;
    }
    if (!asm.jsonKey) {
      env[s.name] = text;
      continue;
    }
    let field: unknown;
    try {
      field = (JSON.parse(text) as Record<string, unknown>)[asm.jsonKey];
    } catch {
      throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secret from asm: the secret ${asm.id} is not a JSON object, so its key ${asm.jsonKey} cannot be read`);
    }
    if (field === undefined) {
      throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secret from asm: retrieved secret from Secrets Manager did not contain json key ${asm.jsonKey}`);
    }
    env[s.name] = typeof field === 'string' ? field : JSON.stringify(field);
  }
  // Parameter Store: GetParameters takes at most 10 names per call.
  for (let i = 0; i < ssm.length; i += 10) {
    const batch = ssm.slice(i, i + 10);
    let got: { values: Map<string, string>; invalid: string[] };
    try {
      got = await source.getParameters([...new Set(batch.map((b) => b.param))]);
    } catch (err) {
      if (err instanceof EcsApiError && err.statusCode < 500) {
        throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secrets from ssm: service call has been retried 1 time(s): ${err.name}: ${err.message}`);
      }
      throw err;
    }
    if (got.invalid.length) {
      throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: ${got.invalid.join(', ')}`);
    }
    for (const b of batch) {
      const v = got.values.get(b.param);
      if (v === undefined) throw new SecretRetrievalError(`${PREFIX}: unable to retrieve secrets from ssm: invalid parameters: ${b.param}`);
      env[b.name] = v;
    }
  }
  return env;
}

/**
 * The registry credentials of a container's `repositoryCredentials`: a
 * Secrets Manager secret holding `{"username": ..., "password": ...}`, as
 * ECS takes them for private registries.
 */
export async function resolveRepositoryCredentials(
  source: SecretSource,
  credentialsParameter: string,
): Promise<{ username: string; password: string }> {
  let text: string;
  try {
    text = await source.getSecretString(credentialsParameter);
  } catch (err) {
    if (err instanceof EcsApiError && err.statusCode < 500) {
      throw new SecretRetrievalError(
        `${PREFIX}: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret ${credentialsParameter} from secrets manager: ${err.name}: ${err.message}`,
      );
    }
    throw err;
  }
  let parsed: { username?: unknown; password?: unknown } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // refused below
  }
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
    throw new SecretRetrievalError(`${PREFIX}: asm fetching secret for registry authentication: the secret ${credentialsParameter} must be JSON with "username" and "password"`);
  }
  return { username: parsed.username, password: parsed.password };
}

/** The server's Secrets Manager and SSM APIs, signed with the agent's keys. */
export class ServerSecretSource implements SecretSource {
  private readonly sm: EcsClient;
  private readonly ssm: EcsClient;

  constructor(endpoint: string, region: string, credentials: AwsCredentials) {
    this.sm = new EcsClient({ endpoint, region, credentials, service: { targetPrefix: 'secretsmanager.', signingName: 'secretsmanager' } });
    this.ssm = new EcsClient({ endpoint, region, credentials, service: { targetPrefix: 'AmazonSSM.', signingName: 'ssm' } });
  }

  async getSecretString(secretId: string, versionStage?: string, versionId?: string): Promise<string> {
    const out = await this.sm.call<{ SecretString?: string }>('GetSecretValue', {
      SecretId: secretId,
      ...(versionStage ? { VersionStage: versionStage } : {}),
      ...(versionId ? { VersionId: versionId } : {}),
    });
    if (out.SecretString === undefined) throw new EcsApiError('InvalidRequestException', `secret ${secretId} holds no SecretString`, 400);
    return out.SecretString;
  }

  async getParameters(names: string[]): Promise<{ values: Map<string, string>; invalid: string[] }> {
    const out = await this.ssm.call<{ Parameters?: { Name?: string; ARN?: string; Value?: string; Selector?: string }[]; InvalidParameters?: string[] }>('GetParameters', {
      Names: names,
      WithDecryption: true,
    });
    const values = new Map<string, string>();
    for (const p of out.Parameters ?? []) {
      if (p.Value === undefined) continue;
      // A reference may name the parameter or its ARN.
      const selector = p.Selector ?? '';
      for (const n of names) if (n === `${p.Name}${selector}` || n === `${p.ARN}${selector}`) values.set(n, p.Value);
    }
    return { values, invalid: out.InvalidParameters ?? [] };
  }

  close(): void {
    this.sm.close();
    this.ssm.close();
  }
}

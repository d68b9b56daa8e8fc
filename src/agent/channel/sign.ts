/**
 * AWS Signature Version 4 (header form, service `ecs`) for the agent's
 * requests to the server: the ECS API calls and the channel's WebSocket
 * upgrade, signed exactly like any API call so the server verifies both with
 * the same code.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or undefined. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsCredentials | undefined {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

export interface SignInput {
  method: string;
  url: URL;
  /** Extra headers to sign (names in any case). `host` and `x-amz-date` are added. */
  headers?: Record<string, string>;
  body?: string;
  region: string;
  service?: string;
  credentials: AwsCredentials;
  signingDate?: Date;
}

/**
 * The headers that make the request carry a valid signature: the given
 * ones (lower-cased) plus `host`, `x-amz-date`, `authorization` and, with
 * session credentials, `x-amz-security-token`. Signed by the maintained
 * Smithy SigV4 signer, the same one the server verifies with.
 */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  headers['host'] = input.url.host;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of input.url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const request = new HttpRequest({
    method: input.method.toUpperCase(),
    protocol: input.url.protocol === 'https:' || input.url.protocol === 'wss:' ? 'https:' : 'http:',
    hostname: input.url.hostname,
    ...(input.url.port ? { port: Number(input.url.port) } : {}),
    path: input.url.pathname,
    query,
    headers,
    ...(input.body !== undefined ? { body: input.body } : {}),
  });
  const signer = new SignatureV4({
    credentials: input.credentials,
    region: input.region,
    service: input.service ?? 'ecs',
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const signed = await signer.sign(request, { signingDate: input.signingDate ?? new Date() });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = String(v);
  return out;
}

/**
 * Headers to send with a GET of `url` (http: or https:, or ws:/wss:) so that
 * it carries a valid signature: `host`, `x-amz-date`, `authorization` (and
 * `x-amz-security-token` with session credentials).
 */
export async function signedGetHeaders(
  url: URL,
  region: string,
  credentials: AwsCredentials,
  signingDate: Date = new Date(),
): Promise<Record<string, string>> {
  return signRequest({ method: 'GET', url, region, credentials, signingDate });
}

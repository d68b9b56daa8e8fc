/**
 * SigV4 signature of the channel's WebSocket upgrade request: a GET of the
 * connect URL, service `ecs`, signed exactly like an API call so the server
 * verifies it with the same code.
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
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const request = new HttpRequest({
    method: 'GET',
    protocol: url.protocol === 'https:' || url.protocol === 'wss:' ? 'https:' : 'http:',
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host },
  });
  const signer = new SignatureV4({
    credentials,
    region,
    service: 'ecs',
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const signed = await signer.sign(request, { signingDate });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = String(v);
  return out;
}

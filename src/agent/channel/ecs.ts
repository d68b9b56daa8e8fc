/**
 * The few ECS API calls the agent makes (RegisterContainerInstance,
 * SubmitTaskStateChange, SubmitContainerStateChange), over the AWS JSON 1.1
 * protocol: `POST /` with `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`,
 * a JSON body, SigV4-signed; keep-alive connections to the server.
 *
 * Contract: resolves with the parsed answer of a 2xx response; rejects with
 * EcsApiError (the ECS exception name from `__type`, and the HTTP status)
 * for an error response, and with the socket error for a failure to reach
 * the server. Every call is bounded by `timeoutMs`.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { signRequest, type AwsCredentials } from './sign.js';

const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';
const DEFAULT_TIMEOUT_MS = 30_000;

/** An error answer of the server: `name` is the ECS exception, e.g. `InvalidParameterException`. */
export class EcsApiError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export interface EcsClientOptions {
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
  /** Bound on one call, connection included. Default 30 s. */
  timeoutMs?: number;
  /** Another AWS JSON 1.1 service on the same endpoint: its target prefix (with the trailing dot) and signing name. Default ECS. */
  service?: { targetPrefix: string; signingName: string };
}

/** The ECS name of an error `__type` such as `com.amazonaws.ecs#ClientException` or `ClientException:http://...`. */
function exceptionName(type: unknown, status: number): string {
  if (typeof type !== 'string' || type === '') return status >= 500 ? 'ServerException' : 'ClientException';
  const afterHash = type.slice(type.lastIndexOf('#') + 1);
  return afterHash.split(':')[0] || afterHash;
}

export class EcsClient {
  private readonly url: URL;
  private readonly tls: boolean;
  private readonly agent: HttpAgent;
  private readonly timeoutMs: number;

  constructor(private readonly options: EcsClientOptions) {
    this.url = new URL('/', options.endpoint);
    this.tls = this.url.protocol === 'https:';
    this.agent = this.tls ? new HttpsAgent({ keepAlive: true, maxFreeSockets: 2 }) : new HttpAgent({ keepAlive: true, maxFreeSockets: 2 });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Calls `operation` with `input`; resolves with the answer's JSON. */
  async call<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T> {
    const body = JSON.stringify(input);
    const headers = await signRequest({
      method: 'POST',
      url: this.url,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${this.options.service?.targetPrefix ?? TARGET_PREFIX}${operation}` },
      body,
      region: this.options.region,
      ...(this.options.service ? { service: this.options.service.signingName } : {}),
      credentials: this.options.credentials,
    });
    headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<T>((resolve, reject) => {
      const req = (this.tls ? httpsRequest : httpRequest)(
        this.url,
        { method: 'POST', headers, agent: this.agent, timeout: this.timeoutMs },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> = {};
            try {
              if (text) parsed = JSON.parse(text) as Record<string, unknown>;
            } catch {
              if (status < 300) {
                reject(new Error(`${operation}: the server answered with something other than JSON`));
                return;
              }
            }
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const name = exceptionName(parsed['__type'] ?? res.headers['x-amzn-errortype'], status);
            const message = parsed['message'] ?? parsed['Message'] ?? (text || `HTTP ${status}`);
            reject(new EcsApiError(name, String(message), status));
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`${operation}: no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }
}

import { AwsError, SerializationException, UnknownOperationException, toWireError } from './errors.js';
import type { ApiRequest, ApiResponse, ServiceProtocol } from './protocol.js';

/** An operation handler: validated input in, response members out. */
export type OperationHandler = (input: Record<string, unknown>, req: ApiRequest) => Promise<unknown>;

export interface AwsJsonServiceOptions {
  service: string;
  /** The `X-Amz-Target` prefix, for example `AmazonEC2ContainerServiceV20141113`. */
  targetPrefix: string;
  /** '1.1' for ECS. */
  jsonVersion: '1.0' | '1.1';
  operations: Readonly<Record<string, OperationHandler>>;
  /** Whether the service's model knows the operation (known but unimplemented operations get a clear error). */
  isKnownOperation(name: string): boolean;
  /** Throws the AWS error for input that does not match the model. */
  validate(operation: string, input: unknown): void;
  unsupported(operation: string): Error;
}

function header(h: ApiRequest['headers'], name: string): string {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/**
 * The AWS JSON 1.0/1.1 protocol: `POST /` with `X-Amz-Target:
 * <prefix>.<Operation>`, a JSON object body, and JSON responses whose errors
 * carry `__type` and `message`.
 */
export function awsJsonService(opts: AwsJsonServiceOptions): ServiceProtocol {
  const contentType = `application/x-amz-json-${opts.jsonVersion}`;
  const prefix = `${opts.targetPrefix}.`;

  const respond = (status: number, operation: string, outcome: string, body: unknown, fault?: unknown, hint?: string): ApiResponse => ({
    status,
    headers: { 'content-type': contentType },
    body: JSON.stringify(body),
    operation,
    outcome,
    ...(fault !== undefined ? { fault } : {}),
    ...(hint !== undefined ? { hint } : {}),
  });

  return {
    service: opts.service,
    matches(req) {
      return req.method === 'POST' && header(req.headers, 'x-amz-target').startsWith(prefix);
    },
    async handle(req) {
      const operation = header(req.headers, 'x-amz-target').slice(prefix.length);
      try {
        const handler = Object.hasOwn(opts.operations, operation) ? opts.operations[operation] : undefined;
        if (!handler) {
          if (opts.isKnownOperation(operation)) throw opts.unsupported(operation);
          throw new UnknownOperationException(`Operation ${operation.slice(0, 100)} is not supported by ${opts.service}.`);
        }
        let input: unknown;
        const text = req.body.toString('utf8');
        try {
          input = text.trim() === '' ? {} : JSON.parse(text);
        } catch (err) {
          throw new SerializationException(`The request body is not valid JSON: ${(err as Error).message}`);
        }
        opts.validate(operation, input);
        await req.authorize?.(operation, input as Record<string, unknown>);
        const output = await handler(input as Record<string, unknown>, req);
        return respond(200, operation, 'ok', output ?? {});
      } catch (err) {
        const wire = toWireError(err);
        const hint = err instanceof AwsError ? err.hint : undefined;
        return respond(wire.status, operation || 'unknown', wire.type, wire.body, wire.unexpected ? err : undefined, hint);
      }
    },
  };
}

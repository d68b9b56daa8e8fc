import { decode, encode } from 'cbor-x';
import { SerializationException, UnknownOperationException, toWireError } from './errors.js';
import type { OperationHandler } from './awsJson.js';
import type { ApiModel, ModelShape } from './models/model.js';
import { shapeOf } from './models/model.js';
import { apiResponse, headerOf, type Failure, type ServiceProtocol } from './protocol.js';

export interface RpcV2CborServiceOptions {
  service: string;
  /** The Smithy service name in the path, for example `GraniteServiceVersion20100801`. */
  serviceName: string;
  /** The shape namespace of error types, for example `com.amazonaws.cloudwatch`. */
  errorNamespace: string;
  model: ApiModel;
  operations: Readonly<Record<string, OperationHandler>>;
  validate(operation: string, input: unknown): void;
  unsupported(operation: string): Error;
  /** Extra headers for an error response (for example `x-amzn-query-error` of awsQuery-compatible services). */
  errorHeaders?(type: string): Record<string, string>;
}

const CBOR = 'application/cbor';

/** CBOR decodes tag 1 (epoch time) into a Date; the validator and handlers take epoch seconds. */
function datesToSeconds(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(datesToSeconds);
  if (value instanceof Uint8Array) return value;
  if (value instanceof Map) return datesToSeconds(Object.fromEntries(value as Map<string, unknown>));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = datesToSeconds(v);
    return out;
  }
  return value;
}

/** Output timestamps (epoch seconds in handlers' answers) become Dates, which CBOR carries as tag 1, as the protocol requires. */
function timestampsToDates(model: ApiModel, shapeName: string, value: unknown, depth = 0): unknown {
  const shape: ModelShape | undefined = shapeOf(model, shapeName);
  if (!shape || value === undefined || value === null || depth > 64) return value;
  switch (shape.type) {
    case 'timestamp':
      return typeof value === 'number' ? new Date(value * 1000) : value;
    case 'structure':
    case 'union': {
      if (typeof value !== 'object') return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const member = Object.hasOwn(shape.members, k) ? shape.members[k] : undefined;
        if (v === undefined) continue;
        out[k] = member ? timestampsToDates(model, member.target, v, depth + 1) : v;
      }
      return out;
    }
    case 'list':
      return Array.isArray(value) ? value.map((v) => timestampsToDates(model, shape.member, v, depth + 1)) : value;
    case 'map': {
      if (typeof value !== 'object') return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = timestampsToDates(model, shape.value, v, depth + 1);
      return out;
    }
    default:
      return value;
  }
}

/**
 * The Smithy RPC v2 CBOR protocol: `POST /service/<serviceName>/operation/<Operation>`
 * with `smithy-protocol: rpc-v2-cbor` and CBOR bodies both ways. Errors carry
 * `__type` (`<namespace>#<Error>`) and `message`, with the error's HTTP status.
 */
export function rpcV2CborService(opts: RpcV2CborServiceOptions): ServiceProtocol {
  const prefix = `/service/${opts.serviceName}/operation/`;
  const respond = (status: number, operation: string, outcome: string, body: unknown, extraHeaders: Record<string, string> = {}, failure?: Failure) =>
    apiResponse(status, { 'content-type': CBOR, 'smithy-protocol': 'rpc-v2-cbor', ...extraHeaders }, Buffer.from(encode(body)), operation, outcome, failure);
  return {
    service: opts.service,
    matches(req) {
      return req.method === 'POST' && req.path.startsWith(prefix) && headerOf(req.headers, 'smithy-protocol') === 'rpc-v2-cbor';
    },
    async handle(req) {
      const operation = decodeURIComponent(req.path.slice(prefix.length));
      try {
        const handler = Object.hasOwn(opts.operations, operation) ? opts.operations[operation] : undefined;
        if (!handler) {
          if (Object.hasOwn(opts.model.operations, operation)) throw opts.unsupported(operation);
          throw new UnknownOperationException(`Operation ${operation.slice(0, 100)} is not supported by ${opts.service}.`);
        }
        let input: unknown = {};
        if (req.body.length > 0) {
          try {
            input = datesToSeconds(decode(req.body));
          } catch (err) {
            throw new SerializationException(`The request body is not valid CBOR: ${(err as Error).message}`);
          }
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SerializationException('The request body must be a CBOR map.');
        opts.validate(operation, input);
        await req.authorize?.(operation, input as Record<string, unknown>);
        const output = await handler(input as Record<string, unknown>, req);
        const outShape = opts.model.operations[operation]?.output ?? '';
        return respond(200, operation, 'ok', timestampsToDates(opts.model, outShape, output ?? {}));
      } catch (err) {
        const wire = toWireError(err);
        const body = { ...wire.body, __type: `${opts.errorNamespace}#${wire.type}` };
        return respond(wire.status, operation || 'unknown', wire.type, body, opts.errorHeaders?.(wire.type) ?? {}, { err, unexpected: wire.unexpected });
      }
    },
  };
}

import { SerializationException, UnknownOperationException, toWireError } from './errors.js';
import { handlerTable } from './bind.js';
import type { Models, Operations, ServiceName } from './models/index.js';
import { isOperationOf, type ServiceModel } from './models/model.js';
import { apiResponse, headerOf, type ApiRequest, type Failure, type ServiceProtocol } from './protocol.js';
import { JSON_VALIDATOR_ERRORS, createValidator, jsonValidatorErrors } from './validate.js';

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

/**
 * The AWS JSON 1.0/1.1 protocol: `POST /` with `X-Amz-Target:
 * <prefix>.<Operation>`, a JSON object body, and JSON responses whose errors
 * carry `__type` and `message`.
 */
export function awsJsonService(opts: AwsJsonServiceOptions): ServiceProtocol {
  const contentType = `application/x-amz-json-${opts.jsonVersion}`;
  const prefix = `${opts.targetPrefix}.`;

  const respond = (status: number, operation: string, outcome: string, body: unknown, failure?: Failure) =>
    apiResponse(status, { 'content-type': contentType }, JSON.stringify(body), operation, outcome, failure);

  return {
    service: opts.service,
    matches(req) {
      return req.method === 'POST' && headerOf(req.headers, 'x-amz-target').startsWith(prefix);
    },
    async handle(req) {
      const operation = headerOf(req.headers, 'x-amz-target').slice(prefix.length);
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
        return respond(wire.status, operation || 'unknown', wire.type, wire.body, { err, unexpected: wire.unexpected });
      }
    },
  };
}

/** The AWS JSON target prefix and version a model declares; throws for a model without an AWS JSON protocol. */
export function jsonProtocolOf(model: ServiceModel): { targetPrefix: string; jsonVersion: '1.0' | '1.1' } {
  for (const p of model.metadata.protocols) {
    if (p.protocol === 'awsJson1_0' || p.protocol === 'awsJson1_1') {
      return { targetPrefix: p.targetPrefix, jsonVersion: p.protocol === 'awsJson1_0' ? '1.0' : '1.1' };
    }
  }
  throw new Error(`The ${model.metadata.sdkId} model declares no AWS JSON protocol.`);
}

/** What an AWS JSON service has of its own besides its model. */
export interface AwsJsonServiceOfOptions<S extends ServiceName> {
  operations: Operations<S>;
  /** The service's error for input the model rejects (a missing required member, a value outside an enum); `InvalidParameterException` by default. */
  validationError?: new (message: string) => Error;
  /** The error for an operation the model has and Berth does not serve. */
  unsupported(operation: string): Error;
}

/**
 * Service `S` over the AWS JSON protocol its model declares (target prefix
 * and version), validating every request against that model; `service`
 * names it in metrics, logs and UnknownOperationException messages.
 */
export function awsJsonServiceOf<S extends ServiceName>(service: S, model: Models[S], opts: AwsJsonServiceOfOptions<S>): ServiceProtocol {
  return awsJsonService({
    service,
    ...jsonProtocolOf(model),
    operations: handlerTable(opts.operations),
    isKnownOperation: (name) => isOperationOf(model, name),
    validate: createValidator(model, { errors: opts.validationError ? jsonValidatorErrors(opts.validationError) : JSON_VALIDATOR_ERRORS }),
    unsupported: opts.unsupported,
  });
}

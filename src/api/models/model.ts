/**
 * The format of Berth's AWS API models (`<service>.generated.ts`) and the
 * TypeScript types derived from them.
 *
 * Every model is generated from the official model shipped with the service's
 * AWS SDK package (`npm run gen:model`, scripts/gen-model.mjs); nothing here is
 * hand-maintained API knowledge. One format serves every protocol: a JSON body
 * (awsJson1_0/1_1), a decoded query string (awsQuery) or a decoded CBOR body
 * (rpcv2Cbor) is the same member tree, checked by the same validator
 * (`../validate.ts`).
 */

export interface MemberSpec {
  /** Name of the target shape in `shapes`. */
  readonly target: string;
  /** Present (true) when the service rejects a request that omits the member. */
  readonly required?: true;
  /** The value must not be logged. */
  readonly sensitive?: true;
  /** The SDK fills the member with a fresh token when the caller leaves it out. */
  readonly idempotencyToken?: true;
  /** The member's name on the XML/query wire when it differs from the member name. */
  readonly xmlName?: string;
  /** A list or map serialised without its wrapping element on the XML/query wire. */
  readonly xmlFlattened?: true;
}

/** What the model says about an error structure. */
export interface ErrorSpec {
  /** Who is at fault: the caller ('client') or the service ('server'). */
  readonly fault: 'client' | 'server';
  /** The HTTP status the model gives the error (`httpError`), if it gives one. */
  readonly httpStatus?: number;
  /** The error code and HTTP status on the awsQuery wire (`awsQueryError`), if they differ from the defaults. */
  readonly queryCode?: string;
  readonly queryStatus?: number;
}

export type ModelShape =
  | {
      readonly type: 'structure' | 'union';
      readonly members: Readonly<Record<string, MemberSpec>>;
      readonly sensitive?: true;
      /** Set on the structures listed in `errors`. */
      readonly error?: ErrorSpec;
      /** A union whose members are sent one by one as an event stream. */
      readonly eventStream?: true;
    }
  /** `memberName`: the list element's name on the XML/query wire when it is not `member`. */
  | { readonly type: 'list'; readonly member: string; readonly memberName?: string }
  | { readonly type: 'map'; readonly key: string; readonly value: string; readonly keyName?: string; readonly valueName?: string }
  | { readonly type: 'string'; readonly enum?: readonly string[]; readonly sensitive?: true }
  /** 'number' when the source model does not say whether the number is integral. */
  | { readonly type: 'integer' | 'long' | 'float' | 'double' | 'number' | 'bigInteger' | 'bigDecimal'; readonly sensitive?: true }
  /** `format`: the timestamp's wire format when the model fixes one; otherwise the protocol's default. */
  | { readonly type: 'timestamp'; readonly format?: 'date-time' | 'http-date' | 'epoch-seconds'; readonly sensitive?: true }
  | { readonly type: 'boolean' | 'blob' | 'document'; readonly sensitive?: true };

export interface OperationIo {
  /** Name of the input structure in `shapes`. */
  readonly input: string;
  /** Name of the output structure in `shapes`. */
  readonly output: string;
  /** Calling the operation twice with the same input has the effect of calling it once. */
  readonly idempotent?: true;
  /** The operation's endpoint host is prefixed with this label (`@endpoint` hostPrefix). */
  readonly hostPrefix?: string;
}

export type ProtocolSpec =
  /** `X-Amz-Target: <targetPrefix>.<Operation>`. */
  | { readonly protocol: 'awsJson1_0' | 'awsJson1_1'; readonly targetPrefix: string }
  /** `Action=<Operation>&Version=<version>`; XML responses in `xmlNamespace`. */
  | { readonly protocol: 'awsQuery'; readonly xmlNamespace: string; readonly version: string }
  /** `POST /service/<serviceName>/operation/<Operation>` with CBOR bodies. */
  | { readonly protocol: 'rpcv2Cbor'; readonly serviceName: string };

export interface ServiceMetadata {
  /** The SDK's service id, for example `ECS` or `Elastic Load Balancing v2`. */
  readonly sdkId: string;
  readonly apiVersion: string;
  /** The SigV4 service name requests are signed for. */
  readonly signingName: string;
  /** The first label(s) of the service's regional endpoint host, for example `api.ecr`. */
  readonly endpointPrefix: string;
  /** A JSON service that also answers in the awsQuery protocol, with query error codes. */
  readonly awsQueryCompatible?: true;
  /** Every protocol the service speaks; the first is the SDK's default. */
  readonly protocols: readonly ProtocolSpec[];
}

/** A model: a generated one, or a smaller one in tests (where metadata may be left out). */
export interface ApiModel {
  readonly operations: Readonly<Record<string, OperationIo>>;
  readonly shapes: Readonly<Record<string, ModelShape>>;
}

/** A generated service model. */
export interface ServiceModel extends ApiModel {
  readonly source: { readonly package: string; readonly version: string };
  readonly metadata: ServiceMetadata;
  /** Names of the error structures in `shapes`, sorted. */
  readonly errors: readonly string[];
}

/** Every operation name of a model, sorted. */
export function operationNames<M extends ApiModel>(model: M): readonly (keyof M['operations'] & string)[] {
  return Object.freeze(Object.keys(model.operations).sort() as (keyof M['operations'] & string)[]);
}

/** Whether `name` is an operation of `model` (own keys only: `constructor` is not an operation). */
export function isOperationOf<M extends ApiModel>(model: M, name: string): name is keyof M['operations'] & string {
  return Object.hasOwn(model.operations, name);
}

/** A shape of `model` by name, or undefined. */
export function shapeOf(model: ApiModel, name: string): ModelShape | undefined {
  return Object.hasOwn(model.shapes, name) ? model.shapes[name] : undefined;
}

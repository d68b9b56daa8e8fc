/**
 * The AWS query protocol (awsQuery), as ELBv2, IAM, STS and CloudWatch speak
 * it: a request is a flat list of form parameters (`POST` with an
 * `application/x-www-form-urlencoded` body, or a `GET` query string) naming
 * `Action` and `Version`; the answer is XML in the service's namespace.
 *
 * - Input: `decodeQuery` turns the parameters into the member tree of the
 *   operation's input structure following the Smithy awsQuery rules (lists as
 *   `Name.member.N`, flattened lists as `Name.N`, maps as
 *   `Name.entry.N.key`/`.value`, `xmlName` renames), converting numbers,
 *   booleans and timestamps by the model, so the generic validator checks it
 *   like any JSON body.
 * - Output: `encodeXml` writes the output structure in model member order
 *   (lists as `<member>`, timestamps in ISO 8601), wrapped as
 *   `<XResponse xmlns=..><XResult>..</XResult><ResponseMetadata>..`.
 * - Errors: `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>..`,
 *   with the code and HTTP status of the model's `awsQueryError` trait.
 *
 * Which service a request is for is decided by the SigV4 credential scope's
 * service name (`signingName`), the one thing every awsQuery request carries.
 */
import { AwsError, InvalidAction, MissingAction, ValidationError } from './errors.js';
import { apiResponse, headerOf, type ApiRequest, type Failure, type ServiceProtocol } from './protocol.js';
import { handlerTable } from './bind.js';
import type { Models, Operations, ServiceName } from './models/index.js';
import type { ModelShape, ServiceModel } from './models/model.js';
import { shapeOf } from './models/model.js';
import { createValidator, type ValidatorErrors } from './validate.js';

/** An operation handler: validated input in, output members (the JSON data model, timestamps as epoch seconds) out. */
export type QueryOperationHandler = (input: Record<string, unknown>, req: ApiRequest) => Promise<unknown>;

export interface AwsQueryServiceOptions {
  /** Short name for metrics and logs, for example `elbv2`. */
  service: string;
  model: ServiceModel;
  operations: Readonly<Record<string, QueryOperationHandler>>;
  /** The error for an operation the model has and Berth does not serve. */
  unsupported(operation: string): Error;
}

/** The validator errors of awsQuery services: every input problem is a `ValidationError`. */
export const QUERY_VALIDATOR_ERRORS: ValidatorErrors = {
  validation: (m) => new ValidationError(m),
  serialization: (m) => new ValidationError(m),
  unknownOperation: (m) => new InvalidAction(m),
};

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

interface ParamNode {
  value?: string;
  children: Map<string, ParamNode>;
}

function paramTree(params: Iterable<[string, string]>): ParamNode {
  const root: ParamNode = { children: new Map() };
  for (const [key, value] of params) {
    let node = root;
    for (const seg of key.split('.')) {
      let next = node.children.get(seg);
      if (!next) {
        next = { children: new Map() };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.value = value;
  }
  return root;
}

/** Children whose keys are list positions (1, 2, ...), in position order. */
function indexed(node: ParamNode): ParamNode[] {
  const items: [number, ParamNode][] = [];
  for (const [k, child] of node.children) {
    if (/^[1-9]\d{0,5}$/.test(k)) items.push([Number(k), child]);
  }
  return items.sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function decodeScalar(shape: ModelShape, text: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
    case 'number':
    case 'bigInteger':
    case 'bigDecimal':
      return NUMBER_RE.test(text) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'timestamp': {
      if (NUMBER_RE.test(text)) return Number(text);
      const ms = Date.parse(text);
      return Number.isNaN(ms) ? text : ms / 1000;
    }
    default:
      return text;
  }
}

/**
 * The member tree of `shapeName` from a parameter node; a value the model
 * cannot convert stays a string so that the validator reports it.
 */
function decodeNode(model: ServiceModel, shapeName: string, node: ParamNode, flattened: boolean, depth: number): unknown {
  const shape = shapeOf(model, shapeName);
  if (!shape || depth > 64) return undefined;
  switch (shape.type) {
    case 'structure':
    case 'union': {
      const out: Record<string, unknown> = {};
      for (const [member, spec] of Object.entries(shape.members)) {
        const child = node.children.get(spec.xmlName ?? member);
        if (child === undefined) continue;
        const v = decodeNode(model, spec.target, child, spec.xmlFlattened === true, depth + 1);
        if (v !== undefined) out[member] = v;
      }
      return out;
    }
    case 'list': {
      // `Name=` with no members is the empty list.
      if (node.children.size === 0) return node.value === '' ? [] : node.value;
      const holder = flattened ? node : node.children.get(shape.memberName ?? 'member');
      if (!holder) return [];
      return indexed(holder).map((item) => decodeNode(model, shape.member, item, false, depth + 1) ?? null);
    }
    case 'map': {
      if (node.children.size === 0) return node.value === '' ? {} : node.value;
      const holder = flattened ? node : node.children.get('entry');
      const out: Record<string, unknown> = {};
      if (!holder) return out;
      for (const entry of indexed(holder)) {
        const key = entry.children.get(shape.keyName ?? 'key')?.value;
        const value = entry.children.get(shape.valueName ?? 'value');
        if (key === undefined) continue;
        // Defined, not assigned: a key such as `__proto__` is an ordinary entry.
        Object.defineProperty(out, key, {
          value: value === undefined ? null : decodeNode(model, shape.value, value, false, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    default:
      if (node.value === undefined) return {};
      return decodeScalar(shape, node.value);
  }
}

/** The input structure of `operation` from its query parameters (`Action` and `Version` excluded). */
export function decodeQuery(model: ServiceModel, operation: string, params: Iterable<[string, string]>): Record<string, unknown> {
  const io = Object.hasOwn(model.operations, operation) ? model.operations[operation] : undefined;
  if (!io) return {};
  const tree = paramTree(params);
  tree.children.delete('Action');
  tree.children.delete('Version');
  const out = decodeNode(model, io.input, tree, false, 0);
  return typeof out === 'object' && out !== null && !Array.isArray(out) ? (out as Record<string, unknown>) : {};
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };

/** Text escaped for element content (carriage returns kept, which XML parsers would otherwise fold). */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => XML_ESCAPES[c]!);
}

function scalarText(shape: ModelShape, value: unknown): string {
  if (shape.type === 'timestamp') {
    const seconds = typeof value === 'number' ? value : value instanceof Date ? value.getTime() / 1000 : Number(value);
    return new Date(Math.round(seconds * 1000)).toISOString();
  }
  if (shape.type === 'blob' && value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return String(value);
}

function encodeValue(model: ServiceModel, shapeName: string, value: unknown, out: string[]): void {
  const shape = shapeOf(model, shapeName);
  if (!shape || value === undefined || value === null) return;
  switch (shape.type) {
    case 'structure':
    case 'union': {
      const obj = value as Record<string, unknown>;
      for (const [member, spec] of Object.entries(shape.members)) {
        const v = Object.hasOwn(obj, member) ? obj[member] : undefined;
        if (v === undefined || v === null) continue;
        encodeMember(model, spec.xmlName ?? member, spec.target, spec.xmlFlattened === true, v, out);
      }
      return;
    }
    default:
      out.push(xmlEscape(scalarText(shape, value)));
  }
}

function encodeMember(model: ServiceModel, name: string, target: string, flattened: boolean, value: unknown, out: string[]): void {
  const shape = shapeOf(model, target);
  if (!shape) return;
  if (shape.type === 'list' && Array.isArray(value)) {
    const item = flattened ? name : (shape.memberName ?? 'member');
    if (!flattened) out.push(`<${name}>`);
    for (const v of value) {
      out.push(`<${item}>`);
      encodeValue(model, shape.member, v, out);
      out.push(`</${item}>`);
    }
    if (!flattened) out.push(`</${name}>`);
    return;
  }
  if (shape.type === 'map' && typeof value === 'object') {
    const entry = flattened ? name : 'entry';
    if (!flattened) out.push(`<${name}>`);
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out.push(`<${entry}><${shape.keyName ?? 'key'}>${xmlEscape(k)}</${shape.keyName ?? 'key'}><${shape.valueName ?? 'value'}>`);
      encodeValue(model, shape.value, v, out);
      out.push(`</${shape.valueName ?? 'value'}></${entry}>`);
    }
    if (!flattened) out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>`);
  encodeValue(model, target, value, out);
  out.push(`</${name}>`);
}

function queryNamespace(model: ServiceModel): { xmlNamespace: string; version: string } {
  for (const p of model.metadata.protocols) if (p.protocol === 'awsQuery') return p;
  throw new Error(`${model.metadata.sdkId} does not speak awsQuery`);
}

/** The XML answer of `operation` with `output` (members of its output structure). */
export function encodeXml(model: ServiceModel, operation: string, output: unknown, requestId: string): string {
  const { xmlNamespace } = queryNamespace(model);
  const io = model.operations[operation];
  const body: string[] = [];
  if (io) encodeValue(model, io.output, output ?? {}, body);
  const result = body.length === 0 ? `<${operation}Result/>` : `<${operation}Result>${body.join('')}</${operation}Result>`;
  return `<${operation}Response xmlns="${xmlNamespace}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`;
}

/**
 * The codes query services use for the errors every AWS service shares, where
 * the JSON protocols name them differently (`InvalidSignatureException` is
 * `SignatureDoesNotMatch` on the query wire).
 */
const QUERY_COMMON_CODES: Readonly<Record<string, string>> = {
  MissingAuthenticationTokenException: 'MissingAuthenticationToken',
  InvalidSignatureException: 'SignatureDoesNotMatch',
  UnrecognizedClientException: 'InvalidClientTokenId',
  IncompleteSignatureException: 'IncompleteSignature',
  RequestEntityTooLargeException: 'RequestEntityTooLarge',
  ThrottlingException: 'Throttling',
  AccessDeniedException: 'AccessDenied',
  ExpiredTokenException: 'ExpiredToken',
};

/** HTTP statuses of the shared errors on the query wire where they differ from the JSON protocols'. */
const QUERY_COMMON_STATUS: Readonly<Record<string, number>> = { AccessDeniedException: 403 };

export interface QueryWireError {
  status: number;
  code: string;
  type: 'Sender' | 'Receiver';
  message: string;
  /** True when the error was not an AwsError: the caller must log it with its stack. */
  unexpected: boolean;
}

/**
 * The one mapping from a thrown value to an awsQuery error: a modelled error
 * takes its `awsQueryError` code and status (`LoadBalancerNotFoundException`
 * is `LoadBalancerNotFound` on the wire); other AWS errors keep their name.
 */
export function toQueryError(model: ServiceModel | undefined, err: unknown): QueryWireError {
  if (err instanceof AwsError) {
    const shape = model ? shapeOf(model, err.type) : undefined;
    const spec = shape && shape.type === 'structure' ? shape.error : undefined;
    const status = spec?.queryStatus ?? spec?.httpStatus ?? QUERY_COMMON_STATUS[err.type] ?? err.status;
    return {
      status,
      code: spec?.queryCode ?? QUERY_COMMON_CODES[err.type] ?? err.type,
      type: (spec?.fault ?? err.fault) === 'server' ? 'Receiver' : 'Sender',
      message: err.message,
      unexpected: false,
    };
  }
  return {
    status: 500,
    code: 'InternalFailure',
    type: 'Receiver',
    message: 'Berth encountered an internal error. It has been logged with its request id; retry the request.',
    unexpected: true,
  };
}

export function encodeQueryError(model: ServiceModel | undefined, e: QueryWireError, requestId: string): string {
  const ns = model ? ` xmlns="${queryNamespace(model).xmlNamespace}"` : '';
  return `<ErrorResponse${ns}><Error><Type>${e.type}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

/** Whether a request looks like an awsQuery call (a form body or a query string with `Action`), for errors raised before dispatch. */
export function looksLikeQuery(req: { method: string; query: string; headers: ApiRequest['headers'] }): boolean {
  if (headerOf(req.headers, 'x-amz-target') !== '') return false;
  if (headerOf(req.headers, 'content-type').startsWith('application/x-www-form-urlencoded')) return true;
  return new URLSearchParams(req.query).has('Action');
}

/** The XML error answer for a request that failed before any service took it (authentication, size). */
export function queryErrorResponse(err: unknown, requestId: string): { status: number; headers: Record<string, string>; body: string; code: string; unexpected: boolean } {
  const e = toQueryError(undefined, err);
  return { status: e.status, headers: { 'content-type': 'text/xml' }, body: encodeQueryError(undefined, e, requestId), code: e.code, unexpected: e.unexpected };
}

const MAX_ECHO = 100;

/** An awsQuery service answering the requests signed for its model's signing name. */
export function awsQueryService(opts: AwsQueryServiceOptions): ServiceProtocol {
  const { model } = opts;
  const { version } = queryNamespace(model);
  const signingName = model.metadata.signingName;
  const validate = createValidator(model, { errors: QUERY_VALIDATOR_ERRORS, memberPaths: 'lower-camel' });

  const respond = (status: number, operation: string, outcome: string, body: string, failure?: Failure) =>
    apiResponse(status, { 'content-type': 'text/xml' }, body, operation, outcome, failure);

  return {
    service: opts.service,
    matches(req) {
      return req.principal.service === signingName && headerOf(req.headers, 'x-amz-target') === '';
    },
    async handle(req) {
      let operation = 'unknown';
      try {
        const params: [string, string][] = [...new URLSearchParams(req.query)];
        if (req.method === 'POST') {
          const type = headerOf(req.headers, 'content-type');
          const text = req.body.toString('utf8');
          if (text.trim() !== '') {
            if (type !== '' && !type.startsWith('application/x-www-form-urlencoded')) {
              throw new ValidationError(`The request body must be form-encoded (application/x-www-form-urlencoded), not ${type.slice(0, MAX_ECHO)}.`);
            }
            params.push(...new URLSearchParams(text));
          }
        } else if (req.method !== 'GET') {
          throw new ValidationError(`${req.method.slice(0, 10)} is not supported; send POST with a form-encoded body or GET with a query string.`);
        }
        const action = params.find(([k]) => k === 'Action')?.[1];
        const requestVersion = params.find(([k]) => k === 'Version')?.[1];
        if (action === undefined || action === '') throw new MissingAction('Missing Action');
        operation = action.slice(0, MAX_ECHO);
        const known = Object.hasOwn(model.operations, action);
        if (!known || (requestVersion !== undefined && requestVersion !== version)) {
          throw new InvalidAction(`Could not find operation ${operation} for version ${(requestVersion ?? version).slice(0, MAX_ECHO)}`);
        }
        const handler = Object.hasOwn(opts.operations, action) ? opts.operations[action] : undefined;
        if (!handler) throw opts.unsupported(action);
        const input = decodeQuery(model, action, params);
        validate(action, input);
        await req.authorize?.(action, input);
        const output = await handler(input, req);
        return respond(200, operation, 'ok', encodeXml(model, action, output ?? {}, req.requestId));
      } catch (err) {
        const e = toQueryError(model, err);
        return respond(e.status, operation, e.code, encodeQueryError(model, e, req.requestId), { err, unexpected: e.unexpected });
      }
    },
  };
}

/** Service `S` over the AWS query protocol, with its operations typed by its model. */
export function awsQueryServiceOf<S extends ServiceName>(
  service: S,
  model: Models[S],
  opts: { operations: Operations<S>; unsupported(operation: string): Error },
): ServiceProtocol {
  return awsQueryService({ service, model, operations: handlerTable(opts.operations), unsupported: opts.unsupported });
}

/**
 * Request validation derived from a generated AWS API model
 * (`models/<service>.generated.ts`), the same for every service and protocol.
 *
 * `createValidator(model)` returns `(operation, input) => void`, which checks a
 * decoded request against the operation's input structure the way the AWS
 * front ends do before an operation runs:
 *
 * - Type checks come first: a value of the wrong type throws a
 *   `SerializationException` at once. The sentence is the one AWS JSON
 *   services use (`Start of structure or map found where not expected`,
 *   `STRING_VALUE can not be converted to an Integer`, ...) followed by the
 *   member path, which AWS leaves out.
 * - Then constraints: missing required members and values outside an enum are
 *   collected over the whole input and thrown as one error
 *   (`InvalidParameterException` unless the service says otherwise) in the AWS
 *   validation format:
 *   `1 validation error detected: Value 'icmp' at 'containerDefinitions.1.member.portMappings.2.member.protocol' failed to satisfy constraint: Member must satisfy enum value set: [tcp, udp]`.
 *   At most `MAX_LISTED_VIOLATIONS` are spelled out; the count covers all.
 * - Unknown members are ignored; a union needs exactly one member set.
 * - `null` for an optional member means absent, and the validator removes such
 *   members from the input, so what it accepts has the type
 *   `OperationInput<model, operation>` (`models/model.ts`).
 *
 * The input is the member tree of the request in the JSON data model, whatever
 * the wire: an AWS JSON body as `JSON.parse` returns it; an awsQuery request
 * decoded into the same tree (`Tags.member.1.Key=a` becomes
 * `{ Tags: [{ Key: 'a' }] }`, numbers and booleans converted by the model);
 * a CBOR body decoded to plain values. Timestamps are epoch seconds (numbers);
 * blobs are base64 text or bytes (`Uint8Array`). Paths in messages are the
 * AWS ones for every protocol (`tags.1.member.key`); awsQuery services spell
 * member names with a lower-case first letter (`memberPaths: 'lower-camel'`).
 *
 * Validation only reads the members the model declares, with own-property
 * checks, so keys such as `__proto__` or `constructor` are ignored like any
 * unknown member. Its recursion follows the model, not the input, and is capped
 * at `MAX_DEPTH`. For any value `JSON.parse` can produce it throws nothing but
 * the serialization error, the validation error, or (for an operation the
 * model does not have) the unknown-operation error.
 *
 * The checks are compiled once per shape when the validator is created.
 */

import { InvalidParameterException, SerializationException, UnknownOperationException } from './errors.js';
import type { ApiModel, ModelShape } from './models/model.js';

/** Violations spelled out in one error message; the count in the message covers all of them. */
export const MAX_LISTED_VIOLATIONS = 10;
/** Deepest member path accepted; deeper input fails with a SerializationException. */
export const MAX_DEPTH = 64;
/** Longest input string echoed back in a message. */
const MAX_ECHO = 256;

/**
 * Checks one decoded request against one operation's input; throws a typed
 * AWS error, or returns with null optional members removed from `input`.
 */
export type InputValidator = (operation: string, input: unknown) => void;

/** The errors a validator throws; each protocol's front end names them its own way. */
export interface ValidatorErrors {
  /** Constraint violations (required, enum): `InvalidParameterException` on ECS, `ValidationException` or `ValidationError` (awsQuery) elsewhere. */
  readonly validation: (message: string) => Error;
  /** A value of the wrong type: `SerializationException` on the JSON protocols. */
  readonly serialization: (message: string) => Error;
  /** An operation the model does not have: `UnknownOperationException` on the JSON protocols, `InvalidAction` on awsQuery. */
  readonly unknownOperation: (message: string) => Error;
}

export interface ValidatorOptions {
  /** The errors thrown; by default the AWS JSON ones with `InvalidParameterException` for violations (as ECS answers). */
  readonly errors?: ValidatorErrors;
  /**
   * How member names appear in the paths of messages: as modelled
   * (`containerDefinitions.1.member.name`, the default), or with a lower-case
   * first letter as the awsQuery services spell them
   * (`Tags.member.1.Key` is reported at `tags.1.member.key`).
   */
  readonly memberPaths?: 'as-modelled' | 'lower-camel';
}

/**
 * The AWS JSON errors, with constraint violations thrown as `violation`: the
 * service's own validation error (`ValidationException` on most services).
 */
export function jsonValidatorErrors(violation: new (message: string) => Error): ValidatorErrors {
  return {
    validation: (message) => new violation(message),
    serialization: (message) => new SerializationException(message),
    unknownOperation: (message) => new UnknownOperationException(message),
  };
}

/** The AWS JSON errors, with constraint violations as `InvalidParameterException` (as ECS answers). */
export const JSON_VALIDATOR_ERRORS: ValidatorErrors = jsonValidatorErrors(InvalidParameterException);

/** A map entry on the path: its key, and whether the key or the value is being checked. */
interface MapSegment {
  readonly key: string;
  readonly role: 'key' | 'value';
}
/** Member name, zero-based list index, or map entry. */
type Segment = string | number | MapSegment;

interface Context {
  readonly errors: ValidatorErrors;
  readonly path: Segment[];
  readonly violations: string[];
  violationCount: number;
}

type Check = (value: unknown, ctx: Context) => void;

/** Indirection so recursive shapes can reference checks compiled later. */
interface Cell {
  check: Check;
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

function renderPath(path: readonly Segment[]): string {
  const parts: string[] = [];
  for (const seg of path) {
    if (typeof seg === 'string') parts.push(seg);
    else if (typeof seg === 'number') parts.push(`${seg + 1}.member`);
    else parts.push(echo(seg.key));
  }
  return parts.join('.');
}

function echo(s: string): string {
  return s.length > MAX_ECHO ? `${s.slice(0, MAX_ECHO)}...` : s;
}

function at(path: readonly Segment[]): string {
  return path.length === 0 ? '' : ` at '${renderPath(path)}'`;
}

/** The token name AWS JSON services use for a JSON value of the wrong type. */
function tokenOf(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return 'STRING_VALUE';
    case 'number':
      return 'NUMBER_VALUE';
    case 'boolean':
      return 'BOOLEAN_VALUE';
    default:
      return value === null || value === undefined ? 'NULL_VALUE' : 'UNKNOWN_VALUE';
  }
}

/** Throws the SerializationException for a value that is not of the expected JSON type. */
function mismatch(value: unknown, expected: string, ctx: Context): never {
  if (Array.isArray(value)) throw ctx.errors.serialization(`Start of list found where not expected${at(ctx.path)}`);
  if (typeof value === 'object' && value !== null) {
    throw ctx.errors.serialization(`Start of structure or map found where not expected${at(ctx.path)}`);
  }
  throw ctx.errors.serialization(`${tokenOf(value)} can not be converted to ${expected}${at(ctx.path)}`);
}

/**
 * Records a constraint violation at the current path. Inside a map entry the
 * violation is reported at the map, as AWS does.
 */
function violation(ctx: Context, rendered: string, constraint: string): void {
  ctx.violationCount++;
  if (ctx.violations.length >= MAX_LISTED_VIOLATIONS) return;
  const last = ctx.path[ctx.path.length - 1];
  if (last !== undefined && typeof last === 'object') {
    const outer = last.role === 'key' ? 'Map keys must satisfy constraint' : 'Map value must satisfy constraint';
    ctx.violations.push(
      `Value ${rendered} at '${renderPath(ctx.path.slice(0, -1))}' failed to satisfy constraint: ${outer}: [${constraint}]`,
    );
    return;
  }
  ctx.violations.push(`Value ${rendered} at '${renderPath(ctx.path)}' failed to satisfy constraint: ${constraint}`);
}

const NOT_NULL = 'Member must not be null';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function depthGuard(ctx: Context): void {
  if (ctx.path.length > MAX_DEPTH) throw ctx.errors.serialization(`Request nesting too deep${at(ctx.path)}`);
}

// ---------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_LIMIT = 2 ** 63;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function compileShape(name: string, shape: ModelShape, cellOf: (target: string) => Cell, lowerCamel: boolean): Check {
  switch (shape.type) {
    case 'structure':
    case 'union': {
      const members = Object.entries(shape.members).map(([member, spec]) => ({
        member,
        pathName: lowerCamel ? member.charAt(0).toLowerCase() + member.slice(1) : member,
        required: spec.required === true,
        cell: cellOf(spec.target),
      }));
      const isUnion = shape.type === 'union';
      return (value, ctx) => {
        if (!isObject(value)) mismatch(value, 'a Structure', ctx);
        depthGuard(ctx);
        let present = 0;
        for (const m of members) {
          const v = Object.hasOwn(value, m.member) ? value[m.member] : undefined;
          ctx.path.push(m.pathName);
          if (v === undefined || v === null) {
            if (m.required) violation(ctx, 'null', NOT_NULL);
            else if (v === null) Reflect.deleteProperty(value, m.member);
          } else {
            present++;
            m.cell.check(v, ctx);
          }
          ctx.path.pop();
        }
        if (isUnion && present !== 1) {
          throw ctx.errors.serialization(`A union must have exactly one member set, found ${present}${at(ctx.path)}`);
        }
      };
    }
    case 'list': {
      const element = cellOf(shape.member);
      return (value, ctx) => {
        if (!Array.isArray(value)) mismatch(value, 'a List', ctx);
        depthGuard(ctx);
        const n = value.length;
        for (let i = 0; i < n; i++) {
          const v: unknown = value[i];
          ctx.path.push(i);
          if (v === undefined || v === null) violation(ctx, 'null', NOT_NULL);
          else element.check(v, ctx);
          ctx.path.pop();
        }
      };
    }
    case 'map': {
      const key = cellOf(shape.key);
      const val = cellOf(shape.value);
      return (value, ctx) => {
        if (!isObject(value)) mismatch(value, 'a Map', ctx);
        depthGuard(ctx);
        for (const k of Object.keys(value)) {
          const v = value[k];
          ctx.path.push({ key: k, role: 'key' });
          key.check(k, ctx);
          ctx.path.pop();
          ctx.path.push({ key: k, role: 'value' });
          if (v === undefined || v === null) violation(ctx, 'null', NOT_NULL);
          else val.check(v, ctx);
          ctx.path.pop();
        }
      };
    }
    case 'string': {
      if (!shape.enum) {
        return (value, ctx) => {
          if (typeof value !== 'string') mismatch(value, 'a String', ctx);
        };
      }
      const allowed = new Set(shape.enum);
      const constraint = `Member must satisfy enum value set: [${shape.enum.join(', ')}]`;
      return (value, ctx) => {
        if (typeof value !== 'string') mismatch(value, 'a String', ctx);
        if (!allowed.has(value)) violation(ctx, `'${echo(value)}'`, constraint);
      };
    }
    case 'integer':
      return (value, ctx) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
          mismatch(value, 'an Integer', ctx);
        }
      };
    case 'long':
      return (value, ctx) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) >= INT64_LIMIT) {
          mismatch(value, 'a Long', ctx);
        }
      };
    case 'float':
    case 'double':
    case 'number':
    case 'bigInteger':
    case 'bigDecimal': {
      const expected = {
        float: 'a Float',
        double: 'a Double',
        number: 'a Number',
        bigInteger: 'a BigInteger',
        bigDecimal: 'a BigDecimal',
      }[shape.type];
      return (value, ctx) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) mismatch(value, expected, ctx);
      };
    }
    case 'boolean':
      return (value, ctx) => {
        if (typeof value !== 'boolean') mismatch(value, 'a Boolean', ctx);
      };
    case 'timestamp':
      return (value, ctx) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) mismatch(value, 'a Timestamp', ctx);
      };
    case 'blob':
      return (value, ctx) => {
        if (value instanceof Uint8Array) return;
        if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) mismatch(value, 'a Blob', ctx);
      };
    case 'document':
      return () => {};
    default: {
      const unknown: never = shape;
      throw new Error(`shape ${name} has an unknown type: ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Compiles every shape of `model` once and returns its validator. Throws a
 * plain Error if the model references a shape it does not define.
 */
export function createValidator(model: ApiModel, options: ValidatorOptions = {}): InputValidator {
  const errors = options.errors ?? JSON_VALIDATOR_ERRORS;
  const lowerCamel = options.memberPaths === 'lower-camel';
  const cells = new Map<string, Cell>();
  const cellOf = (target: string): Cell => {
    const cell = cells.get(target);
    if (!cell) throw new Error(`model references undefined shape ${target}`);
    return cell;
  };
  const unset: Check = () => {
    throw new Error('validator used before compilation finished');
  };
  for (const name of Object.keys(model.shapes)) cells.set(name, { check: unset });
  for (const [name, shape] of Object.entries(model.shapes)) cellOf(name).check = compileShape(name, shape, cellOf, lowerCamel);

  const inputs = new Map<string, Cell>();
  for (const [op, io] of Object.entries(model.operations)) inputs.set(op, cellOf(io.input));

  return (operation, input) => {
    const check = inputs.get(operation);
    if (!check) throw errors.unknownOperation(`Unknown operation ${echo(String(operation))}`);
    if (input === null || input === undefined) throw errors.serialization('The request body must be a JSON object');
    const ctx: Context = { errors, path: [], violations: [], violationCount: 0 };
    check.check(input, ctx);
    if (ctx.violationCount > 0) {
      const n = ctx.violationCount;
      throw errors.validation(`${n} validation error${n === 1 ? '' : 's'} detected: ${ctx.violations.join('; ')}`);
    }
  };
}

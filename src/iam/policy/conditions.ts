/**
 * The Condition element: operators compiled once per policy, evaluated per
 * request. Semantics follow IAM:
 * - every operator block and every key in it must hold (AND); a key's
 *   values are alternatives (OR), and for a negated operator
 *   (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) the request value
 *   must match none of them;
 * - a key absent from the request fails a positive operator and satisfies a
 *   negated one; `...IfExists` makes an absent key satisfy any operator;
 * - a plain operator never matches a multivalued key; `ForAnyValue:` holds
 *   when some request value matches (false when the key is absent or empty),
 *   `ForAllValues:` when every request value matches (true when the key is
 *   absent or empty);
 * - `Null` tests presence: `"true"` holds when the key is absent;
 * - key names are case-insensitive, values case-sensitive unless the
 *   operator says otherwise.
 */
import { BlockList, isIP } from 'node:net';
import { compileArnPattern, compilePattern, type ContextValues } from './patterns.js';

export class PolicySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySyntaxError';
  }
}

/** One policy value as an operator tests it against one request value: true, false, or undefined when a variable it needs is missing. */
type ValueTest = (requestValue: string, ctx: ContextValues) => boolean | undefined;

interface BaseOperator {
  negated: boolean;
  compile(value: string, variables: boolean): ValueTest;
}

function parseNumber(s: string): number | undefined {
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(s)) return undefined;
  return Number(s);
}

/** ISO 8601 dates or epoch seconds, as IAM accepts them. */
function parseDate(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

const stringOp = (negated: boolean, wildcards: boolean, ignoreCase: boolean): BaseOperator => ({
  negated,
  compile(value, variables) {
    const p = compilePattern(value, { wildcards, variables, ignoreCase });
    if (p.literal !== undefined) {
      const lit = p.literal;
      return ignoreCase ? (v) => v.toLowerCase() === lit : (v) => v === lit;
    }
    return (v, ctx) => (p.resolve(ctx) === undefined ? undefined : p.test(v, ctx));
  },
});

const numericOp = (negated: boolean, cmp: (a: number, b: number) => boolean): BaseOperator => ({
  negated,
  compile(value) {
    const b = parseNumber(value);
    return (v) => {
      const a = parseNumber(v);
      return a !== undefined && b !== undefined && cmp(a, b);
    };
  },
});

const dateOp = (negated: boolean, cmp: (a: number, b: number) => boolean): BaseOperator => ({
  negated,
  compile(value) {
    const b = parseDate(value);
    return (v) => {
      const a = parseDate(v);
      return a !== undefined && b !== undefined && cmp(a, b);
    };
  },
});

const arnOp = (negated: boolean): BaseOperator => ({
  negated,
  compile(value, variables) {
    const p = compileArnPattern(value, variables);
    return (v, ctx) => p.test(v, ctx);
  },
});

const ipOp = (negated: boolean): BaseOperator => ({
  negated,
  compile(value) {
    const list = new BlockList();
    const [addr, bits] = value.trim().split('/');
    const family = isIP(addr ?? '');
    if (family === 0) return () => false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return () => false;
    list.addSubnet(addr!, prefix, type);
    return (v) => {
      const f = isIP(v);
      if (f === 0) return false;
      return list.check(v, f === 4 ? 'ipv4' : 'ipv6');
    };
  },
});

const eq = (a: number, b: number): boolean => a === b;
const lt = (a: number, b: number): boolean => a < b;
const le = (a: number, b: number): boolean => a <= b;
const gt = (a: number, b: number): boolean => a > b;
const ge = (a: number, b: number): boolean => a >= b;

/** The base operators by lower-cased name (Null is handled apart). */
const OPERATORS: ReadonlyMap<string, BaseOperator> = new Map([
  ['stringequals', stringOp(false, false, false)],
  ['stringnotequals', stringOp(true, false, false)],
  ['stringequalsignorecase', stringOp(false, false, true)],
  ['stringnotequalsignorecase', stringOp(true, false, true)],
  ['stringlike', stringOp(false, true, false)],
  ['stringnotlike', stringOp(true, true, false)],
  ['numericequals', numericOp(false, eq)],
  ['numericnotequals', numericOp(true, eq)],
  ['numericlessthan', numericOp(false, lt)],
  ['numericlessthanequals', numericOp(false, le)],
  ['numericgreaterthan', numericOp(false, gt)],
  ['numericgreaterthanequals', numericOp(false, ge)],
  ['dateequals', dateOp(false, eq)],
  ['datenotequals', dateOp(true, eq)],
  ['datelessthan', dateOp(false, lt)],
  ['datelessthanequals', dateOp(false, le)],
  ['dategreaterthan', dateOp(false, gt)],
  ['dategreaterthanequals', dateOp(false, ge)],
  ['bool', { negated: false, compile: (value) => (v) => v.toLowerCase() === value.toLowerCase() }],
  ['binaryequals', { negated: false, compile: (value) => (v) => v === value }],
  ['ipaddress', ipOp(false)],
  ['notipaddress', ipOp(true)],
  ['arnequals', arnOp(false)],
  ['arnlike', arnOp(false)],
  ['arnnotequals', arnOp(true)],
  ['arnnotlike', arnOp(true)],
]);

/** A compiled condition entry: one operator, one key, its values. */
export interface CompiledCondition {
  readonly operator: string;
  readonly key: string;
  test(ctx: ContextValues): boolean;
}

/** Compiles a statement's Condition element; throws PolicySyntaxError naming what is wrong. */
export function compileConditions(element: unknown, variables: boolean): CompiledCondition[] {
  if (element === undefined) return [];
  if (typeof element !== 'object' || element === null || Array.isArray(element)) throw new PolicySyntaxError('Syntax errors in policy. Condition must be an object.');
  const out: CompiledCondition[] = [];
  for (const [operator, block] of Object.entries(element as Record<string, unknown>)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block)) {
      throw new PolicySyntaxError(`Syntax errors in policy. Condition operator ${operator} must map condition keys to values.`);
    }
    for (const [key, raw] of Object.entries(block as Record<string, unknown>)) {
      const values = (Array.isArray(raw) ? raw : [raw]).map((v) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        throw new PolicySyntaxError(`Syntax errors in policy. The value of condition key ${key} under ${operator} must be a string, number or boolean.`);
      });
      out.push(compileOne(operator, key, values, variables));
    }
  }
  return out;
}

function compileOne(operator: string, key: string, values: string[], variables: boolean): CompiledCondition {
  if (!/^[A-Za-z0-9_.-]+:[^:]*$|^[^:]+$/.test(key) || key.length === 0) throw new PolicySyntaxError(`Syntax errors in policy. Invalid condition key ${key}.`);
  let rest = operator;
  let set: 'any' | 'all' | undefined;
  const lower = rest.toLowerCase();
  if (lower.startsWith('foranyvalue:')) {
    set = 'any';
    rest = rest.slice('foranyvalue:'.length);
  } else if (lower.startsWith('forallvalues:')) {
    set = 'all';
    rest = rest.slice('forallvalues:'.length);
  }
  let base = rest.toLowerCase();
  let ifExists = false;
  if (base.endsWith('ifexists') && base !== 'ifexists') {
    ifExists = true;
    base = base.slice(0, -'ifexists'.length);
  }
  const lkey = key.toLowerCase();
  if (base === 'null') {
    if (ifExists || set) throw new PolicySyntaxError(`Invalid Condition type : ${operator}`);
    const wanted = values.map((v) => v.toLowerCase());
    return {
      operator,
      key,
      test: (ctx) => wanted.includes(ctx.has(lkey) ? 'false' : 'true'),
    };
  }
  const op = OPERATORS.get(base);
  if (!op) throw new PolicySyntaxError(`Invalid Condition type : ${operator}`);
  const tests = values.map((v) => op.compile(v, variables));
  /** Whether one request value satisfies the operator against the policy values. */
  const one = op.negated
    ? (v: string, ctx: ContextValues): boolean => {
        for (const t of tests) if (t(v, ctx) !== false) return false;
        return true;
      }
    : (v: string, ctx: ContextValues): boolean => {
        for (const t of tests) if (t(v, ctx) === true) return true;
        return false;
      };
  if (set === 'any') {
    return {
      operator,
      key,
      test(ctx) {
        const got = ctx.get(lkey);
        if (got === undefined) return false;
        if (typeof got === 'string') return one(got, ctx);
        return got.some((v) => one(v, ctx));
      },
    };
  }
  if (set === 'all') {
    return {
      operator,
      key,
      test(ctx) {
        const got = ctx.get(lkey);
        if (got === undefined) return true;
        if (typeof got === 'string') return one(got, ctx);
        return got.every((v) => one(v, ctx));
      },
    };
  }
  const absent = ifExists || op.negated;
  return {
    operator,
    key,
    test(ctx) {
      const got = ctx.get(lkey);
      if (got === undefined) return absent;
      if (typeof got !== 'string') return false;
      return one(got, ctx);
    },
  };
}

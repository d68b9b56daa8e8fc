/**
 * Turns a CQL syntax tree into a predicate over container instances.
 *
 * Value semantics, per subject:
 *   - `attribute:<name>`: `==` is string equality; `>`, `>=`, `<`, `<=` compare
 *     numerically when both sides are decimal numbers and as strings otherwise
 *     (so `attribute:cores > 8` matches `16`); `exists` is true for an
 *     attribute present without a value; every other operator is false on such
 *     an attribute or a missing one.
 *   - `agentConnected`: the strings `true` / `false`.
 *   - `agentVersion`: compared as versions, numeric part by part (`1.9.0 < 1.14.5`,
 *     `1.14 == 1.14.0`).
 *   - `registeredAt`: a date (`2018-06-18`, whole UTC day) or a date-time
 *     (`2018-06-18T22:28:28`, with `Z` or an offset, UTC when absent; the whole
 *     second) stands for the span it names: `== 2018-06-18` is any time that
 *     day, `< 2018-06-18` is before it, `> 2018-06-18` after it.
 *   - `runningTasksCount`: numeric, including tasks pending in the batch.
 *   - `task:group`: the instance holds several groups; `==`, `in`, `=~`, `>`...
 *     hold when any group with at least one task on the instance satisfies them.
 *   - `ec2InstanceId`: strings; absent or empty on instances that are not EC2.
 * Every negated operator (`!=`, `!in`, `!~`, `!exists`) is exactly the negation
 * of its positive form, so `task:group != service:db` is anti-affinity.
 */
import { CqlSyntaxError } from './errors.js';
import { OPERATOR_SYMBOL } from './parser.js';
import { compileSafeRegex } from './regex.js';
import type { CqlContext, CqlExpression, CqlInstance, CqlLiteral, CqlOperator, CqlSubject } from './types.js';

export type Predicate = (instance: CqlInstance, ctx: CqlContext | undefined) => boolean;

type Ordering = 'greater_than' | 'greater_than_equal' | 'less_than' | 'less_than_equal';
const ORDER_TEST: Readonly<Record<Ordering, (c: number) => boolean>> = {
  greater_than: (c) => c > 0,
  greater_than_equal: (c) => c >= 0,
  less_than: (c) => c < 0,
  less_than_equal: (c) => c <= 0,
};

const NEGATION: Partial<Record<CqlOperator, CqlOperator>> = {
  not_equals: 'equals',
  not_exists: 'exists',
  not_in: 'in',
  not_matches: 'matches',
};

const DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/** Numeric comparison when both are decimal numbers, code-unit string comparison otherwise. */
export function compareMixed(a: string, b: string): number {
  if (DECIMAL.test(a) && DECIMAL.test(b)) return Math.sign(Number(a) - Number(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares dotted versions part by part: numeric parts as numbers, others as
 * strings; missing parts count as 0 (`1.14 == 1.14.0`).
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+]/);
  const pb = b.split(/[.\-+]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const c = /^\d+$/.test(x) && /^\d+$/.test(y) ? Math.sign(Number(x) - Number(y)) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3})\d*)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const DAY_MS = 86_400_000;

/** The span of time a `registeredAt` argument names: [from, to) in epoch ms, or undefined when malformed. */
export function parseDateSpan(text: string): { from: number; to: number } | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (
    check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day ||
    check.getUTCHours() !== hour || check.getUTCMinutes() !== minute || check.getUTCSeconds() !== second
  ) {
    return undefined; // 2018-02-30, 25:00:00 ...
  }
  if (h === undefined) return { from: base, to: base + DAY_MS };
  let offset = 0;
  if (zone !== undefined && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    offset = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  }
  const from = base - offset + (frac === undefined ? 0 : Number(frac.padEnd(3, '0')));
  return { from, to: from + (frac === undefined ? 1000 : 1) };
}

function literalOf(args: readonly CqlLiteral[]): CqlLiteral {
  return args[0]!;
}

/** Tasks of `group` on the instance, including tasks pending in the batch. */
function groupCount(inst: CqlInstance, ctx: CqlContext | undefined, group: string): number {
  const base = inst.taskGroups.get(group) ?? 0;
  return ctx !== undefined && ctx.pendingTasks > 0 && ctx.pendingGroup === group ? base + ctx.pendingTasks : base;
}

/** Whether any group with tasks on the instance (pending ones included) satisfies `test`. */
function anyGroup(inst: CqlInstance, ctx: CqlContext | undefined, test: (g: string) => boolean): boolean {
  if (ctx !== undefined && ctx.pendingTasks > 0 && test(ctx.pendingGroup)) return true;
  for (const [g, n] of inst.taskGroups) if (n > 0 && test(g)) return true;
  return false;
}

/** Compiles a positive operator (equals, ordering, exists, in, matches) for one subject. */
function compilePositive(subject: CqlSubject, op: CqlOperator, args: readonly CqlLiteral[]): Predicate {
  switch (subject.kind) {
    case 'attribute': {
      const name = subject.name;
      return stringSubject(op, args, (inst) => inst.attributes.get(name), (inst) => inst.attributes.has(name), compareMixed);
    }
    case 'ec2InstanceId':
      return stringSubject(op, args, (inst) => inst.ec2InstanceId || undefined, (inst) => !!inst.ec2InstanceId, compareMixed);
    case 'agentConnected': {
      if (op === 'equals' || op === 'in') {
        for (const a of args) {
          if (!/^(true|false)$/i.test(a.value)) throw new CqlSyntaxError(`Invalid value '${a.value}' for agentConnected`, a.position, 'expected true or false');
        }
      }
      const norm = args.map((a) => (op === 'matches' ? a : { ...a, value: a.value.toLowerCase() }));
      return stringSubject(op, norm, (inst) => String(inst.agentConnected), () => true, compareMixed);
    }
    case 'agentVersion': {
      for (const a of args) {
        if (!/^\d+(\.\d+)*([-+][0-9A-Za-z.\-]+)?$/.test(a.value)) {
          throw new CqlSyntaxError(`Invalid version '${a.value}'`, a.position, 'expected a version such as 1.14.5');
        }
      }
      if (op === 'exists') return (inst) => inst.agentVersion !== undefined;
      const values = args.map((a) => a.value);
      if (op === 'equals' || op === 'in') {
        return (inst) => inst.agentVersion !== undefined && values.some((v) => compareVersions(inst.agentVersion!, v) === 0);
      }
      const test = ORDER_TEST[op as Ordering];
      const v = values[0]!;
      return (inst) => inst.agentVersion !== undefined && test(compareVersions(inst.agentVersion, v));
    }
    case 'registeredAt': {
      if (op === 'exists') return () => true;
      const spans = args.map((a) => {
        const span = parseDateSpan(a.value);
        if (!span) {
          throw new CqlSyntaxError(`Invalid date '${a.value}'`, a.position, 'expected 2018-06-18, 2018-06-18T22:28:28, 2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00');
        }
        return span;
      });
      if (op === 'equals' || op === 'in') return (inst) => spans.some((s) => inst.registeredAt >= s.from && inst.registeredAt < s.to);
      const { from, to } = spans[0]!;
      switch (op as Ordering) {
        case 'greater_than': return (inst) => inst.registeredAt >= to;
        case 'greater_than_equal': return (inst) => inst.registeredAt >= from;
        case 'less_than': return (inst) => inst.registeredAt < from;
        case 'less_than_equal': return (inst) => inst.registeredAt < to;
      }
      break;
    }
    case 'runningTasksCount': {
      if (op === 'exists') return () => true;
      const values = args.map((a) => {
        if (!DECIMAL.test(a.value)) throw new CqlSyntaxError(`Invalid number '${a.value}'`, a.position, 'runningTasksCount compares with numbers');
        return Number(a.value);
      });
      const count = (inst: CqlInstance, ctx: CqlContext | undefined): number => inst.runningTasksCount + (ctx?.pendingTasks ?? 0);
      if (op === 'equals' || op === 'in') return (inst, ctx) => values.includes(count(inst, ctx));
      const test = ORDER_TEST[op as Ordering];
      const v = values[0]!;
      return (inst, ctx) => test(count(inst, ctx) - v);
    }
    case 'taskGroup': {
      if (op === 'exists') return (inst, ctx) => anyGroup(inst, ctx, () => true);
      if (op === 'equals' || op === 'in') {
        const groups = args.map((a) => a.value);
        return (inst, ctx) => groups.some((g) => groupCount(inst, ctx, g) > 0);
      }
      if (op === 'matches') {
        const re = compileSafeRegex(literalOf(args).value, literalOf(args).position);
        return (inst, ctx) => anyGroup(inst, ctx, (g) => re.test(g));
      }
      const test = ORDER_TEST[op as Ordering];
      const v = literalOf(args).value;
      return (inst, ctx) => anyGroup(inst, ctx, (g) => test(compareMixed(g, v)));
    }
  }
  throw new CqlSyntaxError(`Operator '${OPERATOR_SYMBOL[op]}' is not supported here`, args[0]?.position ?? 0);
}

/** Subjects whose value is one optional string. */
function stringSubject(
  op: CqlOperator,
  args: readonly CqlLiteral[],
  get: (inst: CqlInstance) => string | undefined,
  present: (inst: CqlInstance) => boolean,
  compare: (a: string, b: string) => number,
): Predicate {
  switch (op) {
    case 'exists':
      return (inst) => present(inst);
    case 'equals': {
      const v = literalOf(args).value;
      return (inst) => get(inst) === v;
    }
    case 'in': {
      const set = new Set(args.map((a) => a.value));
      return (inst) => {
        const v = get(inst);
        return v !== undefined && set.has(v);
      };
    }
    case 'matches': {
      const re = compileSafeRegex(literalOf(args).value, literalOf(args).position);
      return (inst) => {
        const v = get(inst);
        return v !== undefined && re.test(v);
      };
    }
    default: {
      const test = ORDER_TEST[op as Ordering];
      const lit = literalOf(args).value;
      return (inst) => {
        const v = get(inst);
        return v !== undefined && test(compare(v, lit));
      };
    }
  }
}

/** Compiles a syntax tree into a predicate; throws `CqlSyntaxError` for values a subject cannot take. */
export function compileExpression(expr: CqlExpression): Predicate {
  switch (expr.kind) {
    case 'and': {
      const l = compileExpression(expr.left);
      const r = compileExpression(expr.right);
      return (inst, ctx) => l(inst, ctx) && r(inst, ctx);
    }
    case 'or': {
      const l = compileExpression(expr.left);
      const r = compileExpression(expr.right);
      return (inst, ctx) => l(inst, ctx) || r(inst, ctx);
    }
    case 'not': {
      const p = compileExpression(expr.operand);
      return (inst, ctx) => !p(inst, ctx);
    }
    case 'compare': {
      const positive = NEGATION[expr.operator];
      if (positive === undefined) return compilePositive(expr.subject, expr.operator, expr.argument);
      const p = compilePositive(expr.subject, positive, expr.argument);
      return (inst, ctx) => !p(inst, ctx);
    }
  }
}

/** True when the expression reads task state (`task:group`, `runningTasksCount`), which a batch changes. */
export function dependsOnTasks(expr: CqlExpression): boolean {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return dependsOnTasks(expr.left) || dependsOnTasks(expr.right);
    case 'not':
      return dependsOnTasks(expr.operand);
    case 'compare':
      return expr.subject.kind === 'taskGroup' || expr.subject.kind === 'runningTasksCount';
  }
}

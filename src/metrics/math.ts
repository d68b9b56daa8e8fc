/**
 * A subset of CloudWatch metric math for GetMetricData: query ids, numbers,
 * `+ - * /`, parentheses, unary minus, and the functions SUM, AVG, MIN, MAX
 * over `METRICS()` (every MetricStat query) or a list `[m1, m2]`. Series are
 * matched by timestamp: a binary operation between two series keeps the
 * timestamps both have; a function over several series takes, at each
 * timestamp, the values of the series that have one there. Pure.
 */

/** A time series: value by timestamp (epoch seconds). */
export type TimeSeries = Map<number, number>;

export class MathError extends Error {}

type Value = { kind: 'scalar'; v: number } | { kind: 'series'; s: TimeSeries } | { kind: 'list'; items: TimeSeries[] };

const FUNCTIONS: Record<string, (xs: number[]) => number> = {
  SUM: (xs) => xs.reduce((a, b) => a + b, 0),
  AVG: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
  MIN: (xs) => Math.min(...xs),
  MAX: (xs) => Math.max(...xs),
};

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|[-+*/(),[\]])/y;
  let i = 0;
  while (i < expr.length) {
    if (/\s/.test(expr[i]!)) {
      i++;
      continue;
    }
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) throw new MathError(`Unexpected character '${expr[i]}' at position ${i + 1}.`);
    tokens.push(m[1]!);
    i = re.lastIndex;
  }
  return tokens;
}

function combine(a: Value, b: Value, op: (x: number, y: number) => number): Value {
  if (a.kind === 'list' || b.kind === 'list') throw new MathError('Arithmetic needs a single time series or number on each side.');
  if (a.kind === 'scalar' && b.kind === 'scalar') return { kind: 'scalar', v: op(a.v, b.v) };
  const out: TimeSeries = new Map();
  if (a.kind === 'series' && b.kind === 'series') {
    for (const [t, x] of a.s) {
      const y = b.s.get(t);
      if (y !== undefined) out.set(t, op(x, y));
    }
  } else if (a.kind === 'series' && b.kind === 'scalar') {
    for (const [t, x] of a.s) out.set(t, op(x, b.v));
  } else if (a.kind === 'scalar' && b.kind === 'series') {
    for (const [t, y] of b.s) out.set(t, op(a.v, y));
  }
  for (const [t, v] of out) if (!Number.isFinite(v)) out.delete(t);
  return { kind: 'series', s: out };
}

/**
 * Evaluates `expr` over the series of other queries (`series`, by id);
 * `metricStatIds` are the ids METRICS() stands for.
 */
export function evaluateExpression(expr: string, series: ReadonlyMap<string, TimeSeries>, metricStatIds: readonly string[]): TimeSeries {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (want?: string) => {
    const t = tokens[pos];
    if (t === undefined || (want !== undefined && t !== want)) throw new MathError(`Expected ${want ?? 'more input'} ${t === undefined ? 'at the end' : `but found '${t}'`}.`);
    pos++;
    return t;
  };
  const lookup = (id: string): TimeSeries => {
    const s = series.get(id);
    if (!s) throw new MathError(`Unknown metric or expression id '${id}'.`);
    return s;
  };
  const primary = (): Value => {
    const t = take();
    if (t === '(') {
      const v = sum();
      take(')');
      return v;
    }
    if (t === '-') {
      const v = primary();
      return combine({ kind: 'scalar', v: -1 }, v, (x, y) => x * y);
    }
    if (t === '[') {
      const items: TimeSeries[] = [];
      for (;;) {
        items.push(lookup(take()));
        if (peek() === ',') take(',');
        else break;
      }
      take(']');
      return { kind: 'list', items };
    }
    if (/^\d/.test(t)) return { kind: 'scalar', v: Number(t) };
    if (peek() === '(') {
      take('(');
      if (t === 'METRICS') {
        take(')');
        return { kind: 'list', items: metricStatIds.map(lookup) };
      }
      const fn = FUNCTIONS[t];
      if (!fn) throw new MathError(`Unsupported function ${t}. Berth supports SUM, AVG, MIN, MAX and METRICS.`);
      const arg = sum();
      take(')');
      const items = arg.kind === 'list' ? arg.items : arg.kind === 'series' ? [arg.s] : [];
      if (arg.kind === 'scalar') return { kind: 'scalar', v: arg.v };
      const times = new Set<number>();
      for (const s of items) for (const k of s.keys()) times.add(k);
      const out: TimeSeries = new Map();
      for (const time of times) {
        const xs = items.map((s) => s.get(time)).filter((x): x is number => x !== undefined);
        if (xs.length > 0) out.set(time, fn(xs));
      }
      return { kind: 'series', s: out };
    }
    return { kind: 'series', s: lookup(t) };
  };
  const product = (): Value => {
    let v = primary();
    while (peek() === '*' || peek() === '/') {
      const op = take();
      v = combine(v, primary(), op === '*' ? (x, y) => x * y : (x, y) => x / y);
    }
    return v;
  };
  const sum = (): Value => {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const op = take();
      v = combine(v, product(), op === '+' ? (x, y) => x + y : (x, y) => x - y);
    }
    return v;
  };
  const result = sum();
  if (pos < tokens.length) throw new MathError(`Unexpected '${tokens[pos]}'.`);
  if (result.kind === 'list') throw new MathError('The expression returns several time series; Berth supports expressions returning one.');
  if (result.kind === 'scalar') throw new MathError('The expression returns a number, not a time series.');
  return result.s;
}

/**
 * IAM's string patterns: `*` (any run of characters) and `?` (one character)
 * in actions, ARNs and the `...Like` condition operators, and policy
 * variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, and the
 * escapes `${*}`, `${?}`, `${$}`) in resources and condition values.
 *
 * Everything here is compiled once per policy; matching a request only runs
 * the compiled form.
 */

/** A request's context keys, lower-cased names (IAM treats key names case-insensitively). */
export type ContextValues = ReadonlyMap<string, string | readonly string[]>;

/** A compiled string pattern: `test(value, ctx)`; false when a variable it needs has no value. */
export interface StringPattern {
  readonly source: string;
  /** True when the pattern has no wildcards and no variables: compare with `literal`. */
  readonly literal: string | undefined;
  test(value: string, ctx: ContextValues): boolean;
  /** The pattern with its variables replaced (wildcards kept), or undefined when a variable has no value. */
  resolve(ctx: ContextValues): string | undefined;
}

type Piece = { kind: 'text'; text: string } | { kind: 'star' } | { kind: 'one' } | { kind: 'var'; key: string; fallback: string | undefined };

const VARIABLE_RE = /^\$\{([^}]*)\}/;

function parsePieces(source: string, wildcards: boolean, variables: boolean): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  const flush = (): void => {
    if (text) pieces.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < source.length; ) {
    const c = source[i]!;
    if (variables && c === '$' && source[i + 1] === '{') {
      const m = VARIABLE_RE.exec(source.slice(i));
      if (m) {
        const body = m[1]!.trim();
        i += m[0].length;
        if (body === '*' || body === '?' || body === '$') {
          text += body;
          continue;
        }
        flush();
        const comma = body.indexOf(',');
        if (comma >= 0) {
          const fallback = /^\s*'([^']*)'\s*$/.exec(body.slice(comma + 1));
          pieces.push({ kind: 'var', key: body.slice(0, comma).trim().toLowerCase(), fallback: fallback ? fallback[1] : undefined });
        } else {
          pieces.push({ kind: 'var', key: body.toLowerCase(), fallback: undefined });
        }
        continue;
      }
    }
    if (wildcards && (c === '*' || c === '?')) {
      flush();
      pieces.push({ kind: c === '*' ? 'star' : 'one' });
    } else {
      text += c;
    }
    i++;
  }
  flush();
  return pieces;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function variableValue(ctx: ContextValues, key: string, fallback: string | undefined): string | undefined {
  const v = ctx.get(key);
  if (typeof v === 'string') return v;
  // A multivalued key cannot stand in a policy variable; its absence takes the default if one is given.
  return fallback;
}

export interface PatternOptions {
  /** `*` and `?` are wildcards (StringLike, ArnLike, actions, resources) or literal characters (StringEquals). */
  wildcards: boolean;
  /** `${...}` are policy variables (policy version 2012-10-17 only). */
  variables: boolean;
  /** Compare case-insensitively. */
  ignoreCase: boolean;
}

/** Compiles `source` to a pattern. */
export function compilePattern(source: string, opts: PatternOptions): StringPattern {
  const pieces = parsePieces(source, opts.wildcards, opts.variables);
  const flags = opts.ignoreCase ? 'is' : 's';
  const hasVars = pieces.some((p) => p.kind === 'var');
  const hasWild = pieces.some((p) => p.kind === 'star' || p.kind === 'one');
  const toRegexSource = (resolved: (key: string, fallback: string | undefined) => string | undefined): string | undefined => {
    let out = '^';
    for (const p of pieces) {
      if (p.kind === 'text') out += escapeRe(p.text);
      else if (p.kind === 'star') out += '.*';
      else if (p.kind === 'one') out += '.';
      else {
        const v = resolved(p.key, p.fallback);
        if (v === undefined) return undefined;
        out += escapeRe(v);
      }
    }
    return out + '$';
  };
  const plain = pieces.map((p) => (p.kind === 'text' ? p.text : p.kind === 'star' ? '*' : p.kind === 'one' ? '?' : '')).join('');
  if (!hasVars && !hasWild) {
    const literal = opts.ignoreCase ? plain.toLowerCase() : plain;
    return {
      source,
      literal,
      test: opts.ignoreCase ? (value) => value.toLowerCase() === literal : (value) => value === literal,
      resolve: () => plain,
    };
  }
  const resolve = (ctx: ContextValues): string | undefined => {
    let out = '';
    for (const p of pieces) {
      if (p.kind === 'text') out += p.text;
      else if (p.kind === 'star') out += '*';
      else if (p.kind === 'one') out += '?';
      else {
        const v = variableValue(ctx, p.key, p.fallback);
        if (v === undefined) return undefined;
        out += v;
      }
    }
    return out;
  };
  if (!hasVars) {
    const test = fastTest(pieces, opts.ignoreCase) ?? regexTest(new RegExp(toRegexSource(() => '')!, flags));
    return { source, literal: undefined, test: (value) => test(value), resolve };
  }
  // Variables: the regex depends on the request; keep the few most recent ones compiled.
  const cache = new Map<string, RegExp>();
  return {
    source,
    literal: undefined,
    test(value, ctx) {
      const src = toRegexSource((key, fallback) => variableValue(ctx, key, fallback));
      if (src === undefined) return false;
      let re = cache.get(src);
      if (!re) {
        if (cache.size >= 32) cache.clear();
        re = new RegExp(src, flags);
        cache.set(src, re);
      }
      return re.test(value);
    },
    resolve,
  };
}

const regexTest =
  (re: RegExp) =>
  (value: string): boolean =>
    re.test(value);

/** Direct string tests for the common shapes `*`, `text*`, `*text`; undefined for others. */
function fastTest(pieces: readonly Piece[], ignoreCase: boolean): ((value: string) => boolean) | undefined {
  const norm = (v: string): string => (ignoreCase ? v.toLowerCase() : v);
  const [a, b] = pieces;
  if (pieces.length === 1 && a?.kind === 'star') return () => true;
  if (pieces.length === 2 && a?.kind === 'text' && b?.kind === 'star') {
    const prefix = norm(a.text);
    return (v) => norm(v).startsWith(prefix);
  }
  if (pieces.length === 2 && a?.kind === 'star' && b?.kind === 'text') {
    const suffix = norm(b.text);
    return (v) => norm(v).endsWith(suffix);
  }
  return undefined;
}

/**
 * An ARN pattern matched segment by segment, as IAM does: partition,
 * service, region and account each match within their own segment (a `*`
 * there never spans a colon) and the resource part takes the rest, colons
 * and slashes included. `*` alone matches every resource. A pattern with
 * fewer than six segments is padded with `*` segments.
 */
export interface ArnPattern {
  readonly source: string;
  test(arn: string, ctx: ContextValues): boolean;
  /** `test` on an ARN already split by `splitRequestArn` (undefined when it is not an ARN). */
  testSplit(parts: readonly string[] | undefined, ctx: ContextValues): boolean;
}

export function compileArnPattern(source: string, variables: boolean): ArnPattern {
  if (source === '*') return { source, test: () => true, testSplit: () => true };
  const parts = splitArn(source, true);
  const opts = { wildcards: true, variables, ignoreCase: false };
  // Partition, service, region and account compare case-insensitively (the request's are lower-cased
  // once by splitRequestArn); the resource part is case-sensitive.
  const head = parts.slice(0, 5).map((p) => compilePattern(p.toLowerCase(), opts));
  const resource = compilePattern(parts[5] ?? '*', opts);
  const testSplit = (got: readonly string[] | undefined, ctx: ContextValues): boolean => {
    if (got === undefined) return false;
    for (let i = 0; i < 5; i++) if (!head[i]!.test(got[i]!, ctx)) return false;
    return resource.test(got[5]!, ctx);
  };
  return { source, test: (arn, ctx) => testSplit(splitRequestArn(arn), ctx), testSplit };
}

/** The six segments of a request's ARN, the first five lower-cased, or undefined when it has fewer. */
export function splitRequestArn(arn: string): string[] | undefined {
  const parts = splitArn(arn, false);
  if (parts.length !== 6) return undefined;
  for (let i = 0; i < 5; i++) parts[i] = parts[i]!.toLowerCase();
  return parts;
}

/** The six segments of an ARN (the last holds the rest, colons included); fewer when the text has fewer colons, unless `pad` fills them with `*`. */
function splitArn(arn: string, pad: boolean): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const c = arn.indexOf(':', start);
    if (c < 0) {
      out.push(arn.slice(start));
      while (pad && out.length < 6) out.push('*');
      return out;
    }
    out.push(arn.slice(start, c));
    start = c + 1;
  }
  out.push(arn.slice(start));
  return out;
}

/** Whether `arn` has the six segments of an ARN. */
export function isArn(arn: string): boolean {
  let n = 0;
  for (let i = 0; i < arn.length && n < 5; i++) if (arn[i] === ':') n++;
  return arn.startsWith('arn:') && n === 5;
}

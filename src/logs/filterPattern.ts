/**
 * CloudWatch Logs filter patterns (FilterLogEvents `filterPattern`), as a
 * pure module: `compileFilterPattern(text)` parses once and returns a
 * matcher over messages. Three syntaxes, picked by the first character:
 *
 * - Terms: `ERROR`, `"out of memory"`, `ERROR -Exiting`, `?ERROR ?WARN`.
 *   Every plain term or quoted phrase must occur in the message (case
 *   sensitive), at least one `?term` must when there are any, and no
 *   `-term` may. An empty pattern matches everything.
 * - JSON: `{ $.level = "error" }`, `{ $.latency > 100 }`, with `&&`, `||`,
 *   parentheses, `!=`, `<`, `<=`, `>`, `>=`, `*` wildcards in string
 *   values, `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`, selectors like
 *   `$.a.b`, `$.list[0]`. A message that is not a JSON object never matches.
 * - Space-delimited: `[ip, user, ..., status = 404, size > 1000]`; fields
 *   are the message's words (a `"quoted"` or `[bracketed]` run counts as one
 *   word), `...` stands for any number of words, and each named field may
 *   carry conditions joined with `&&` / `||`.
 *
 * A pattern that does not parse throws InvalidParameterException.
 */
import { InvalidParameterException } from '../core/errors.js';

/**
 * A condition every matching message meets (never stricter than the
 * pattern): a store can evaluate it natively to pre-select candidates, and
 * `matches` decides. `contains`: the message contains `text`; `jsonNumber`:
 * the message is JSON whose value at `path` (`$.a.b[0]`), read as a number,
 * compares with `value`.
 */
export type Prefilter =
  | { k: 'contains'; text: string }
  | { k: 'jsonNumber'; path: string; op: '=' | '!=' | '<' | '<=' | '>' | '>='; value: number }
  | { k: 'and' | 'or'; a: Prefilter; b: Prefilter };

export interface CompiledFilter {
  /** Whether `message` matches the pattern. */
  matches(message: string): boolean;
  /**
   * Substrings every matching message contains (the plain terms of a term
   * pattern). Empty when the pattern gives none.
   */
  readonly requiredSubstrings: readonly string[];
  /** A necessary condition for a match that a store can test itself, if the pattern gives one. */
  readonly prefilter?: Prefilter;
}

function invalid(why: string): never {
  throw new InvalidParameterException(`Invalid filter pattern: ${why}`);
}

export function compileFilterPattern(pattern: string | undefined): CompiledFilter {
  const text = (pattern ?? '').trim();
  if (text === '' || text === '""') return { matches: () => true, requiredSubstrings: [] };
  if (text.startsWith('{')) return compileJson(text);
  if (text.startsWith('[')) return compileDelimited(text);
  return compileTerms(text);
}

// ---------------------------------------------------------------------------
// Terms

function compileTerms(text: string): CompiledFilter {
  const required: string[] = [];
  const optional: string[] = [];
  const excluded: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let kind: 'required' | 'optional' | 'excluded' = 'required';
    if (text[i] === '?') {
      kind = 'optional';
      i++;
    } else if (text[i] === '-' && i + 1 < text.length && !/\s/.test(text[i + 1]!)) {
      kind = 'excluded';
      i++;
    }
    let term: string;
    if (text[i] === '"') {
      const end = findClosingQuote(text, i);
      term = unescape(text.slice(i + 1, end));
      i = end + 1;
    } else {
      const start = i;
      while (i < text.length && !/\s/.test(text[i]!)) i++;
      term = text.slice(start, i);
    }
    if (term === '') {
      if (kind === 'required') continue;
      invalid(`an empty term after '${kind === 'optional' ? '?' : '-'}'.`);
    }
    (kind === 'required' ? required : kind === 'optional' ? optional : excluded).push(term);
  }
  const prefilter = required.map((text): Prefilter => ({ k: 'contains', text })).reduce<Prefilter | undefined>((a, b) => (a ? { k: 'and', a, b } : b), undefined);
  return {
    requiredSubstrings: required,
    ...(prefilter ? { prefilter } : {}),
    matches(message) {
      for (const t of required) if (!message.includes(t)) return false;
      for (const t of excluded) if (message.includes(t)) return false;
      if (optional.length > 0 && !optional.some((t) => message.includes(t))) return false;
      return true;
    },
  };
}

function findClosingQuote(text: string, open: number): number {
  for (let j = open + 1; j < text.length; j++) {
    if (text[j] === '\\') {
      j++;
      continue;
    }
    if (text[j] === '"') return j;
  }
  return invalid(`unterminated quoted term at position ${open + 1}.`);
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

// ---------------------------------------------------------------------------
// Shared: tokens for the JSON and space-delimited syntaxes

type Tok =
  | { t: 'sel'; path: (string | number)[] }
  | { t: 'op'; v: '=' | '!=' | '<' | '<=' | '>' | '>=' }
  | { t: 'and' }
  | { t: 'or' }
  | { t: '(' }
  | { t: ')' }
  | { t: ',' }
  | { t: 'str'; v: string; quoted: boolean }
  | { t: 'num'; v: number; raw: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '&&') {
      out.push({ t: 'and' });
      i += 2;
    } else if (two === '||') {
      out.push({ t: 'or' });
      i += 2;
    } else if (two === '!=' || two === '<=' || two === '>=') {
      out.push({ t: 'op', v: two });
      i += 2;
    } else if (c === '=' || c === '<' || c === '>') {
      out.push({ t: 'op', v: c });
      i += 1;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c });
      i += 1;
    } else if (c === '"') {
      const end = findClosingQuote(src, i);
      out.push({ t: 'str', v: unescape(src.slice(i + 1, end)), quoted: true });
      i = end + 1;
    } else if (c === '$') {
      const m = /^\$((?:\.[A-Za-z0-9_@\-:]+|\[\d+\]|\.\*)*)/.exec(src.slice(i))!;
      const path: (string | number)[] = [];
      for (const part of m[1]!.matchAll(/\.([A-Za-z0-9_@\-:*]+)|\[(\d+)\]/g)) path.push(part[2] !== undefined ? Number(part[2]) : part[1]!);
      out.push({ t: 'sel', path });
      i += m[0].length;
    } else {
      const m = /^[^\s=!<>()&|,"]+/.exec(src.slice(i));
      if (!m) invalid(`unexpected '${c}' at position ${i + 1}.`);
      const raw = m[0];
      const n = Number(raw);
      out.push(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw) && Number.isFinite(n) ? { t: 'num', v: n, raw } : { t: 'str', v: raw, quoted: false });
      i += raw.length;
    }
  }
  return out;
}

/** `*` in a pattern value matches any run of characters. */
function wildcardMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return re.test(value);
}

type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** Compares a field's value with a pattern value: numbers numerically, strings with wildcards (= and != only). */
function compare(field: unknown, op: Cmp, value: { t: 'str'; v: string } | { t: 'num'; v: number }): boolean {
  if (value.t === 'num') {
    const n = typeof field === 'number' ? field : typeof field === 'string' && field.trim() !== '' ? Number(field) : NaN;
    if (Number.isNaN(n)) return false;
    switch (op) {
      case '=':
        return n === value.v;
      case '!=':
        return n !== value.v;
      case '<':
        return n < value.v;
      case '<=':
        return n <= value.v;
      case '>':
        return n > value.v;
      case '>=':
        return n >= value.v;
    }
  }
  if (op !== '=' && op !== '!=') invalid(`'${op}' compares numbers only; '${value.v}' is not a number.`);
  if (field === undefined || field === null || typeof field === 'object') return false;
  const eq = wildcardMatch(value.v, String(field));
  return op === '=' ? eq : !eq;
}

// ---------------------------------------------------------------------------
// JSON

type JsonExpr =
  | { k: 'and' | 'or'; a: JsonExpr; b: JsonExpr }
  | { k: 'cmp'; path: (string | number)[]; op: Cmp; value: { t: 'str'; v: string } | { t: 'num'; v: number } }
  | { k: 'is'; path: (string | number)[]; what: 'null' | 'true' | 'false' | 'missing' | 'exists' };

function compileJson(text: string): CompiledFilter {
  if (!text.endsWith('}')) invalid(`a JSON pattern must end with '}'.`);
  const toks = tokenize(text.slice(1, -1));
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const word = (w: string): boolean => {
    const t = peek();
    return t?.t === 'str' && !t.quoted && t.v.toUpperCase() === w;
  };
  const parseOr = (): JsonExpr => {
    let left = parseAnd();
    while (peek()?.t === 'or') {
      p++;
      left = { k: 'or', a: left, b: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): JsonExpr => {
    let left = parseUnary();
    while (peek()?.t === 'and') {
      p++;
      left = { k: 'and', a: left, b: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): JsonExpr => {
    const t = peek();
    if (t?.t === '(') {
      p++;
      const e = parseOr();
      if (peek()?.t !== ')') invalid(`missing ')'.`);
      p++;
      return e;
    }
    if (t?.t !== 'sel') invalid(`expected a selector such as $.field.`);
    p++;
    if (word('IS')) {
      p++;
      const w = peek();
      if (w?.t !== 'str' || w.quoted) invalid(`IS must be followed by NULL, TRUE or FALSE.`);
      p++;
      const what = w.v.toUpperCase();
      if (what === 'NULL') return { k: 'is', path: t.path, what: 'null' };
      if (what === 'TRUE') return { k: 'is', path: t.path, what: 'true' };
      if (what === 'FALSE') return { k: 'is', path: t.path, what: 'false' };
      invalid(`IS must be followed by NULL, TRUE or FALSE.`);
    }
    if (word('NOT')) {
      p++;
      if (!word('EXISTS')) invalid(`NOT must be followed by EXISTS.`);
      p++;
      return { k: 'is', path: t.path, what: 'missing' };
    }
    if (word('EXISTS')) {
      p++;
      return { k: 'is', path: t.path, what: 'exists' };
    }
    const op = peek();
    if (op?.t !== 'op') invalid(`expected a comparison after the selector.`);
    p++;
    const v = peek();
    if (v?.t !== 'str' && v?.t !== 'num') invalid(`expected a value after '${op.v}'.`);
    p++;
    const value = v.t === 'num' ? { t: 'num' as const, v: v.v } : { t: 'str' as const, v: v.v };
    if (value.t === 'str' && op.v !== '=' && op.v !== '!=') invalid(`'${op.v}' compares numbers only; '${value.v}' is not a number.`);
    return { k: 'cmp', path: t.path, op: op.v, value };
  };
  const expr = parseOr();
  if (p !== toks.length) invalid(`unexpected text after the expression.`);

  const get = (doc: unknown, path: (string | number)[]): unknown => {
    let cur: unknown = doc;
    for (const seg of path) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string | number, unknown>)[seg];
    }
    return cur;
  };
  const evaluate = (e: JsonExpr, doc: unknown): boolean => {
    switch (e.k) {
      case 'and':
        return evaluate(e.a, doc) && evaluate(e.b, doc);
      case 'or':
        return evaluate(e.a, doc) || evaluate(e.b, doc);
      case 'is': {
        const v = get(doc, e.path);
        if (e.what === 'missing') return v === undefined;
        if (e.what === 'exists') return v !== undefined;
        if (e.what === 'null') return v === null;
        return v === (e.what === 'true');
      }
      case 'cmp': {
        const v = get(doc, e.path);
        if (v === undefined) return false;
        return compare(v, e.op, e.value);
      }
    }
  };
  const prefilter = jsonPrefilter(expr);
  return {
    requiredSubstrings: [],
    ...(prefilter ? { prefilter } : {}),
    matches(message) {
      const trimmed = message.trimStart();
      if (!trimmed.startsWith('{')) return false;
      let doc: unknown;
      try {
        doc = JSON.parse(message);
      } catch {
        return false;
      }
      return evaluate(expr, doc);
    },
  };
}

/** Values JSON writers never escape: such a string value appears verbatim in the message. */
const VERBATIM = /^[A-Za-z0-9 _.:@/-]+$/;

/** A necessary condition of a JSON expression, where one can be given. */
function jsonPrefilter(e: JsonExpr): Prefilter | undefined {
  switch (e.k) {
    case 'and': {
      const a = jsonPrefilter(e.a);
      const b = jsonPrefilter(e.b);
      return a && b ? { k: 'and', a, b } : (a ?? b);
    }
    case 'or': {
      const a = jsonPrefilter(e.a);
      const b = jsonPrefilter(e.b);
      return a && b ? { k: 'or', a, b } : undefined;
    }
    case 'is':
      return undefined;
    case 'cmp': {
      if (e.value.t === 'num') {
        const path = '$' + e.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
        return /^[$A-Za-z0-9_.[\]-]+$/.test(path) ? { k: 'jsonNumber', path, op: e.op, value: e.value.v } : undefined;
      }
      if (e.op !== '=') return undefined;
      const longest = e.value.v.split('*').reduce((a, b) => (b.length > a.length ? b : a), '');
      return longest !== '' && VERBATIM.test(longest) ? { k: 'contains', text: longest } : undefined;
    }
  }
}

// ---------------------------------------------------------------------------
// Space-delimited

type FieldCond = { k: 'and' | 'or'; a: FieldCond; b: FieldCond } | { k: 'cmp'; op: Cmp; value: { t: 'str'; v: string } | { t: 'num'; v: number } };

interface Field {
  ellipsis: boolean;
  cond?: FieldCond;
}

/** Splits a message into words: runs of non-spaces, with "..." and [...] each one word (quotes and brackets removed). */
export function splitDelimited(message: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < message.length) {
    while (i < message.length && message[i] === ' ') i++;
    if (i >= message.length) break;
    const c = message[i]!;
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      const end = message.indexOf(close, i + 1);
      if (end >= 0) {
        out.push(message.slice(i + 1, end));
        i = end + 1;
        continue;
      }
    }
    const start = i;
    while (i < message.length && message[i] !== ' ') i++;
    out.push(message.slice(start, i));
  }
  return out;
}

function compileDelimited(text: string): CompiledFilter {
  if (!text.endsWith(']')) invalid(`a space-delimited pattern must end with ']'.`);
  const toks = tokenize(text.slice(1, -1));
  const fields: Field[] = [];
  let p = 0;
  const parseCond = (): FieldCond => {
    const parseAtom = (): FieldCond => {
      const op = toks[p];
      if (op?.t !== 'op') invalid(`expected a comparison.`);
      p++;
      const v = toks[p];
      if (v?.t !== 'str' && v?.t !== 'num') invalid(`expected a value after '${op.v}'.`);
      p++;
      const value = v.t === 'num' ? { t: 'num' as const, v: v.v } : { t: 'str' as const, v: v.v };
      if (value.t === 'str' && op.v !== '=' && op.v !== '!=') invalid(`'${op.v}' compares numbers only; '${value.v}' is not a number.`);
      return { k: 'cmp', op: op.v, value };
    };
    let left = parseAtom();
    for (;;) {
      const t = toks[p];
      if (t?.t !== 'and' && t?.t !== 'or') return left;
      p++;
      // `status = 4* || status = 5*`: the field name may be repeated after the connective.
      if (toks[p]?.t === 'str' && toks[p + 1]?.t === 'op') p++;
      left = { k: t.t, a: left, b: parseAtom() };
    }
  };
  while (p < toks.length) {
    const t = toks[p]!;
    if (t.t !== 'str') invalid(`expected a field name at field ${fields.length + 1}.`);
    p++;
    const field: Field = { ellipsis: t.v === '...' };
    if (toks[p]?.t === 'op') {
      if (field.ellipsis) invalid(`'...' cannot carry a condition.`);
      field.cond = parseCond();
    }
    fields.push(field);
    if (p < toks.length) {
      if (toks[p]?.t !== ',') invalid(`fields must be separated by commas.`);
      p++;
    }
  }
  const check = (c: FieldCond, v: string): boolean =>
    c.k === 'cmp' ? compare(v, c.op, c.value) : c.k === 'and' ? check(c.a, v) && check(c.b, v) : check(c.a, v) || check(c.b, v);

  /** Whether words[wi..] fit fields[fi..]. */
  const fit = (words: string[], wi: number, fi: number): boolean => {
    if (fi === fields.length) return wi === words.length;
    const f = fields[fi]!;
    if (f.ellipsis) {
      for (let k = wi; k <= words.length; k++) if (fit(words, k, fi + 1)) return true;
      return false;
    }
    if (wi >= words.length) return false;
    if (f.cond && !check(f.cond, words[wi]!)) return false;
    return fit(words, wi + 1, fi + 1);
  };
  return {
    requiredSubstrings: [],
    matches: (message) => fit(splitDelimited(message), 0, 0),
  };
}

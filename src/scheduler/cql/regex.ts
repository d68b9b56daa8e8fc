/**
 * Safe compilation of the regular expressions of `=~` / `!~`.
 *
 * ECS documents Java regular expressions; Berth runs them with JavaScript's
 * engine, which shares the common syntax. Java's `matches` semantics apply:
 * the pattern must match the whole value (`g2.*` matches `g2.2xlarge`, not
 * `xg2`).
 *
 * The engine backtracks, so a pattern can take exponential time on a short
 * value and stall placement for the whole cluster. Patterns are therefore
 * refused, with a `CqlSyntaxError`, when they contain:
 *   - a backreference (`\1`, `\k<name>`);
 *   - a repeated group that itself contains a repetition, like `(a+)+`;
 *   - a repeated group with alternatives that are not plain literals starting
 *     with distinct characters, like `(a|ab)*` (`(us|eu)+` is fine);
 *   - more than MAX_UNBOUNDED repetitions (`*`, `+`, `{n,}`, `{n,m}` with m > 64),
 *     which bounds polynomial backtracking.
 * Such patterns can almost always be rewritten with character classes.
 */
import { CqlSyntaxError } from './errors.js';

export const MAX_PATTERN_LENGTH = 512;
export const MAX_UNBOUNDED = 3;
/** A bounded repetition `{n,m}` with m above this counts as unbounded. */
const LARGE_BOUND = 64;

interface Frame {
  /** Offset of the first character of the group's content in the pattern. */
  contentStart: number;
  /** Offsets of the `|` that separate the group's alternatives. */
  bars: number[];
  /** True when the group's content repeats something (its own or nested). */
  repeats: boolean;
}

/** What a quantifier at `i` is: its length in the pattern and whether it repeats (more than once). */
function readQuantifier(p: string, i: number): { length: number; repeats: boolean; unbounded: boolean } | undefined {
  const c = p[i];
  let length: number;
  let repeats: boolean;
  let unbounded: boolean;
  if (c === '*' || c === '+') {
    length = 1;
    repeats = true;
    unbounded = true;
  } else if (c === '?') {
    length = 1;
    repeats = false;
    unbounded = false;
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (!m) return undefined;
    length = m[0].length;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    repeats = max > 1;
    unbounded = max > LARGE_BOUND;
  } else {
    return undefined;
  }
  // Lazy (`*?`) and possessive (`*+`, Java) suffixes.
  if (p[i + length] === '?' || p[i + length] === '+') length++;
  return { length, repeats, unbounded };
}

/** The literal text of an alternative, or undefined when it uses any regular-expression feature. */
function plainLiteral(alt: string): string | undefined {
  let out = '';
  for (let i = 0; i < alt.length; i++) {
    const c = alt[i]!;
    if (c === '\\') {
      const next = alt[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return undefined;
      out += next;
      i++;
    } else if ('.[](){}*+?^$|'.includes(c)) {
      return undefined;
    } else {
      out += c;
    }
  }
  return out;
}

function alternativesAreDisjointLiterals(p: string, frame: Frame, end: number): boolean {
  const cuts = [frame.contentStart - 1, ...frame.bars, end];
  const firsts = new Set<string>();
  for (let k = 0; k + 1 < cuts.length; k++) {
    const lit = plainLiteral(p.slice(cuts[k]! + 1, cuts[k + 1]!));
    if (lit === undefined || lit === '' || firsts.has(lit[0]!)) return false;
    firsts.add(lit[0]!);
  }
  return true;
}

/**
 * Compiles `pattern` into an anchored RegExp, or throws `CqlSyntaxError`
 * (at `position`, the literal's offset in the expression) when it is invalid
 * or may backtrack catastrophically.
 */
export function compileSafeRegex(pattern: string, position: number): RegExp {
  const refuse = (why: string): never => {
    throw new CqlSyntaxError(`Unsafe regular expression '${pattern}'`, position, why);
  };
  if (pattern.length > MAX_PATTERN_LENGTH) refuse(`patterns are limited to ${MAX_PATTERN_LENGTH} characters`);

  const stack: Frame[] = [{ contentStart: 0, bars: [], repeats: false }];
  let unbounded = 0;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    let atomEnd = i + 1;
    let closed: Frame | undefined;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) refuse('backreferences are not supported');
      atomEnd = i + 2;
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      atomEnd = j + 1;
    } else if (c === '(') {
      let contentStart = i + 1;
      const m = /^\(\?(?::|=|!|<=|<!|<[A-Za-z][A-Za-z0-9]*>)/.exec(pattern.slice(i));
      if (m) contentStart = i + m[0].length;
      stack.push({ contentStart, bars: [], repeats: false });
      i = contentStart;
      continue;
    } else if (c === ')') {
      if (stack.length === 1) throw new CqlSyntaxError(`Invalid regular expression '${pattern}'`, position, "unmatched ')'");
      closed = stack.pop();
    } else if (c === '|') {
      stack[stack.length - 1]!.bars.push(i);
      i++;
      continue;
    }
    const q = readQuantifier(pattern, atomEnd);
    const top = stack[stack.length - 1]!;
    if (closed) {
      if (q?.repeats) {
        if (closed.repeats) refuse('a repeated group contains another repetition (like (a+)+); use a character class instead');
        if (closed.bars.length > 0 && !alternativesAreDisjointLiterals(pattern, closed, i)) {
          refuse('a repeated group has alternatives that can overlap (like (a|ab)*)');
        }
      }
      top.repeats ||= closed.repeats || (q?.repeats ?? false);
    } else if (q?.repeats) {
      top.repeats = true;
    }
    if (q?.unbounded && ++unbounded > MAX_UNBOUNDED) {
      refuse(`at most ${MAX_UNBOUNDED} unbounded repetitions (*, +, {n,}) are allowed`);
    }
    i = atomEnd + (q?.length ?? 0);
  }

  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new CqlSyntaxError(`Invalid regular expression '${pattern}'`, position, detail);
  }
}

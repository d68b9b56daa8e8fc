/**
 * Parser of the ECS cluster query language.
 *
 * Grammar (keywords and word operators are case-insensitive):
 *
 *   expression := or
 *   or         := and  (('||' | 'or')  and)*
 *   and        := unary (('&&' | 'and') unary)*
 *   unary      := ('!' | 'not') unary | '(' expression ')' | comparison
 *   comparison := subject operator [argument]
 *   subject    := agentConnected | agentVersion | attribute:<name> | ec2InstanceId
 *               | registeredAt | runningTasksCount | task:group
 *   argument   := literal | '[' literal (',' literal)* ']'
 *   literal    := 'quoted' | "quoted" | bare
 *
 * `not` binds tighter than `and`, which binds tighter than `or`. A bare literal
 * runs until whitespace, a bracket, a parenthesis, a comma, a quote, `&&` or
 * `||`; quote values that contain any of those. A bare pattern after `=~` or
 * `!~` may also contain balanced parentheses and brackets: `=~ (t3|m5)\..*`.
 * Inside quotes a backslash escapes the quote character or a backslash.
 *
 * Every error is a `CqlSyntaxError` naming the problem and its 0-based position.
 */
import { CqlSyntaxError } from './errors.js';
import type { CqlExpression, CqlLiteral, CqlOperator, CqlSubject } from './types.js';

/** Nesting deeper than this is refused rather than risking the call stack. */
export const MAX_NESTING = 64;

const SYMBOL_OPERATORS: ReadonlyArray<readonly [string, CqlOperator]> = [
  // Longest first, so that `>=` is not read as `>` followed by `=`.
  ['!exists', 'not_exists'],
  ['!in', 'not_in'],
  ['==', 'equals'],
  ['!=', 'not_equals'],
  ['>=', 'greater_than_equal'],
  ['<=', 'less_than_equal'],
  ['=~', 'matches'],
  ['!~', 'not_matches'],
  ['>', 'greater_than'],
  ['<', 'less_than'],
];

const WORD_OPERATORS: ReadonlyMap<string, CqlOperator> = new Map<string, CqlOperator>([
  ['equals', 'equals'],
  ['not_equals', 'not_equals'],
  ['greater_than', 'greater_than'],
  ['greater_than_equal', 'greater_than_equal'],
  ['less_than', 'less_than'],
  ['less_than_equal', 'less_than_equal'],
  ['exists', 'exists'],
  ['not_exists', 'not_exists'],
  ['in', 'in'],
  ['not_in', 'not_in'],
  ['matches', 'matches'],
  ['not_matches', 'not_matches'],
]);

/** The spelling used in messages for each operator. */
export const OPERATOR_SYMBOL: Readonly<Record<CqlOperator, string>> = {
  equals: '==',
  not_equals: '!=',
  greater_than: '>',
  greater_than_equal: '>=',
  less_than: '<',
  less_than_equal: '<=',
  exists: 'exists',
  not_exists: '!exists',
  in: 'in',
  not_in: '!in',
  matches: '=~',
  not_matches: '!~',
};

const FIXED_SUBJECTS: ReadonlyMap<string, CqlSubject> = new Map<string, CqlSubject>([
  ['agentConnected', { kind: 'agentConnected' }],
  ['agentVersion', { kind: 'agentVersion' }],
  ['ec2InstanceId', { kind: 'ec2InstanceId' }],
  ['registeredAt', { kind: 'registeredAt' }],
  ['runningTasksCount', { kind: 'runningTasksCount' }],
  ['task:group', { kind: 'taskGroup' }],
]);

const SUBJECT_LIST = 'agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount or task:group';

const ORDERING: readonly CqlOperator[] = ['greater_than', 'greater_than_equal', 'less_than', 'less_than_equal'];
const PATTERN: readonly CqlOperator[] = ['matches', 'not_matches'];

/** Operators ECS documents for each subject; attributes and task groups accept all of them. */
function operatorAllowed(subject: CqlSubject, op: CqlOperator): boolean {
  switch (subject.kind) {
    case 'agentConnected':
    case 'ec2InstanceId':
      return !ORDERING.includes(op);
    case 'agentVersion':
    case 'registeredAt':
    case 'runningTasksCount':
      return !PATTERN.includes(op);
    case 'attribute':
    case 'taskGroup':
      return true;
  }
}

function subjectName(subject: CqlSubject): string {
  switch (subject.kind) {
    case 'attribute':
      return `attribute:${subject.name}`;
    case 'taskGroup':
      return 'task:group';
    default:
      return subject.kind;
  }
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const SUBJECT_CHAR = /[A-Za-z0-9_.\-/\\:@]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.\-/\\]{1,128}$/;
const TWO_CHAR_TOKENS = new Set(['&&', '||', '==', '!=', '>=', '<=', '=~', '!~']);
const BARE_STOP = new Set([' ', '\t', '\n', '\r', '(', ')', '[', ']', ',', "'", '"']);

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parse(): CqlExpression {
    this.skipSpace();
    if (this.atEnd()) throw new CqlSyntaxError('Empty expression', this.pos);
    const expr = this.parseOr();
    this.skipSpace();
    if (!this.atEnd()) {
      throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(this.pos)}'`, this.pos, "expected 'and', 'or' or the end of the expression");
    }
    return expr;
  }

  private parseOr(): CqlExpression {
    let left = this.parseAnd();
    for (;;) {
      this.skipSpace();
      if (!this.eatSymbol('||') && !this.eatWord('or')) return left;
      left = { kind: 'or', left, right: this.parseAnd() };
    }
  }

  private parseAnd(): CqlExpression {
    let left = this.parseUnary();
    for (;;) {
      this.skipSpace();
      if (!this.eatSymbol('&&') && !this.eatWord('and')) return left;
      left = { kind: 'and', left, right: this.parseUnary() };
    }
  }

  private parseUnary(): CqlExpression {
    this.skipSpace();
    if (++this.depth > MAX_NESTING) throw new CqlSyntaxError(`Expression nested deeper than ${MAX_NESTING} levels`, this.pos);
    try {
      if (this.atEnd()) throw this.unexpectedEnd('a condition');
      const c = this.src[this.pos];
      if (c === '!' && !['=', '~'].includes(this.src[this.pos + 1] ?? '')) {
        this.pos++;
        return { kind: 'not', operand: this.parseUnary() };
      }
      if (this.eatWord('not')) return { kind: 'not', operand: this.parseUnary() };
      if (c === '(') {
        this.pos++;
        const inner = this.parseOr();
        this.skipSpace();
        if (this.atEnd()) throw this.unexpectedEnd("')'");
        if (this.src[this.pos] !== ')') {
          throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(this.pos)}'`, this.pos, "expected ')'");
        }
        this.pos++;
        return inner;
      }
      return this.parseComparison();
    } finally {
      this.depth--;
    }
  }

  private parseComparison(): CqlExpression {
    const start = this.pos;
    const subject = this.parseSubject();
    this.skipSpace();
    const opPos = this.pos;
    const operator = this.parseOperator();
    if (!operatorAllowed(subject, operator)) {
      throw new CqlSyntaxError(`Operator '${OPERATOR_SYMBOL[operator]}' is not valid for subject '${subjectName(subject)}'`, opPos);
    }
    let argument: CqlLiteral[];
    if (operator === 'exists' || operator === 'not_exists') {
      argument = [];
    } else if (operator === 'in' || operator === 'not_in') {
      argument = this.parseList(operator);
    } else if (operator === 'matches' || operator === 'not_matches') {
      argument = [this.parseLiteral(`a pattern after '${OPERATOR_SYMBOL[operator]}'`, true)];
    } else {
      this.skipSpace();
      if (this.src[this.pos] === '[') {
        throw new CqlSyntaxError(`Operator '${OPERATOR_SYMBOL[operator]}' takes a single value, not a list`, this.pos, 'quote the value if it contains brackets');
      }
      argument = [this.parseLiteral(`a value after '${OPERATOR_SYMBOL[operator]}'`)];
    }
    return { kind: 'compare', subject, operator, argument, position: start };
  }

  private parseSubject(): CqlSubject {
    const start = this.pos;
    while (!this.atEnd() && SUBJECT_CHAR.test(this.src[this.pos]!)) this.pos++;
    const word = this.src.slice(start, this.pos);
    if (word === '') {
      throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(start)}'`, start, `expected a subject (${SUBJECT_LIST})`);
    }
    const fixed = FIXED_SUBJECTS.get(word);
    if (fixed) return fixed;
    if (word.startsWith('attribute:')) {
      const name = word.slice('attribute:'.length);
      if (!ATTRIBUTE_NAME.test(name)) {
        throw new CqlSyntaxError(
          name === '' ? 'Missing attribute name' : `Invalid attribute name '${name}'`,
          start,
          'attribute names are 1 to 128 letters, digits, hyphens, underscores, periods, slashes or backslashes',
        );
      }
      return { kind: 'attribute', name };
    }
    const lower = word.toLowerCase();
    const suggestion =
      [...FIXED_SUBJECTS.keys()].find((k) => k.toLowerCase() === lower) ??
      (lower.startsWith('attribute:') ? `attribute:${word.slice('attribute:'.length)}` : undefined);
    throw new CqlSyntaxError(`Unknown subject '${word}'`, start, suggestion ? `did you mean '${suggestion}'?` : `expected ${SUBJECT_LIST}`);
  }

  private parseOperator(): CqlOperator {
    const at = this.pos;
    if (this.atEnd()) throw this.unexpectedEnd('an operator');
    for (const [symbol, op] of SYMBOL_OPERATORS) {
      if (!this.src.startsWith(symbol, at)) continue;
      // `!exists` and `!in` are words: `!inside` is not `!in` followed by `side`.
      if (WORD_CHAR.test(symbol[symbol.length - 1]!) && WORD_CHAR.test(this.src[at + symbol.length] ?? '')) continue;
      this.pos += symbol.length;
      return op;
    }
    const word = this.readWord();
    const op = word === '' ? undefined : WORD_OPERATORS.get(word.toLowerCase());
    if (op === undefined) {
      this.pos = at;
      throw new CqlSyntaxError(
        word === '' ? `Unexpected token '${this.tokenAt(at)}'` : `Unknown operator '${word}'`,
        at,
        'expected ==, !=, >, >=, <, <=, exists, !exists, in, !in, =~ or !~ (or their word forms)',
      );
    }
    return op;
  }

  private parseList(operator: CqlOperator): CqlLiteral[] {
    this.skipSpace();
    if (this.atEnd()) throw this.unexpectedEnd(`'[' after '${OPERATOR_SYMBOL[operator]}'`);
    if (this.src[this.pos] !== '[') {
      throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(this.pos)}'`, this.pos, `'${OPERATOR_SYMBOL[operator]}' expects a list such as [a, b]`);
    }
    const open = this.pos++;
    const values: CqlLiteral[] = [];
    for (;;) {
      this.skipSpace();
      if (this.src[this.pos] === ']' && values.length === 0) {
        throw new CqlSyntaxError('Empty list', open, 'a list needs at least one value');
      }
      values.push(this.parseLiteral('a list value'));
      this.skipSpace();
      if (this.atEnd()) throw this.unexpectedEnd("',' or ']'");
      const c = this.src[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return values;
      }
      throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(this.pos)}'`, this.pos, "expected ',' or ']'");
    }
  }

  /**
   * Reads one literal. A bare pattern (`pattern`, after `=~` / `!~`) may also
   * hold balanced parentheses and brackets and backslash escapes:
   * `=~ (t3|m5).*` and `=~ [cm]5\..*` need no quotes.
   */
  private parseLiteral(what: string, pattern = false): CqlLiteral {
    this.skipSpace();
    const start = this.pos;
    if (this.atEnd()) throw this.unexpectedEnd(what);
    const quote = this.src[start]!;
    if (quote === "'" || quote === '"') {
      let value = '';
      let i = start + 1;
      while (i < this.src.length && this.src[i] !== quote) {
        if (this.src[i] === '\\' && (this.src[i + 1] === quote || this.src[i + 1] === '\\')) i++;
        value += this.src[i];
        i++;
      }
      if (i >= this.src.length) throw new CqlSyntaxError('Unterminated string', start, `add the closing ${quote}`);
      this.pos = i + 1;
      return { value, position: start };
    }
    let i = start;
    let depth = 0;
    while (i < this.src.length) {
      const c = this.src[i]!;
      if (pattern) {
        if (c === '\\' && i + 1 < this.src.length && !isSpace(this.src[i + 1]!)) {
          i += 2;
          continue;
        }
        if (c === '(' || c === '[') {
          depth++;
          i++;
          continue;
        }
        if ((c === ')' || c === ']') && depth > 0) {
          depth--;
          i++;
          continue;
        }
        if (depth > 0 && (c === ',' || c === '|')) {
          i++;
          continue;
        }
      }
      if (BARE_STOP.has(c) || this.src.startsWith('&&', i) || this.src.startsWith('||', i)) break;
      i++;
    }
    if (i === start) {
      throw new CqlSyntaxError(`Unexpected token '${this.tokenAt(start)}'`, start, `expected ${what}`);
    }
    this.pos = i;
    return { value: this.src.slice(start, i), position: start };
  }

  // ---- scanning helpers ----

  private atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  private skipSpace(): void {
    while (!this.atEnd() && isSpace(this.src[this.pos]!)) this.pos++;
  }

  private eatSymbol(symbol: string): boolean {
    if (!this.src.startsWith(symbol, this.pos)) return false;
    this.pos += symbol.length;
    return true;
  }

  /** Consumes a keyword (case-insensitive) only when it is a whole word. */
  private eatWord(word: string): boolean {
    const end = this.pos + word.length;
    if (this.src.slice(this.pos, end).toLowerCase() !== word) return false;
    if (SUBJECT_CHAR.test(this.src[end] ?? '')) return false;
    this.pos = end;
    return true;
  }

  private readWord(): string {
    const start = this.pos;
    while (!this.atEnd() && WORD_CHAR.test(this.src[this.pos]!)) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** The token starting at `at`, for messages: a word, or one character. */
  private tokenAt(at: number): string {
    const pair = this.src.slice(at, at + 2);
    if (TWO_CHAR_TOKENS.has(pair)) return pair;
    let end = at;
    while (end < this.src.length && SUBJECT_CHAR.test(this.src[end]!)) end++;
    return end > at ? this.src.slice(at, end) : (this.src[at] ?? '');
  }

  private unexpectedEnd(expected: string): CqlSyntaxError {
    return new CqlSyntaxError('Unexpected end of expression', this.src.length, `expected ${expected}`);
  }
}

/** Parses a CQL expression into its syntax tree; throws `CqlSyntaxError` when it is malformed. */
export function parseCqlSyntax(source: string): CqlExpression {
  return new Parser(source).parse();
}

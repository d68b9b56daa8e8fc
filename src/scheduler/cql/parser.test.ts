import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlacementInputError } from '../errors.js';
import { CqlSyntaxError } from './errors.js';
import { parseCqlSyntax } from './parser.js';
import type { CqlExpression } from './types.js';

/** A compact rendering of the tree, to assert structure and precedence. */
function show(e: CqlExpression): string {
  switch (e.kind) {
    case 'and':
      return `(${show(e.left)} AND ${show(e.right)})`;
    case 'or':
      return `(${show(e.left)} OR ${show(e.right)})`;
    case 'not':
      return `NOT ${show(e.operand)}`;
    case 'compare': {
      const s = e.subject.kind === 'attribute' ? `attribute:${e.subject.name}` : e.subject.kind;
      const args = e.argument.map((a) => a.value).join('|');
      return `[${s} ${e.operator}${args ? ` ${args}` : ''}]`;
    }
  }
}

function syntaxError(expr: string): CqlSyntaxError {
  try {
    parseCqlSyntax(expr);
  } catch (err) {
    assert.ok(err instanceof CqlSyntaxError, `expected CqlSyntaxError for ${expr}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(expr)} to be rejected`);
}

describe('CQL parser', () => {
  it('parses every subject', () => {
    assert.equal(show(parseCqlSyntax('agentConnected == true')), '[agentConnected equals true]');
    assert.equal(show(parseCqlSyntax('agentVersion < 1.14.5')), '[agentVersion less_than 1.14.5]');
    assert.equal(show(parseCqlSyntax('attribute:ecs.instance-type == t2.small')), '[attribute:ecs.instance-type equals t2.small]');
    assert.equal(show(parseCqlSyntax('ec2InstanceId == i-0abc')), '[ec2InstanceId equals i-0abc]');
    assert.equal(show(parseCqlSyntax('registeredAt >= 2018-06-18T22:28:28+00:00')), '[registeredAt greater_than_equal 2018-06-18T22:28:28+00:00]');
    assert.equal(show(parseCqlSyntax('runningTasksCount == 1')), '[runningTasksCount equals 1]');
    assert.equal(show(parseCqlSyntax('task:group == service:production')), '[taskGroup equals service:production]');
  });

  it('accepts the symbol and the word form of every operator', () => {
    const pairs: [string, string, string][] = [
      ['==', 'equals', 'equals'],
      ['!=', 'not_equals', 'not_equals'],
      ['>', 'greater_than', 'greater_than'],
      ['>=', 'greater_than_equal', 'greater_than_equal'],
      ['<', 'less_than', 'less_than'],
      ['<=', 'less_than_equal', 'less_than_equal'],
      ['=~', 'matches', 'matches'],
      ['!~', 'not_matches', 'not_matches'],
    ];
    for (const [symbol, word, op] of pairs) {
      assert.equal(show(parseCqlSyntax(`attribute:x ${symbol} 1`)), `[attribute:x ${op} 1]`);
      assert.equal(show(parseCqlSyntax(`attribute:x ${word} 1`)), `[attribute:x ${op} 1]`);
      assert.equal(show(parseCqlSyntax(`attribute:x ${word.toUpperCase()} 1`)), `[attribute:x ${op} 1]`);
    }
    for (const form of ['exists', 'EXISTS']) assert.equal(show(parseCqlSyntax(`attribute:x ${form}`)), '[attribute:x exists]');
    for (const form of ['!exists', 'not_exists']) assert.equal(show(parseCqlSyntax(`attribute:x ${form}`)), '[attribute:x not_exists]');
    for (const form of ['in', 'IN']) assert.equal(show(parseCqlSyntax(`attribute:x ${form} [a, b]`)), '[attribute:x in a|b]');
    for (const form of ['!in', 'not_in']) assert.equal(show(parseCqlSyntax(`attribute:x ${form} [a,b]`)), '[attribute:x not_in a|b]');
  });

  it('needs no spaces around symbol operators', () => {
    assert.equal(show(parseCqlSyntax('runningTasksCount>=2&&attribute:a==b')), '([runningTasksCount greater_than_equal 2] AND [attribute:a equals b])');
    assert.equal(show(parseCqlSyntax('attribute:a!=b||attribute:c!exists')), '([attribute:a not_equals b] OR [attribute:c not_exists])');
  });

  it('binds not tighter than and, and and tighter than or', () => {
    assert.equal(
      show(parseCqlSyntax('attribute:a == 1 or attribute:b == 2 and not attribute:c == 3')),
      '([attribute:a equals 1] OR ([attribute:b equals 2] AND NOT [attribute:c equals 3]))',
    );
    assert.equal(
      show(parseCqlSyntax('(attribute:a == 1 || attribute:b == 2) && !attribute:c exists')),
      '(([attribute:a equals 1] OR [attribute:b equals 2]) AND NOT [attribute:c exists])',
    );
    assert.equal(show(parseCqlSyntax('not(task:group == database)')), 'NOT [taskGroup equals database]');
    assert.equal(show(parseCqlSyntax('!!agentConnected == true')), 'NOT NOT [agentConnected equals true]');
    // and/or are left-associative
    assert.equal(show(parseCqlSyntax('attribute:a exists and attribute:b exists and attribute:c exists')), '(([attribute:a exists] AND [attribute:b exists]) AND [attribute:c exists])');
  });

  it('reads quoted values with spaces, brackets and escapes', () => {
    assert.equal(show(parseCqlSyntax("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']")), '[ec2InstanceId in i-abcd1234|i-wxyx7890]');
    assert.equal(show(parseCqlSyntax('attribute:owner == "team a (ops)"')), '[attribute:owner equals team a (ops)]');
    assert.equal(show(parseCqlSyntax("attribute:owner == 'it\\'s'")), "[attribute:owner equals it's]");
  });

  it('reads unquoted patterns with balanced parentheses and brackets', () => {
    assert.equal(show(parseCqlSyntax('attribute:t =~ (t3|m5)\\..*')), '[attribute:t matches (t3|m5)\\..*]');
    assert.equal(show(parseCqlSyntax('(attribute:t =~ [cm]5.*)')), '[attribute:t matches [cm]5.*]');
    assert.equal(show(parseCqlSyntax('attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d')),
      '([attribute:ecs.instance-type matches g2.*] AND [attribute:ecs.availability-zone not_equals us-east-1d])');
  });

  it('records where each comparison and literal starts', () => {
    const e = parseCqlSyntax('agentConnected == true or  attribute:a in [x, y]');
    assert.equal(e.kind, 'or');
    if (e.kind !== 'or' || e.right.kind !== 'compare') return assert.fail();
    assert.equal(e.right.position, 27);
    assert.deepEqual(e.right.argument.map((a) => a.position), [43, 46]);
  });

  it('reports malformed expressions with the problem and its position', () => {
    const cases: [string, string, number][] = [
      ['attribute:a == b and runningTasksCount > 1)', "Unexpected token ')'", 42],
      ['', 'Empty expression', 0],
      ['   ', 'Empty expression', 3],
      ['attribute:a ==', 'Unexpected end of expression', 14],
      ['attribute:a', 'Unexpected end of expression', 11],
      ['(attribute:a == b', 'Unexpected end of expression', 17],
      ['(attribute:a == b]', "Unexpected token ']'", 17],
      ['attribute:a == b c', "Unexpected token 'c'", 17],
      ['attribute:a == b and', 'Unexpected end of expression', 20],
      ['and attribute:a == b', "Unknown subject 'and'", 0],
      ['foo == 1', "Unknown subject 'foo'", 0],
      ['AgentConnected == true', "Unknown subject 'AgentConnected'", 0],
      ['attribute: == 1', 'Missing attribute name', 0],
      ['attribute:a eq 1', "Unknown operator 'eq'", 12],
      ['attribute:a ~= 1', "Unexpected token '~'", 12],
      ['agentConnected > true', "Operator '>' is not valid for subject 'agentConnected'", 15],
      ['ec2InstanceId <= i-1', "Operator '<=' is not valid for subject 'ec2InstanceId'", 14],
      ['runningTasksCount =~ 1', "Operator '=~' is not valid for subject 'runningTasksCount'", 18],
      ['attribute:a in a', "Unexpected token 'a'", 15],
      ['attribute:a in []', 'Empty list', 15],
      ['attribute:a in [x y]', "Unexpected token 'y'", 18],
      ['attribute:a in [x,', 'Unexpected end of expression', 18],
      ['attribute:a == [x]', "Operator '==' takes a single value, not a list", 15],
      ["attribute:a == 'abc", 'Unterminated string', 15],
      ['attribute:a == )', "Unexpected token ')'", 15],
      ['() ', "Unexpected token ')'", 1],
    ];
    for (const [expr, problem, position] of cases) {
      const err = syntaxError(expr);
      assert.equal(err.problem, problem, expr);
      assert.equal(err.position, position, expr);
      assert.ok(err.message.startsWith(`${problem} at position ${position}`), err.message);
    }
  });

  it('explains what was expected', () => {
    assert.match(syntaxError('agentconnected == true').message, /did you mean 'agentConnected'\?/);
    assert.match(syntaxError('Attribute:x == 1').message, /did you mean 'attribute:x'\?/);
    assert.match(syntaxError('attribute:a == b c').message, /expected 'and', 'or' or the end of the expression/);
    assert.match(syntaxError('(attribute:a == b').message, /expected '\)'/);
  });

  it('refuses nesting deep enough to exhaust the stack', () => {
    const deep = `${'('.repeat(200)}agentConnected == true${')'.repeat(200)}`;
    assert.match(syntaxError(deep).message, /nested deeper than/);
    assert.doesNotThrow(() => parseCqlSyntax(`${'('.repeat(30)}agentConnected == true${')'.repeat(30)}`));
  });

  it('is a PlacementInputError, which services map to their own error', () => {
    const err = syntaxError('attribute:a == b)');
    assert.ok(err instanceof PlacementInputError);
    assert.equal(err.message, "Unexpected token ')' at position 16; expected 'and', 'or' or the end of the expression");
  });
});

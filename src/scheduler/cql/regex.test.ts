import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CqlSyntaxError } from './errors.js';
import { compileSafeRegex, MAX_PATTERN_LENGTH } from './regex.js';

function refused(pattern: string): string {
  try {
    compileSafeRegex(pattern, 7);
  } catch (err) {
    assert.ok(err instanceof CqlSyntaxError);
    assert.equal(err.position, 7);
    return err.message;
  }
  assert.fail(`expected ${pattern} to be refused`);
}

describe('safe regular expressions', () => {
  it('match the whole value, like Java matches()', () => {
    const re = compileSafeRegex('g2.*', 0);
    assert.equal(re.test('g2.2xlarge'), true);
    assert.equal(re.test('xg2.2xlarge'), false);
    assert.equal(compileSafeRegex('a|b', 0).test('ab'), false, 'alternation stays inside the anchors');
    assert.equal(compileSafeRegex('a|b', 0).test('b'), true);
  });

  it('accept the patterns people write for placement', () => {
    for (const p of ['t3\\..*', '(t3|m5)\\.(large|xlarge)', '[cm][56]\\..*', 'i-0[0-9a-f]{8,17}', '.*-prod-.*', '(us|eu)+-west-[12]', '\\w+-\\w+-\\d+', '(?:ab|cd)*', '(?<gen>[a-z]+)5\\..*']) {
      assert.doesNotThrow(() => compileSafeRegex(p, 0), p);
    }
  });

  it('refuse patterns that can backtrack exponentially', () => {
    assert.match(refused('(a+)+b'), /repeated group contains another repetition/);
    assert.match(refused('(a*)*'), /repeated group contains another repetition/);
    assert.match(refused('((ab)+c)*'), /repeated group contains another repetition/);
    assert.match(refused('(a|ab)*c'), /alternatives that can overlap/);
    assert.match(refused('(a|a)+'), /alternatives that can overlap/);
    assert.match(refused('(.|x)*'), /alternatives that can overlap/);
    assert.match(refused('(\\1)'), /backreferences/);
    assert.match(refused('(?<x>a)\\k<x>'), /backreferences/);
    assert.match(refused('.*a.*b.*c.*d'), /at most 3 unbounded repetitions/);
    assert.match(refused('x'.repeat(MAX_PATTERN_LENGTH + 1)), /limited to 512 characters/);
  });

  it('a refused pattern would really have been slow', () => {
    // The pattern the checker refuses first: (a+)+b on 26 a's takes seconds with a backtracking engine.
    assert.throws(() => compileSafeRegex('(a+)+b', 0));
    const safe = compileSafeRegex('a+b', 0);
    const start = process.hrtime.bigint();
    assert.equal(safe.test('a'.repeat(10_000)), false);
    assert.ok(process.hrtime.bigint() - start < 50_000_000n);
  });

  it('report invalid syntax, including anchors the pattern tries to escape', () => {
    assert.match(refused('[a-'), /Invalid regular expression '\[a-'/);
    assert.match(refused('a)|(b'), /unmatched '\)'/);
    assert.match(refused('*a'), /Invalid regular expression/);
  });
});

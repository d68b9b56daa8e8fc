import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidParameterException } from '../core/errors.js';
import { parseCql } from '../scheduler/cql/index.js';
import { toEcsError } from './errors.js';

describe('ECS error mapping', () => {
  it('answers a malformed cluster query expression with InvalidParameterException and the position', () => {
    let thrown: unknown;
    try {
      parseCql('attribute:a == b)');
    } catch (err) {
      thrown = err;
    }
    const mapped = toEcsError(thrown);
    assert.ok(mapped instanceof InvalidParameterException);
    assert.equal(mapped.message, "Unexpected token ')' at position 16; expected 'and', 'or' or the end of the expression");
  });

  it('passes other errors through unchanged', () => {
    const err = new Error('boom');
    assert.equal(toEcsError(err), err);
  });
});

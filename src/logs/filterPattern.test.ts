import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilterPattern, splitDelimited } from './filterPattern.js';

const m = (pattern: string, message: string): boolean => compileFilterPattern(pattern).matches(message);

describe('filter patterns: terms', () => {
  it('matches everything with an empty pattern', () => {
    assert.ok(m('', 'anything'));
    assert.ok(m('   ', 'anything'));
    assert.ok(m('""', 'anything'));
  });
  it('needs every term, case-sensitively', () => {
    assert.ok(m('ERROR', '[ERROR] disk full'));
    assert.ok(!m('ERROR', 'error: disk full'));
    assert.ok(m('ERROR disk', '[ERROR] disk full'));
    assert.ok(!m('ERROR memory', '[ERROR] disk full'));
  });
  it('takes quoted phrases as one term', () => {
    assert.ok(m('"disk full"', 'ERROR disk full now'));
    assert.ok(!m('"disk full"', 'full disk'));
    assert.ok(m('"say \\"hi\\""', 'they say "hi" here'));
  });
  it('needs one of the ?terms', () => {
    assert.ok(m('?ERROR ?WARN', 'WARN low memory'));
    assert.ok(m('?ERROR ?WARN', 'ERROR low memory'));
    assert.ok(!m('?ERROR ?WARN', 'INFO low memory'));
  });
  it('excludes -terms', () => {
    assert.ok(m('ERROR -Exiting', 'ERROR retrying'));
    assert.ok(!m('ERROR -Exiting', 'ERROR Exiting now'));
  });
  it('gives plain terms to the store as required substrings', () => {
    assert.deepEqual(compileFilterPattern('ERROR "disk full" ?x -y').requiredSubstrings, ['ERROR', 'disk full']);
    assert.deepEqual(compileFilterPattern('{ $.a = 1 }').requiredSubstrings, []);
  });
  it('refuses an unterminated quote', () => {
    assert.throws(() => compileFilterPattern('"open'), (err: Error & { type?: string }) => err.type === 'InvalidParameterException');
  });
});

describe('filter patterns: JSON', () => {
  const doc = JSON.stringify({ level: 'error', latency: 150, user: { id: 'u-42', admin: false }, tags: ['a', 'b'], gone: null, code: '500' });
  it('compares strings, with wildcards', () => {
    assert.ok(m('{ $.level = "error" }', doc));
    assert.ok(m('{ $.level = error }', doc));
    assert.ok(!m('{ $.level = "info" }', doc));
    assert.ok(m('{ $.user.id = "u-*" }', doc));
    assert.ok(m('{ $.level != "info" }', doc));
  });
  it('compares numbers', () => {
    assert.ok(m('{ $.latency > 100 }', doc));
    assert.ok(!m('{ $.latency > 200 }', doc));
    assert.ok(m('{ $.latency >= 150 }', doc));
    assert.ok(m('{ $.latency = 150 }', doc));
    assert.ok(m('{ $.latency < 150.5 }', doc));
    assert.ok(m('{ $.code = 500 }', doc));
  });
  it('joins with && and || and parentheses', () => {
    assert.ok(m('{ $.level = "error" && $.latency > 100 }', doc));
    assert.ok(!m('{ $.level = "error" && $.latency > 200 }', doc));
    assert.ok(m('{ $.level = "info" || $.latency > 100 }', doc));
    assert.ok(m('{ ($.level = "info" || $.level = "error") && $.user.admin IS FALSE }', doc));
  });
  it('reads arrays and tests null, booleans and absence', () => {
    assert.ok(m('{ $.tags[1] = "b" }', doc));
    assert.ok(m('{ $.gone IS NULL }', doc));
    assert.ok(!m('{ $.level IS NULL }', doc));
    assert.ok(m('{ $.missing NOT EXISTS }', doc));
    assert.ok(!m('{ $.level NOT EXISTS }', doc));
    assert.ok(m('{ $.user.admin IS FALSE }', doc));
  });
  it('never matches a message that is not a JSON object', () => {
    assert.ok(!m('{ $.level = "error" }', 'level=error'));
    assert.ok(!m('{ $.level = "error" }', '{broken'));
  });
  it('refuses malformed JSON patterns', () => {
    for (const p of ['{ $.a = 1', '{ a = 1 }', '{ $.a > "x" }', '{ $.a = }', '{ $.a = 1 && }', '{ $.a IS MAYBE }']) {
      assert.throws(() => compileFilterPattern(p), (err: Error & { type?: string }) => err.type === 'InvalidParameterException', p);
    }
  });
});

describe('filter patterns: space-delimited', () => {
  const line = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534';
  it('splits words, keeping quoted and bracketed runs whole', () => {
    assert.deepEqual(splitDelimited(line), ['127.0.0.1', '-', 'frank', '10/Oct/2000:13:25:15 -0700', 'GET /apache_pb.gif HTTP/1.0', '404', '1534']);
  });
  it('matches fields with conditions', () => {
    assert.ok(m('[ip, id, user, timestamp, request, status_code = 404, size]', line));
    assert.ok(m('[ip, id, user, timestamp, request, status_code = 4*, size > 1000]', line));
    assert.ok(!m('[ip, id, user, timestamp, request, status_code = 200, size]', line));
    assert.ok(m('[ip, id, user = frank || user = bob, ...]', line));
    assert.ok(!m('[ip, id, user]', line));
  });
  it('lets ... stand for any number of words', () => {
    assert.ok(m('[..., status_code = 404, size]', line));
    assert.ok(m('[ip = 127.0.0.1, ...]', line));
    assert.ok(!m('[ip = 10.*, ...]', line));
  });
});

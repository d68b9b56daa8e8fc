import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateLifecyclePolicy, type LifecycleImage } from './evaluate.js';
import { parseLifecyclePolicy, type LifecycleRule } from './policy.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 0, 31);

function img(digest: string, tags: string[], daysAgo: number): LifecycleImage {
  return { digest, tags, pushedAt: NOW - daysAgo * DAY };
}

function rule(rulePriority: number, selection: LifecycleRule['selection']): LifecycleRule {
  return { rulePriority, selection, action: { type: 'expire' } };
}

function expired(rules: LifecycleRule[], images: LifecycleImage[]): Record<string, number> {
  return Object.fromEntries(evaluateLifecyclePolicy({ rules }, images, NOW).map((e) => [e.image.digest, e.rulePriority]));
}

describe('lifecycle policy evaluation', () => {
  it('imageCountMoreThan keeps the most recently pushed images and expires the rest', () => {
    const images = [img('a', [], 5), img('b', [], 4), img('c', [], 3), img('d', ['v1'], 1)];
    assert.deepEqual(expired([rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 })], images), { a: 1, b: 1 });
  });

  it('sinceImagePushed expires images pushed more than countNumber days ago', () => {
    const images = [img('a', ['x'], 10), img('b', ['x'], 7.1), img('c', ['x'], 6.9), img('d', [], 30)];
    assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPrefixList: ['x'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 })], images), { a: 1, b: 1 });
  });

  it('a tag prefix list selects images that have a tag with every prefix', () => {
    const images = [img('a', ['prod-1', 'beta-1'], 5), img('b', ['prod-2'], 4), img('c', ['beta-2'], 3)];
    assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod', 'beta'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 })], images), { a: 1 });
  });

  it('a tag pattern list matches whole tags with * wildcards', () => {
    const images = [img('a', ['prod-1-final'], 5), img('b', ['preprod-1-final'], 5), img('c', ['prod'], 5), img('d', ['prod-2'], 5)];
    assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*final'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 })], images), { a: 1 });
    assert.deepEqual(expired([rule(1, { tagStatus: 'tagged', tagPatternList: ['*prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 })], images), { a: 1, b: 1, c: 1, d: 1 });
  });

  it('an image selected by a higher-priority rule is not expired by a lower-priority one, though it still counts there', () => {
    // Rule 1 keeps the 2 newest prod images; rule 2 keeps the 2 newest images of all.
    const images = [img('p1', ['prod-1'], 6), img('p2', ['prod-2'], 5), img('p3', ['prod-3'], 4), img('d1', ['dev-1'], 3), img('d2', ['dev-2'], 2), img('u', [], 1)];
    const rules = [
      rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 2 }),
      rule(2, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 2 }),
    ];
    // p1 expires by rule 1; p2 and p3 are kept by rule 1 and so untouchable by rule 2; rule 2 keeps u and d2 and expires d1.
    assert.deepEqual(expired(rules, images), { p1: 1, d1: 2 });
  });

  it('follows ECR’s documented example of two tagged rules sharing an image: it expires once, by the first rule', () => {
    const images = [img('A', ['alpha-1', 'beta-1'], 10), img('B', ['beta-2'], 9), img('C', ['alpha-2'], 8)];
    const rules = [
      rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha'], countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }),
    ];
    assert.deepEqual(expired(rules, images), { A: 1 });
  });

  it('applies rules in rulePriority order whatever their order in the policy', () => {
    const images = [img('a', ['v1'], 3), img('b', ['v2'], 2), img('c', ['v3'], 1)];
    const rules = [
      rule(5, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }),
      rule(2, { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 2 }),
    ];
    assert.deepEqual(expired(rules, images), { a: 2 });
  });

  it('orders images pushed at the same time by digest, so the outcome does not depend on input order', () => {
    const images = [img('b', [], 1), img('a', [], 1), img('c', [], 1)];
    const r = [rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 })];
    assert.deepEqual(expired(r, images), expired(r, [...images].reverse()));
    assert.deepEqual(Object.keys(expired(r, images)), ['b', 'c']);
  });
});

describe('lifecycle policy validation', () => {
  const wrap = (rules: unknown[]): string => JSON.stringify({ rules }, null, 2).padEnd(100, ' ');
  const ok = { rulePriority: 1, description: 'keep ten', selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } };
  const invalid = (text: string, reason: RegExp): void => {
    assert.throws(() => parseLifecyclePolicy(text), (err: Error) => {
      assert.equal(err.constructor.name, 'InvalidParameterException');
      assert.match(err.message, /^Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: /);
      assert.match(err.message, reason);
      return true;
    });
  };

  it('accepts a valid policy and sorts its rules by priority', () => {
    const p = parseLifecyclePolicy(wrap([{ ...ok, rulePriority: 3, selection: { ...ok.selection, tagStatus: 'any' } }, ok]));
    assert.deepEqual(p.rules.map((r) => r.rulePriority), [1, 3]);
  });

  it('refuses the shapes ECR’s schema refuses, in its words', () => {
    invalid('{"rules": 1'.padEnd(120), /Lifecycle policy validation failure: the lifecycle policy text is not valid JSON/);
    invalid(wrap([{ ...ok, rulePriority: undefined }]), /object has missing required properties \(\["rulePriority"\]\)/);
    invalid(wrap([{ ...ok, extra: 1 }]), /object instance has properties which are not allowed by the schema: \(\["extra"\]\)/);
    invalid(wrap([{ ...ok, rulePriority: 'one' }]), /instance type \(string\) does not match any allowed primitive type \(allowed: \["integer"\]\)/);
    invalid(wrap([{ ...ok, rulePriority: 0 }]), /numeric instance is lower than the required minimum \(minimum: 1, found: 0\)/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagStatus: 'TAGGED' } }]), /instance value \("TAGGED"\) not found in enum \(possible values: \["tagged","untagged","any"\]\)/);
    invalid(wrap([{ ...ok, action: { type: 'delete' } }]), /instance value \("delete"\) not found in enum/);
    invalid(wrap([]), /array is too short/);
    invalid('{}', /Member must have length greater than or equal to 100/);
  });

  it('refuses rules that contradict ECR’s rule semantics', () => {
    invalid(wrap([ok, { ...ok }]), /rulePriority 1 is used by more than one rule/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagStatus: 'any' } }, { ...ok, rulePriority: 2 }]), /tagStatus any \(rulePriority 1\) must have the highest rulePriority/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagStatus: 'tagged' } }]), /tagPrefixList or tagPatternList is required when tagStatus is tagged/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagStatus: 'tagged', tagPrefixList: ['a'], tagPatternList: ['b'] } }]), /cannot both be specified/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagPrefixList: ['a'] } }]), /can only be used when tagStatus is tagged/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, tagStatus: 'tagged', tagPatternList: ['a*b*c*d*e*f'] } }]), /more than 4 wildcards/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, countType: 'sinceImagePushed' } }]), /countUnit is required when countType is sinceImagePushed/);
    invalid(wrap([{ ...ok, selection: { ...ok.selection, countUnit: 'days' } }]), /countUnit can only be used when countType is sinceImagePushed/);
  });
});

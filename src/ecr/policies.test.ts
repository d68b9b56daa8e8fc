import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locksOutPolicyChanges, parseRepositoryPolicy } from './policies.js';

const policy = (statement: unknown): string => JSON.stringify({ Version: '2012-10-17', Statement: statement });

describe('repository policies', () => {
  it('accepts statements with an effect, a principal and actions, one or several', () => {
    assert.equal(parseRepositoryPolicy(policy({ Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' })).length, 1);
    const two = policy([
      { Sid: 'a', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::111122223333:root'] }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] },
      { Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' }, NotAction: 'ecr:Describe*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ]);
    assert.equal(parseRepositoryPolicy(two).length, 2);
  });

  it('refuses what ECR refuses: not JSON, no statements, a Resource, no principal, an unknown effect or action form', () => {
    for (const text of [
      '{',
      '[]',
      policy([]),
      JSON.stringify({ Version: '2012-10-17' }),
      policy({ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Resource: '*' }),
      policy({ Effect: 'Allow', Action: 'ecr:*' }),
      policy({ Effect: 'Permit', Principal: '*', Action: 'ecr:*' }),
      policy({ Effect: 'Allow', Principal: '*', Action: 'pull images' }),
      policy({ Effect: 'Allow', Principal: '*' }),
      JSON.stringify({ Version: '2001-01-01', Statement: { Effect: 'Allow', Principal: '*', Action: '*' } }),
    ]) {
      assert.throws(() => parseRepositoryPolicy(text), /^Error: Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'$|Invalid repository policy provided/, text);
    }
  });

  it('recognises a policy that denies everyone SetRepositoryPolicy unconditionally', () => {
    const locks = (s: unknown): boolean => locksOutPolicyChanges(parseRepositoryPolicy(policy(s)));
    assert.equal(locks({ Effect: 'Deny', Principal: '*', Action: 'ecr:*' }), true);
    assert.equal(locks({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'ecr:SetRepositoryPolicy' }), true);
    assert.equal(locks({ Effect: 'Deny', Principal: '*', NotAction: 'ecr:BatchGetImage' }), true);
    assert.equal(locks({ Effect: 'Deny', Principal: '*', Action: 'ecr:BatchGetImage' }), false);
    assert.equal(locks({ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'ecr:*' }), false);
    assert.equal(locks({ Effect: 'Deny', Principal: '*', Action: 'ecr:*', Condition: { StringNotEquals: { 'aws:PrincipalAccount': '000000000000' } } }), false);
    assert.equal(locks({ Effect: 'Allow', Principal: '*', Action: '*' }), false);
  });
});

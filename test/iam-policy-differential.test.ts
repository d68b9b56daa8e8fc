// Differential test of Berth's policy engine against @cloud-copilot/iam-simulate,
// an independent implementation of IAM's evaluation logic used here as a test
// oracle only (a devDependency; nothing under src/ imports it). Thousands of
// generated identity and resource policies, requests and contexts must get the
// same decision from both.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { compilePolicy, evaluate, type DecisionKind } from '../src/iam/policy/index.js';

const ACCOUNT = '123456789012';
const OTHER = '210987654321';
const NOW = new Date('2026-06-01T12:00:00Z');

const USERS = ['ana', 'bob'].map((u) => `arn:aws:iam::${ACCOUNT}:user/${u}`);
const REQUESTS = [
  { action: 'secretsmanager:GetSecretValue', resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db/pass-AbCdEf` },
  { action: 'secretsmanager:PutSecretValue', resource: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:ana/token-XyZ123` },
  { action: 'secretsmanager:DescribeSecret', resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:app/cfg:with:colons-QwErTy` },
  { action: 'ssm:GetParameter', resource: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/app/db/url` },
  { action: 'ssm:PutParameter', resource: `arn:aws:ssm:us-west-2:${ACCOUNT}:parameter/bob/key` },
];

const ACTIONS = [
  '*',
  'secretsmanager:*',
  'secretsmanager:Get*',
  'SecretsManager:getsecretvalue',
  'secretsmanager:?etSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:Describe*',
  'ssm:*',
  'ssm:Get*',
  'ssm:PutParameter',
  'ecs:RunTask',
];
const RESOURCES = [
  '*',
  `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db/pass-AbCdEf`,
  'arn:aws:secretsmanager:*:*:secret:db/*',
  `arn:aws:secretsmanager:us-*:${ACCOUNT}:secret:*`,
  'arn:aws:secretsmanager:*:*:secret:${aws:username}/*',
  'arn:aws:secretsmanager:*:*:secret:app/cfg:*',
  'arn:aws:secretsmanager:*:*:secret:DB/*',
  'arn:aws:ssm:*:*:parameter/app/*',
  'arn:aws:ssm:us-?est-2:*:parameter/${aws:username}/*',
  `arn:aws:ssm:*:${OTHER}:parameter/*`,
  'arn:aws:*:*:*:*',
];

/** Condition entries as [operator, key, values]. */
const CONDITIONS: [string, string, (string | number | boolean)[]][] = [
  ['StringEquals', 'aws:username', ['ana']],
  ['StringEquals', 'aws:RequestTag/env', ['prod', 'dev']],
  ['StringNotEquals', 'aws:RequestTag/env', ['prod']],
  ['StringEqualsIgnoreCase', 'aws:RequestTag/env', ['PROD']],
  ['StringNotEqualsIgnoreCase', 'aws:RequestTag/env', ['Dev']],
  ['StringLike', 'aws:RequestTag/env', ['p*', 'd?v']],
  ['StringNotLike', 'aws:RequestTag/env', ['p*']],
  ['StringEqualsIfExists', 'aws:RequestTag/env', ['prod']],
  ['StringLike', 'aws:PrincipalTag/team', ['${aws:username}']],
  ['StringEquals', 'aws:PrincipalTag/team', ['red']],
  ['NumericLessThan', 'aws:MultiFactorAuthAge', ['3600']],
  ['NumericGreaterThanEquals', 'aws:MultiFactorAuthAge', [600]],
  ['NumericNotEquals', 'aws:MultiFactorAuthAge', ['60']],
  ['NumericLessThanIfExists', 'aws:MultiFactorAuthAge', ['100']],
  ['DateLessThan', 'aws:CurrentTime', ['2026-07-01T00:00:00Z']],
  ['DateGreaterThan', 'aws:CurrentTime', ['2026-06-01T13:00:00Z']],
  ['DateGreaterThanEquals', 'aws:EpochTime', ['1780000000']],
  ['DateNotEquals', 'aws:CurrentTime', ['2026-06-01T12:00:00Z']],
  ['Bool', 'aws:SecureTransport', ['true']],
  ['Bool', 'aws:SecureTransport', [false]],
  ['BoolIfExists', 'aws:SecureTransport', ['true']],
  ['IpAddress', 'aws:SourceIp', ['10.0.0.0/8', '192.168.1.0/24']],
  ['NotIpAddress', 'aws:SourceIp', ['10.0.0.0/8']],
  ['IpAddress', 'aws:SourceIp', ['2001:db8::/32']],
  ['ArnLike', 'aws:SourceArn', ['arn:aws:ecs:*:*:task/*']],
  ['ArnEquals', 'aws:SourceArn', [`arn:aws:ecs:us-east-1:${ACCOUNT}:task/default/abc`]],
  ['ArnNotLike', 'aws:SourceArn', ['arn:aws:ecs:*:*:service/*']],
  ['ArnLike', 'aws:PrincipalArn', ['arn:aws:iam::*:user/a*']],
  ['Null', 'aws:SourceIp', ['true']],
  ['Null', 'aws:RequestTag/env', ['false']],
  ['ForAnyValue:StringEquals', 'aws:TagKeys', ['env', 'owner']],
  ['ForAllValues:StringEquals', 'aws:TagKeys', ['env', 'team']],
  ['ForAnyValue:StringLike', 'aws:TagKeys', ['t*']],
  ['ForAllValues:StringNotEquals', 'aws:TagKeys', ['secret']],
  ['ForAnyValue:StringNotLike', 'aws:TagKeys', ['e*']],
];

const CONTEXT_CHOICES: Record<string, (string | string[] | undefined)[]> = {
  'aws:RequestTag/env': [undefined, 'prod', 'dev', 'PROD', 'test'],
  'aws:PrincipalTag/team': [undefined, 'red', 'ana', 'bob'],
  'aws:MultiFactorAuthAge': [undefined, '30', '60', '700', '5000'],
  'aws:SecureTransport': [undefined, 'true', 'false'],
  'aws:SourceIp': [undefined, '10.1.2.3', '192.168.1.9', '172.16.0.1', '2001:db8::5'],
  'aws:SourceArn': [undefined, `arn:aws:ecs:us-east-1:${ACCOUNT}:task/default/abc`, `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/default/web`],
  'aws:TagKeys': [undefined, ['env'], ['env', 'team'], ['secret', 'env'], [], ['owner', 'x']],
};

const statementArb = (kind: 'identity' | 'resource') =>
  fc.record({
    effect: fc.constantFrom('Allow', 'Deny'),
    notAction: fc.boolean(),
    actions: fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1, maxLength: 3 }),
    notResource: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
    resources: fc.uniqueArray(fc.constantFrom(...RESOURCES), { minLength: 1, maxLength: 3 }),
    conditions: fc.uniqueArray(fc.integer({ min: 0, max: CONDITIONS.length - 1 }), { maxLength: 3 }),
    principal: kind === 'resource' ? fc.constantFrom<unknown>('*', { AWS: USERS[0] }, { AWS: USERS }, { AWS: ACCOUNT }, { AWS: `arn:aws:iam::${OTHER}:root` }) : fc.constant(undefined),
  });

function statement(s: fc.Arbitrary<unknown> extends never ? never : ReturnType<typeof statementArb> extends fc.Arbitrary<infer T> ? T : never): Record<string, unknown> {
  const out: Record<string, unknown> = { Effect: s.effect };
  if (s.principal !== undefined) out.Principal = s.principal;
  out[s.notAction ? 'NotAction' : 'Action'] = s.actions.length === 1 ? s.actions[0] : s.actions;
  out[s.notResource ? 'NotResource' : 'Resource'] = s.resources;
  const cond: Record<string, Record<string, unknown>> = {};
  for (const i of s.conditions) {
    const [op, key, values] = CONDITIONS[i]!;
    (cond[op] ??= {})[key] = values.length === 1 ? values[0] : values;
  }
  if (Object.keys(cond).length) out.Condition = cond;
  return out;
}

const caseArb = fc.record({
  identity: fc.array(fc.array(statementArb('identity'), { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  resource: fc.option(fc.array(statementArb('resource'), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  request: fc.constantFrom(...REQUESTS),
  user: fc.constantFrom(...USERS),
  context: fc.record(Object.fromEntries(Object.entries(CONTEXT_CHOICES).map(([k, v]) => [k, fc.constantFrom(...v)]))),
});

const ORACLE: Record<string, DecisionKind> = { Allowed: 'Allow', ExplicitlyDenied: 'ExplicitDeny', ImplicitlyDenied: 'ImplicitDeny' };

describe('policy engine against iam-simulate', () => {
  it('decides every generated request as the independent implementation does', async () => {
    let allowed = 0;
    let explicit = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const identityDocs = c.identity.map((sts) => ({ Version: '2012-10-17', Statement: sts.map(statement) }));
        const resourceDoc = c.resource ? { Version: '2012-10-17', Statement: c.resource.map(statement) } : undefined;
        const context: Record<string, string | string[]> = {
          // iam-simulate derives no keys from the request; give both engines the same ones.
          'aws:username': c.user.split('/').pop()!,
          'aws:PrincipalArn': c.user,
          'aws:PrincipalAccount': ACCOUNT,
          'aws:CurrentTime': NOW.toISOString(),
          'aws:EpochTime': String(NOW.getTime() / 1000),
        };
        for (const [k, v] of Object.entries(c.context)) if (v !== undefined) context[k] = v as string | string[];
        const oracle = await runSimulation(
          {
            request: { principal: c.user, action: c.request.action, resource: { resource: c.request.resource, accountId: ACCOUNT }, contextVariables: context },
            identityPolicies: identityDocs.map((policy, i) => ({ name: `p${i}`, policy })),
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            ...(resourceDoc ? { resourcePolicy: resourceDoc } : {}),
          },
          {},
        );
        const verdict = oracle.resultType === 'single' ? oracle.overallResult : undefined;
        const expected = verdict === undefined ? undefined : ORACLE[verdict];
        assert.ok(expected, `iam-simulate answered ${JSON.stringify(oracle).slice(0, 500)}`);
        const got = evaluate(
          { principal: { type: 'AWS', id: c.user }, action: c.request.action, resource: c.request.resource, context, now: NOW },
          {
            identity: identityDocs.map((d, i) => compilePolicy(d, 'identity', `p${i}`)),
            resource: resourceDoc ? compilePolicy(resourceDoc, 'resource', 'rp') : undefined,
          },
        );
        if (got.decision === 'Allow') allowed++;
        if (got.decision === 'ExplicitDeny') explicit++;
        assert.equal(got.decision, expected, `Berth: ${got.decision}, iam-simulate: ${expected} for ` + JSON.stringify({ identityDocs, resourceDoc, request: c.request, user: c.user, context }));
      }),
      { numRuns: 2000, seed: 20261201 },
    );
    // The generator must exercise every outcome, or the comparison proves little.
    assert.ok(allowed > 150, `only ${allowed} allowed cases`);
    assert.ok(explicit > 150, `only ${explicit} explicit denies`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy, denialMessage, evaluate, PolicySyntaxError, type AuthorizationRequest } from './index.js';

const ACCOUNT = '123456789012';
const USER = `arn:aws:iam::${ACCOUNT}:user/ana`;
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db/pass-AbCdEf`;
const NOW = new Date('2026-06-01T12:00:00Z');

function req(over: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return { principal: { type: 'AWS', id: USER }, action: 'secretsmanager:GetSecretValue', resource: SECRET, now: NOW, ...over };
}

const identity = (statement: unknown, version = '2012-10-17') => compilePolicy({ Version: version, Statement: statement }, 'identity', 'p');

describe('policy documents', () => {
  const malformed = (doc: unknown, kind: 'identity' | 'resource' | 'trust', message: RegExp): void => {
    assert.throws(() => compilePolicy(doc, kind), (e: unknown) => e instanceof PolicySyntaxError && message.test(e.message));
  };

  it('are refused with IAM\'s message naming the problem', () => {
    malformed('{not json', 'identity', /^Syntax errors in policy\.$/);
    malformed({ Version: '2012-10-17' }, 'identity', /Missing required field Statement/);
    malformed({ Version: '2011-01-01', Statement: [] }, 'identity', /failed legacy parsing/);
    malformed({ Statement: { Action: 's3:*', Resource: '*' } }, 'identity', /Missing required field Effect/);
    malformed({ Statement: { Effect: 'Permit', Action: 's3:*', Resource: '*' } }, 'identity', /Invalid effect: Permit/);
    malformed({ Statement: { Effect: 'Allow', Resource: '*' } }, 'identity', /must contain actions/);
    malformed({ Statement: { Effect: 'Allow', Action: 's3:GetObject' } }, 'identity', /must contain resources/);
    malformed({ Statement: { Effect: 'Allow', Action: 'GetObject', Resource: '*' } }, 'identity', /prefaced by a vendor/);
    malformed({ Statement: { Effect: 'Allow', Action: 's*:Get*', Resource: '*' } }, 'identity', /vendors must not contain wildcards/);
    malformed({ Statement: { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' } }, 'identity', /should not specify a principal/);
    malformed({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*' } }, 'resource', /Missing required field Principal/);
    malformed({ Statement: { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole', Resource: '*' } }, 'trust', /Has prohibited field Resource/);
    malformed({ Statement: { Effect: 'Allow', Principal: { AWS: 'bob' }, Action: 's3:*', Resource: '*' } }, 'resource', /Invalid principal in policy: "AWS":"bob"/);
    malformed({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: { StringEqualz: { 'aws:username': 'x' } } } }, 'identity', /Invalid Condition type : StringEqualz/);
    malformed({ Statement: [{ Sid: 'A', Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Sid: 'A', Effect: 'Deny', Action: 's3:*', Resource: '*' }] }, 'identity', /must be unique/);
    malformed({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: 'bucket' } }, 'identity', /must be in ARN format/);
    malformed({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*', Bogus: 1 } }, 'identity', /Unknown field Bogus/);
  });

  it('take a single statement or a list, and string or list members', () => {
    const p = compilePolicy('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"*"}}', 'identity');
    assert.equal(evaluate(req(), { identity: [p] }).decision, 'Allow');
  });
});

describe('policy evaluation', () => {
  it('denies implicitly without policies, and says so as AWS does', () => {
    const d = evaluate(req(), { identity: [] });
    assert.equal(d.decision, 'ImplicitDeny');
    assert.equal(
      denialMessage(req(), d),
      `User: ${USER} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
  });

  it('lets an explicit deny win over any allow and names the statement', () => {
    const allow = identity({ Effect: 'Allow', Action: '*', Resource: '*' });
    const deny = identity([{ Sid: 'Other', Effect: 'Deny', Action: 's3:*', Resource: '*' }, { Sid: 'NoDb', Effect: 'Deny', Action: 'secretsmanager:*', Resource: 'arn:aws:secretsmanager:*:*:secret:db/*' }]);
    const d = evaluate(req(), { identity: [allow, deny] });
    assert.equal(d.decision, 'ExplicitDeny');
    assert.equal(d.statement?.sid, 'NoDb');
    assert.match(denialMessage(req(), d), /with an explicit deny in an identity-based policy$/);
  });

  it('matches actions case-insensitively with * and ?', () => {
    const p = identity({ Effect: 'Allow', Action: 'SecretsManager:getsecret?alue', Resource: '*' });
    assert.equal(evaluate(req(), { identity: [p] }).decision, 'Allow');
    assert.equal(evaluate(req({ action: 'secretsmanager:GetSecretValues' }), { identity: [p] }).decision, 'ImplicitDeny');
    const na = identity({ Effect: 'Allow', NotAction: 'secretsmanager:Delete*', Resource: '*' });
    assert.equal(evaluate(req(), { identity: [na] }).decision, 'Allow');
    assert.equal(evaluate(req({ action: 'secretsmanager:DeleteSecret' }), { identity: [na] }).decision, 'ImplicitDeny');
  });

  it('matches ARNs segment by segment: a * in the region never spans a colon; the resource part may hold colons', () => {
    const p = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:us-*:123456789012:secret:*' });
    assert.equal(evaluate(req(), { identity: [p] }).decision, 'Allow');
    assert.equal(evaluate(req({ resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:a:b:c' }), { identity: [p] }).decision, 'Allow');
    const q = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:*1:123456789012:secret:*' });
    assert.equal(evaluate(req({ resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' }), { identity: [q] }).decision, 'Allow');
    const r = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:us-east-1:*' });
    // "*" as the account segment with nothing after it: padded, the resource part matches anything.
    assert.equal(evaluate(req(), { identity: [r] }).decision, 'Allow');
    const s = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:DB/*' });
    assert.equal(evaluate(req(), { identity: [s] }).decision, 'ImplicitDeny', 'the resource part is case-sensitive');
    const nr = identity({ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:secretsmanager:*:*:secret:db/*' });
    assert.equal(evaluate(req(), { identity: [nr] }).decision, 'ImplicitDeny');
  });

  it('substitutes policy variables (2012-10-17 only), with defaults', () => {
    const userArn = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:home/ana-AbCdEf`;
    const p = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:*:*:secret:home/${aws:username}-*' });
    assert.equal(evaluate(req({ resource: userArn }), { identity: [p] }).decision, 'Allow');
    assert.equal(evaluate(req({ resource: userArn, principal: { type: 'AWS', id: `arn:aws:iam::${ACCOUNT}:user/bob` } }), { identity: [p] }).decision, 'ImplicitDeny');
    const old = identity({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:secretsmanager:*:*:secret:home/${aws:username}-*' }, '2008-10-17');
    assert.equal(evaluate(req({ resource: userArn }), { identity: [old] }).decision, 'ImplicitDeny');
    const dflt = identity({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/team': "${aws:PrincipalTag/team, 'none'}" } } });
    assert.equal(evaluate(req({ context: { 'aws:ResourceTag/team': 'none' } }), { identity: [dflt] }).decision, 'Allow');
    assert.equal(evaluate(req({ context: { 'aws:ResourceTag/team': 'none', 'aws:PrincipalTag/team': 'red' } }), { identity: [dflt] }).decision, 'ImplicitDeny');
  });

  it('evaluates condition operators with IAM semantics for absent keys, IfExists and set operators', () => {
    const allow = (Condition: unknown) => identity({ Effect: 'Allow', Action: '*', Resource: '*', Condition });
    const ok = (Condition: unknown, context: Record<string, string | string[]> = {}, now = NOW): boolean =>
      evaluate(req({ context, now }), { identity: [allow(Condition)] }).allowed;
    assert.ok(ok({ StringEquals: { 'Aws:UserName': 'ana' } }), 'keys are case-insensitive');
    assert.ok(!ok({ StringEquals: { 'aws:username': 'ANA' } }));
    assert.ok(ok({ StringEqualsIgnoreCase: { 'aws:username': 'ANA' } }));
    assert.ok(ok({ StringLike: { 'aws:username': ['x*', 'a?a'] } }));
    assert.ok(!ok({ StringNotLike: { 'aws:username': ['x*', 'a?a'] } }));
    assert.ok(ok({ StringNotEquals: { 'ec2:Region': 'us-east-1' } }), 'a negated operator holds when the key is absent');
    assert.ok(!ok({ StringEquals: { 'ec2:Region': 'us-east-1' } }));
    assert.ok(ok({ StringEqualsIfExists: { 'ec2:Region': 'us-east-1' } }));
    assert.ok(!ok({ StringEqualsIfExists: { 'ec2:Region': 'us-east-1' } }, { 'ec2:region': 'eu-west-1' }));
    assert.ok(ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '9' }));
    assert.ok(!ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' }));
    assert.ok(ok({ NumericGreaterThanEquals: { 's3:max-keys': 10 } }, { 's3:max-keys': '10' }));
    assert.ok(ok({ DateLessThan: { 'aws:CurrentTime': '2026-06-02T00:00:00Z' } }), 'the request time is an input');
    assert.ok(!ok({ DateLessThan: { 'aws:CurrentTime': '2026-06-02T00:00:00Z' } }, {}, new Date('2026-07-01T00:00:00Z')));
    assert.ok(ok({ DateGreaterThan: { 'aws:EpochTime': '1700000000' } }));
    assert.ok(ok({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'TRUE' }));
    assert.ok(ok({ Bool: { 'aws:SecureTransport': false } }, { 'aws:SecureTransport': 'false' }));
    assert.ok(ok({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }, { 'aws:SourceIp': '10.1.2.3' }));
    assert.ok(ok({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { 'aws:SourceIp': '2001:db8::1' }));
    assert.ok(!ok({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '11.0.0.1' }));
    assert.ok(ok({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '11.0.0.1' }));
    assert.ok(ok({ ArnLike: { 'aws:SourceArn': 'arn:aws:ecs:*:123456789012:task/*' } }, { 'aws:SourceArn': 'arn:aws:ecs:us-east-1:123456789012:task/c/abc' }));
    assert.ok(ok({ ArnEquals: { 'aws:PrincipalArn': USER } }));
    assert.ok(ok({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:ecs:*:*:service/*' } }, { 'aws:SourceArn': 'arn:aws:ecs:us-east-1:123456789012:task/c/abc' }));
    assert.ok(ok({ Null: { 'aws:TokenIssueTime': 'true' } }));
    assert.ok(!ok({ Null: { 'aws:username': 'true' } }));
    assert.ok(ok({ Null: { 'aws:username': 'false' } }));
    // Multivalued keys need a set operator.
    const tags = { 'aws:TagKeys': ['env', 'team'] };
    assert.ok(!ok({ StringEquals: { 'aws:TagKeys': 'env' } }, tags));
    assert.ok(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'env' } }, tags));
    assert.ok(!ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': 'env' } }, tags));
    assert.ok(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team', 'owner'] } }, tags));
    assert.ok(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': 'env' } }), 'ForAllValues holds for an absent key');
    assert.ok(!ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'env' } }), 'ForAnyValue fails for an absent key');
    // Several keys and operators: all must hold.
    assert.ok(!ok({ StringEquals: { 'aws:username': 'ana', 'aws:PrincipalAccount': '999999999999' } }));
    assert.ok(!ok({ StringEquals: { 'aws:username': 'ana' }, Bool: { 'aws:SecureTransport': 'true' } }));
  });

  it('grants through a resource policy naming the caller, and needs the identity policy when it names only the account', () => {
    const byUser = compilePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: { AWS: USER }, Action: 'secretsmanager:GetSecretValue', Resource: '*' } }, 'resource', 'rp');
    const byAccount = compilePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'secretsmanager:GetSecretValue', Resource: '*' } }, 'resource', 'rp');
    const denyRp = compilePolicy({ Version: '2012-10-17', Statement: { Effect: 'Deny', Principal: '*', Action: 'secretsmanager:*', Resource: '*' } }, 'resource', 'rp');
    const allowAll = identity({ Effect: 'Allow', Action: '*', Resource: '*' });
    assert.equal(evaluate(req(), { identity: [], resource: byUser }).decision, 'Allow');
    assert.equal(evaluate(req(), { identity: [], resource: byAccount }).decision, 'ImplicitDeny');
    assert.equal(evaluate(req(), { identity: [allowAll], resource: byAccount }).decision, 'Allow');
    const d = evaluate(req(), { identity: [allowAll], resource: denyRp });
    assert.equal(d.decision, 'ExplicitDeny');
    assert.match(denialMessage(req(), d), /explicit deny in a resource-based policy$/);
    // Across accounts both sides must allow.
    const other = req({ resource: SECRET.replace(ACCOUNT, '210987654321') });
    assert.equal(evaluate(other, { identity: [allowAll] }).decision, 'ImplicitDeny');
    assert.equal(evaluate(other, { identity: [allowAll] }).missing, 'resource');
    assert.equal(evaluate(other, { identity: [allowAll], resource: byUser }).decision, 'Allow');
    assert.equal(evaluate(other, { identity: [], resource: byUser }).decision, 'ImplicitDeny');
  });

  it('evaluates trust policies: services, role sessions, NotPrincipal', () => {
    const trust = compilePolicy(
      { Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com', AWS: `arn:aws:iam::${ACCOUNT}:role/ops/deployer` }, Action: 'sts:AssumeRole' } },
      'trust',
      'trust',
    );
    const assume = (id: string, type: 'AWS' | 'Service' = 'AWS') =>
      evaluate({ principal: { type, id }, action: 'sts:AssumeRole', resource: `arn:aws:iam::${ACCOUNT}:role/app`, now: NOW }, { identity: [], resource: trust }).decision;
    assert.equal(assume('ecs-tasks.amazonaws.com', 'Service'), 'Allow');
    assert.equal(assume('lambda.amazonaws.com', 'Service'), 'ImplicitDeny');
    assert.equal(assume(`arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci-42`), 'Allow');
    assert.equal(assume(`arn:aws:sts::${ACCOUNT}:assumed-role/other/ci-42`), 'ImplicitDeny');
    const notP = compilePolicy({ Version: '2012-10-17', Statement: { Effect: 'Deny', NotPrincipal: { AWS: USER }, Action: '*', Resource: '*' } }, 'resource', 'rp');
    const allowAll = identity({ Effect: 'Allow', Action: '*', Resource: '*' });
    assert.equal(evaluate(req(), { identity: [allowAll], resource: notP }).decision, 'Allow');
    assert.equal(evaluate(req({ principal: { type: 'AWS', id: `arn:aws:iam::${ACCOUNT}:user/bob` } }), { identity: [allowAll], resource: notP }).decision, 'ExplicitDeny');
  });
});

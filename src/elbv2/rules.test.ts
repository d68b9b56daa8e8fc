import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from '../core/errors.js';
import { defaultRuleArn, listenerOfRule } from './model.js';
import { normalizeConditions } from './rules.js';

const refused = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof AwsError && e.type === 'ValidationError' && message.test(e.message));
};

describe('rule conditions', () => {
  it('describes host-header and path-pattern values in both forms, as ELBv2 does', () => {
    assert.deepEqual(normalizeConditions([{ Field: 'host-header', Values: ['*.example.test'] }, { Field: 'path-pattern', PathPatternConfig: { Values: ['/a/*'] } }]), [
      { Field: 'host-header', Values: ['*.example.test'], HostHeaderConfig: { Values: ['*.example.test'] } },
      { Field: 'path-pattern', Values: ['/a/*'], PathPatternConfig: { Values: ['/a/*'] } },
    ]);
  });

  it('takes one http-header condition per header name, and each other field once', () => {
    const two = normalizeConditions([
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-A', Values: ['1'] } },
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-B', Values: ['2'] } },
    ]);
    assert.equal(two.length, 2);
    refused(() => normalizeConditions([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-A', Values: ['1'] } }, { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-a', Values: ['2'] } }]), /only once per rule/);
    refused(() => normalizeConditions([{ Field: 'path-pattern', Values: ['/a'] }, { Field: 'path-pattern', Values: ['/b'] }]), /only once per rule/);
  });

  it('refuses unknown fields, mixed forms, missing values, bad CIDRs and more than five values', () => {
    refused(() => normalizeConditions([{ Field: 'cookie', Values: ['a'] }]), /Condition field 'cookie' must be one of/);
    refused(() => normalizeConditions([{ Field: 'path-pattern', Values: ['/a'], PathPatternConfig: { Values: ['/b'] } }]), /cannot specify both 'Values' and 'PathPatternConfig'/);
    refused(() => normalizeConditions([{ Field: 'source-ip', Values: ['10.0.0.0/8'] }]), /A 'SourceIpConfig' must be specified/);
    refused(() => normalizeConditions([{ Field: 'path-pattern', PathPatternConfig: { Values: [] } }]), /A value must be specified/);
    refused(() => normalizeConditions([{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.1'] } }]), /not a valid CIDR block/);
    assert.equal(normalizeConditions([{ Field: 'source-ip', SourceIpConfig: { Values: ['2001:db8::/32', '192.168.0.0/16'] } }]).length, 1);
    refused(() => normalizeConditions([{ Field: 'host-header', Values: ['a', 'b', 'c'] }, { Field: 'path-pattern', Values: ['/1', '/2', '/3'] }]), /A rule can only have '5' condition values/);
  });
});

describe('rule ARNs', () => {
  it("derives each listener's default rule ARN, stable and under the listener", () => {
    const listener = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/0123456789abcdef/fedcba9876543210';
    const rule = defaultRuleArn(listener);
    assert.match(rule, /^arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule\/app\/web\/0123456789abcdef\/fedcba9876543210\/[0-9a-f]{16}$/);
    assert.equal(defaultRuleArn(listener), rule);
    assert.equal(listenerOfRule(rule), listener);
    assert.equal(listenerOfRule('arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/x/1'), undefined);
  });
});

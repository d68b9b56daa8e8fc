import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataPlaneConfigError, targetGroup, validateConfig, wildcardToRegex, type DataPlaneConfig } from './model.js';

const matches = (pattern: string, value: string, flags = '') => new RegExp(wildcardToRegex(pattern), flags).test(value);

describe('ELB wildcards', () => {
  it('* matches any run, ? exactly one character, everything else literally', () => {
    assert.ok(matches('/api/*', '/api/'));
    assert.ok(matches('/api/*', '/api/v1/users'));
    assert.ok(!matches('/api/*', '/apix'));
    assert.ok(matches('/v?/x', '/v1/x'));
    assert.ok(!matches('/v?/x', '/v12/x'));
    assert.ok(!matches('/a.b', '/aXb'), 'a dot is a dot');
    assert.ok(matches('/a+b(c)', '/a+b(c)'), 'regex characters are literal');
    assert.ok(matches('\\*', '*') && !matches('\\*', 'x'), 'a backslash makes the next character literal');
  });
});

describe('validateConfig', () => {
  const base = (): DataPlaneConfig => ({
    targetGroups: [targetGroup({ id: 'web', targets: [{ host: '10.0.0.1', port: 80 }] }), targetGroup({ id: 'db', protocol: 'TCP' })],
    loadBalancers: [
      {
        id: 'alb',
        type: 'application',
        idleTimeoutSeconds: 60,
        listeners: [{ id: 'l', port: 80, protocol: 'HTTP', rules: [], defaultAction: { type: 'forward', targetGroups: [{ targetGroupId: 'web' }] } }],
      },
    ],
  });

  it('accepts a sound configuration and fills ELB defaults', () => {
    validateConfig(base());
    const tg = targetGroup({ id: 'x' });
    assert.deepEqual([tg.healthCheck.intervalSeconds, tg.healthCheck.healthyThreshold, tg.healthCheck.matcher, tg.deregistrationDelaySeconds], [30, 5, '200', 300]);
  });

  it('lists every problem at once', () => {
    const c = base();
    const l = c.loadBalancers[0]!.listeners[0]!;
    l.rules.push(
      { priority: 1, conditions: [{ field: 'source-ip', values: ['10.0.0.0/33'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'nope' }] } },
      { priority: 1, conditions: [], action: { type: 'forward', targetGroups: [{ targetGroupId: 'db' }] } },
    );
    c.targetGroups[0]!.healthCheck.matcher = '200-abc';
    c.loadBalancers[0]!.listeners.push({ id: 'l2', port: 80, bindHost: '127.0.0.1', protocol: 'HTTPS', rules: [], defaultAction: { type: 'fixed-response', statusCode: 302 } });
    const err = (() => {
      try {
        validateConfig(c);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof DataPlaneConfigError);
    const text = err.problems.join('\n');
    for (const expected of [
      '"10.0.0.0/33" is not a CIDR block',
      'target group nope does not exist',
      'priority 1 is used twice',
      'rule 1 has no condition',
      'target group db uses TCP, which this listener cannot forward to',
      'matcher "200-abc"',
      '127.0.0.1:80 is already used',
      'HTTPS needs a certificate',
      'fixed-response status must be 2XX, 4XX or 5XX',
    ]) {
      assert.ok(text.includes(expected), `missing "${expected}" in:\n${text}`);
    }
  });

  it('keeps network load balancers to TCP forwards', () => {
    const c = base();
    c.loadBalancers.push({ id: 'nlb', type: 'network', idleTimeoutSeconds: 350, listeners: [{ id: 't', port: 5432, protocol: 'TCP', rules: [], defaultAction: { type: 'fixed-response', statusCode: 200 } }] });
    assert.throws(() => validateConfig(c), /TCP listeners only forward/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataPlaneTargetId, toDataPlaneConfig, type MappingInput } from './dataplaneConfig.js';
import { HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS, LOAD_BALANCER_ATTRIBUTE_DEFAULTS, type TargetGroupDoc } from './model.js';
import type { ListenerView, LoadBalancerView, TargetGroupView } from './view.js';

const P = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:';

function lb(name: string, listeners: ListenerView[], targetGroups: Record<string, TargetGroupView>, idle = '60'): LoadBalancerView {
  return {
    loadBalancer: {
      LoadBalancerArn: `${P}loadbalancer/app/${name}/0000000000000001`,
      DNSName: `${name}.elb.localhost`,
      CanonicalHostedZoneId: 'Z',
      CreatedTime: 0,
      LoadBalancerName: name,
      Scheme: 'internet-facing',
      VpcId: 'vpc-berth',
      State: { Code: 'provisioning' },
      Type: 'application',
      AvailabilityZones: [],
      IpAddressType: 'ipv4',
      attributes: { ...LOAD_BALANCER_ATTRIBUTE_DEFAULTS.application, 'idle_timeout.timeout_seconds': idle },
    },
    listeners,
    targetGroups,
  };
}

function listener(lbName: string, port: number, protocol: string, rules: ListenerView['rules'], certificateArn?: string): ListenerView {
  return {
    listener: {
      ListenerArn: `${P}listener/app/${lbName}/0000000000000001/${port}`,
      LoadBalancerArn: `${P}loadbalancer/app/${lbName}/0000000000000001`,
      Port: port,
      Protocol: protocol,
      DefaultActions: rules.find((r) => r.priority === 'default')?.actions ?? [],
      CreatedTime: 0,
      ...(certificateArn ? { Certificates: [{ CertificateArn: certificateArn }] } : {}),
    },
    rules,
  };
}

function group(name: string, type: TargetGroupDoc['TargetType'], targets: TargetGroupView['targets'], attributes: Record<string, string> = {}): [string, TargetGroupView] {
  const arn = `${P}targetgroup/${name}/00000000000000aa`;
  return [
    arn,
    {
      targetGroup: {
        TargetGroupArn: arn,
        TargetGroupName: name,
        Protocol: 'HTTP',
        Port: 80,
        HealthCheckEnabled: true,
        HealthCheckProtocol: 'HTTP',
        HealthCheckPort: 'traffic-port',
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 4,
        HealthyThresholdCount: 3,
        UnhealthyThresholdCount: 2,
        HealthCheckPath: '/ping',
        Matcher: { HttpCode: '200-299' },
        TargetType: type,
        IpAddressType: 'ipv4',
        CreatedTime: 0,
        attributes: { ...HTTP_TARGET_GROUP_ATTRIBUTE_DEFAULTS, ...attributes },
      },
      targets,
    },
  ];
}

const input = (views: LoadBalancerView[]): MappingInput => ({
  views,
  bindHost: '127.0.0.1',
  instanceHost: (id) => (id === 'i-local' ? '127.0.0.1' : undefined),
  certificate: (arn) => (arn.endsWith('/known') ? { certificatePem: 'CERT', privateKeyPem: 'KEY' } : undefined),
});

describe('ELBv2 resources mapped to the data plane configuration', () => {
  const [webArn, web] = group('web', 'ip', [
    { id: '10.0.0.5', port: 8080, draining: false },
    { id: '10.0.0.6', port: 8080, draining: true },
  ], { 'deregistration_delay.timeout_seconds': '20', 'load_balancing.algorithm.type': 'least_outstanding_requests', 'slow_start.duration_seconds': '30', 'stickiness.enabled': 'true', 'stickiness.lb_cookie.duration_seconds': '600' });
  const [apiArn, api] = group('api', 'instance', [
    { id: 'i-local', port: 32768, draining: false },
    { id: 'i-gone', port: 32769, draining: false },
  ]);

  it('binds listeners on the configured host and maps rules, conditions, weighted forwards and target group settings', () => {
    const view = lb(
      'front',
      [
        listener('front', 8000, 'HTTP', [
          { priority: 5, conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }, { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Env', Values: ['prod'] } }], actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: apiArn, Weight: 3 }, { TargetGroupArn: webArn, Weight: 1 }] } }] },
          { priority: 9, conditions: [{ Field: 'host-header', Values: ['old.example.test'] }], actions: [{ Type: 'redirect', RedirectConfig: { Host: 'new.example.test', Path: '/#{path}', StatusCode: 'HTTP_302' } }] },
          { priority: 'default', conditions: [], actions: [{ Type: 'forward', TargetGroupArn: webArn }] },
        ]),
      ],
      { [webArn]: web, [apiArn]: api },
      '45',
    );
    const { config, failed, targets } = toDataPlaneConfig(input([view]));
    assert.equal(failed.size, 0);
    const l = config.loadBalancers[0]!;
    assert.equal(l.idleTimeoutSeconds, 45);
    assert.equal(l.listeners[0]!.bindHost, '127.0.0.1');
    assert.equal(l.listeners[0]!.port, 8000);
    assert.deepEqual(l.listeners[0]!.rules[0], {
      priority: 5,
      conditions: [{ field: 'path-pattern', values: ['/api/*'] }, { field: 'http-header', headerName: 'X-Env', values: ['prod'] }],
      action: { type: 'forward', targetGroups: [{ targetGroupId: apiArn, weight: 3 }, { targetGroupId: webArn, weight: 1 }] },
    });
    assert.deepEqual(l.listeners[0]!.rules[1]!.action, { type: 'redirect', statusCode: 'HTTP_302', host: 'new.example.test', path: '/#{path}' });
    assert.deepEqual(l.listeners[0]!.defaultAction, { type: 'forward', targetGroups: [{ targetGroupId: webArn }] });
    const w = config.targetGroups.find((g) => g.id === webArn)!;
    assert.deepEqual(w.targets, [{ host: '10.0.0.5', port: 8080 }], 'draining targets are left to the data plane to drain');
    assert.equal(w.deregistrationDelaySeconds, 20);
    assert.equal(w.algorithm, 'least_outstanding_requests');
    assert.equal(w.slowStartSeconds, 30);
    assert.deepEqual(w.stickiness, { type: 'lb_cookie', durationSeconds: 600 });
    assert.deepEqual(w.healthCheck, { protocol: 'HTTP', path: '/ping', port: 'traffic-port', intervalSeconds: 10, timeoutSeconds: 4, healthyThreshold: 3, unhealthyThreshold: 2, matcher: '200-299' });
    const i = config.targetGroups.find((g) => g.id === apiArn)!;
    assert.deepEqual(i.targets, [{ host: '127.0.0.1', port: 32768 }], 'instance targets resolve to their host; unknown instances are left out');
    assert.deepEqual(targets.get(dataPlaneTargetId(apiArn, '127.0.0.1', 32768)), { targetGroupArn: apiArn, id: 'i-local', port: 32768 });
  });

  it('leaves out a load balancer that cannot be served, with the reason, and serves the others', () => {
    const ok = lb('one', [listener('one', 8000, 'HTTP', [{ priority: 'default', conditions: [], actions: [{ Type: 'forward', TargetGroupArn: webArn }] }])], { [webArn]: web });
    const clash = lb('two', [listener('two', 8000, 'HTTP', [{ priority: 'default', conditions: [], actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }] }])], {});
    const noCert = lb('three', [listener('three', 8443, 'HTTPS', [{ priority: 'default', conditions: [], actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }] }], 'arn:aws:acm:us-east-1:000000000000:certificate/missing')], {});
    const tls = lb('four', [listener('four', 9443, 'HTTPS', [{ priority: 'default', conditions: [], actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }] }], 'arn:aws:acm:us-east-1:000000000000:certificate/known')], {});
    const { config, failed } = toDataPlaneConfig(input([ok, clash, noCert, tls]));
    assert.deepEqual(config.loadBalancers.map((l) => l.id), [ok.loadBalancer.LoadBalancerArn, tls.loadBalancer.LoadBalancerArn]);
    assert.match(failed.get(clash.loadBalancer.LoadBalancerArn)!.join(), /127\.0\.0\.1:8000 is already used/);
    assert.match(failed.get(noCert.loadBalancer.LoadBalancerArn)!.join(), /certificate .*missing .* not found/);
    assert.deepEqual(config.loadBalancers[1]!.listeners[0]!.certificate, { certificatePem: 'CERT', privateKeyPem: 'KEY' });
  });
});

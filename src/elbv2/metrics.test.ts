import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TargetTraffic, TrafficCounters } from '../dataplane/traffic.js';
import { elbMetrics, loadBalancerDimension, targetGroupDimension, type ElbMetricValue } from './metrics.js';

const ALB = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef';
const NLB = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/tcp/fedcba9876543210';
const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/api/1111222233334444';
const TCP_TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/db/5555666677778888';

const codes = (c2 = 0, c4 = 0, c5 = 0) => ({ '2xx': c2, '3xx': 0, '4xx': c4, '5xx': c5 });
const target = (port: number, state: TargetTraffic['state'], requests: number, ok: number, rtMs = 20): TargetTraffic => ({
  host: '127.0.0.1',
  port,
  state,
  currentConnections: 1,
  connections: requests,
  requests,
  responses: codes(ok, 0, requests - ok),
  responseTimeMs: rtMs,
});

function reading(generation: string, scale: number): TrafficCounters {
  return {
    generation,
    listeners: [
      { loadBalancerId: ALB, listenerId: 'l1', currentConnections: 2, connections: 10 * scale, requests: 40 * scale, bytesIn: 1000 * scale, bytesOut: 5000 * scale, responses: codes(30 * scale, 4 * scale, 6 * scale) },
      { loadBalancerId: NLB, listenerId: 'l2', currentConnections: 3, connections: 7 * scale, requests: 0, bytesIn: 10 * scale, bytesOut: 20 * scale, responses: codes() },
    ],
    targetGroups: [
      { targetGroupId: TG, requests: 36 * scale, targets: [target(8001, 'up', 20 * scale, 18 * scale), target(8002, 'up', 12 * scale, 12 * scale, 40), target(8003, 'down', 0, 0)] },
      { targetGroupId: TCP_TG, requests: 7 * scale, targets: [target(9001, 'up', 7 * scale, 0), target(9002, 'draining', 0, 0)] },
    ],
  };
}

const LBS = [
  { arn: ALB, type: 'application' as const, targetGroupArns: [TG] },
  { arn: NLB, type: 'network' as const, targetGroupArns: [TCP_TG] },
];

function find(values: ElbMetricValue[], metricName: string, dims: Record<string, string>): ElbMetricValue['value'] | undefined {
  const found = values.filter((v) => v.metricName === metricName && v.dimensions.length === Object.keys(dims).length && v.dimensions.every((d) => dims[d.Name] === d.Value));
  assert.ok(found.length <= 1, `${metricName} published once for ${JSON.stringify(dims)}`);
  return found[0]?.value;
}

describe('ELB metrics from data plane traffic', () => {
  const lb = { LoadBalancer: 'app/web/0123456789abcdef' };
  const lbTg = { ...lb, TargetGroup: 'targetgroup/api/1111222233334444' };

  it('names dimensions as ELB does', () => {
    assert.equal(loadBalancerDimension(ALB), 'app/web/0123456789abcdef');
    assert.equal(loadBalancerDimension(NLB), 'net/tcp/fedcba9876543210');
    assert.equal(targetGroupDimension(TG), 'targetgroup/api/1111222233334444');
  });

  it('publishes the traffic between two readings, splitting target and load balancer responses', () => {
    const m = elbMetrics(LBS, reading('w1', 1), reading('w1', 3));
    assert.equal(find(m, 'RequestCount', lb), 80);
    assert.equal(find(m, 'RequestCount', lbTg), 72);
    assert.equal(find(m, 'HTTPCode_Target_2XX_Count', lb), 60);
    assert.equal(find(m, 'HTTPCode_Target_5XX_Count', lbTg), 4);
    // 12 5xx left the listener, 4 came from targets: 8 were the load balancer's own.
    assert.equal(find(m, 'HTTPCode_ELB_5XX_Count', lb), 8);
    assert.equal(find(m, 'HTTPCode_ELB_4XX_Count', lb), 8);
    assert.equal(find(m, 'HealthyHostCount', lbTg), 2);
    assert.equal(find(m, 'UnHealthyHostCount', lbTg), 1);
    assert.equal(find(m, 'RequestCountPerTarget', lbTg), 36, '72 requests over 2 healthy targets');
    assert.equal(find(m, 'RequestCountPerTarget', { TargetGroup: lbTg.TargetGroup }), 36);
    assert.equal(find(m, 'ProcessedBytes', lb), 12000);
    assert.equal(find(m, 'ActiveConnectionCount', lb), 2 + 3);
    assert.equal(find(m, 'NewConnectionCount', lb), 20 + 64);
    const rt = find(m, 'TargetResponseTime', lb) as { count: number; sum: number; min: number; max: number };
    assert.equal(rt.count, 64);
    assert.ok(Math.abs(rt.sum - (40 * 0.02 + 24 * 0.04)) < 1e-9);
    assert.deepEqual([rt.min, rt.max], [0.02, 0.04]);
    assert.ok(m.filter((v) => v.dimensions.some((d) => d.Value === lb.LoadBalancer)).every((v) => v.namespace === 'AWS/ApplicationELB'));
  });

  it('publishes network load balancers under AWS/NetworkELB with flow counts', () => {
    const m = elbMetrics(LBS, reading('w1', 1), reading('w1', 2));
    const nlb = { LoadBalancer: 'net/tcp/fedcba9876543210' };
    const nlbTg = { ...nlb, TargetGroup: 'targetgroup/db/5555666677778888' };
    assert.equal(find(m, 'NewFlowCount', nlb), 7);
    assert.equal(find(m, 'NewFlowCount_TCP', nlb), 7);
    assert.equal(find(m, 'ActiveFlowCount', nlb), 3);
    assert.equal(find(m, 'ProcessedBytes', nlb), 30);
    assert.equal(find(m, 'HealthyHostCount', nlbTg), 1, 'draining targets count as neither');
    assert.equal(find(m, 'UnHealthyHostCount', nlbTg), 0);
    assert.equal(find(m, 'RequestCount', nlb), undefined);
    assert.ok(m.filter((v) => v.dimensions.some((d) => d.Value === nlb.LoadBalancer)).every((v) => v.namespace === 'AWS/NetworkELB'));
  });

  it('takes the whole counter after a restart of the proxy, and zeros when idle', () => {
    const restarted = elbMetrics(LBS, reading('w1', 5), reading('w2', 1));
    assert.equal(find(restarted, 'RequestCount', lb), 40);
    const idle = elbMetrics(LBS, reading('w2', 1), reading('w2', 1));
    assert.equal(find(idle, 'RequestCount', lb), 0);
    assert.equal(find(idle, 'RequestCountPerTarget', lbTg), 0);
    assert.equal(find(idle, 'TargetResponseTime', lb), undefined, 'no response time without requests');
  });
});

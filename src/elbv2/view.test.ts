import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { createListener } from './listeners.js';
import { createLoadBalancer } from './loadBalancers.js';
import type { Elbv2Context } from './model.js';
import { createRule } from './rules.js';
import { createTargetGroup, modifyTargetGroupAttributes } from './targetGroups.js';
import { deregisterTargets, registerTargets } from './targets.js';
import { loadBalancerView } from './view.js';
import { reportTargetHealth } from './writers/targetHealth.js';

describe('load balancer view for the data plane', () => {
  let dir: string;
  let store: Store;
  let clock = Date.UTC(2026, 0, 1);
  let ctx: Elbv2Context;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-elbv2-view-'));
    store = await openSqliteStore({ path: join(dir, 'state.db'), driver: chooseSqliteDriver().driver });
    ctx = { store, region: 'us-east-1', accountId: '000000000000', now: () => clock };
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves listeners by port, rules in evaluation order, and the named target groups with their serving targets', async () => {
    const lb = ((await createLoadBalancer(ctx, { Name: 'front' })) as { LoadBalancers: { LoadBalancerArn: string }[] }).LoadBalancers[0]!.LoadBalancerArn;
    const tg = async (Name: string): Promise<string> =>
      ((await createTargetGroup(ctx, { Name, Protocol: 'HTTP', Port: 8080, TargetType: 'ip' })) as { TargetGroups: { TargetGroupArn: string }[] }).TargetGroups[0]!.TargetGroupArn;
    const web = await tg('web');
    const api = await tg('api');
    await tg('unused');
    await modifyTargetGroupAttributes(ctx, { TargetGroupArn: web, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '10' }] });
    await registerTargets(ctx, { TargetGroupArn: web, Targets: [{ Id: '10.0.0.1' }, { Id: '10.0.0.2' }, { Id: '10.0.0.3' }] });
    const listener8080 = ((await createListener(ctx, { LoadBalancerArn: lb, Protocol: 'HTTP', Port: 8080, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }] })) as { Listeners: { ListenerArn: string }[] }).Listeners[0]!.ListenerArn;
    const listener80 = ((await createListener(ctx, { LoadBalancerArn: lb, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: web }] })) as { Listeners: { ListenerArn: string }[] }).Listeners[0]!.ListenerArn;
    await createRule(ctx, { ListenerArn: listener80, Priority: 20, Conditions: [{ Field: 'path-pattern', Values: ['/b/*'] }], Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403' } }] });
    await createRule(ctx, { ListenerArn: listener80, Priority: 5, Conditions: [{ Field: 'path-pattern', Values: ['/api/*'] }], Actions: [{ Type: 'forward', TargetGroupArn: api }] });
    clock += 1000;
    await reportTargetHealth(store, [{ targetGroupArn: web, id: '10.0.0.1', port: 8080, health: { State: 'healthy', at: clock } }]);
    await deregisterTargets(ctx, { TargetGroupArn: web, Targets: [{ Id: '10.0.0.2' }] });
    await deregisterTargets(ctx, { TargetGroupArn: web, Targets: [{ Id: '10.0.0.3' }] });
    clock += 5000;

    const view = (await loadBalancerView(store, lb, clock))!;
    assert.equal(view.loadBalancer.LoadBalancerName, 'front');
    assert.deepEqual(view.listeners.map((l) => [l.listener.ListenerArn, l.listener.Port]), [[listener80, 80], [listener8080, 8080]]);
    assert.deepEqual(view.listeners[0]!.rules.map((r) => r.priority), [5, 20, 'default']);
    assert.deepEqual(Object.keys(view.targetGroups).sort(), [api, web].sort());
    assert.deepEqual(view.targetGroups[web]!.targets, [
      { id: '10.0.0.1', port: 8080, draining: false, health: { State: 'healthy', at: clock - 5000 } },
      { id: '10.0.0.2', port: 8080, draining: true },
      { id: '10.0.0.3', port: 8080, draining: true },
    ]);
    clock += 6000;
    assert.deepEqual((await loadBalancerView(store, lb, clock))!.targetGroups[web]!.targets.map((t) => t.id), ['10.0.0.1'], 'drained targets are gone');
    assert.equal(await loadBalancerView(store, lb.replace(/[0-9a-f]{16}$/, '0000000000000000'), clock), undefined);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AwsError } from '../core/errors.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { createListener } from './listeners.js';
import { createLoadBalancer } from './loadBalancers.js';
import type { Elbv2Context } from './model.js';
import { createTargetGroup, modifyTargetGroupAttributes } from './targetGroups.js';
import { deregisterTargets, describeTargetHealth, registerTargets } from './targets.js';
import { reportTargetHealth } from './writers/targetHealth.js';

type Health = { Target: { Id: string; Port: number }; TargetHealth: { State: string; Reason?: string; Description?: string } };

describe('target registration and health', () => {
  let dir: string;
  let store: Store;
  let clock = Date.UTC(2026, 0, 1);
  let ctx: Elbv2Context;
  let tg: string;

  const health = async (targets?: { Id: string; Port?: number }[]): Promise<Health[]> =>
    ((await describeTargetHealth(ctx, { TargetGroupArn: tg, ...(targets ? { Targets: targets } : {}) })) as { TargetHealthDescriptions: Health[] }).TargetHealthDescriptions;
  const states = async (): Promise<string[]> => (await health()).map((h) => `${h.Target.Id}:${h.Target.Port} ${h.TargetHealth.State} ${h.TargetHealth.Reason ?? ''}`.trim());

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-elbv2-'));
    store = await openSqliteStore({ path: join(dir, 'state.db'), driver: chooseSqliteDriver().driver });
    ctx = { store, region: 'us-east-1', accountId: '000000000000', now: () => clock };
    const out = (await createTargetGroup(ctx, { Name: 'web', Protocol: 'HTTP', Port: 8080, TargetType: 'ip' })) as { TargetGroups: { TargetGroupArn: string }[] };
    tg = out.TargetGroups[0]!.TargetGroupArn;
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports registered targets of a target group no load balancer uses as unused, Target.NotInUse', async () => {
    await registerTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.1' }, { Id: '10.0.0.2', Port: 9090 }] });
    assert.deepEqual(await states(), ['10.0.0.1:8080 unused Target.NotInUse', '10.0.0.2:9090 unused Target.NotInUse']);
  });

  it('refuses a target that is not an IPv4 address for an ip target group', async () => {
    await assert.rejects(registerTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: 'i-0abc' }] }), (e: unknown) => e instanceof AwsError && e.type === 'InvalidTargetException');
  });

  it('reports initial, Elb.RegistrationInProgress once a listener forwards to the group, until the data plane reports', async () => {
    const lb = ((await createLoadBalancer(ctx, { Name: 'front' })) as { LoadBalancers: { LoadBalancerArn: string }[] }).LoadBalancers[0]!.LoadBalancerArn;
    await createListener(ctx, { LoadBalancerArn: lb, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] });
    assert.deepEqual(await states(), ['10.0.0.1:8080 initial Elb.RegistrationInProgress', '10.0.0.2:9090 initial Elb.RegistrationInProgress']);
  });

  it('shows what the data plane reports, per target, without touching the target group', async () => {
    const tgVersion = (await store.get('targetGroup', tg))!.version;
    clock += 1000;
    const changed = await reportTargetHealth(store, [
      { targetGroupArn: tg, id: '10.0.0.1', port: 8080, health: { State: 'healthy', at: clock } },
      { targetGroupArn: tg, id: '10.0.0.2', port: 9090, health: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [502]', at: clock } },
      { targetGroupArn: tg, id: '10.9.9.9', port: 8080, health: { State: 'healthy', at: clock } },
    ]);
    assert.equal(changed, 2, 'a target that is not registered is ignored');
    const h = await health();
    assert.deepEqual(h[0]!.TargetHealth, { State: 'healthy' });
    assert.deepEqual(h[1]!.TargetHealth, { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [502]' });
    assert.equal((await store.get('targetGroup', tg))!.version, tgVersion);
    // An older observation never overwrites a newer one; the same state again writes nothing.
    assert.equal(await reportTargetHealth(store, [{ targetGroupArn: tg, id: '10.0.0.1', port: 8080, health: { State: 'unhealthy', at: clock - 500 } }]), 0);
    assert.equal(await reportTargetHealth(store, [{ targetGroupArn: tg, id: '10.0.0.1', port: 8080, health: { State: 'healthy', at: clock + 1 } }]), 0);
    assert.deepEqual((await health())[0]!.TargetHealth, { State: 'healthy' });
  });

  it('drains a deregistered target for the deregistration delay, then forgets it', async () => {
    await modifyTargetGroupAttributes(ctx, { TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }] });
    await deregisterTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.1' }] });
    assert.deepEqual((await health([{ Id: '10.0.0.1' }]))[0]!.TargetHealth, { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' });
    clock += 29_000;
    assert.equal((await health([{ Id: '10.0.0.1' }]))[0]!.TargetHealth.State, 'draining');
    clock += 2_000;
    assert.deepEqual((await health([{ Id: '10.0.0.1' }]))[0]!.TargetHealth, { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' });
    assert.deepEqual(await states(), ['10.0.0.2:9090 unhealthy Target.ResponseCodeMismatch']);
  });

  it('registers a draining target again with fresh health, and removes one at once when the delay is 0', async () => {
    await deregisterTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.2', Port: 9090 }] });
    assert.equal((await health())[0]!.TargetHealth.State, 'draining');
    await registerTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.2', Port: 9090 }] });
    assert.deepEqual(await states(), ['10.0.0.2:9090 initial Elb.RegistrationInProgress']);
    await modifyTargetGroupAttributes(ctx, { TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '0' }] });
    await deregisterTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.2', Port: 9090 }] });
    assert.deepEqual(await states(), []);
    await assert.rejects(deregisterTargets(ctx, { TargetGroupArn: tg, Targets: [{ Id: '10.0.0.2', Port: 9090 }] }), (e: unknown) => e instanceof AwsError && e.type === 'InvalidTargetException');
  });

  it('refuses more than 1000 targets in a target group with TooManyTargets', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ Id: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
    await assert.rejects(registerTargets(ctx, { TargetGroupArn: tg, Targets: many }), (e: unknown) => e instanceof AwsError && e.type === 'TooManyTargetsException');
    assert.deepEqual(await states(), [], 'nothing of a refused registration is kept');
  });
});

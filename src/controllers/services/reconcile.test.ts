import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { computedDesiredCount, failureThreshold, maximumTotal, minimumHealthy, reconcile, type ReconcileInput, type ServiceDeployment, type ServiceTask, type ServiceTaskSet } from './reconcile.js';

let n = 0;
function task(deploymentId: string, extra: Partial<ServiceTask> = {}): ServiceTask {
  n++;
  return {
    arn: `t${n}`,
    deploymentId,
    instanceArn: extra.instanceArn ?? `i${n % 3}`,
    availabilityZone: extra.availabilityZone ?? `az${n % 3}`,
    onDrainingInstance: false,
    running: true,
    healthy: true,
    failedHealthChecks: false,
    protected: false,
    createdAt: n,
    ...extra,
  };
}

const PRIMARY = (extra: Partial<ServiceDeployment> = {}): ServiceDeployment => ({ id: 'new', status: 'PRIMARY', rolloutState: 'IN_PROGRESS', failedTasks: 0, ...extra });
const OLD: ServiceDeployment = { id: 'old', status: 'ACTIVE', rolloutState: 'COMPLETED', failedTasks: 0 };

/**
 * The state one round after `plan` in a simulated rollout: the tasks it stops
 * are gone, those it starts are pending, some pending tasks (as `flips` says)
 * came up healthy, drained deployments left, and a completed rollout left the
 * primary alone. Undefined once the service converged, which asserts it then
 * runs `desired` tasks.
 */
function nextRound(
  plan: ReturnType<typeof reconcile>,
  tasks: ServiceTask[],
  deployments: ServiceDeployment[],
  desired: number,
  flips: Iterator<boolean>,
): { tasks: ServiceTask[]; deployments: ServiceDeployment[] } | undefined {
  const stopped = new Set(plan.stop.map((s) => s.arn));
  const after = tasks.filter((t) => !stopped.has(t.arn));
  if (plan.steady || (plan.completed && after.every((t) => t.deploymentId === 'new'))) {
    assert.equal(after.length, desired);
    return undefined;
  }
  let nextDeployments = deployments.filter((d) => !plan.deployments.find((v) => v.id === d.id)?.drained);
  let nextTasks = [...after, ...Array.from({ length: plan.start }, () => task('new', { running: false, healthy: false }))];
  // Some pending tasks come up healthy each round.
  nextTasks = nextTasks.map((t) => (!t.healthy && flips.next().value === true ? { ...t, running: true, healthy: true } : t));
  if (plan.completed) nextDeployments = [PRIMARY({ rolloutState: 'COMPLETED' })];
  return { tasks: nextTasks, deployments: nextDeployments };
}

function input(extra: Partial<ReconcileInput>): ReconcileInput {
  return {
    schedulingStrategy: 'REPLICA',
    desiredCount: 4,
    minimumHealthyPercent: 100,
    maximumPercent: 200,
    circuitBreaker: { enable: false, rollback: false },
    deployments: [PRIMARY()],
    tasks: [],
    launchAllowed: true,
    ...extra,
  };
}

describe('service reconciler', () => {
  it('rounds the bounds as ECS does and computes the circuit-breaker threshold', () => {
    assert.equal(minimumHealthy(3, 50), 2);
    assert.equal(minimumHealthy(4, 50), 2);
    assert.equal(maximumTotal(3, 150), 4);
    assert.equal(maximumTotal(1, 100), 1);
    assert.equal(maximumTotal(2, 50), 2, 'never below desired');
    assert.deepEqual([1, 6, 8, 1000].map(failureThreshold), [3, 3, 4, 200]);
  });

  it('starts the desired count for a new service and nothing when it is there', () => {
    assert.equal(reconcile(input({})).start, 4);
    const tasks = [task('new'), task('new'), task('new'), task('new')];
    const plan = reconcile(input({ tasks, deployments: [PRIMARY({ rolloutState: 'COMPLETED' })] }));
    assert.deepEqual([plan.start, plan.stop.length, plan.steady, plan.runningCount], [0, 0, true, 4]);
  });

  it('rolls from the old deployment within minimum 100% / maximum 200%: new tasks first, old ones once the new are healthy', () => {
    const old = [task('old'), task('old'), task('old'), task('old')];
    let plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: old }));
    assert.equal(plan.start, 4);
    assert.equal(plan.stop.length, 0, 'no healthy old task may go while only 4 are healthy');
    const fresh = [1, 2, 3, 4].map(() => task('new', { running: false, healthy: false }));
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [...old, ...fresh] }));
    assert.deepEqual([plan.start, plan.stop.length], [0, 0]);
    const healthy = fresh.map((t) => ({ ...t, running: true, healthy: true }));
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [...old, ...healthy] }));
    assert.deepEqual(plan.stop.map((s) => [s.arn, s.reason]), old.map((t) => [t.arn, 'deployment']));
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: healthy }));
    assert.equal(plan.completed, true);
    assert.equal(plan.deployments.find((d) => d.id === 'old')?.drained, true);
  });

  it('with minimum 50% / maximum 100% stops half the old tasks before starting any', () => {
    const old = [task('old'), task('old'), task('old'), task('old')];
    const plan = reconcile(input({ minimumHealthyPercent: 50, maximumPercent: 100, deployments: [PRIMARY(), OLD], tasks: old }));
    assert.equal(plan.start, 0);
    assert.equal(plan.stop.length, 2);
  });

  it('scales in the newest deployment from the busiest zone, never a protected task, pending tasks first', () => {
    const a = task('new', { availabilityZone: 'a', instanceArn: 'ia' });
    const b1 = task('new', { availabilityZone: 'b', instanceArn: 'ib' });
    const b2 = task('new', { availabilityZone: 'b', instanceArn: 'ib', protected: true });
    const b3 = task('new', { availabilityZone: 'b', instanceArn: 'ib2' });
    const pending = task('new', { availabilityZone: 'a', running: false, healthy: false });
    const plan = reconcile(input({ desiredCount: 2, minimumHealthyPercent: 50, tasks: [a, b1, b2, b3, pending], deployments: [PRIMARY({ rolloutState: 'COMPLETED' })] }));
    const stopped = plan.stop.map((s) => s.arn);
    assert.ok(stopped.includes(pending.arn), 'the pending task goes first');
    assert.ok(!stopped.includes(b2.arn), 'protected task kept');
    assert.equal(stopped.length, 3);
    assert.ok(!stopped.includes(a.arn), 'zone a keeps its only task');
  });

  it('replaces a task that failed its health checks and stops pending tasks on a draining instance at once', () => {
    const sick = task('new', { failedHealthChecks: true, healthy: false });
    const drainingPending = task('new', { onDrainingInstance: true, running: false, healthy: false });
    const drainingRunning = task('new', { onDrainingInstance: true });
    const ok = [task('new'), task('new')];
    const plan = reconcile(input({ deployments: [PRIMARY({ rolloutState: 'COMPLETED' })], tasks: [sick, drainingPending, drainingRunning, ...ok] }));
    assert.deepEqual(
      plan.stop.map((s) => [s.arn, s.reason]).sort(),
      [
        [sick.arn, 'unhealthy'],
        [drainingPending.arn, 'draining'],
      ].sort(),
    );
    assert.equal(plan.start, 2, 'replacements for the unhealthy task and both draining ones... within 200%');
    // Once the replacements are healthy, the running task on the draining instance goes.
    const replaced = [task('new'), task('new')];
    const next = reconcile(input({ deployments: [PRIMARY({ rolloutState: 'COMPLETED' })], tasks: [drainingRunning, ...ok, ...replaced] }));
    assert.deepEqual(next.stop.map((s) => [s.arn, s.reason]), [[drainingRunning.arn, 'draining']]);
  });

  it('trips the circuit breaker at the threshold and stops launching', () => {
    const plan = reconcile(input({ circuitBreaker: { enable: true, rollback: true }, deployments: [PRIMARY({ failedTasks: 3 }), OLD], tasks: [task('old')] }));
    assert.equal(plan.failed, true);
    assert.equal(plan.start, 0);
    const below = reconcile(input({ circuitBreaker: { enable: true, rollback: true }, deployments: [PRIMARY({ failedTasks: 2 }), OLD], tasks: [task('old')] }));
    assert.equal(below.failed, false);
    assert.ok(below.start > 0);
  });

  it('runs one DAEMON task per wanted instance, replacing old revisions instance by instance', () => {
    const onA = task('old', { instanceArn: 'a' });
    const onGone = task('new', { instanceArn: 'gone' });
    const plan = reconcile(input({ schedulingStrategy: 'DAEMON', desiredCount: 0, daemonInstances: ['a', 'b'], deployments: [PRIMARY(), OLD], tasks: [onA, onGone] }));
    assert.deepEqual(plan.startOn, ['b']);
    assert.deepEqual(plan.stop.map((s) => [s.arn, s.reason]).sort(), [[onA.arn, 'deployment'], [onGone.arn, 'daemon']].sort());
    const after = reconcile(input({ schedulingStrategy: 'DAEMON', daemonInstances: ['a', 'b'], deployments: [PRIMARY(), OLD], tasks: [task('new', { instanceArn: 'b' })] }));
    assert.deepEqual(after.startOn, ['a']);
  });

  it('property: never below the minimum healthy bound, never above the maximum, and converges', () => {
    const bounds = fc.constantFrom([0, 100], [50, 100], [50, 200], [100, 200], [0, 200], [50, 150], [100, 150]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }), bounds, fc.infiniteStream(fc.boolean()), (desired, oldCount, [minPct, maxPct], coin) => {
        const minHealthy = minimumHealthy(desired, minPct!);
        const maxTotal = maximumTotal(desired, maxPct!);
        // With no room above the minimum and none below the maximum a rolling deployment cannot move (as on ECS).
        fc.pre(!(oldCount > 0 && desired > 0 && maxTotal - minHealthy < 1 && oldCount >= maxTotal));
        let tasks: ServiceTask[] = Array.from({ length: oldCount }, () => task('old'));
        let deployments: ServiceDeployment[] = [PRIMARY(), OLD];
        const flips = coin[Symbol.iterator]();
        for (let step = 0; step < 200; step++) {
          const plan = reconcile(input({ desiredCount: desired, minimumHealthyPercent: minPct!, maximumPercent: maxPct!, deployments, tasks }));
          const healthyBefore = tasks.filter((t) => t.healthy).length;
          const stopped = new Set(plan.stop.map((s) => s.arn));
          const after = tasks.filter((t) => !stopped.has(t.arn));
          const healthyAfter = after.filter((t) => t.healthy).length;
          assert.ok(healthyAfter >= Math.min(minHealthy, healthyBefore), `healthy ${healthyBefore} → ${healthyAfter} below ${minHealthy}`);
          const total = after.length + plan.start;
          assert.ok(plan.start === 0 || total <= maxTotal, `would run ${total} > ${maxTotal}`);
          const next = nextRound(plan, tasks, deployments, desired, flips);
          if (!next) return;
          ({ tasks, deployments } = next);
        }
        assert.fail('did not converge in 200 rounds');
      }),
      { numRuns: 300 },
    );
  });
  it('keeps protected tasks of an older deployment: the deployment waits, counting them, and completes once protection ends', () => {
    const guarded = [task('old', { protected: true }), task('old', { protected: true })];
    const plain = [task('old'), task('old')];
    const fresh = [1, 2, 3, 4].map(() => task('new'));
    let plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [...guarded, ...plain, ...fresh] }));
    assert.deepEqual(plan.stop.map((s) => s.arn).sort(), plain.map((t) => t.arn).sort(), 'only the unprotected old tasks go');
    assert.equal(plan.heldByProtection, 2);
    assert.equal(plan.completed, false);
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [...guarded, ...fresh] }));
    assert.deepEqual([plan.stop.length, plan.start, plan.completed, plan.steady, plan.heldByProtection], [0, 0, false, false, 2], 'the deployment waits');
    assert.equal(plan.deployments.find((d) => d.id === 'old')?.drained, false);
    const lapsed = guarded.map((t) => ({ ...t, protected: false }));
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [...lapsed, ...fresh] }));
    assert.deepEqual(plan.stop.map((s) => [s.arn, s.reason]).sort(), lapsed.map((t) => [t.arn, 'deployment']).sort());
    assert.equal(plan.heldByProtection, 0);
    // A protected task on a draining instance is still moved: draining is not a scale-in.
    const drainingGuarded = task('old', { protected: true, onDrainingInstance: true });
    plan = reconcile(input({ deployments: [PRIMARY(), OLD], tasks: [drainingGuarded, ...fresh] }));
    assert.deepEqual(plan.stop.map((s) => [s.arn, s.reason]), [[drainingGuarded.arn, 'draining']]);
  });

  it('property: a protected task is never stopped for a deployment or a scale-in, and the service converges once protection lapses', () => {
    const bounds = fc.constantFrom([0, 100], [50, 200], [100, 200], [50, 150]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.boolean(), { minLength: 0, maxLength: 8 }),
        bounds,
        fc.integer({ min: 0, max: 12 }),
        fc.infiniteStream(fc.boolean()),
        (desired, oldProtection, [minPct, maxPct], lapseAt, coin) => {
          const maxTotal = maximumTotal(desired, maxPct!);
          const minHealthy = minimumHealthy(desired, minPct!);
          fc.pre(!(oldProtection.length > 0 && desired > 0 && maxTotal - minHealthy < 1 && oldProtection.length >= maxTotal));
          let tasks: ServiceTask[] = oldProtection.map((p) => task('old', { protected: p }));
          let deployments: ServiceDeployment[] = [PRIMARY(), OLD];
          const flips = coin[Symbol.iterator]();
          for (let step = 0; step < 200; step++) {
            if (step === lapseAt) tasks = tasks.map((t) => ({ ...t, protected: false }));
            const plan = reconcile(input({ desiredCount: desired, minimumHealthyPercent: minPct!, maximumPercent: maxPct!, deployments, tasks }));
            for (const s of plan.stop) {
              const t = tasks.find((x) => x.arn === s.arn)!;
              assert.ok(!(t.protected && (s.reason === 'deployment' || s.reason === 'scale-in')), `protected ${t.arn} stopped for ${s.reason}`);
            }
            if (step < lapseAt) assert.equal(plan.completed && tasks.some((t) => t.protected && t.deploymentId === 'old'), false, 'no completion while protected old tasks run');
            const next = nextRound(plan, tasks, deployments, desired, flips);
            if (!next) return;
            ({ tasks, deployments } = next);
          }
          assert.fail('did not converge in 200 rounds');
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('task sets (EXTERNAL deployment controller)', () => {
    const SET = (id: string, scalePercent: number, status: ServiceTaskSet['status'] = 'ACTIVE'): ServiceTaskSet => ({ id, status, scalePercent });

    it('computes each task set\'s desired count rounded up, as ECS does', () => {
      assert.deepEqual([computedDesiredCount(4, 100), computedDesiredCount(4, 0), computedDesiredCount(3, 50), computedDesiredCount(5, 30), computedDesiredCount(10, 10)], [4, 0, 2, 2, 1]);
    });

    it('starts what each task set lacks and nothing for the service itself', () => {
      const plan = reconcile(input({ desiredCount: 3, deployments: [], taskSets: [SET('blue', 100, 'PRIMARY'), SET('green', 50)], tasks: [task('blue')] }));
      assert.equal(plan.start, 0);
      assert.deepEqual(plan.taskSets.map((v) => [v.id, v.computedDesiredCount, v.start, v.steady]), [
        ['blue', 3, 2, false],
        ['green', 2, 2, false],
      ]);
      assert.equal(plan.steady, false);
    });

    it('scales a task set in (never a protected task), drains a deleted one, and stops tasks of no task set', () => {
      const blue = [task('blue'), task('blue', { protected: true }), task('blue')];
      const green = [task('green'), task('green')];
      const stray = task('gone');
      const plan = reconcile(input({ desiredCount: 2, deployments: [], taskSets: [SET('blue', 50, 'PRIMARY'), SET('green', 0, 'DRAINING')], tasks: [...blue, ...green, stray] }));
      const stopped = new Map(plan.stop.map((s) => [s.arn, s.reason]));
      assert.equal(stopped.get(stray.arn), 'deployment');
      assert.ok(!stopped.has(blue[1]!.arn), 'protected task kept');
      assert.equal(blue.filter((t) => stopped.get(t.arn) === 'scale-in').length, 2);
      assert.deepEqual(green.map((t) => stopped.get(t.arn)), ['scale-in', 'scale-in']);
      assert.deepEqual(plan.taskSets.map((v) => [v.id, v.computedDesiredCount, v.drained]), [
        ['blue', 1, false],
        ['green', 0, true],
      ]);
    });

    it('is steady when every task set runs its computed count, healthy, and nothing else runs', () => {
      const tasks = [task('blue'), task('blue'), task('green')];
      const plan = reconcile(input({ desiredCount: 2, deployments: [], taskSets: [SET('blue', 100, 'PRIMARY'), SET('green', 50)], tasks }));
      assert.deepEqual([plan.stop.length, plan.steady, ...plan.taskSets.map((v) => v.steady)], [0, true, true, true]);
      const pending = reconcile(input({ desiredCount: 2, deployments: [], taskSets: [SET('blue', 100, 'PRIMARY')], tasks: [task('blue'), task('blue', { running: false, healthy: false })] }));
      assert.deepEqual([pending.steady, pending.taskSets[0]!.steady, pending.taskSets[0]!.pendingCount], [false, false, 1]);
    });

    it('replaces a task on a draining instance before stopping it', () => {
      const draining = task('blue', { onDrainingInstance: true });
      let plan = reconcile(input({ desiredCount: 1, deployments: [], taskSets: [SET('blue', 100)], tasks: [draining] }));
      assert.deepEqual([plan.taskSets[0]!.start, plan.stop.length], [1, 0]);
      plan = reconcile(input({ desiredCount: 1, deployments: [], taskSets: [SET('blue', 100)], tasks: [draining, task('blue')] }));
      assert.deepEqual(plan.stop.map((s) => [s.arn, s.reason]), [[draining.arn, 'draining']]);
    });

    it('property: applied repeatedly, every task set reaches its computed count and the service is steady', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 10 }),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 6 }), fc.boolean()), { minLength: 1, maxLength: 5 }),
          fc.infiniteStream(fc.boolean()),
          fc.integer({ min: 0, max: 10 }),
          (desired, sets, coin, lapseAt) => {
            const taskSets = sets.map(([pct, _n, draining], i) => SET(`s${i}`, pct, draining ? 'DRAINING' : i === 0 ? 'PRIMARY' : 'ACTIVE'));
            const flips = coin[Symbol.iterator]();
            // Some tasks start protected, including tasks of no task set; protection lapses at step `lapseAt`.
            let tasks: ServiceTask[] = [
              ...sets.flatMap(([, count], i) => Array.from({ length: count }, () => task(`s${i}`, { protected: flips.next().value === true }))),
              task('gone', { protected: flips.next().value === true }),
            ];
            for (let step = 0; step < 100; step++) {
              if (step === lapseAt) tasks = tasks.map((t) => ({ ...t, protected: false }));
              const plan = reconcile(input({ desiredCount: desired, deployments: [], taskSets, tasks }));
              for (const st of plan.stop) {
                const t = tasks.find((x) => x.arn === st.arn)!;
                assert.ok(!t.protected, `protected ${t.arn} stopped for ${st.reason}`);
              }
              if (plan.steady) {
                for (const ts of taskSets) {
                  const want = ts.status === 'DRAINING' ? 0 : computedDesiredCount(desired, ts.scalePercent);
                  assert.equal(tasks.filter((t) => t.deploymentId === ts.id).length, want);
                }
                return;
              }
              const stopped = new Set(plan.stop.map((s) => s.arn));
              tasks = [...tasks.filter((t) => !stopped.has(t.arn)), ...plan.taskSets.flatMap((v) => Array.from({ length: v.start }, () => task(v.id, { running: false, healthy: false })))];
              tasks = tasks.map((t) => (!t.healthy && flips.next().value === true ? { ...t, running: true, healthy: true } : t));
            }
            assert.fail('did not converge in 100 rounds');
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});

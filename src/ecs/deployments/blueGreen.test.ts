import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  advance,
  forwardWeights,
  heldDeployments,
  shiftSteps,
  startShift,
  taskTargetGroups,
  type ShiftConfig,
  type ShiftOptions,
  type ShiftProgress,
} from './blueGreen.js';

const MIN = 60_000;
const opts: ShiftOptions = { minuteMs: MIN, testTrafficHoldMs: 0 };

/** Runs a deployment through `observations`, returning every decision. */
function run(config: ShiftConfig, observations: readonly { at: number; greenReady: boolean; blueGone: boolean; rollback?: boolean }[], o = opts) {
  let p: ShiftProgress = startShift('ecs-svc/2', ['ecs-svc/1'], 0);
  const out = [];
  for (const obs of observations) {
    if (obs.rollback && p.rollbackRequested === undefined) p = { ...p, rollbackRequested: { reason: 'asked', at: obs.at } };
    const d = advance(p, config, { now: obs.at, greenReady: obs.greenReady, blueGone: obs.blueGone }, o);
    out.push(d);
    p = d.progress;
    if (d.outcome !== undefined) break;
  }
  return out;
}

describe('traffic-shifting deployment planner', () => {
  it('computes ECS shift steps: all at once, linear steps with their bake, canary then the rest', () => {
    assert.deepEqual(shiftSteps({ strategy: 'BLUE_GREEN' }, MIN), [{ percent: 100, holdMs: 0 }]);
    assert.deepEqual(
      shiftSteps({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 30, stepBakeTimeInMinutes: 2 } }, MIN).map((s) => [s.percent, s.holdMs]),
      [
        [30, 2 * MIN],
        [60, 2 * MIN],
        [90, 2 * MIN],
        [100, 0],
      ],
    );
    assert.equal(shiftSteps({ strategy: 'LINEAR' }, MIN).length, 10, 'ECS default: 10 % steps');
    assert.deepEqual(shiftSteps({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 20, canaryBakeTimeInMinutes: 3 } }, MIN), [
      { percent: 20, holdMs: 3 * MIN },
      { percent: 100, holdMs: 0 },
    ]);
    assert.deepEqual(shiftSteps({ strategy: 'CANARY' }, MIN)[0], { percent: 5, holdMs: 10 * MIN }, 'ECS defaults: 5 % for 10 minutes');
  });

  it('turns percentages into ELBv2 forward weights', () => {
    assert.deepEqual(forwardWeights(0), { blue: 1, green: 0 });
    assert.deepEqual(forwardWeights(100), { blue: 0, green: 1 });
    assert.deepEqual(forwardWeights(20), { blue: 800, green: 200 });
    assert.deepEqual(forwardWeights(0.1), { blue: 999, green: 1 });
  });

  it('BLUE_GREEN: waits for green, shifts test then all production traffic, bakes, then cleans up blue', () => {
    const config: ShiftConfig = { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 5 };
    const d = run(config, [
      { at: 1000, greenReady: false, blueGone: false },
      { at: 2000, greenReady: true, blueGone: false },
      { at: 2000 + 4 * MIN, greenReady: true, blueGone: false },
      { at: 2000 + 5 * MIN, greenReady: true, blueGone: false },
      { at: 3000 + 5 * MIN, greenReady: true, blueGone: true },
    ]);
    assert.deepEqual(
      d.map((x) => [x.progress.stage, x.progress.greenPercent, x.progress.testOnGreen, x.holdBlue, x.outcome]),
      [
        ['SCALE_UP', 0, false, true, undefined],
        ['BAKE_TIME', 100, true, true, undefined],
        ['BAKE_TIME', 100, true, true, undefined],
        ['CLEAN_UP', 100, true, false, undefined],
        ['CLEAN_UP', 100, true, false, 'completed'],
      ],
    );
    assert.ok(d[1]!.events.includes('(deployment ecs-svc/2) entered lifecycle stage TEST_TRAFFIC_SHIFT.'));
    assert.equal(d[1]!.wakeAfterMs, 5 * MIN);
  });

  it('holds the test traffic alone for the configured time before production shifts', () => {
    const d = run({ strategy: 'BLUE_GREEN' }, [
      { at: 0, greenReady: true, blueGone: false },
      { at: 500, greenReady: true, blueGone: false },
      { at: 1000, greenReady: true, blueGone: false },
    ], { minuteMs: MIN, testTrafficHoldMs: 1000 });
    assert.deepEqual(d.map((x) => [x.progress.stage, x.progress.greenPercent, x.progress.testOnGreen]), [
      ['POST_TEST_TRAFFIC_SHIFT', 0, true],
      ['POST_TEST_TRAFFIC_SHIFT', 0, true],
      ['CLEAN_UP', 100, true],
    ]);
  });

  it('CANARY: the canary share for its bake time, then everything', () => {
    const d = run({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 2 } }, [
      { at: 0, greenReady: true, blueGone: false },
      { at: MIN, greenReady: true, blueGone: false },
      { at: 2 * MIN, greenReady: true, blueGone: false },
    ]);
    assert.deepEqual(d.map((x) => [x.progress.stage, x.progress.greenPercent]), [
      ['PRODUCTION_TRAFFIC_SHIFT', 10],
      ['PRODUCTION_TRAFFIC_SHIFT', 10],
      ['CLEAN_UP', 100],
    ]);
    assert.equal(d[0]!.wakeAfterMs, 2 * MIN);
  });

  it('a rollback before clean-up puts all traffic back on blue and keeps blue', () => {
    const d = run({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 50, stepBakeTimeInMinutes: 1 } }, [
      { at: 0, greenReady: true, blueGone: false },
      { at: 10, greenReady: true, blueGone: false, rollback: true },
    ]);
    assert.deepEqual(d.map((x) => [x.progress.greenPercent, x.progress.testOnGreen, x.holdBlue, x.outcome]), [
      [50, true, true, undefined],
      [0, false, true, 'rolled-back'],
    ]);
  });

  it('puts each deployment\'s tasks in its target group, swapping roles when the alternate serves production', () => {
    const lb = { targetGroupArn: 'tg-a', advancedConfiguration: { alternateTargetGroupArn: 'tg-b', productionListenerRule: 'r' } };
    const progress = startShift('green', ['blue'], 0);
    assert.deepEqual(taskTargetGroups(undefined, lb, 'x'), { member: 'tg-a', all: ['tg-a', 'tg-b'] });
    assert.equal(taskTargetGroups({ liveOnAlternate: false, progress }, lb, 'green').member, 'tg-b');
    assert.equal(taskTargetGroups({ liveOnAlternate: false, progress }, lb, 'blue').member, 'tg-a');
    assert.equal(taskTargetGroups({ liveOnAlternate: true, progress }, lb, 'green').member, 'tg-a');
    assert.equal(taskTargetGroups({ liveOnAlternate: true, retired: ['old'] }, lb, 'old').member, undefined);
    assert.deepEqual(taskTargetGroups(undefined, { targetGroupArn: 'tg-a' }, 'x'), { member: 'tg-a', all: ['tg-a'] });
    assert.deepEqual([...heldDeployments({ liveOnAlternate: false, progress })], ['blue']);
    assert.deepEqual([...heldDeployments({ liveOnAlternate: false, progress: { ...progress, stage: 'CLEAN_UP' } })], []);
  });

  it('property: production traffic only rises, never reaches green before it is ready, blue is held until clean-up, completion needs blue gone', () => {
    const config = fc.oneof(
      fc.record({ strategy: fc.constant('BLUE_GREEN' as const), bakeTimeInMinutes: fc.integer({ min: 0, max: 5 }) }),
      fc.record({
        strategy: fc.constant('LINEAR' as const),
        bakeTimeInMinutes: fc.integer({ min: 0, max: 5 }),
        linearConfiguration: fc.record({ stepPercent: fc.integer({ min: 30, max: 1000 }).map((x) => x / 10), stepBakeTimeInMinutes: fc.integer({ min: 0, max: 3 }) }),
      }),
      fc.record({
        strategy: fc.constant('CANARY' as const),
        bakeTimeInMinutes: fc.integer({ min: 0, max: 5 }),
        canaryConfiguration: fc.record({ canaryPercent: fc.integer({ min: 1, max: 1000 }).map((x) => x / 10), canaryBakeTimeInMinutes: fc.integer({ min: 0, max: 3 }) }),
      }),
    );
    const steps = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3 * MIN }), greenReady: fc.boolean(), blueGone: fc.boolean(), rollback: fc.integer({ min: 0, max: 9 }).map((x) => x === 0) }), { maxLength: 40 });
    fc.assert(
      fc.property(config, steps, fc.integer({ min: 0, max: 2000 }), (cfg, obs, hold) => {
        let at = 0;
        let rollbackAsked = false;
        const timeline = obs.map((o) => {
          at += o.dt;
          return { at, greenReady: o.greenReady, blueGone: o.blueGone, rollback: o.rollback };
        });
        const decisions = run(cfg, timeline, { minuteMs: MIN, testTrafficHoldMs: hold });
        let last = 0;
        let everReady = false;
        decisions.forEach((d, i) => {
          const o = timeline[i]!;
          everReady ||= o.greenReady;
          rollbackAsked ||= o.rollback ?? false;
          const pct = d.progress.greenPercent;
          assert.ok(pct >= 0 && pct <= 100);
          if (d.outcome === 'rolled-back') {
            assert.equal(pct, 0);
            assert.equal(d.progress.testOnGreen, false);
            assert.equal(d.holdBlue, true);
          } else {
            assert.ok(pct >= last, 'production share never falls without a rollback');
            last = pct;
          }
          if (!everReady) assert.ok(pct === 0 && !d.progress.testOnGreen, 'nothing reaches green before it is ready');
          if (d.progress.stage !== 'CLEAN_UP' && d.outcome !== 'completed') assert.equal(d.holdBlue, true);
          if (d.progress.stage === 'CLEAN_UP') assert.equal(pct, 100, 'clean-up only after all traffic is on green');
          if (d.outcome === 'completed') assert.ok(o.blueGone && d.progress.stage === 'CLEAN_UP');
        });
        void rollbackAsked;
      }),
      { numRuns: 300 },
    );
  });
});

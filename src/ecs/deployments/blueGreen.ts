/**
 * ECS's traffic-shifting deployments — BLUE_GREEN, LINEAR and CANARY — as a
 * pure planner over what the blue/green controller observed.
 *
 * A service whose `deploymentConfiguration.strategy` is one of these, with
 * load balancers carrying `advancedConfiguration` (an alternate target group
 * and the production and, optionally, test listener rules), deploys a new
 * revision ("green") beside the running one ("blue") instead of replacing
 * tasks one by one:
 *
 *   SCALE_UP                  green starts at the full desired count, its tasks
 *                             registered in the target group blue does not serve;
 *                             blue keeps running untouched
 *   TEST_TRAFFIC_SHIFT        the test listener rule forwards to green
 *   POST_TEST_TRAFFIC_SHIFT   (where ECS runs lifecycle hooks; Berth runs none)
 *   PRODUCTION_TRAFFIC_SHIFT  the production listener rule's forward weights move
 *                             to green: all at once (BLUE_GREEN), stepPercent at a
 *                             time with stepBakeTimeInMinutes between steps
 *                             (LINEAR), canaryPercent then the rest after
 *                             canaryBakeTimeInMinutes (CANARY)
 *   BAKE_TIME                 production serves green; blue still runs, ready for
 *                             a rollback, for bakeTimeInMinutes
 *   CLEAN_UP                  blue is scaled down; once its tasks are gone the
 *                             deployment is complete and the two target groups
 *                             have swapped roles for the next deployment
 *
 * A rollback (StopServiceDeployment with ROLLBACK, before CLEAN_UP) moves
 * production and test traffic back to blue at once; green is then scaled down.
 *
 * Lifecycle hooks are refused at CreateService/UpdateService (they invoke
 * AWS Lambda functions, which Berth does not serve), so the POST_* stages
 * where ECS would wait for hooks pass straight through.
 *
 * Nothing here reads a clock, the store or the load balancer: `advance`
 * takes the observation and returns the next progress, which the controller
 * (the blue/green controller) applies.
 */

/** The reason of a rollback caused by alarms, followed by their names (`a, b.`). Wording unconfirmed. */
export const ALARM_ROLLBACK_REASON = 'CloudWatch alarm(s) in ALARM state: ';

export const SHIFTING_STRATEGIES = ['BLUE_GREEN', 'LINEAR', 'CANARY'] as const;
export type ShiftingStrategy = (typeof SHIFTING_STRATEGIES)[number];

export function isShiftingStrategy(strategy: string | undefined): strategy is ShiftingStrategy {
  return strategy !== undefined && (SHIFTING_STRATEGIES as readonly string[]).includes(strategy);
}

/** ECS's ServiceDeploymentLifecycleStage values, in the order a deployment passes them. */
export type LifecycleStage =
  | 'RECONCILE_SERVICE'
  | 'PRE_SCALE_UP'
  | 'SCALE_UP'
  | 'POST_SCALE_UP'
  | 'TEST_TRAFFIC_SHIFT'
  | 'POST_TEST_TRAFFIC_SHIFT'
  | 'PRODUCTION_TRAFFIC_SHIFT'
  | 'POST_PRODUCTION_TRAFFIC_SHIFT'
  | 'BAKE_TIME'
  | 'CLEAN_UP';

/** The part of a service's deployment configuration that shapes the shift. */
export interface ShiftConfig {
  readonly strategy: ShiftingStrategy;
  readonly bakeTimeInMinutes?: number;
  readonly linearConfiguration?: { readonly stepPercent?: number; readonly stepBakeTimeInMinutes?: number };
  readonly canaryConfiguration?: { readonly canaryPercent?: number; readonly canaryBakeTimeInMinutes?: number };
}

/** ECS's defaults where the configuration leaves a value out. */
export const SHIFT_DEFAULTS = { bakeTimeInMinutes: 0, stepPercent: 10, stepBakeTimeInMinutes: 6, canaryPercent: 5, canaryBakeTimeInMinutes: 10 } as const;

export interface ShiftStep {
  /** Green's share of production traffic during this step, 0 < percent ≤ 100. */
  readonly percent: number;
  /** How long the step holds before the next (ms); 0 for the last step. */
  readonly holdMs: number;
}

/**
 * The production traffic steps of a deployment: green's share in each step,
 * rising strictly and ending at 100.
 */
export function shiftSteps(config: ShiftConfig, minuteMs: number): ShiftStep[] {
  if (config.strategy === 'LINEAR') {
    const step = config.linearConfiguration?.stepPercent ?? SHIFT_DEFAULTS.stepPercent;
    const hold = (config.linearConfiguration?.stepBakeTimeInMinutes ?? SHIFT_DEFAULTS.stepBakeTimeInMinutes) * minuteMs;
    const out: ShiftStep[] = [];
    for (let i = 1; out.length === 0 || out[out.length - 1]!.percent < 100; i++) {
      const percent = Math.min(100, roundPercent(step * i));
      out.push({ percent, holdMs: percent < 100 ? hold : 0 });
    }
    return out;
  }
  if (config.strategy === 'CANARY') {
    const canary = roundPercent(config.canaryConfiguration?.canaryPercent ?? SHIFT_DEFAULTS.canaryPercent);
    const hold = (config.canaryConfiguration?.canaryBakeTimeInMinutes ?? SHIFT_DEFAULTS.canaryBakeTimeInMinutes) * minuteMs;
    return canary >= 100 ? [{ percent: 100, holdMs: 0 }] : [{ percent: canary, holdMs: hold }, { percent: 100, holdMs: 0 }];
  }
  return [{ percent: 100, holdMs: 0 }];
}

/** Percentages to a tenth, as ECS accepts them (canaryPercent 0.1 and so on). */
function roundPercent(p: number): number {
  return Math.round(p * 10) / 10;
}

/**
 * Forward weights for blue and green target groups carrying `greenPercent`
 * of the traffic. ELBv2 weights are integers 0..999: percentages to a tenth
 * are expressed out of 1000 less one (so 100 % is 999 : 0), which keeps each
 * share within a tenth of a percent of what was asked.
 */
export function forwardWeights(greenPercent: number): { blue: number; green: number } {
  if (greenPercent <= 0) return { blue: 1, green: 0 };
  if (greenPercent >= 100) return { blue: 0, green: 1 };
  const green = Math.round(greenPercent * 10);
  const blue = 1000 - green;
  // Both within 1..999 since 0 < greenPercent < 100 and shares are to a tenth.
  return { blue: Math.min(999, blue), green: Math.min(999, green) };
}

/** A deployment in progress, as the blue/green controller keeps it on the service. */
export interface ShiftProgress {
  /** The green deployment (an entry of the service's `deployments`). */
  readonly deploymentId: string;
  /** The deployments whose tasks serve production until the shift (blue). */
  readonly blueDeploymentIds: readonly string[];
  readonly stage: LifecycleStage;
  /** Epoch ms the stage began. */
  readonly stageSince: number;
  /** Index of the production step in force, -1 before the production shift. */
  readonly step: number;
  /** Epoch ms the current step began. */
  readonly stepSince: number;
  /** Green's share of production traffic now. */
  readonly greenPercent: number;
  /** The test listener rule forwards to green. */
  readonly testOnGreen: boolean;
  /** A rollback was asked for (StopServiceDeployment ROLLBACK); `advance` carries it out. */
  readonly rollbackRequested?: { readonly reason: string; readonly at: number };
}

/** What the controller saw before asking. */
export interface ShiftObservation {
  /** Epoch ms. */
  readonly now: number;
  /** Every green task runs and is a healthy target of green's target groups, at the desired count. */
  readonly greenReady: boolean;
  /** No task of a blue deployment is left running (or wanted running). */
  readonly blueGone: boolean;
}

export interface ShiftOptions {
  /** The length of a configuration minute (ms); 60 000 except in tests. */
  readonly minuteMs: number;
  /** How long POST_TEST_TRAFFIC_SHIFT lasts (ms); 0 except in tests, where it lets the test traffic be seen alone. */
  readonly testTrafficHoldMs: number;
}

export interface ShiftDecision {
  readonly progress: ShiftProgress;
  /** Stage changes, in ECS's words, for the service's events. */
  readonly events: readonly string[];
  /** Blue's tasks must be kept running (everything before CLEAN_UP). */
  readonly holdBlue: boolean;
  /** The deployment is over: green serves everything and blue is gone, or the rollback put blue back. */
  readonly outcome?: 'completed' | 'rolled-back';
  /** When something will be due without any other change (ms from now). */
  readonly wakeAfterMs?: number;
}

/** A fresh deployment of `deploymentId` replacing `blueDeploymentIds`. */
export function startShift(deploymentId: string, blueDeploymentIds: readonly string[], now: number): ShiftProgress {
  return { deploymentId, blueDeploymentIds: [...blueDeploymentIds], stage: 'SCALE_UP', stageSince: now, step: -1, stepSince: now, greenPercent: 0, testOnGreen: false };
}

/**
 * Moves a deployment as far as the observation allows, one stage after the
 * other. Invariants (see the property tests): green's production share
 * never falls except by a rollback, which sets it to 0; no production or
 * test traffic reaches green before it is ready; blue is held until
 * CLEAN_UP; a deployment completes only from CLEAN_UP once blue is gone.
 */
export function advance(progress: ShiftProgress, config: ShiftConfig, obs: ShiftObservation, opts: ShiftOptions): ShiftDecision {
  const events: string[] = [];
  const steps = shiftSteps(config, opts.minuteMs);
  let p = progress;
  const enter = (stage: LifecycleStage, patch: Partial<ShiftProgress> = {}) => {
    p = { ...p, ...patch, stage, stageSince: obs.now };
    events.push(`(deployment ${p.deploymentId}) entered lifecycle stage ${stage}.`);
  };

  const rollback = p.rollbackRequested;
  if (rollback !== undefined && p.stage !== 'CLEAN_UP') {
    p = { ...p, greenPercent: 0, testOnGreen: false };
    events.push(`(deployment ${p.deploymentId}) production and test traffic shifted back to the blue revision: ${rollback.reason}`);
    return { progress: p, events, holdBlue: true, outcome: 'rolled-back' };
  }

  for (let guard = 0; guard < 64; guard++) {
    const before = p;
    switch (p.stage) {
      case 'RECONCILE_SERVICE':
      case 'PRE_SCALE_UP':
        enter('SCALE_UP');
        break;
      case 'SCALE_UP':
        if (obs.greenReady) enter('POST_SCALE_UP');
        break;
      case 'POST_SCALE_UP':
        enter('TEST_TRAFFIC_SHIFT', { testOnGreen: true });
        break;
      case 'TEST_TRAFFIC_SHIFT':
        enter('POST_TEST_TRAFFIC_SHIFT');
        break;
      case 'POST_TEST_TRAFFIC_SHIFT':
        if (obs.now >= p.stageSince + opts.testTrafficHoldMs) enter('PRODUCTION_TRAFFIC_SHIFT', { step: 0, stepSince: obs.now, greenPercent: steps[0]!.percent });
        break;
      case 'PRODUCTION_TRAFFIC_SHIFT': {
        const current = steps[Math.max(0, Math.min(p.step, steps.length - 1))]!;
        if (p.step >= steps.length - 1) enter('POST_PRODUCTION_TRAFFIC_SHIFT');
        else if (obs.now >= p.stepSince + current.holdMs) {
          const step = p.step + 1;
          p = { ...p, step, stepSince: obs.now, greenPercent: steps[step]!.percent };
          events.push(`(deployment ${p.deploymentId}) shifted ${p.greenPercent}% of production traffic to the new revision.`);
        }
        break;
      }
      case 'POST_PRODUCTION_TRAFFIC_SHIFT':
        enter('BAKE_TIME');
        break;
      case 'BAKE_TIME':
        if (obs.now >= p.stageSince + (config.bakeTimeInMinutes ?? SHIFT_DEFAULTS.bakeTimeInMinutes) * opts.minuteMs) enter('CLEAN_UP');
        break;
      case 'CLEAN_UP':
        if (obs.blueGone) return { progress: p, events, holdBlue: false, outcome: 'completed' };
        break;
    }
    if (p === before) break;
  }
  return { progress: p, events, holdBlue: p.stage !== 'CLEAN_UP', ...wake(p, config, steps, obs.now, opts) };
}

function wake(p: ShiftProgress, config: ShiftConfig, steps: readonly ShiftStep[], now: number, opts: ShiftOptions): { wakeAfterMs?: number } {
  let at: number | undefined;
  if (p.stage === 'POST_TEST_TRAFFIC_SHIFT') at = p.stageSince + opts.testTrafficHoldMs;
  else if (p.stage === 'PRODUCTION_TRAFFIC_SHIFT') at = p.stepSince + (steps[p.step]?.holdMs ?? 0);
  else if (p.stage === 'BAKE_TIME') at = p.stageSince + (config.bakeTimeInMinutes ?? SHIFT_DEFAULTS.bakeTimeInMinutes) * opts.minuteMs;
  return at !== undefined ? { wakeAfterMs: Math.max(0, at - now) } : {};
}

// ---------------------------------------------------------------------------
// Target group roles

/** A load balancer entry's blue/green settings, as CreateService takes them. */
export interface AdvancedConfiguration {
  alternateTargetGroupArn: string;
  productionListenerRule: string;
  testListenerRule?: string;
  roleArn?: string;
}

/**
 * What a service keeps about its traffic-shifting deployments (`StoredService.blueGreen`),
 * written only by the blue/green controller (and StopServiceDeployment, which asks for a rollback).
 */
export interface BlueGreenState {
  /** The roles are swapped: each load balancer's alternate target group serves production (blue). */
  liveOnAlternate: boolean;
  /** The deployment shifting traffic now, if any. */
  progress?: ShiftProgress;
  /** Deployments rolled back: their tasks belong in no target group while they stop. Newest first, a few. */
  retired?: string[];
}

/**
 * The target groups of one load balancer entry, and the one a task started
 * by `startedBy` belongs in: green's (the one production does not use)
 * for the deployment shifting traffic, production's for every other
 * deployment, none for a deployment rolled back. Entries without
 * `advancedConfiguration` have one target group, for every task.
 */
export function taskTargetGroups(
  state: BlueGreenState | undefined,
  lb: { targetGroupArn: string; advancedConfiguration?: AdvancedConfiguration },
  startedBy: string | undefined,
): { member: string | undefined; all: string[] } {
  const alternate = lb.advancedConfiguration?.alternateTargetGroupArn;
  if (alternate === undefined) return { member: lb.targetGroupArn, all: [lb.targetGroupArn] };
  const live = state?.liveOnAlternate === true ? alternate : lb.targetGroupArn;
  const idle = live === alternate ? lb.targetGroupArn : alternate;
  const all = [lb.targetGroupArn, alternate];
  if (startedBy !== undefined && (state?.retired ?? []).includes(startedBy)) return { member: undefined, all };
  const progress = state?.progress;
  if (progress !== undefined && startedBy === progress.deploymentId) return { member: idle, all };
  return { member: live, all };
}

/** The production (blue) and green target groups of an entry for the deployment in progress. */
export function rolesOf(state: BlueGreenState | undefined, lb: { targetGroupArn: string; advancedConfiguration: AdvancedConfiguration }): { blue: string; green: string } {
  const alternate = lb.advancedConfiguration.alternateTargetGroupArn;
  return state?.liveOnAlternate === true ? { blue: alternate, green: lb.targetGroupArn } : { blue: lb.targetGroupArn, green: alternate };
}

/** Deployments whose tasks the service controller must keep running whatever its rolling rules say (blue, until CLEAN_UP). */
export function heldDeployments(state: BlueGreenState | undefined): ReadonlySet<string> {
  const p = state?.progress;
  if (p === undefined || p.stage === 'CLEAN_UP') return new Set();
  return new Set(p.blueDeploymentIds);
}

/** Deployments rolled back or superseded that a service remembers, so that their stopping tasks stay out of every target group. */
const MAX_RETIRED = 10;

/**
 * The state once UpdateService starts deployment `deploymentId` on a
 * traffic-shifting service whose deployments were `current` (its list
 * before the update). Blue is whatever serves production now: the previous
 * blue while an earlier shift has not reached CLEAN_UP (that earlier green
 * is dropped, its traffic returns to blue), or the earlier green once it
 * serves everything (the target groups' roles swap first).
 */
export function shiftOnNewDeployment(state: BlueGreenState | undefined, deploymentId: string, current: readonly string[], now: number): BlueGreenState {
  const live = state?.liveOnAlternate ?? false;
  const retired = state?.retired ?? [];
  const p = state?.progress;
  if (p === undefined) {
    return { liveOnAlternate: live, progress: startShift(deploymentId, current.filter((id) => !retired.includes(id)), now), retired };
  }
  if (p.stage === 'CLEAN_UP') {
    return { liveOnAlternate: !live, progress: startShift(deploymentId, [p.deploymentId], now), retired: [...p.blueDeploymentIds, ...retired].slice(0, MAX_RETIRED) };
  }
  return { liveOnAlternate: live, progress: startShift(deploymentId, p.blueDeploymentIds, now), retired: [p.deploymentId, ...retired].slice(0, MAX_RETIRED) };
}

/** The state after a shift ends: completed (the target groups swap roles) or rolled back (green's tasks belong nowhere). */
export function shiftEnded(state: BlueGreenState, outcome: 'completed' | 'rolled-back'): BlueGreenState {
  const p = state.progress;
  if (p === undefined) return state;
  if (outcome === 'completed') return { liveOnAlternate: !state.liveOnAlternate, retired: [...p.blueDeploymentIds, ...(state.retired ?? [])].slice(0, MAX_RETIRED) };
  return { liveOnAlternate: state.liveOnAlternate, retired: [p.deploymentId, ...(state.retired ?? [])].slice(0, MAX_RETIRED) };
}

/**
 * The blue/green controller: carries out BLUE_GREEN, LINEAR and CANARY
 * deployments of ECS services behind load balancers.
 *
 * Keyed by service. A sync reads the service's deployment in progress
 * (`StoredService.blueGreen`, started by UpdateService), observes green —
 * its tasks running and healthy in green's target groups — and blue, asks
 * the pure planner (`ecs/deployments/blueGreen.ts`) how far the deployment
 * may go, then applies the answer: the production listener rule's forward
 * weights and the test listener rule's target through ELBv2's ModifyRule
 * (so DescribeRules shows them and the data plane follows), and the
 * service's lifecycle stage, events and record. While a deployment is in
 * progress the service is synced at least every second (target health is
 * written by the data plane, which does not name services) and when a
 * step's bake time ends.
 *
 * The service controller keeps blue's tasks until CLEAN_UP
 * (`services/blueGreenHold.ts`); the service-targets controller registers
 * each task in its deployment's target group (`taskTargetGroups`).
 */
import type { Logger } from '../core/log.js';
import { epochSeconds, type DomainContext } from '../ecs/context.js';
import {
  ALARM_ROLLBACK_REASON,
  advance,
  forwardWeights,
  isShiftingStrategy,
  rolesOf,
  shiftEnded,
  startShift,
  type AdvancedConfiguration,
  type BlueGreenState,
  type ShiftConfig,
  type ShiftDecision,
  type ShiftingStrategy,
} from '../ecs/deployments/blueGreen.js';
import type { ServiceLoadBalancer } from '../ecs/loadBalancers.js';
import type { DeploymentDoc, StoredService, StoredTask } from '../ecs/model.js';
import { recordOf, updateRecord, withEvents, writeService } from '../ecs/writers/services.js';
import { defaultRuleArn, listenerOfRule, type ActionDoc, type ListenerDoc, type RuleDoc, type TargetDoc } from '../elbv2/model.js';
import { modifyRule } from '../elbv2/rules.js';
import { withRetry, type Change } from '../store/store.js';
import { Controller } from './runtime.js';

export interface BlueGreenControllerOptions {
  readonly log?: Logger;
  /**
   * The length of a configuration minute (bakeTimeInMinutes and the step bake
   * times), in ms. 60 000; tests shorten it (`BERTH_DEPLOYMENT_MINUTE_MS`).
   */
  readonly minuteMs?: number;
  /**
   * How long test traffic alone reaches green before production shifts (ms).
   * 0, as on ECS without lifecycle hooks; tests lengthen it
   * (`BERTH_DEPLOYMENT_TEST_TRAFFIC_MS`) to see that stage.
   */
  readonly testTrafficHoldMs?: number;
}

/** How often a deployment in progress is looked at when nothing else wakes it. */
const POLL_MS = 1000;

type AdvancedLoadBalancer = ServiceLoadBalancer & { advancedConfiguration: AdvancedConfiguration };

export class BlueGreenController {
  private readonly runtime: Controller;

  constructor(
    private readonly ctx: DomainContext,
    private readonly opts: BlueGreenControllerOptions = {},
  ) {
    this.runtime = new Controller({
      name: 'blue-green',
      watch: { feed: ctx.store, onChanges: (changes) => this.onChanges(changes) },
      // Picks up what changed while the server was down.
      resyncOnStart: true,
      concurrency: 2,
      sync: (arn) => this.sync(arn),
      keys: async () => (await ctx.store.find<StoredService>('service', { status: ['ACTIVE'] })).filter((r) => r.doc.blueGreen?.progress !== undefined).map((r) => r.arn),
      resyncEveryMs: 60_000,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  start(): void {
    this.runtime.start();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) if (c.kind === 'service' && c.op !== 'delete') this.runtime.enqueue(c.arn);
  }

  /** One look at one service's deployment in progress. */
  async sync(serviceArn: string): Promise<{ requeueAfterMs?: number }> {
    const row = await this.ctx.store.get<StoredService>('service', serviceArn);
    const state = row?.doc.blueGreen;
    let progress = state?.progress;
    if (!row || state === undefined || progress === undefined || row.doc.service.status !== 'ACTIVE') return {};
    const s = row.doc.service;
    const strategy = s.deploymentConfiguration.strategy;
    const lbs = (s.loadBalancers as ServiceLoadBalancer[]).filter((lb): lb is AdvancedLoadBalancer => lb.advancedConfiguration !== undefined);
    const primary = s.deployments.find((d) => d.status === 'PRIMARY');
    if (!isShiftingStrategy(strategy) || lbs.length === 0 || primary === undefined) return {};
    const now = this.ctx.now();

    // A deployment the service controller started on its own (a circuit-breaker rollback) replaces green: it shifts in green's place.
    if (primary.id !== progress.deploymentId) {
      const next: BlueGreenState = { ...state, progress: startShift(primary.id, progress.blueDeploymentIds, now), retired: [progress.deploymentId, ...(state.retired ?? [])].slice(0, 10) };
      await this.write(serviceArn, progress.deploymentId, (doc) => ({ ...doc, blueGreen: next }));
      return { requeueAfterMs: 0 };
    }

    const tasks = await this.ctx.store.find<StoredTask>('task', { cluster: row.cluster, where: { service: s.serviceName } });
    const live = (id: string) => tasks.filter((t) => t.doc.task.startedBy === id && t.doc.task.lastStatus !== 'STOPPED');
    const greenRunning = live(primary.id).filter((t) => t.doc.task.lastStatus === 'RUNNING' && t.doc.task.desiredStatus === 'RUNNING').length;
    let healthyEverywhere = greenRunning >= s.desiredCount;
    for (const lb of lbs) {
      if (!healthyEverywhere) break;
      const { green } = rolesOf(state, lb);
      const targets = await this.ctx.store.find<TargetDoc>('target', { where: { targetGroup: green } });
      const healthy = targets.filter((t) => t.doc.drainingUntil === undefined && t.doc.health?.State === 'healthy').length;
      healthyEverywhere = healthy >= s.desiredCount;
    }
    // The circuit breaker failed green: with rollback, traffic stays on (or returns to) blue and green goes.
    if (progress.rollbackRequested === undefined && primary.rolloutState === 'FAILED' && s.deploymentConfiguration.deploymentCircuitBreaker.rollback) {
      progress = { ...progress, rollbackRequested: { reason: primary.rolloutStateReason, at: now } };
    }
    // deploymentConfiguration.alarms with rollback: a watched alarm in ALARM before CLEAN_UP rolls the deployment back.
    const alarms = s.deploymentConfiguration.alarms;
    if (progress.rollbackRequested === undefined && progress.stage !== 'CLEAN_UP' && alarms?.enable === true && alarms.rollback && alarms.alarmNames.length > 0) {
      const firing = (await this.ctx.store.find('metricAlarm', { status: 'ALARM' })).map((r) => r.name).filter((n) => alarms.alarmNames.includes(n));
      if (firing.length > 0) progress = { ...progress, rollbackRequested: { reason: `${ALARM_ROLLBACK_REASON}${firing.join(', ')}.`, at: now } };
    }
    const blueGone = progress.blueDeploymentIds.every((id) => live(id).length === 0);
    const config = shiftConfig(strategy, s.deploymentConfiguration);
    const decision = advance(progress, config, { now, greenReady: healthyEverywhere, blueGone }, { minuteMs: this.opts.minuteMs ?? 60_000, testTrafficHoldMs: this.opts.testTrafficHoldMs ?? 0 });

    // Traffic first, then the record of it: a crash in between repeats the (idempotent) rule writes.
    for (const lb of lbs) await this.route(lb, state, decision.progress.greenPercent, decision.progress.testOnGreen);

    const nowS = epochSeconds(now);
    const name = s.serviceName;
    const events = decision.events.map((e) => `(service ${name}) ${e}`);
    await this.write(serviceArn, progress.deploymentId, (doc) => {
      const bg = doc.blueGreen!;
      if (decision.outcome === 'completed') {
        const out = updateRecord(this.ctx, doc, primary.id, { lifecycleStage: 'CLEAN_UP' });
        return { ...out, blueGreen: shiftEnded(bg, 'completed'), service: { ...out.service, events: withEvents(this.ctx, out.service.events, events) } };
      }
      if (decision.outcome === 'rolled-back') return this.rolledBack(doc, decision, events, nowS);
      const out = recordOf(doc, primary.id)?.lifecycleStage === decision.progress.stage ? doc : updateRecord(this.ctx, doc, primary.id, { lifecycleStage: decision.progress.stage });
      // A rollback asked for while this sync ran is kept for the next one.
      const kept = bg.progress?.rollbackRequested !== undefined ? { ...decision.progress, rollbackRequested: bg.progress.rollbackRequested } : decision.progress;
      return { ...out, blueGreen: { ...bg, progress: kept }, service: { ...out.service, events: withEvents(this.ctx, out.service.events, events) } };
    });
    if (decision.outcome !== undefined) return {};
    return { requeueAfterMs: Math.min(POLL_MS, decision.wakeAfterMs ?? POLL_MS) };
  }

  /**
   * The service once a rollback put traffic back on blue: blue's deployment
   * is PRIMARY again and complete, green's FAILED (the service controller
   * then stops its tasks), and the service deployment ROLLBACK_SUCCESSFUL.
   */
  private rolledBack(doc: StoredService, decision: ShiftDecision, events: string[], nowS: number): StoredService {
    const p = decision.progress;
    const s = doc.service;
    const blueId = p.blueDeploymentIds.find((id) => s.deployments.some((d) => d.id === id));
    const blue = s.deployments.find((d) => d.id === blueId);
    const reason = p.rollbackRequested?.reason ?? 'Service deployment rollback requested.';
    let deployments: DeploymentDoc[] = s.deployments;
    let taskDefinition = s.taskDefinition;
    if (blue !== undefined) {
      deployments = [
        { ...blue, status: 'PRIMARY', desiredCount: s.desiredCount, rolloutState: 'COMPLETED', rolloutStateReason: `ECS deployment ${blue.id} completed.`, updatedAt: nowS },
        ...s.deployments
          .filter((d) => d.id !== blue.id)
          .map((d) => (d.id === p.deploymentId ? { ...d, status: 'ACTIVE' as const, desiredCount: 0, rolloutState: 'FAILED' as const, rolloutStateReason: reason, updatedAt: nowS } : d)),
      ];
      taskDefinition = blue.taskDefinition;
      events.push(`(service ${s.serviceName}) (deployment ${p.deploymentId}) rolled back to deployment ${blue.id}.`);
    }
    const out = updateRecord(this.ctx, doc, p.deploymentId, {
      status: 'ROLLBACK_SUCCESSFUL',
      statusReason: reason,
      finishedAt: nowS,
      lifecycleStage: p.stage,
      ...(blue !== undefined ? { rollback: { reason, startedAt: epochSeconds(p.rollbackRequested?.at ?? nowS * 1000), revisionId: blue.id.slice(blue.id.indexOf('/') + 1) } } : {}),
    });
    return {
      ...out,
      blueGreen: shiftEnded(doc.blueGreen!, 'rolled-back'),
      ...(blue !== undefined ? { lastCompleted: { id: blue.id, taskDefinition: blue.taskDefinition } } : {}),
      service: { ...out.service, deployments, ...(taskDefinition !== undefined ? { taskDefinition } : {}), events: withEvents(this.ctx, out.service.events, events) },
      steady: false,
    };
  }

  /** Writes the service if its deployment in progress is still `deploymentId` (otherwise the next sync looks again). */
  private async write(serviceArn: string, deploymentId: string, change: (doc: StoredService) => StoredService): Promise<void> {
    await withRetry(this.ctx.store, async (tx) => {
      const row = await tx.get<StoredService>('service', serviceArn);
      if (!row || row.doc.blueGreen?.progress?.deploymentId !== deploymentId) return;
      const next = change(row.doc);
      if (JSON.stringify(next) !== JSON.stringify(row.doc)) await writeService(tx, row, next);
    });
  }

  /** Points the entry's production rule at blue and green by `greenPercent`, and its test rule at green or blue. */
  private async route(lb: AdvancedLoadBalancer, state: BlueGreenState, greenPercent: number, testOnGreen: boolean): Promise<void> {
    const { blue, green } = rolesOf(state, lb);
    const w = forwardWeights(greenPercent);
    await this.forward(lb.advancedConfiguration.productionListenerRule, [
      { TargetGroupArn: blue, Weight: w.blue },
      { TargetGroupArn: green, Weight: w.green },
    ]);
    if (lb.advancedConfiguration.testListenerRule !== undefined) {
      await this.forward(lb.advancedConfiguration.testListenerRule, [
        { TargetGroupArn: blue, Weight: testOnGreen ? 0 : 1 },
        { TargetGroupArn: green, Weight: testOnGreen ? 1 : 0 },
      ]);
    }
  }

  /** Sets the forward action of a rule (a listener's default rule included) to `groups`, keeping its other actions; nothing when already so. */
  private async forward(ruleArn: string, groups: { TargetGroupArn: string; Weight: number }[]): Promise<void> {
    const actions = await this.actionsOf(ruleArn);
    if (actions === undefined) {
      this.opts.log?.warn({ rule: ruleArn }, 'the listener rule of a blue/green deployment is gone');
      return;
    }
    const current = actions.find((a) => a.Type === 'forward');
    const same =
      current !== undefined &&
      JSON.stringify((current.ForwardConfig?.TargetGroups ?? []).map((t) => [t.TargetGroupArn, t.Weight ?? 1])) === JSON.stringify(groups.map((g) => [g.TargetGroupArn, g.Weight]));
    if (same) return;
    const next = actions.map((a) =>
      a.Type !== 'forward'
        ? a
        : {
            Type: 'forward',
            ...(a.Order !== undefined ? { Order: a.Order } : {}),
            ForwardConfig: { TargetGroups: groups, ...(a.ForwardConfig?.TargetGroupStickinessConfig ? { TargetGroupStickinessConfig: a.ForwardConfig.TargetGroupStickinessConfig } : {}) },
          },
    );
    await modifyRule(this.ctx, { RuleArn: ruleArn, Actions: next });
  }

  private async actionsOf(ruleArn: string): Promise<ActionDoc[] | undefined> {
    const rule = await this.ctx.store.get<RuleDoc>('listenerRule', ruleArn);
    if (rule) return rule.doc.Actions;
    const listenerArn = listenerOfRule(ruleArn);
    const listener = listenerArn !== undefined ? await this.ctx.store.get<ListenerDoc>('listener', listenerArn) : undefined;
    return listener && defaultRuleArn(listener.arn) === ruleArn ? listener.doc.DefaultActions : undefined;
  }
}

function shiftConfig(strategy: ShiftingStrategy, c: StoredService['service']['deploymentConfiguration']): ShiftConfig {
  return {
    strategy,
    ...(c.bakeTimeInMinutes !== undefined ? { bakeTimeInMinutes: c.bakeTimeInMinutes } : {}),
    ...(c.linearConfiguration !== undefined ? { linearConfiguration: c.linearConfiguration } : {}),
    ...(c.canaryConfiguration !== undefined ? { canaryConfiguration: c.canaryConfiguration } : {}),
  };
}

/**
 * CreateService and UpdateService checks of traffic-shifting deployments
 * (BLUE_GREEN, LINEAR, CANARY): the shift's own settings, and the load
 * balancers' `advancedConfiguration` against the listener rules they name.
 *
 * ECS documents the ranges (LinearConfiguration, CanaryConfiguration,
 * DeploymentConfiguration in the API reference) but not the wording of its
 * refusals; messages marked "wording unconfirmed" say what ECS checks in
 * Berth's words.
 */
import { InvalidParameterException } from '../../core/errors.js';
import { actionTargetGroups } from '../../elbv2/common.js';
import { defaultRuleArn, listenerOfRule, type ListenerDoc, type RuleDoc, type TargetGroupDoc } from '../../elbv2/model.js';
import type { StoreReader } from '../../store/store.js';
import { isShiftingStrategy, type AdvancedConfiguration } from './blueGreen.js';

export interface ShiftSettingsInput {
  strategy?: string;
  bakeTimeInMinutes?: number;
  linearConfiguration?: { stepPercent?: number; stepBakeTimeInMinutes?: number };
  canaryConfiguration?: { canaryPercent?: number; canaryBakeTimeInMinutes?: number };
  lifecycleHooks?: unknown[];
}

const tenths = (v: number) => Math.abs(v * 10 - Math.round(v * 10)) < 1e-6;
const minutes = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v >= 0 && v <= 1440);

/**
 * The shift settings, checked against ECS's documented ranges. Lifecycle
 * hooks are refused: they invoke AWS Lambda functions, which Berth does
 * not serve, and a deployment that waited for them would never finish.
 */
export function checkShiftSettings(input: ShiftSettingsInput): void {
  if ((input.lifecycleHooks ?? []).length > 0) {
    throw new InvalidParameterException('Deployment lifecycle hooks are not supported by Berth: they invoke AWS Lambda functions, which Berth does not serve. Remove lifecycleHooks.');
  }
  // Wording unconfirmed for the range messages below; the ranges are ECS's.
  if (!minutes(input.bakeTimeInMinutes)) throw new InvalidParameterException('bakeTimeInMinutes must be between 0 and 1440.');
  const linear = input.linearConfiguration;
  if (linear !== undefined) {
    if (input.strategy !== 'LINEAR') throw new InvalidParameterException('linearConfiguration can only be specified with the LINEAR deployment strategy.');
    const p = linear.stepPercent;
    if (p !== undefined && (p < 3 || p > 100 || !tenths(p))) throw new InvalidParameterException('stepPercent must be a multiple of 0.1 between 3.0 and 100.0.');
    if (!minutes(linear.stepBakeTimeInMinutes)) throw new InvalidParameterException('stepBakeTimeInMinutes must be between 0 and 1440.');
  }
  const canary = input.canaryConfiguration;
  if (canary !== undefined) {
    if (input.strategy !== 'CANARY') throw new InvalidParameterException('canaryConfiguration can only be specified with the CANARY deployment strategy.');
    const p = canary.canaryPercent;
    if (p !== undefined && (p < 0.1 || p > 100 || !tenths(p))) throw new InvalidParameterException('canaryPercent must be a multiple of 0.1 between 0.1 and 100.0.');
    if (!minutes(canary.canaryBakeTimeInMinutes)) throw new InvalidParameterException('canaryBakeTimeInMinutes must be between 0 and 1440.');
  }
}

/** The forward actions of a rule (a listener's default rule included), or undefined when no such rule exists. */
async function ruleActions(reader: StoreReader, arn: string): Promise<{ actions: RuleDoc['Actions'] } | undefined> {
  const rule = await reader.get<RuleDoc>('listenerRule', arn);
  if (rule) return { actions: rule.doc.Actions };
  const listenerArn = listenerOfRule(arn);
  const listener = listenerArn !== undefined ? await reader.get<ListenerDoc>('listener', listenerArn) : undefined;
  if (listener && defaultRuleArn(listener.arn) === arn) return { actions: listener.doc.DefaultActions };
  return undefined;
}

/**
 * The load balancers of a service deploying with `strategy`: with a
 * traffic-shifting strategy each needs `advancedConfiguration` naming an
 * existing alternate target group other than its own, and a production
 * (and optional test) listener rule whose forward action already includes
 * both target groups, so that shifting traffic is a change of weights.
 */
export async function checkShiftingLoadBalancers(
  reader: StoreReader,
  strategy: string | undefined,
  loadBalancers: readonly { targetGroupArn: string; advancedConfiguration?: AdvancedConfiguration }[],
): Promise<void> {
  if (!isShiftingStrategy(strategy)) return;
  if (loadBalancers.length === 0) {
    // Wording unconfirmed. ECS also shifts Service Connect traffic, which Berth does not serve.
    throw new InvalidParameterException(`The ${strategy} deployment strategy requires a load balancer with advancedConfiguration (an alternate target group and a production listener rule).`);
  }
  for (const lb of loadBalancers) {
    const advanced = lb.advancedConfiguration;
    // Wording unconfirmed for the messages below.
    if (advanced === undefined) {
      throw new InvalidParameterException(`advancedConfiguration is required for each load balancer of a service using the ${strategy} deployment strategy.`);
    }
    if (advanced.alternateTargetGroupArn === lb.targetGroupArn) {
      throw new InvalidParameterException('The alternateTargetGroupArn must be different from the targetGroupArn.');
    }
    if (!(await reader.get<TargetGroupDoc>('targetGroup', advanced.alternateTargetGroupArn))) {
      throw new InvalidParameterException(`The target group with targetGroupArn ${advanced.alternateTargetGroupArn} does not exist.`);
    }
    for (const [field, arn] of [
      ['productionListenerRule', advanced.productionListenerRule],
      ['testListenerRule', advanced.testListenerRule],
    ] as const) {
      if (arn === undefined) continue;
      const rule = await ruleActions(reader, arn);
      if (rule === undefined) throw new InvalidParameterException(`The ${field} ${arn} does not exist.`);
      const forwards = rule.actions.filter((a) => a.Type === 'forward').flatMap(actionTargetGroups);
      if (!forwards.includes(lb.targetGroupArn) || !forwards.includes(advanced.alternateTargetGroupArn)) {
        throw new InvalidParameterException(
          `The ${field} ${arn} must forward to both the target group ${lb.targetGroupArn} and the alternate target group ${advanced.alternateTargetGroupArn}.`,
        );
      }
    }
  }
}

/** An `advancedConfiguration` as given, checked for its required members. */
export function advancedConfigurationOf(raw: unknown): AdvancedConfiguration | undefined {
  if (raw === undefined || raw === null) return undefined;
  const a = raw as Partial<AdvancedConfiguration>;
  if (a.alternateTargetGroupArn === undefined) throw new InvalidParameterException('advancedConfiguration.alternateTargetGroupArn must be specified.');
  if (a.productionListenerRule === undefined) throw new InvalidParameterException('advancedConfiguration.productionListenerRule must be specified.');
  return {
    alternateTargetGroupArn: a.alternateTargetGroupArn,
    productionListenerRule: a.productionListenerRule,
    ...(a.testListenerRule !== undefined ? { testListenerRule: a.testListenerRule } : {}),
    ...(a.roleArn !== undefined ? { roleArn: a.roleArn } : {}),
  };
}

import { awsQueryServiceOf } from '../awsQuery.js';
import { bindContext } from '../bind.js';
import { ValidationError } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ELBV2_MODEL, type Elbv2OperationName } from '../models/elbv2.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import type { Elbv2Context } from '../../elbv2/model.js';
import * as loadBalancers from '../../elbv2/loadBalancers.js';
import * as targetGroups from '../../elbv2/targetGroups.js';
import * as targets from '../../elbv2/targets.js';
import * as listeners from '../../elbv2/listeners.js';
import * as rules from '../../elbv2/rules.js';
import * as tags from '../../elbv2/tags.js';
import { describeAccountLimits } from '../../elbv2/limits.js';

export type Elbv2Input<Op extends Elbv2OperationName> = OperationInput<'elbv2', Op>;
export type Elbv2Handler<Op extends Elbv2OperationName> = Handler<'elbv2', Op>;
export type Elbv2Operations = Operations<'elbv2'>;

/** The ELBv2 operations Berth serves. */
export function elbv2Operations(ctx: Elbv2Context): Elbv2Operations {
  const op = bindContext(ctx);
  return {
    CreateLoadBalancer: op(loadBalancers.createLoadBalancer),
    DescribeLoadBalancers: op(loadBalancers.describeLoadBalancers),
    DeleteLoadBalancer: op(loadBalancers.deleteLoadBalancer),
    DescribeLoadBalancerAttributes: op(loadBalancers.describeLoadBalancerAttributes),
    ModifyLoadBalancerAttributes: op(loadBalancers.modifyLoadBalancerAttributes),
    SetSecurityGroups: op(loadBalancers.setSecurityGroups),
    SetSubnets: op(loadBalancers.setSubnets),
    SetIpAddressType: op(loadBalancers.setIpAddressType),

    CreateTargetGroup: op(targetGroups.createTargetGroup),
    DescribeTargetGroups: op(targetGroups.describeTargetGroups),
    ModifyTargetGroup: op(targetGroups.modifyTargetGroup),
    DeleteTargetGroup: op(targetGroups.deleteTargetGroup),
    DescribeTargetGroupAttributes: op(targetGroups.describeTargetGroupAttributes),
    ModifyTargetGroupAttributes: op(targetGroups.modifyTargetGroupAttributes),

    RegisterTargets: op(targets.registerTargets),
    DeregisterTargets: op(targets.deregisterTargets),
    DescribeTargetHealth: op(targets.describeTargetHealth),

    CreateListener: op(listeners.createListener),
    DescribeListeners: op(listeners.describeListeners),
    ModifyListener: op(listeners.modifyListener),
    DeleteListener: op(listeners.deleteListener),
    DescribeListenerAttributes: op(listeners.describeListenerAttributes),
    ModifyListenerAttributes: op(listeners.modifyListenerAttributes),
    DescribeListenerCertificates: op(listeners.describeListenerCertificates),
    AddListenerCertificates: op(listeners.addListenerCertificates),
    RemoveListenerCertificates: op(listeners.removeListenerCertificates),

    CreateRule: op(rules.createRule),
    DescribeRules: op(rules.describeRules),
    ModifyRule: op(rules.modifyRule),
    DeleteRule: op(rules.deleteRule),
    SetRulePriorities: op(rules.setRulePriorities),

    AddTags: op(tags.addTags),
    RemoveTags: op(tags.removeTags),
    DescribeTags: op(tags.describeTags),
    DescribeAccountLimits: op(describeAccountLimits),
  };
}

/** ELBv2 over the AWS query protocol (signing name `elasticloadbalancing`). */
export function elbv2Protocol(ctx: Elbv2Context): ServiceProtocol {
  return awsQueryServiceOf('elbv2', ELBV2_MODEL, {
    operations: elbv2Operations(ctx),
    unsupported: (name) => new ValidationError(`Berth does not implement ${name} yet. The README lists the ELBv2 operations that work today.`),
  });
}

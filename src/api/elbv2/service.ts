import { awsQueryServiceOf } from '../awsQuery.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { ValidationError } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ELBV2_MODEL } from '../models/elbv2.generated.js';
import type { Elbv2Context } from '../../elbv2/model.js';
import * as loadBalancers from '../../elbv2/loadBalancers.js';
import * as targetGroups from '../../elbv2/targetGroups.js';
import * as targets from '../../elbv2/targets.js';
import * as listeners from '../../elbv2/listeners.js';
import * as rules from '../../elbv2/rules.js';
import * as tags from '../../elbv2/tags.js';
import { describeAccountLimits } from '../../elbv2/limits.js';

/** The ELBv2 operations Berth serves. */
const OPERATIONS: ContextOperations<'elbv2', Elbv2Context> = {
  CreateLoadBalancer: loadBalancers.createLoadBalancer,
  DescribeLoadBalancers: loadBalancers.describeLoadBalancers,
  DeleteLoadBalancer: loadBalancers.deleteLoadBalancer,
  DescribeLoadBalancerAttributes: loadBalancers.describeLoadBalancerAttributes,
  ModifyLoadBalancerAttributes: loadBalancers.modifyLoadBalancerAttributes,
  SetSecurityGroups: loadBalancers.setSecurityGroups,
  SetSubnets: loadBalancers.setSubnets,
  SetIpAddressType: loadBalancers.setIpAddressType,

  CreateTargetGroup: targetGroups.createTargetGroup,
  DescribeTargetGroups: targetGroups.describeTargetGroups,
  ModifyTargetGroup: targetGroups.modifyTargetGroup,
  DeleteTargetGroup: targetGroups.deleteTargetGroup,
  DescribeTargetGroupAttributes: targetGroups.describeTargetGroupAttributes,
  ModifyTargetGroupAttributes: targetGroups.modifyTargetGroupAttributes,

  RegisterTargets: targets.registerTargets,
  DeregisterTargets: targets.deregisterTargets,
  DescribeTargetHealth: targets.describeTargetHealth,

  CreateListener: listeners.createListener,
  DescribeListeners: listeners.describeListeners,
  ModifyListener: listeners.modifyListener,
  DeleteListener: listeners.deleteListener,
  DescribeListenerAttributes: listeners.describeListenerAttributes,
  ModifyListenerAttributes: listeners.modifyListenerAttributes,
  DescribeListenerCertificates: listeners.describeListenerCertificates,
  AddListenerCertificates: listeners.addListenerCertificates,
  RemoveListenerCertificates: listeners.removeListenerCertificates,

  CreateRule: rules.createRule,
  DescribeRules: rules.describeRules,
  ModifyRule: rules.modifyRule,
  DeleteRule: rules.deleteRule,
  SetRulePriorities: rules.setRulePriorities,

  AddTags: tags.addTags,
  RemoveTags: tags.removeTags,
  DescribeTags: tags.describeTags,
  DescribeAccountLimits: describeAccountLimits,
};

/** ELBv2 over the AWS query protocol (signing name `elasticloadbalancing`). */
export function elbv2Protocol(ctx: Elbv2Context): ServiceProtocol {
  return awsQueryServiceOf('elbv2', ELBV2_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    unsupported: (name) => new ValidationError(`Berth does not implement ${name} yet. The README lists the ELBv2 operations that work today.`),
  });
}

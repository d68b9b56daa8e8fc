/**
 * Which IAM action and resources each operation asks for, after AWS's
 * service authorization reference: ECS, ECR, ELBv2, ACM, Secrets Manager,
 * SSM, IAM and STS. An operation with no resource-level support asks for
 * `*`; the action is always `<prefix>:<Operation>`.
 */
import { compilePolicy, type CompiledPolicy } from '../../iam/policy/index.js';
import type { StoreReader } from '../../store/store.js';
import { compileRepositoryPolicy } from '../../ecr/policies.js';
import type { Tag as IamTag, RoleDoc } from '../../iam/model.js';
import { findTaskDefinition } from '../../ecs/taskDefinitions.js';
import { ECS_TASKS_SERVICE, taskRolesOf } from '../../protocol/agent.js';

type In = Record<string, unknown>;

/** One question to the policy engine. */
export interface AccessCheck {
  action: string;
  resource: string;
  /** Request context keys beyond the global ones (aws:RequestTag/*, aws:ResourceTag/*, ecs:cluster...). */
  context?: Record<string, string | string[]>;
  /** The resource's own policy (a secret's resource policy, a role's trust policy). */
  resourcePolicy?: CompiledPolicy;
}

export interface ResourceScope {
  accountId: string;
  region: string;
  store: StoreReader;
}

/** The checks of one operation of one service. */
export type ResourceResolver = (operation: string, input: In, scope: ResourceScope) => Promise<AccessCheck[]>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const lastSegment = (s: string): string => s.slice(s.lastIndexOf('/') + 1);

/** aws:RequestTag/* and aws:TagKeys from tags given as `{key,value}` (ECS) or `{Key,Value}` (the others). */
export function requestTagContext(tags: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!Array.isArray(tags) || tags.length === 0) return out;
  const keys: string[] = [];
  for (const t of tags as Record<string, unknown>[]) {
    const k = str(t.key) ?? str(t.Key);
    if (k === undefined) continue;
    keys.push(k);
    out[`aws:RequestTag/${k}`] = String(t.value ?? t.Value ?? '');
  }
  out['aws:TagKeys'] = keys;
  return out;
}

function resourceTagContext(tags: readonly { key?: string; value?: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.key !== undefined) out[`aws:ResourceTag/${t.key}`] = t.value ?? '';
  return out;
}

// ---------------------------------------------------------------------------
// ECS
// ---------------------------------------------------------------------------

/** ECS operations whose resource is the cluster named by `cluster`. */
const ECS_CLUSTER_OPS = new Set([
  'DeleteCluster',
  'UpdateCluster',
  'UpdateClusterSettings',
  'PutClusterCapacityProviders',
  'RegisterContainerInstance',
  'DeregisterContainerInstance',
  'SubmitTaskStateChange',
  'SubmitContainerStateChange',
  'SubmitAttachmentStateChanges',
  'DiscoverPollEndpoint',
  'ExecuteCommand',
]);
/** ECS operations on no particular resource, with the cluster as the `ecs:cluster` condition key. */
const ECS_CLUSTER_CONDITION_OPS = new Set(['ListServices', 'ListTasks', 'ListContainerInstances', 'ListServicesByNamespace', 'PutAttributes', 'DeleteAttributes', 'ListAttributes']);

export const ecsResources: ResourceResolver = async (op, input, scope) => {
  const { accountId, region, store } = scope;
  const base = `arn:aws:ecs:${region}:${accountId}`;
  const action = `ecs:${op}`;
  const clusterRef = str(input.cluster) ?? 'default';
  const clusterName = clusterRef.startsWith('arn:') ? lastSegment(clusterRef) : clusterRef;
  const clusterArn = `${base}:cluster/${clusterName}`;
  const withTags = async (arn: string, extra: Record<string, string | string[]> = {}): Promise<AccessCheck> => {
    const kind = arn.includes(':cluster/') ? 'cluster' : arn.includes(':service/') ? 'service' : arn.includes(':task/') ? 'task' : undefined;
    const row = kind ? await store.get<{ tags?: { key?: string; value?: string }[] }>(kind, arn) : undefined;
    return { action, resource: arn, context: { ...extra, ...resourceTagContext(row?.doc.tags) } };
  };
  const inCluster = (kind: string, ref: string) => (ref.startsWith('arn:') ? ref : `${base}:${kind}/${clusterName}/${ref}`);
  const cond = { 'ecs:cluster': clusterArn };
  switch (op) {
    case 'CreateCluster':
      return [{ action, resource: `${base}:cluster/${str(input.clusterName) ?? 'default'}`, context: requestTagContext(input.tags) }];
    case 'DescribeClusters': {
      const refs = strs(input.clusters);
      return Promise.all((refs.length ? refs : ['default']).map((c) => withTags(c.startsWith('arn:') ? c : `${base}:cluster/${c}`)));
    }
    case 'CreateService':
      return [{ action, resource: `${base}:service/${clusterName}/${str(input.serviceName) ?? ''}`, context: { ...cond, ...requestTagContext(input.tags) } }];
    case 'UpdateService':
    case 'DeleteService':
      return [await withTags(inCluster('service', str(input.service) ?? ''), cond)];
    case 'DescribeServices':
      return Promise.all(strs(input.services).map((s) => withTags(inCluster('service', s), cond)));
    case 'RunTask':
    case 'StartTask': {
      const td = str(input.taskDefinition) ?? '';
      const checks: AccessCheck[] = [{ action, resource: td.startsWith('arn:') ? td : `${base}:task-definition/${td}`, context: { ...cond, ...requestTagContext(input.tags) } }];
      // The task's roles are passed to ECS, which assumes them for the task: iam:PassRole on each.
      const row = await findTaskDefinition({ region, accountId }, store, td);
      const overrides = input.overrides && typeof input.overrides === 'object' ? (input.overrides as Record<string, unknown>) : {};
      const roles = taskRolesOf((row?.doc.taskDefinition ?? {}) as unknown as Record<string, unknown>, overrides);
      for (const role of new Set([roles.taskRoleArn, roles.executionRoleArn])) {
        if (role) checks.push({ action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': ECS_TASKS_SERVICE } });
      }
      return checks;
    }
    case 'StopTask':
      return [await withTags(inCluster('task', str(input.task) ?? ''), cond)];
    case 'DescribeTasks':
      return Promise.all(strs(input.tasks).map((t) => withTags(inCluster('task', t), cond)));
    case 'DescribeContainerInstances':
      return strs(input.containerInstances).map((c) => ({ action, resource: inCluster('container-instance', c), context: cond }));
    case 'DescribeTaskDefinition':
    case 'DeregisterTaskDefinition': {
      const td = str(input.taskDefinition) ?? '';
      return [{ action, resource: td.startsWith('arn:') ? td : `${base}:task-definition/${td}` }];
    }
    case 'RegisterTaskDefinition':
      return [{ action, resource: '*', context: requestTagContext(input.tags) }];
    case 'TagResource':
      return [await withTags(str(input.resourceArn) ?? '*', requestTagContext(input.tags))];
    case 'UntagResource':
      return [await withTags(str(input.resourceArn) ?? '*', { 'aws:TagKeys': strs(input.tagKeys) })];
    case 'ListTagsForResource':
      return [await withTags(str(input.resourceArn) ?? '*')];
    default:
      if (ECS_CLUSTER_OPS.has(op)) return [await withTags(clusterArn)];
      if (ECS_CLUSTER_CONDITION_OPS.has(op)) return [{ action, resource: '*', context: cond }];
      return [{ action, resource: '*' }];
  }
};

// ---------------------------------------------------------------------------
// ECR
// ---------------------------------------------------------------------------

/** The ECR repository ARN of a repository name. */
export const repositoryArn = (scope: Pick<ResourceScope, 'accountId' | 'region'>, name: string): string => `arn:aws:ecr:${scope.region}:${scope.accountId}:repository/${name}`;

/** The check of `action` on a repository, with the repository's policy as its resource-based policy. */
export async function repositoryCheck(scope: ResourceScope, action: string, name: string, context?: Record<string, string | string[]>): Promise<AccessCheck> {
  const arn = repositoryArn(scope, name);
  const row = await scope.store.get<{ policyText?: string }>('repository', arn);
  let resourcePolicy: CompiledPolicy | undefined;
  if (row?.doc.policyText !== undefined) {
    try {
      resourcePolicy = compileRepositoryPolicy(row.doc.policyText, arn);
    } catch {
      resourcePolicy = undefined;
    }
  }
  return { action, resource: arn, ...(context ? { context } : {}), ...(resourcePolicy ? { resourcePolicy } : {}) };
}

export const ecrResources: ResourceResolver = async (op, input, scope) => {
  const action = `ecr:${op}`;
  const name = str(input.repositoryName);
  if (op === 'TagResource' || op === 'UntagResource' || op === 'ListTagsForResource') return [{ action, resource: str(input.resourceArn) ?? '*' }];
  if (op === 'CreateRepository') return [{ action, resource: repositoryArn(scope, name ?? ''), context: requestTagContext(input.tags) }];
  if (name === undefined || op === 'GetAuthorizationToken') {
    const names = strs(input.repositoryNames);
    if (names.length) return Promise.all(names.map((n) => repositoryCheck(scope, action, n)));
    return [{ action, resource: '*' }];
  }
  return [await repositoryCheck(scope, action, name)];
};

// ---------------------------------------------------------------------------
// ELBv2 and ACM: their inputs name resources by ARN.
// ---------------------------------------------------------------------------

const ELBV2_ARN_MEMBERS = ['LoadBalancerArn', 'TargetGroupArn', 'ListenerArn', 'RuleArn'];

export const elbv2Resources: ResourceResolver = (op, input) => {
  const action = `elasticloadbalancing:${op}`;
  const arns = [...ELBV2_ARN_MEMBERS.map((m) => str(input[m])).filter((a): a is string => a !== undefined), ...strs(input.ResourceArns)];
  const ctx = op.startsWith('Create') || op === 'AddTags' ? requestTagContext(input.Tags) : {};
  if (arns.length === 0) return Promise.resolve([{ action, resource: '*', context: ctx }]);
  return Promise.resolve([...new Set(arns)].map((resource) => ({ action, resource, context: ctx })));
};

export const acmResources: ResourceResolver = (op, input) => {
  const arn = str(input.CertificateArn);
  return Promise.resolve([{ action: `acm:${op}`, resource: arn ?? '*' }]);
};

// ---------------------------------------------------------------------------
// Secrets Manager (resource policies) and SSM
// ---------------------------------------------------------------------------

export const secretsResources: ResourceResolver = async (op, input, scope) => {
  const action = `secretsmanager:${op}`;
  const id = str(input.SecretId) ?? str(input.Name);
  if (id === undefined) return [{ action, resource: '*' }];
  let row = id.startsWith('arn:') ? await scope.store.get<{ arn: string; policy?: string }>('secret', id) : undefined;
  if (!row && !id.startsWith('arn:')) row = (await scope.store.find<{ arn: string; policy?: string }>('secret', { name: id }))[0];
  if (!row && id.startsWith('arn:')) row = (await scope.store.find<{ arn: string; policy?: string }>('secret')).find((r) => r.arn.startsWith(id + '-'));
  const resource = row?.arn ?? (id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${scope.region}:${scope.accountId}:secret:${id}`);
  let resourcePolicy: CompiledPolicy | undefined;
  if (row?.doc.policy) {
    try {
      resourcePolicy = compilePolicy(row.doc.policy, 'resource', `${row.arn} resource policy`);
    } catch {
      resourcePolicy = undefined;
    }
  }
  return [{ action, resource, ...(resourcePolicy ? { resourcePolicy } : {}), ...(op === 'CreateSecret' ? { context: requestTagContext(input.Tags) } : {}) }];
};

export const ssmResources: ResourceResolver = (op, input, scope) => {
  const action = `ssm:${op}`;
  const parameterArn = (n: string) => (n.startsWith('arn:') ? n : `arn:aws:ssm:${scope.region}:${scope.accountId}:parameter${n.startsWith('/') ? '' : '/'}${n}`);
  const names = [str(input.Name), ...strs(input.Names)].filter((n): n is string => n !== undefined);
  if (op === 'GetParametersByPath' && str(input.Path)) names.push(str(input.Path)!);
  if (names.length === 0) return Promise.resolve([{ action, resource: '*' }]);
  return Promise.resolve(names.map((n) => ({ action, resource: parameterArn(n.split(':')[0] === 'arn' ? n : n.replace(/:\d+$|:[^/]*$/, '')) })));
};

// ---------------------------------------------------------------------------
// IAM and STS
// ---------------------------------------------------------------------------

export const iamResources: ResourceResolver = async (op, input, scope) => {
  const action = `iam:${op}`;
  const account = `arn:aws:iam::${scope.accountId}`;
  const pathOf = (kind: string, name: string) => async (): Promise<string> => {
    const row = (await scope.store.find<{ Path?: string; Arn?: string }>(kind === 'user' ? 'iamUser' : kind === 'group' ? 'iamGroup' : 'iamRole', { name }))[0];
    return row?.doc.Arn ?? `${account}:${kind}/${name}`;
  };
  const out: AccessCheck[] = [];
  const ctx = op === 'CreateUser' || op === 'CreateRole' || op === 'CreatePolicy' || op.startsWith('Tag') ? requestTagContext(input.Tags) : {};
  if (op.startsWith('Untag')) ctx['aws:TagKeys'] = strs(input.TagKeys);
  const user = str(input.UserName);
  const group = str(input.GroupName);
  const role = str(input.RoleName);
  if (user !== undefined) out.push({ action, resource: await pathOf('user', user)(), context: ctx });
  if (group !== undefined) out.push({ action, resource: await pathOf('group', group)(), context: ctx });
  if (role !== undefined) out.push({ action, resource: await pathOf('role', role)(), context: ctx });
  const policy = str(input.PolicyArn);
  if (policy !== undefined && out.length === 0) out.push({ action, resource: policy, context: ctx });
  if (op === 'CreatePolicy') out.push({ action, resource: `${account}:policy${str(input.Path) ?? '/'}${str(input.PolicyName) ?? ''}`, context: ctx });
  if (out.length === 0) out.push({ action, resource: '*', context: ctx });
  return out;
};

export const stsResources: ResourceResolver = async (op, input, scope) => {
  // AWS asks no permission for these: anyone may learn who they are, and get session credentials for themselves.
  if (op === 'GetCallerIdentity' || op === 'GetSessionToken') return [];
  const action = `sts:${op}`;
  if (op !== 'AssumeRole') return [{ action, resource: '*' }];
  const arn = str(input.RoleArn) ?? '*';
  const name = /:role\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1];
  const row = name !== undefined ? (await scope.store.find<RoleDoc>('iamRole', { name }))[0] : undefined;
  const context: Record<string, string | string[]> = requestTagContext(input.Tags);
  for (const t of (row?.doc.Tags ?? []) as IamTag[]) context[`aws:ResourceTag/${t.Key}`] = t.Value;
  const checks: AccessCheck[] = [{ action, resource: arn, context }];
  if (row && row.doc.Arn === arn) checks[0]!.resourcePolicy = compilePolicy(row.doc.AssumeRolePolicyDocument, 'trust', `${arn} trust policy`);
  if (Array.isArray(input.Tags) && input.Tags.length > 0) checks.push({ action: 'sts:TagSession', resource: arn, context, ...(checks[0]!.resourcePolicy ? { resourcePolicy: checks[0]!.resourcePolicy } : {}) });
  return checks;
};

// ---------------------------------------------------------------------------
// CloudWatch Logs, CloudWatch, Application Auto Scaling
// ---------------------------------------------------------------------------

export const logsResources: ResourceResolver = (op, input, scope) => {
  const group = str(input.logGroupName) ?? str(input.logGroupIdentifier);
  const stream = str(input.logStreamName);
  const groupArn = (g: string) => (g.startsWith('arn:') ? g : `arn:aws:logs:${scope.region}:${scope.accountId}:log-group:${g}`);
  const resource = group === undefined ? (str(input.resourceArn) ?? '*') : stream !== undefined ? `${groupArn(group)}:log-stream:${stream}` : groupArn(group);
  return Promise.resolve([{ action: `logs:${op}`, resource, context: requestTagContext(mapTags(input.tags)) }]);
};

/** CloudWatch Logs takes tags as a map. */
function mapTags(tags: unknown): { Key: string; Value: unknown }[] {
  return tags && typeof tags === 'object' && !Array.isArray(tags) ? Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) : [];
}

export const cloudWatchResources: ResourceResolver = (op, input, scope) => {
  const alarmArn = (n: string) => `arn:aws:cloudwatch:${scope.region}:${scope.accountId}:alarm:${n}`;
  const names = [...(str(input.AlarmName) !== undefined ? [str(input.AlarmName)!] : []), ...strs(input.AlarmNames)];
  const action = `cloudwatch:${op}`;
  if (names.length > 0 && op !== 'DescribeAlarms') return Promise.resolve(names.map((n) => ({ action, resource: alarmArn(n) })));
  return Promise.resolve([{ action, resource: '*' }]);
};

/** Application Auto Scaling grants its actions on `*` (scalable targets have no resource-level permissions for these calls). */
export const autoScalingResources: ResourceResolver = (op) => Promise.resolve([{ action: `application-autoscaling:${op}`, resource: '*' }]);

/** The resolvers by protocol service name. */
export const RESOURCE_RESOLVERS: Readonly<Record<string, ResourceResolver>> = {
  ecs: ecsResources,
  ecr: ecrResources,
  elbv2: elbv2Resources,
  acm: acmResources,
  secretsmanager: secretsResources,
  ssm: ssmResources,
  iam: iamResources,
  sts: stsResources,
  logs: logsResources,
  cloudwatch: cloudWatchResources,
  autoscaling: autoScalingResources,
};

/**
 * ListContainerInstances `filter`: the cluster query language over stored
 * container instances, with the task state it reads (running task counts,
 * task groups) taken from the cluster's tasks that are not STOPPED.
 */
import { parseCql } from '../scheduler/cql/index.js';
import { ACTIVE_TASK_STATES, requireCluster } from './clusters.js';
import type { ContainerInstanceDoc, InstanceFilter } from './containerInstances.js';
import type { DomainContext } from './context.js';
import type { StoredTask } from './tasks.js';

const NO_GROUPS: ReadonlyMap<string, number> = new Map();

/** Tasks not yet STOPPED per instance, by group. */
async function groupsByInstance(ctx: DomainContext, clusterRef: string | undefined): Promise<Map<string, Map<string, number>>> {
  const cluster = await requireCluster(ctx, ctx.store, clusterRef);
  const rows = await ctx.store.find<StoredTask>('task', { cluster: cluster.arn, state: [...ACTIVE_TASK_STATES] });
  const out = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const instance = r.doc.task.containerInstanceArn ?? '';
    let groups = out.get(instance);
    if (groups === undefined) out.set(instance, (groups = new Map()));
    groups.set(r.doc.task.group, (groups.get(r.doc.task.group) ?? 0) + 1);
  }
  return out;
}

/**
 * The filter for `expression` (a malformed one throws the API's
 * InvalidParameterException); undefined for an empty expression.
 * `runningTasksCount` is the instance's count of RUNNING tasks, as
 * DescribeContainerInstances shows it.
 */
export async function instanceFilter(ctx: DomainContext, clusterRef: string | undefined, expression: string | undefined): Promise<InstanceFilter | undefined> {
  if (expression === undefined || expression.trim() === '') return undefined;
  const compiled = parseCql(expression);
  const groups = compiled.dependsOnTasks ? await groupsByInstance(ctx, clusterRef) : undefined;
  return (doc: ContainerInstanceDoc) =>
    compiled.matches({
      ec2InstanceId: doc.ec2InstanceId,
      agentConnected: doc.agentConnected,
      ...(doc.versionInfo.agentVersion ? { agentVersion: doc.versionInfo.agentVersion } : {}),
      registeredAt: doc.registeredAt * 1000,
      attributes: new Map(doc.attributes.map((a) => [a.name, a.value])),
      runningTasksCount: doc.runningTasksCount,
      taskGroups: groups?.get(doc.containerInstanceArn) ?? NO_GROUPS,
    });
}

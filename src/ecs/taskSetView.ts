/** How a task set is described: its computed desired count added, its tags only when asked for. */
import { computedDesiredCount, type ServiceDoc, type TaskSetDoc } from './model.js';
import type { Tag } from './tags.js';

export type TaskSetView = Omit<TaskSetDoc, 'tags'> & { computedDesiredCount: number; tags?: Tag[] };

/**
 * The task set as DescribeTaskSets (and the task set operations) answer it;
 * `service` is the service holding it. A task set whose computed count has
 * moved since the service controller last judged it steady (its scale or the
 * service's desired count just changed) reads STABILIZING at once, so a
 * client polling for STEADY_STATE right after a change never sees the old one.
 */
export function describeTaskSet(service: Pick<ServiceDoc, 'desiredCount'>, t: TaskSetDoc, withTags: boolean): TaskSetView {
  const { tags, ...rest } = t;
  const computed = t.status === 'DRAINING' ? 0 : computedDesiredCount(service.desiredCount, t.scale.value);
  const outdated = t.stabilityStatus === 'STEADY_STATE' && (t.runningCount !== computed || t.pendingCount > 0);
  return {
    ...rest,
    computedDesiredCount: computed,
    ...(outdated ? { stabilityStatus: 'STABILIZING' as const, stabilityStatusAt: Math.max(t.stabilityStatusAt, t.updatedAt) } : {}),
    ...(withTags ? { tags } : {}),
  };
}

/** How a task set is described: its computed desired count added, its tags only when asked for. */
import { computedDesiredCount, type ServiceDoc, type TaskSetDoc } from './model.js';
import type { Tag } from './tags.js';

export type TaskSetView = Omit<TaskSetDoc, 'tags'> & { computedDesiredCount: number; tags?: Tag[] };

/** The task set as DescribeTaskSets (and the task set operations) answer it; `service` is the service holding it. */
export function describeTaskSet(service: Pick<ServiceDoc, 'desiredCount'>, t: TaskSetDoc, withTags: boolean): TaskSetView {
  const { tags, ...rest } = t;
  return {
    ...rest,
    computedDesiredCount: t.status === 'DRAINING' ? 0 : computedDesiredCount(service.desiredCount, t.scale.value),
    ...(withTags ? { tags } : {}),
  };
}

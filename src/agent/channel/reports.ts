/**
 * What the server learns about a task, and the reports that move it there.
 * Pure: `taskView` is the ECS-visible state of a record; `reportsBetween`
 * is the list of reports that take the server from one view to the next.
 *
 * Contract: a task-status change becomes one SubmitTaskStateChange carrying
 * the full view (every container), so a report never depends on an earlier
 * one being delivered; a change of containers alone becomes one
 * SubmitContainerStateChange per changed container, except for a container
 * still PENDING (created, not started): what changed about it goes with its
 * next report. Reports for a task are delivered in the order they were
 * produced.
 */
import {
  apiContainerStatus,
  statusIndex,
  taskHealth,
  type HealthStatus,
  type NetworkBinding,
  type TaskRecord,
  type TaskStatus,
} from '../engine/model.js';
import type { StopCode } from '../../protocol/agent.js';

export interface ContainerView {
  containerName: string;
  runtimeId?: string;
  status: 'PENDING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  reason?: string;
  networkBindings: NetworkBinding[];
}

export interface TaskView {
  taskArn: string;
  cluster: string;
  status: TaskStatus;
  /** The agent's own stop reason and code; absent when the server asked for the stop. */
  reason?: string;
  stopCode?: StopCode;
  containers: ContainerView[];
  /** Epoch ms. */
  pullStartedAt?: number;
  pullStoppedAt?: number;
  executionStoppedAt?: number;
}

export type Report =
  | { kind: 'task'; view: TaskView }
  | { kind: 'container'; taskArn: string; cluster: string; container: ContainerView };

/** Container health as the server is told over the channel (`health` message). */
export interface HealthView {
  taskArn: string;
  healthStatus: HealthStatus;
  containers: { name: string; healthStatus: HealthStatus }[];
}

export function taskView(r: TaskRecord): TaskView {
  return {
    taskArn: r.taskArn,
    cluster: r.task.clusterArn,
    status: r.status,
    ...(r.stop?.by === 'agent' && r.stop.reason !== undefined ? { reason: r.stop.reason } : {}),
    ...(r.stop?.by === 'agent' && r.stop.stopCode !== undefined ? { stopCode: r.stop.stopCode } : {}),
    containers: r.containers.map((c) => ({
      containerName: c.name,
      ...(c.runtimeId !== undefined ? { runtimeId: c.runtimeId } : {}),
      status: apiContainerStatus(c.phase),
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason !== undefined ? { reason: c.reason } : {}),
      networkBindings: c.networkBindings,
    })),
    ...(r.pullStartedAt !== undefined ? { pullStartedAt: r.pullStartedAt } : {}),
    ...(r.pullStoppedAt !== undefined ? { pullStoppedAt: r.pullStoppedAt } : {}),
    ...(r.executionStoppedAt !== undefined ? { executionStoppedAt: r.executionStoppedAt } : {}),
  };
}

/** What the server knows of a task before the agent reported anything: PENDING, containers PENDING. */
export function initialView(r: TaskRecord): TaskView {
  return {
    taskArn: r.taskArn,
    cluster: r.task.clusterArn,
    status: 'PENDING',
    containers: r.containers.map((c) => ({ containerName: c.name, status: 'PENDING', networkBindings: [] })),
  };
}

export function healthView(r: TaskRecord): HealthView {
  return {
    taskArn: r.taskArn,
    healthStatus: taskHealth(r.containers),
    containers: r.containers.map((c) => ({ name: c.name, healthStatus: c.health })),
  };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Reports that bring the server from `from` to `to` (views of the same task). */
export function reportsBetween(from: TaskView, to: TaskView): Report[] {
  if (statusIndex(to.status) > statusIndex(from.status)) return [{ kind: 'task', view: to }];
  const out: Report[] = [];
  for (const c of to.containers) {
    const before = from.containers.find((x) => x.containerName === c.containerName);
    if (before?.status === 'PENDING' && c.status === 'PENDING') continue;
    if (!before || !same(before, c)) out.push({ kind: 'container', taskArn: to.taskArn, cluster: to.cluster, container: c });
  }
  return out;
}

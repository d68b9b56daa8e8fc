/**
 * Test helpers for the agent: AgentTasks built the way the server pushes
 * them, and an in-memory TaskStore. Used by tests only.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerDefinition, Volume } from '@aws-sdk/client-ecs';
import type { AgentTask } from '../../protocol/agent.js';
import type { TaskStore } from './engine.js';
import type { TaskRecord } from './model.js';

export const TEST_IMAGE = 'berth-test/busybox:latest';
export const TEST_CLUSTER_ARN = 'arn:aws:ecs:us-east-1:000000000000:cluster/agent-test';

export interface TaskShape {
  family?: string;
  revision?: number;
  containers: ContainerDefinition[];
  volumes?: Volume[];
  networkMode?: 'bridge' | 'host' | 'none' | 'awsvpc';
  cpu?: string;
  memory?: string;
  overrides?: Record<string, unknown>;
  taskId?: string;
}

/** A task as the server pushes it: containers default to essential, with the test image. */
export function makeTask(shape: TaskShape): AgentTask {
  const id = shape.taskId ?? randomBytes(16).toString('hex');
  const family = shape.family ?? 'agent-test';
  const revision = shape.revision ?? 1;
  const taskArn = `arn:aws:ecs:us-east-1:000000000000:task/agent-test/${id}`;
  const containerDefinitions = shape.containers.map((c) => ({ image: TEST_IMAGE, essential: true, cpu: 0, ...c }));
  return {
    taskArn,
    clusterArn: TEST_CLUSTER_ARN,
    desiredStatus: 'RUNNING',
    taskDefinition: {
      taskDefinitionArn: `arn:aws:ecs:us-east-1:000000000000:task-definition/${family}:${revision}`,
      family,
      revision,
      containerDefinitions,
      volumes: shape.volumes ?? [],
      ...(shape.networkMode ? { networkMode: shape.networkMode } : {}),
      ...(shape.cpu ? { cpu: shape.cpu } : {}),
      ...(shape.memory ? { memory: shape.memory } : {}),
    },
    overrides: shape.overrides ?? { containerOverrides: [] },
    containers: containerDefinitions.map((c) => ({
      name: c.name ?? '',
      containerArn: `arn:aws:ecs:us-east-1:000000000000:container/agent-test/${id}/${randomBytes(8).toString('hex')}`,
    })),
    ...(shape.cpu ? { cpu: shape.cpu } : {}),
    ...(shape.memory ? { memory: shape.memory } : {}),
    createdAt: Math.floor(Date.now() / 1000),
    version: 1,
  };
}

export class MemoryTaskStore implements TaskStore {
  readonly records = new Map<string, TaskRecord>();
  async loadTasks(): Promise<TaskRecord[]> {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
  async saveTask(r: TaskRecord): Promise<void> {
    this.records.set(r.taskArn, structuredClone(r));
  }
  async deleteTask(taskArn: string): Promise<void> {
    this.records.delete(taskArn);
  }
}

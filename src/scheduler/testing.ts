/**
 * Builders of container instances for tests and benchmarks of the scheduler.
 * Not used by the engine itself.
 */
import type { InstanceSnapshot } from './types.js';

export interface InstanceSpec {
  id?: string | number;
  status?: InstanceSnapshot['status'];
  agentConnected?: boolean;
  agentVersion?: string;
  registeredAt?: number;
  ec2InstanceId?: string;
  /** Attributes as a plain object; `null` means present without a value. */
  attributes?: Record<string, string | null>;
  cpu?: number;
  memory?: number;
  gpus?: readonly string[];
  tcp?: readonly number[];
  udp?: readonly number[];
  /** Task groups on the instance; runningTasksCount defaults to their sum. */
  groups?: Record<string, number>;
  runningTasksCount?: number;
  launchTypes?: InstanceSnapshot['launchTypes'];
  networkModes?: InstanceSnapshot['networkModes'];
}

/** An ACTIVE, connected, empty instance with 4 vCPU / 8 GiB unless told otherwise. */
export function instance(spec: InstanceSpec = {}): InstanceSnapshot {
  const id = String(spec.id ?? '0');
  const groups = new Map(Object.entries(spec.groups ?? {}));
  let sum = 0;
  for (const n of groups.values()) sum += n;
  return {
    arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/test/${id}`,
    ec2InstanceId: spec.ec2InstanceId ?? `i-${id}`,
    status: spec.status ?? 'ACTIVE',
    agentConnected: spec.agentConnected ?? true,
    ...(spec.agentVersion !== undefined ? { agentVersion: spec.agentVersion } : {}),
    registeredAt: spec.registeredAt ?? Date.UTC(2024, 0, 1),
    attributes: new Map(Object.entries(spec.attributes ?? {}).map(([k, v]) => [k, v ?? undefined] as const)),
    remaining: { cpu: spec.cpu ?? 4096, memory: spec.memory ?? 8192, gpus: spec.gpus ?? [] },
    usedPorts: { tcp: spec.tcp ?? [], udp: spec.udp ?? [] },
    runningTasksCount: spec.runningTasksCount ?? sum,
    taskGroups: groups,
    ...(spec.launchTypes !== undefined ? { launchTypes: spec.launchTypes } : {}),
    ...(spec.networkModes !== undefined ? { networkModes: spec.networkModes } : {}),
  };
}

/** The short id `instance()` put at the end of an ARN. */
export function idOf(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

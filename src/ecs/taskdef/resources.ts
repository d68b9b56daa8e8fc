/**
 * What a task of a task definition consumes on the instance it is placed on,
 * following ECS resource accounting.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { effectiveNetworkMode, type TaskDefinitionDoc } from './types.js';

export interface TaskResourceNeeds {
  /** CPU units: the task-level `cpu` when set, else the sum of container `cpu`. */
  cpu: number;
  /** MiB: the task-level `memory` when set, else the sum of each container's reservation. */
  memory: number;
  /** Static host ports the task binds, ascending and unique. */
  tcpPorts: number[];
  udpPorts: number[];
  /** GPUs requested by all containers. */
  gpus: number;
}

/**
 * Memory a container reserves on its instance: `memoryReservation` when set,
 * otherwise the hard limit `memory` (ECS subtracts the soft limit when one is
 * given), otherwise 0 (the task-level memory covers it).
 */
export function containerMemoryReservation(c: ContainerDefinition): number {
  return c.memoryReservation ?? c.memory ?? 0;
}

/**
 * Host ports of one port mapping that must be free on the instance.
 * Bridge: the hostPort when it is not 0 (0 means Docker picks one).
 * Host: the container port, which is bound on the instance itself.
 * awsvpc and none: nothing — an awsvpc task has its own network interface.
 * Container port ranges get dynamic host ports, so they reserve nothing up front.
 */
function staticHostPorts(doc: TaskDefinitionDoc): { tcp: Set<number>; udp: Set<number> } {
  const mode = effectiveNetworkMode(doc.networkMode);
  const tcp = new Set<number>();
  const udp = new Set<number>();
  if (mode === 'awsvpc' || mode === 'none') return { tcp, udp };
  for (const c of doc.containerDefinitions) {
    for (const p of c.portMappings ?? []) {
      if (p.containerPortRange !== undefined) continue;
      const port = mode === 'host' ? p.hostPort ?? p.containerPort : p.hostPort;
      if (port === undefined || port === 0) continue;
      (p.protocol === 'udp' ? udp : tcp).add(port);
    }
  }
  return { tcp, udp };
}

export function taskResourceNeeds(doc: TaskDefinitionDoc): TaskResourceNeeds {
  const containers = doc.containerDefinitions;
  const cpu = doc.cpu !== undefined ? Number(doc.cpu) : containers.reduce((sum, c) => sum + (c.cpu ?? 0), 0);
  const memory =
    doc.memory !== undefined ? Number(doc.memory) : containers.reduce((sum, c) => sum + containerMemoryReservation(c), 0);
  const gpus = containers.reduce(
    (sum, c) => sum + (c.resourceRequirements ?? []).filter((r) => r.type === 'GPU').reduce((n, r) => n + Number(r.value ?? 0), 0),
    0,
  );
  const { tcp, udp } = staticHostPorts(doc);
  const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);
  return { cpu, memory, tcpPorts: sorted(tcp), udpPorts: sorted(udp), gpus };
}

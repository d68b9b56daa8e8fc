/**
 * The placement engine's view of a stored container instance: the one
 * mapping from `ContainerInstanceDoc` (resources as the task writer accounts
 * them) to `InstanceSnapshot`, used by the cluster state read models and by
 * the commit-time re-check alike.
 */
import type { ContainerInstanceDoc } from '../ecs/model.js';
import type { InstanceSnapshot, LaunchType, NetworkMode } from '../scheduler/types.js';
import type { Row } from '../store/store.js';

/** Container instance statuses that can take tasks. */
export const PLACEABLE_STATUSES: readonly string[] = Object.freeze(['ACTIVE', 'DRAINING']);

const LAUNCH_TYPES: readonly LaunchType[] = Object.freeze(['EC2', 'EXTERNAL'] as const);
const NETWORK_MODES: readonly NetworkMode[] = Object.freeze(['bridge', 'host', 'none'] as const);
export const NO_GPUS: readonly string[] = Object.freeze([]);
const NO_PORTS: readonly number[] = Object.freeze([]);
export const NO_GROUPS: ReadonlyMap<string, number> = new Map();

/** Tasks on one instance that are not STOPPED, by task group. */
export interface InstanceLoad {
  readonly groups: ReadonlyMap<string, number>;
  readonly count: number;
}

export const EMPTY_LOAD: InstanceLoad = { groups: NO_GROUPS, count: 0 };

function resourceOf(doc: ContainerInstanceDoc, name: string) {
  return doc.remainingResources.find((r) => r.name === name);
}

function portsOf(doc: ContainerInstanceDoc, name: string): readonly number[] {
  const set = resourceOf(doc, name)?.stringSetValue;
  if (set === undefined || set.length === 0) return NO_PORTS;
  return set.map(Number).filter(Number.isInteger);
}

function sameAttributes(map: ReadonlyMap<string, string | undefined>, list: ContainerInstanceDoc['attributes']): boolean {
  if (map.size !== list.length) return false;
  for (const a of list) if (!map.has(a.name) || map.get(a.name) !== a.value) return false;
  return true;
}

/**
 * The placement engine's view of a stored container instance: resources as
 * RunTask accounts them (`remainingResources` CPU, MEMORY, PORTS, PORTS_UDP),
 * task counts from `load`. `previous` lends its attribute map when unchanged.
 */
export function instanceSnapshotOf(
  row: Row<ContainerInstanceDoc>,
  load: InstanceLoad,
  previous?: InstanceSnapshot,
): InstanceSnapshot {
  const d = row.doc;
  const attributes =
    previous !== undefined && sameAttributes(previous.attributes, d.attributes) ? previous.attributes : new Map(d.attributes.map((a) => [a.name, a.value]));
  return {
    arn: row.arn,
    status: d.status,
    ec2InstanceId: d.ec2InstanceId,
    agentConnected: d.agentConnected,
    ...(d.versionInfo.agentVersion ? { agentVersion: d.versionInfo.agentVersion } : {}),
    registeredAt: d.registeredAt * 1000,
    attributes,
    runningTasksCount: load.count,
    taskGroups: load.groups,
    remaining: { cpu: resourceOf(d, 'CPU')?.integerValue ?? 0, memory: resourceOf(d, 'MEMORY')?.integerValue ?? 0, gpus: NO_GPUS },
    usedPorts: { tcp: portsOf(d, 'PORTS'), udp: portsOf(d, 'PORTS_UDP') },
    launchTypes: LAUNCH_TYPES,
    networkModes: NETWORK_MODES,
  };
}

/** Whether two views of an instance agree on every field placement caches per snapshot family. */
export function sameFixed(a: InstanceSnapshot, b: InstanceSnapshot): boolean {
  return (
    a.status === b.status &&
    a.agentConnected === b.agentConnected &&
    a.ec2InstanceId === b.ec2InstanceId &&
    a.agentVersion === b.agentVersion &&
    a.registeredAt === b.registeredAt &&
    a.launchTypes === b.launchTypes &&
    a.networkModes === b.networkModes &&
    (a.attributes === b.attributes || sameMap(a.attributes, b.attributes))
  );
}

function sameMap<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || b.get(k) !== v) return false;
  return true;
}

export const placeable = (status: string): boolean => status === 'ACTIVE' || status === 'DRAINING';

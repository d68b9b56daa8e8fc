/**
 * ECS's CloudWatch metrics (`AWS/ECS`), computed from what agents report.
 *
 * Definitions (ECS, EC2 launch type), in percent:
 * - per ClusterName + ServiceName: CPUUtilization = CPU units used by the
 *   service's running tasks / CPU units they reserve; MemoryUtilization the
 *   same for MiB.
 * - per ClusterName: CPUUtilization = CPU used by the cluster's tasks / CPU
 *   registered by its ACTIVE and DRAINING container instances;
 *   MemoryUtilization likewise; CPUReservation and MemoryReservation = what
 *   the cluster's running tasks reserve / what is registered.
 *
 * Each publish (every 10 s) writes one high-resolution value per metric:
 * queries see them at 10-second periods and aggregated to 1 minute (as
 * ECS's own one-minute metrics, with Average, Minimum, Maximum and
 * SampleCount); after three hours they are kept at one minute.
 */
import type { AgentStatsMessage, AgentTaskStats } from '../protocol/agent.js';
import type { ContainerInstanceDoc, StoredTask } from '../ecs/model.js';
import type { ClusterDoc } from '../ecs/clusters.js';
import type { Store } from '../store/store.js';
import type { MetricStorage } from './storage.js';

export const ECS_NAMESPACE = 'AWS/ECS';
export const CONTAINER_INSIGHTS_NAMESPACE = 'ECS/ContainerInsights';

interface TaskSample extends AgentTaskStats {
  clusterArn: string;
  /** Epoch ms of the reading. */
  at: number;
}

/** One task's figures, as published (Prometheus labels them by cluster, service and task). */
export interface TaskFigures {
  cluster: string;
  service: string;
  task: string;
  cpuUnits: number;
  memoryMiB: number;
  cpuReserved: number;
  memoryReserved: number;
}

export interface EcsFigures {
  tasks: TaskFigures[];
  services: { cluster: string; service: string; cpuUtilization?: number; memoryUtilization?: number }[];
  clusters: { cluster: string; cpuUtilization?: number; memoryUtilization?: number; cpuReservation?: number; memoryReservation?: number }[];
}

const clusterName = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
const pct = (used: number, of: number) => (of > 0 ? (100 * used) / of : undefined);

function registered(doc: ContainerInstanceDoc, name: 'CPU' | 'MEMORY'): number {
  const r = doc.registeredResources.find((x) => x.name === name);
  return r?.integerValue ?? r?.longValue ?? r?.doubleValue ?? 0;
}

export class EcsMetricsPublisher {
  private readonly samples = new Map<string, TaskSample>();

  constructor(
    private readonly store: Store,
    private readonly storage: MetricStorage,
    private readonly opts: { intervalMs: number; onFigures?: (f: EcsFigures) => void },
  ) {}

  /** Takes an agent's report (the dispatcher calls this for every `stats` message). */
  report(clusterArn: string, msg: AgentStatsMessage): void {
    if (!Array.isArray(msg.tasks)) return;
    const at = typeof msg.at === 'number' && Number.isFinite(msg.at) ? Math.min(msg.at, Date.now()) : Date.now();
    for (const t of msg.tasks) {
      if (typeof t !== 'object' || t === null || typeof t.taskArn !== 'string' || !Number.isFinite(t.cpuUnits) || !Number.isFinite(t.memoryMiB)) continue;
      const containers = Array.isArray(t.containers)
        ? t.containers.filter((c) => typeof c === 'object' && c !== null && typeof c.name === 'string' && Number.isFinite(c.cpuUnits) && Number.isFinite(c.memoryMiB))
        : [];
      this.samples.set(t.taskArn, { taskArn: t.taskArn, cpuUnits: t.cpuUnits, memoryMiB: t.memoryMiB, containers, clusterArn, at });
    }
  }

  /** Computes and stores the figures from the samples of the last interval (twice the interval, to bridge jitter). */
  async publish(now = Date.now()): Promise<EcsFigures> {
    const fresh = now - 2 * this.opts.intervalMs;
    for (const [arn, s] of this.samples) if (s.at < fresh) this.samples.delete(arn);
    const byCluster = new Map<string, TaskSample[]>();
    for (const s of this.samples.values()) {
      const list = byCluster.get(s.clusterArn) ?? [];
      list.push(s);
      byCluster.set(s.clusterArn, list);
    }
    const figures: EcsFigures = { tasks: [], services: [], clusters: [] };
    const t = now / 1000;
    const put = (metricName: string, dims: { Name: string; Value: string }[], value: number | undefined) => {
      if (value === undefined || !Number.isFinite(value)) return;
      this.storage.put({ namespace: ECS_NAMESPACE, metricName, dimensions: dims }, t, { kind: 'values', values: [value] }, 'Percent', 1, now);
    };
    const clusters = new Set([...byCluster.keys()]);
    for (const clusterArn of clusters) {
      const samples = byCluster.get(clusterArn) ?? [];
      const taskRows = await this.store.find<StoredTask>('task', { cluster: clusterArn, state: 'RUNNING' });
      const instances = await this.store.find<ContainerInstanceDoc>('containerInstance', { cluster: clusterArn, status: ['ACTIVE', 'DRAINING'] });
      const regCpu = instances.reduce((a, r) => a + registered(r.doc, 'CPU'), 0);
      const regMem = instances.reduce((a, r) => a + registered(r.doc, 'MEMORY'), 0);
      const sampleOf = new Map(samples.map((s) => [s.taskArn, s]));
      const services = new Map<string, { used: number; reserved: number; usedMem: number; reservedMem: number }>();
      let usedCpu = 0;
      let usedMem = 0;
      let reservedCpu = 0;
      let reservedMem = 0;
      const cn = clusterName(clusterArn);
      for (const row of taskRows) {
        const st = row.doc;
        reservedCpu += st.reservation.cpu;
        reservedMem += st.reservation.memory;
        const s = sampleOf.get(row.arn);
        if (!s) continue;
        usedCpu += s.cpuUnits;
        usedMem += s.memoryMiB;
        const group = st.task.group;
        const service = group.startsWith('service:') ? group.slice('service:'.length) : '';
        figures.tasks.push({ cluster: cn, service, task: row.arn.slice(row.arn.lastIndexOf('/') + 1), cpuUnits: s.cpuUnits, memoryMiB: s.memoryMiB, cpuReserved: st.reservation.cpu, memoryReserved: st.reservation.memory });
        if (service === '') continue;
        const agg = services.get(service) ?? { used: 0, reserved: 0, usedMem: 0, reservedMem: 0 };
        agg.used += s.cpuUnits;
        agg.reserved += st.reservation.cpu;
        agg.usedMem += s.memoryMiB;
        agg.reservedMem += st.reservation.memory;
        services.set(service, agg);
      }
      for (const [service, a] of services) {
        const dims = [{ Name: 'ClusterName', Value: cn }, { Name: 'ServiceName', Value: service }];
        const cpu = pct(a.used, a.reserved);
        const mem = pct(a.usedMem, a.reservedMem);
        put('CPUUtilization', dims, cpu);
        put('MemoryUtilization', dims, mem);
        figures.services.push({ cluster: cn, service, ...(cpu !== undefined ? { cpuUtilization: cpu } : {}), ...(mem !== undefined ? { memoryUtilization: mem } : {}) });
      }
      const dims = [{ Name: 'ClusterName', Value: cn }];
      const c = { cpuUtilization: pct(usedCpu, regCpu), memoryUtilization: pct(usedMem, regMem), cpuReservation: pct(reservedCpu, regCpu), memoryReservation: pct(reservedMem, regMem) };
      put('CPUUtilization', dims, c.cpuUtilization);
      put('MemoryUtilization', dims, c.memoryUtilization);
      put('CPUReservation', dims, c.cpuReservation);
      put('MemoryReservation', dims, c.memoryReservation);
      figures.clusters.push({
        cluster: cn,
        ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)),
      });
      const cluster = await this.store.get<ClusterDoc>('cluster', clusterArn);
      const insights = cluster?.doc.settings.find((x) => x.name === 'containerInsights')?.value;
      if (insights === 'enabled' || insights === 'enhanced') this.containerInsights(cn, taskRows, sampleOf, insights === 'enhanced', t, now);
    }
    this.opts.onFigures?.(figures);
    return figures;
  }

  /**
   * `ECS/ContainerInsights`, as ECS names it: CpuUtilized / CpuReserved (CPU
   * units), MemoryUtilized / MemoryReserved (MiB) and RunningTaskCount per
   * ClusterName, ClusterName+ServiceName and ClusterName+TaskDefinitionFamily;
   * with `enhanced`, also per task (TaskId) and per container
   * (ContainerCpuUtilized, ContainerMemoryUtilized, ContainerCpuReserved,
   * ContainerMemoryReserved with ContainerName).
   */
  private containerInsights(cn: string, taskRows: readonly { arn: string; doc: StoredTask }[], sampleOf: ReadonlyMap<string, TaskSample>, enhanced: boolean, t: number, now: number): void {
    const put = (metricName: string, dims: { Name: string; Value: string }[], value: number, unit: string) =>
      this.storage.put({ namespace: CONTAINER_INSIGHTS_NAMESPACE, metricName, dimensions: dims }, t, { kind: 'values', values: [value] }, unit, 1, now);
    type Agg = { cpu: number; cpuReserved: number; mem: number; memReserved: number; running: number };
    const groups = new Map<string, { dims: { Name: string; Value: string }[]; agg: Agg }>();
    const add = (dims: { Name: string; Value: string }[], x: Agg) => {
      const key = JSON.stringify(dims);
      const g = groups.get(key) ?? { dims, agg: { cpu: 0, cpuReserved: 0, mem: 0, memReserved: 0, running: 0 } };
      g.agg.cpu += x.cpu;
      g.agg.cpuReserved += x.cpuReserved;
      g.agg.mem += x.mem;
      g.agg.memReserved += x.memReserved;
      g.agg.running += x.running;
      groups.set(key, g);
    };
    const clusterDim = { Name: 'ClusterName', Value: cn };
    for (const row of taskRows) {
      const st = row.doc;
      const s = sampleOf.get(row.arn);
      const x: Agg = { cpu: s?.cpuUnits ?? 0, cpuReserved: st.reservation.cpu, mem: s?.memoryMiB ?? 0, memReserved: st.reservation.memory, running: 1 };
      const family = st.task.taskDefinitionArn.slice(st.task.taskDefinitionArn.lastIndexOf('/') + 1).replace(/:\d+$/, '');
      add([clusterDim], x);
      add([clusterDim, { Name: 'TaskDefinitionFamily', Value: family }], x);
      if (st.task.group.startsWith('service:')) add([clusterDim, { Name: 'ServiceName', Value: st.task.group.slice('service:'.length) }], x);
      if (!enhanced || !s) continue;
      const taskId = row.arn.slice(row.arn.lastIndexOf('/') + 1);
      const taskDims = [clusterDim, { Name: 'TaskDefinitionFamily', Value: family }, { Name: 'TaskId', Value: taskId }];
      put('CpuUtilized', taskDims, s.cpuUnits, 'None');
      put('CpuReserved', taskDims, st.reservation.cpu, 'None');
      put('MemoryUtilized', taskDims, s.memoryMiB, 'Megabytes');
      put('MemoryReserved', taskDims, st.reservation.memory, 'Megabytes');
      for (const c of s.containers) {
        const def = st.task.containers.find((x2) => x2.name === c.name);
        const dims = [...taskDims, { Name: 'ContainerName', Value: c.name }];
        put('ContainerCpuUtilized', dims, c.cpuUnits, 'None');
        put('ContainerMemoryUtilized', dims, c.memoryMiB, 'Megabytes');
        if (def?.cpu !== undefined && Number(def.cpu) > 0) put('ContainerCpuReserved', dims, Number(def.cpu), 'None');
        const mem = Number(def?.memory ?? def?.memoryReservation ?? 0);
        if (mem > 0) put('ContainerMemoryReserved', dims, mem, 'Megabytes');
      }
    }
    for (const { dims, agg } of groups.values()) {
      put('CpuUtilized', dims, agg.cpu, 'None');
      put('CpuReserved', dims, agg.cpuReserved, 'None');
      put('MemoryUtilized', dims, agg.mem, 'Megabytes');
      put('MemoryReserved', dims, agg.memReserved, 'Megabytes');
      put('RunningTaskCount', dims, agg.running, 'Count');
    }
  }
}

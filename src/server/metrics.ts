import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EcsFigures } from '../metrics/ecs.js';

/** Prometheus metrics of one server, served at GET /metrics. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'service' | 'operation' | 'outcome'>;
  readonly latency: Histogram<'service' | 'operation' | 'outcome'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    this.requests = new Counter({
      name: 'berth_api_requests_total',
      help: 'API requests by service, operation and outcome (ok, or the AWS error type)',
      labelNames: ['service', 'operation', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'berth_api_request_duration_seconds',
      help: 'API request latency by service, operation and outcome',
      labelNames: ['service', 'operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  private ecsGauges: { set(f: EcsFigures): void } | undefined;

  /** Publishes ECS's task, service and cluster figures (replacing the previous set). */
  setEcsFigures(f: EcsFigures): void {
    this.ecsGauges ??= ecsGauges(this.registry);
    this.ecsGauges.set(f);
  }

  observe(service: string, operation: string, outcome: string, seconds: number): void {
    const labels = { service, operation, outcome };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }
}

function ecsGauges(registry: Registry) {
  const g = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const taskCpu = g('berth_ecs_task_cpu_units', 'CPU units (1024 per core) used by a running task', ['cluster', 'service', 'task']);
  const taskMem = g('berth_ecs_task_memory_mib', 'Memory (MiB, without page cache) used by a running task', ['cluster', 'service', 'task']);
  const taskCpuPct = g('berth_ecs_task_cpu_utilization_percent', 'CPU used over CPU reserved by a running task', ['cluster', 'service', 'task']);
  const taskMemPct = g('berth_ecs_task_memory_utilization_percent', 'Memory used over memory reserved by a running task', ['cluster', 'service', 'task']);
  const svcCpu = g('berth_ecs_service_cpu_utilization_percent', 'AWS/ECS CPUUtilization of a service', ['cluster', 'service']);
  const svcMem = g('berth_ecs_service_memory_utilization_percent', 'AWS/ECS MemoryUtilization of a service', ['cluster', 'service']);
  const clCpu = g('berth_ecs_cluster_cpu_utilization_percent', 'AWS/ECS CPUUtilization of a cluster', ['cluster']);
  const clMem = g('berth_ecs_cluster_memory_utilization_percent', 'AWS/ECS MemoryUtilization of a cluster', ['cluster']);
  const clCpuR = g('berth_ecs_cluster_cpu_reservation_percent', 'AWS/ECS CPUReservation of a cluster', ['cluster']);
  const clMemR = g('berth_ecs_cluster_memory_reservation_percent', 'AWS/ECS MemoryReservation of a cluster', ['cluster']);
  const all = [taskCpu, taskMem, taskCpuPct, taskMemPct, svcCpu, svcMem, clCpu, clMem, clCpuR, clMemR];
  return {
    set(f: EcsFigures): void {
      for (const x of all) x.reset();
      for (const t of f.tasks) {
        const l = { cluster: t.cluster, service: t.service, task: t.task };
        taskCpu.set(l, t.cpuUnits);
        taskMem.set(l, t.memoryMiB);
        if (t.cpuReserved > 0) taskCpuPct.set(l, (100 * t.cpuUnits) / t.cpuReserved);
        if (t.memoryReserved > 0) taskMemPct.set(l, (100 * t.memoryMiB) / t.memoryReserved);
      }
      for (const s of f.services) {
        const l = { cluster: s.cluster, service: s.service };
        if (s.cpuUtilization !== undefined) svcCpu.set(l, s.cpuUtilization);
        if (s.memoryUtilization !== undefined) svcMem.set(l, s.memoryUtilization);
      }
      for (const c of f.clusters) {
        const l = { cluster: c.cluster };
        if (c.cpuUtilization !== undefined) clCpu.set(l, c.cpuUtilization);
        if (c.memoryUtilization !== undefined) clMem.set(l, c.memoryUtilization);
        if (c.cpuReservation !== undefined) clCpuR.set(l, c.cpuReservation);
        if (c.memoryReservation !== undefined) clMemR.set(l, c.memoryReservation);
      }
    },
  };
}

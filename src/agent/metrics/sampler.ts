/**
 * The agent's resource sampler: every interval, one one-shot stats reading
 * per running container from the Docker Engine (cheap: no second sample),
 * CPU use computed between this reading and the previous one, and one
 * `stats` message to the server with each running task's figures.
 */
import type { Logger } from '../../core/log.js';
import type { AgentContainerStats, AgentStatsMessage, AgentTaskStats } from '../../protocol/agent.js';
import type { TaskRecord } from '../engine/model.js';

interface Reading {
  /** Container CPU time, ns. */
  cpuNs: number;
  /** Epoch ms. */
  at: number;
}

export interface SamplerOptions {
  intervalMs: number;
  tasks(): Iterable<TaskRecord>;
  stats(runtimeId: string): Promise<Record<string, unknown>>;
  send(message: AgentStatsMessage): void;
  log: Logger;
}

const MIB = 1024 * 1024;

/** Memory in use as `docker stats` shows it: usage less the inactive page cache. */
export function memoryInUse(stats: Record<string, unknown>): number {
  const mem = (stats['memory_stats'] ?? {}) as { usage?: number; stats?: Record<string, number> };
  const usage = mem.usage ?? 0;
  const cache = mem.stats?.['inactive_file'] ?? mem.stats?.['total_inactive_file'] ?? mem.stats?.['cache'] ?? 0;
  return Math.max(0, usage - cache);
}

export function cpuTime(stats: Record<string, unknown>): number | undefined {
  const cpu = (stats['cpu_stats'] ?? {}) as { cpu_usage?: { total_usage?: number } };
  return cpu.cpu_usage?.total_usage;
}

export class StatsSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly previous = new Map<string, Reading>();
  private running = false;

  constructor(private readonly opts: SamplerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.sampleOnce(), this.opts.intervalMs);
    this.timer.unref();
    void this.sampleOnce();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one reading of every running container and sends what it can compute. */
  async sampleOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const seen = new Set<string>();
      const tasks: AgentTaskStats[] = [];
      for (const r of this.opts.tasks()) {
        if (r.status !== 'RUNNING') continue;
        const containers: AgentContainerStats[] = [];
        for (const c of r.containers) {
          if (c.runtimeId === undefined || c.phase !== 'RUNNING') continue;
          seen.add(c.runtimeId);
          let s: Record<string, unknown>;
          try {
            s = await this.opts.stats(c.runtimeId);
          } catch {
            continue;
          }
          const cpuNs = cpuTime(s);
          if (cpuNs === undefined) continue;
          const at = Date.now();
          const prev = this.previous.get(c.runtimeId);
          this.previous.set(c.runtimeId, { cpuNs, at });
          if (!prev || at <= prev.at || cpuNs < prev.cpuNs) continue;
          const cores = (cpuNs - prev.cpuNs) / ((at - prev.at) * 1e6);
          containers.push({ name: c.name, cpuUnits: cores * 1024, memoryMiB: memoryInUse(s) / MIB });
        }
        if (containers.length === 0) continue;
        tasks.push({
          taskArn: r.taskArn,
          cpuUnits: containers.reduce((a, c) => a + c.cpuUnits, 0),
          memoryMiB: containers.reduce((a, c) => a + c.memoryMiB, 0),
          containers,
        });
      }
      for (const id of this.previous.keys()) if (!seen.has(id)) this.previous.delete(id);
      if (tasks.length > 0) this.opts.send({ type: 'stats', at: Date.now(), tasks });
    } catch (err) {
      this.opts.log.warn({ err }, 'resource sampling failed');
    } finally {
      this.running = false;
    }
  }
}

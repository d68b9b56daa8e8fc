import type { Logger } from '../../core/log.js';
import { STATS_INTERVAL_MS, type AgentStatsMessage } from '../../protocol/agent.js';
import type { TaskRecord } from '../engine/model.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { StatsSampler } from './sampler.js';

/**
 * Starts sampling the agent's running containers every STATS_INTERVAL_MS
 * (BERTH_AGENT_STATS_INTERVAL_MS shortens it, for tests and benchmarks).
 */
export function startStatsSampler(opts: { runtime: ContainerRuntime; tasks: () => Iterable<TaskRecord>; send: (m: AgentStatsMessage) => unknown; log: Logger }): StatsSampler {
  const env = Number(process.env.BERTH_AGENT_STATS_INTERVAL_MS);
  const sampler = new StatsSampler({
    intervalMs: Number.isFinite(env) && env > 0 ? env : STATS_INTERVAL_MS,
    tasks: opts.tasks,
    stats: (id) => opts.runtime.stats(id, { oneShot: true }),
    send: (m) => void opts.send(m),
    log: opts.log,
  });
  sampler.start();
  return sampler;
}

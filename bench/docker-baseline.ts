/**
 * Peer figures for Berth's RunTask benchmark: how fast plain `docker run -d`
 * gets a container running on the same machine.
 *
 * `docker run -d` returns once the engine has started the container, so the
 * wall time of the CLI process is "request to running"; each result is then
 * confirmed with `docker inspect`. Containers carry the label
 * `berth.bench=<run id>` and are removed before the functions return, also on
 * failure.
 *
 * Run directly for a quick report:
 *   node dist/bench/docker-baseline.js [runs=20] [burst=50]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_IMAGE = 'berth-test/busybox:latest';
export const DEFAULT_COMMAND: readonly string[] = ['sleep', '300'];
const BENCH_LABEL = 'berth.bench';

export interface LatencyStats {
  n: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  /** Every sample in milliseconds, in the order taken. */
  samplesMs: number[];
}

export interface BurstResult {
  n: number;
  /** From the first spawn until the last container is running. */
  totalMs: number;
  /** Per container, spawn to running. */
  perContainer: LatencyStats;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI; never throws for a non-zero exit. */
export function docker(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the docker CLI; throws with its stderr for a non-zero exit. */
export async function dockerOk(args: readonly string[]): Promise<string> {
  const r = await docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(samplesMs: number[]): LatencyStats {
  return {
    n: samplesMs.length,
    p50Ms: percentile(samplesMs, 50),
    p95Ms: percentile(samplesMs, 95),
    minMs: Math.min(...samplesMs),
    maxMs: Math.max(...samplesMs),
    meanMs: samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length,
    samplesMs,
  };
}

/** `docker run -d`; resolves with the container id and the wall time in ms. */
async function timedRun(image: string, cmd: readonly string[], runId: string): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const id = (await dockerOk(['run', '-d', '--label', `${BENCH_LABEL}=${runId}`, image, ...cmd])).trim();
  return { id, ms: performance.now() - t0 };
}

async function assertRunning(ids: readonly string[]): Promise<void> {
  const out = await dockerOk(['inspect', '--format', '{{.State.Running}}', ...ids]);
  const notRunning = out.trim().split('\n').filter((l) => l !== 'true').length;
  if (notRunning > 0) throw new Error(`${notRunning} of ${ids.length} containers are not running`);
}

async function cleanup(runId: string): Promise<void> {
  const ids = (await dockerOk(['ps', '-aq', '--filter', `label=${BENCH_LABEL}=${runId}`])).split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) await docker(['rm', '-f', ...ids.slice(i, i + 50)]);
}

/**
 * Sequential `docker run -d` latency: `n` containers started one after the
 * other (each removed only at the end), spawn to running.
 */
export async function dockerRunLatency(
  image: string = DEFAULT_IMAGE,
  cmd: readonly string[] = DEFAULT_COMMAND,
  n = 20,
): Promise<LatencyStats> {
  const runId = randomBytes(4).toString('hex');
  try {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const { id, ms } = await timedRun(image, cmd, runId);
      await assertRunning([id]);
      samples.push(ms);
    }
    return summarize(samples);
  } finally {
    await cleanup(runId);
  }
}

/** `n` (default 50) `docker run -d` started at once; time until all are running. */
export async function dockerRunBurst(
  n = 50,
  image: string = DEFAULT_IMAGE,
  cmd: readonly string[] = DEFAULT_COMMAND,
): Promise<BurstResult> {
  const runId = randomBytes(4).toString('hex');
  try {
    const t0 = performance.now();
    const runs = await Promise.all(Array.from({ length: n }, () => timedRun(image, cmd, runId)));
    const totalMs = performance.now() - t0;
    await assertRunning(runs.map((r) => r.id));
    return { n, totalMs, perContainer: summarize(runs.map((r) => r.ms)) };
  } finally {
    await cleanup(runId);
  }
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 20);
  const burst = Number(process.argv[3] ?? 50);
  const seq = await dockerRunLatency(DEFAULT_IMAGE, DEFAULT_COMMAND, runs);
  console.log(`docker run -d, ${seq.n} sequential: p50 ${fmt(seq.p50Ms)}, p95 ${fmt(seq.p95Ms)}, max ${fmt(seq.maxMs)}`);
  const b = await dockerRunBurst(burst);
  console.log(
    `docker run -d, ${b.n} concurrent: all running after ${fmt(b.totalMs)} ` +
      `(per container p50 ${fmt(b.perContainer.p50Ms)}, p95 ${fmt(b.perContainer.p95Ms)})`,
  );
}

/**
 * Placement engine benchmark.
 *
 *   node dist/bench/placement.js            prints the figures
 *   runPlacementBench(opts)                 returns them (for a bench runner)
 *
 * Simulated clusters (1,000 / 5,000 / 10,000 instances by default) across 3
 * availability zones and 3 instance types, 10 tasks already running on every
 * instance. Every request uses spread(attribute:ecs.availability-zone),
 * binpack(memory) and a memberOf constraint on the instance type.
 *
 *   identical  one batch of `batch` identical tasks
 *   mixed      `mixedBatches` small batches (1–10 tasks) varying cpu, memory,
 *              static host ports and task group, each applied before the next
 *              (applying is not timed)
 *
 * Absolute times drift on a shared machine, so the same run also measures a
 * naive engine written below (filter every instance, then fully sort the
 * candidates, for every task) on the same requests, and reports the ratio.
 * The naive engine breaks ties the same way, so its placements must equal the
 * engine's: the run checks it.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseCql } from '../src/scheduler/cql/index.js';
import { applyPlan, place } from '../src/scheduler/engine.js';
import { hashString, mix32 } from '../src/scheduler/random.js';
import { buildSnapshot, type ClusterSnapshot } from '../src/scheduler/snapshot.js';
import type { InstanceSnapshot, PlacementRequest } from '../src/scheduler/types.js';

/** Target: the engine alone places at least this many tasks per second at this cluster size. */
const TARGET_INSTANCES = 5000;
const TARGET_PER_SECOND = 20_000;

export interface PlacementBenchOptions {
  /** Cluster sizes to measure; the cost ratio compares the largest with the smallest. */
  sizes?: number[];
  /** Tasks in the identical batch. */
  batch?: number;
  /** Number of small batches in the mixed workload. */
  mixedBatches?: number;
  /** Time budget of each naive measurement, in ms (it runs fewer tasks than the engine). */
  naiveBudgetMs?: number;
  /** Repetitions of each engine measurement; the median is reported. */
  repeat?: number;
  seed?: number;
  /** Where to print; defaults to console.log. Pass () => {} for silence. */
  log?: (line: string) => void;
}

export interface Throughput {
  placements: number;
  seconds: number;
  perSecond: number;
  microsPerPlacement: number;
}

export interface SizeResult {
  instances: number;
  identical: Throughput;
  mixed: Throughput;
  naiveIdentical: Throughput;
  naiveMixed: Throughput;
  /** Naive cost per placement divided by the engine's. */
  speedupIdentical: number;
  speedupMixed: number;
  /** The naive engine chose the same instances as the engine, in the same order. */
  naiveAgrees: boolean;
  /** Mean time to apply one mixed batch's plan to the snapshot (applyPlan), ms. */
  applyMsPerBatch: number;
}

export interface SnapshotFigures {
  instances: number;
  tasks: number;
  /** Time to build the InstanceSnapshot objects (the control plane's part), ms. */
  objectsMs: number;
  /** buildSnapshot plus the indexes the first batch builds (buckets, postings, load columns, filter codes), ms. */
  buildMs: number;
  /** JS heap held by the instances and the snapshot. */
  heapBytes: number;
  /** The part of `heapBytes` added by buildSnapshot and its indexes, beyond the instance objects. */
  indexHeapBytes: number;
  /** Off-heap typed arrays held by the snapshot indexes. */
  arrayBufferBytes: number;
  bytesPerInstance: number;
  /** Whether a full GC ran before each memory reading (otherwise figures are approximate). */
  gcAvailable: boolean;
}

export interface PlacementBenchResult {
  sizes: SizeResult[];
  /** Engine cost per placement at the largest size divided by the smallest. */
  costRatio: { from: number; to: number; identical: number; mixed: number; naiveIdentical: number };
  snapshot: SnapshotFigures;
}

// ---------------------------------------------------------------------------
// Simulated cluster

const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const TYPES = [
  { name: 'm5.2xlarge', cpu: 8192, memory: 31_600 },
  { name: 'c5.4xlarge', cpu: 16_384, memory: 30_600 },
  { name: 'r5.xlarge', cpu: 4096, memory: 31_700 },
];
const RESERVED_PORTS = [22, 2375, 2376, 51678, 51679];
const CAPABILITIES = [
  'com.amazonaws.ecs.capability.privileged-container',
  'com.amazonaws.ecs.capability.docker-remote-api.1.17',
  'com.amazonaws.ecs.capability.docker-remote-api.1.18',
  'com.amazonaws.ecs.capability.docker-remote-api.1.19',
  'com.amazonaws.ecs.capability.docker-remote-api.1.21',
  'com.amazonaws.ecs.capability.docker-remote-api.1.24',
  'com.amazonaws.ecs.capability.docker-remote-api.1.44',
  'com.amazonaws.ecs.capability.logging-driver.awslogs',
  'com.amazonaws.ecs.capability.logging-driver.json-file',
  'com.amazonaws.ecs.capability.task-iam-role',
  'com.amazonaws.ecs.capability.task-iam-role-network-host',
  'ecs.capability.task-eni',
  'ecs.capability.execution-role-awslogs',
  'ecs.capability.secrets.asm.environment-variables',
  'ecs.capability.container-health-check',
  'ecs.capability.efsAuth',
];
const SERVICES = 200;
export const MEMBER_OF = 'attribute:ecs.instance-type =~ (m5|c5)\\..*';
const STRATEGY = [
  { type: 'spread' as const, field: 'attribute:ecs.availability-zone' },
  { type: 'binpack' as const, field: 'memory' },
];

/** Deterministic pseudo-random integers for the simulation. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/** `count` instances, each running `tasksPerInstance` tasks of assorted services. */
export function simulateCluster(count: number, tasksPerInstance = 10, seed = 1): InstanceSnapshot[] {
  const rnd = lcg(seed);
  const out: InstanceSnapshot[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[i % TYPES.length]!;
    const zone = ZONES[Math.floor(i / TYPES.length) % ZONES.length]!;
    const attributes = new Map<string, string | undefined>([
      ['ecs.availability-zone', zone],
      ['ecs.instance-type', type.name],
      ['ecs.os-type', 'linux'],
      ['ecs.cpu-architecture', 'x86_64'],
      ['ecs.ami-id', 'ami-0fe5f366c083f59ca'],
      ['ecs.vpc-id', 'vpc-0a1b2c3d'],
      ['ecs.subnet-id', `subnet-${zone}`],
      ...CAPABILITIES.map((c) => [c, undefined] as [string, undefined]),
    ]);
    const taskGroups = new Map<string, number>();
    const tcp = [...RESERVED_PORTS];
    let cpu = 0;
    let memory = 0;
    for (let t = 0; t < tasksPerInstance; t++) {
      const service = rnd(SERVICES);
      const group = `service:svc-${service}`;
      taskGroups.set(group, (taskGroups.get(group) ?? 0) + 1);
      cpu += 128 * (1 + rnd(4));
      memory += 256 * (1 + rnd(4));
      if (service % 3 === 0 && !tcp.includes(8000 + service)) tcp.push(8000 + service);
    }
    out.push({
      arn: `arn:aws:ecs:us-east-1:123456789012:container-instance/bench/${(0x10000000 + i).toString(16)}0f3e2d1c0b9a8f7e6d5c4b3a`,
      ec2InstanceId: `i-0${(0x100000000 + i).toString(16)}`,
      status: 'ACTIVE',
      agentConnected: true,
      agentVersion: '1.82.0',
      registeredAt: Date.UTC(2024, 0, 1) + i * 1000,
      attributes,
      remaining: { cpu: type.cpu - cpu, memory: type.memory - memory, gpus: [] },
      usedPorts: { tcp, udp: [] },
      runningTasksCount: tasksPerInstance,
      taskGroups,
    });
  }
  return out;
}

function identicalRequest(count: number): PlacementRequest {
  return {
    group: 'service:bench-web',
    cpu: 256,
    memory: 512,
    count,
    placementConstraints: [{ type: 'memberOf', expression: MEMBER_OF }],
    placementStrategy: STRATEGY,
  };
}

function mixedRequests(batches: number, seed: number): PlacementRequest[] {
  const rnd = lcg(seed ^ 0x9e3779b9);
  return Array.from({ length: batches }, () => {
    const service = rnd(SERVICES);
    return {
      group: `service:svc-${service}`,
      cpu: [128, 256, 512, 1024][rnd(4)]!,
      memory: [256, 512, 1024, 2048][rnd(4)]!,
      tcpPorts: rnd(10) < 3 ? [9000 + rnd(50)] : [],
      count: 1 + rnd(10),
      placementConstraints: [{ type: 'memberOf' as const, expression: MEMBER_OF }],
      placementStrategy: STRATEGY,
    };
  });
}

// ---------------------------------------------------------------------------
// The naive engine: for every task, examine every instance, sort the candidates.

interface NaiveState {
  cpu: Float64Array;
  memory: Float64Array;
  ports: Set<number>[];
  groups: Map<string, number>[];
  running: Int32Array;
}

function naiveState(snapshot: ClusterSnapshot): NaiveState {
  const insts = snapshot.instances;
  return {
    cpu: Float64Array.from(insts, (i) => i.remaining.cpu),
    memory: Float64Array.from(insts, (i) => i.remaining.memory),
    ports: insts.map((i) => new Set(i.usedPorts.tcp)),
    groups: insts.map((i) => new Map(i.taskGroups)),
    running: Int32Array.from(insts, (i) => i.runningTasksCount),
  };
}

/**
 * Places the request's tasks one at a time until `count` or `deadline`
 * (performance.now() value); returns the chosen instance positions. Supports
 * what the benchmark uses: memberOf, cpu, memory, TCP ports, spread by an
 * attribute then binpack on memory.
 */
function naivePlace(snapshot: ClusterSnapshot, state: NaiveState, request: PlacementRequest, seed: number, deadline: number): number[] {
  const insts = snapshot.instances;
  const memberOf = (request.placementConstraints ?? []).map((c) => parseCql(c.expression!));
  const spreadAttr = STRATEGY[0]!.field.slice('attribute:'.length);
  const tieSeed = mix32((seed >>> 0) ^ 0x5bd1e995);
  const tie = (i: number): number => mix32(hashString(insts[i]!.arn) ^ tieSeed);
  const ports = request.tcpPorts ?? [];
  const chosen: number[] = [];
  for (let t = 0; t < request.count && performance.now() < deadline; t++) {
    const candidates: number[] = [];
    for (let i = 0; i < insts.length; i++) {
      const inst = insts[i]!;
      if (inst.status !== 'ACTIVE' || !inst.agentConnected) continue;
      const ctx = { pendingTasks: state.running[i]! - inst.runningTasksCount, pendingGroup: request.group };
      if (!memberOf.every((e) => e.matches(inst, ctx))) continue;
      if (state.cpu[i]! < request.cpu || state.memory[i]! < request.memory) continue;
      if (ports.some((p) => state.ports[i]!.has(p))) continue;
      candidates.push(i);
    }
    if (candidates.length === 0) break;
    const perZone = new Map<string | undefined, number>();
    for (let i = 0; i < insts.length; i++) {
      const z = insts[i]!.attributes.get(spreadAttr);
      perZone.set(z, (perZone.get(z) ?? 0) + (state.groups[i]!.get(request.group) ?? 0));
    }
    const zoneCount = (i: number): number => perZone.get(insts[i]!.attributes.get(spreadAttr))!;
    candidates.sort((a, b) => zoneCount(a) - zoneCount(b) || state.memory[a]! - state.memory[b]! || tie(a) - tie(b) || a - b);
    const w = candidates[0]!;
    chosen.push(w);
    state.cpu[w]! -= request.cpu;
    state.memory[w]! -= request.memory;
    for (const p of ports) state.ports[w]!.add(p);
    state.groups[w]!.set(request.group, (state.groups[w]!.get(request.group) ?? 0) + 1);
    state.running[w]!++;
  }
  return chosen;
}

// ---------------------------------------------------------------------------
// Measurements

function throughput(placements: number, seconds: number): Throughput {
  return {
    placements,
    seconds,
    perSecond: seconds > 0 ? placements / seconds : Infinity,
    microsPerPlacement: placements > 0 ? (seconds * 1e6) / placements : 0,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measureIdentical(snapshot: ClusterSnapshot, batch: number, seed: number, repeat: number): { t: Throughput; arns: string[] } {
  const request = identicalRequest(batch);
  // Untimed runs: the snapshot's lazy indexes, and the JIT, which keeps optimising for a few runs.
  for (let w = 0; w < 10; w++) place(snapshot, request, { seed });
  let arns: string[] = [];
  const times: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    const plan = place(snapshot, request, { seed });
    times.push((performance.now() - start) / 1000);
    arns = plan.placements.map((p) => p.instanceArn);
  }
  return { t: throughput(arns.length, median(times)), arns };
}

function measureMixed(snapshot: ClusterSnapshot, requests: PlacementRequest[], seed: number, repeat: number): { t: Throughput; arns: string[]; applyMs: number } {
  let arns: string[] = [];
  const times: number[] = [];
  let applyMs = 0;
  for (let r = 0; r < repeat; r++) {
    let s = snapshot;
    let seconds = 0;
    let apply = 0;
    arns = [];
    requests.forEach((request, k) => {
      const start = performance.now();
      const plan = place(s, request, { seed: seed + k });
      seconds += (performance.now() - start) / 1000;
      for (const p of plan.placements) arns.push(p.instanceArn);
      const a = performance.now();
      s = applyPlan(s, plan);
      apply += performance.now() - a;
    });
    times.push(seconds);
    applyMs = apply / requests.length;
  }
  return { t: throughput(arns.length, median(times)), arns, applyMs };
}

function measureNaiveIdentical(snapshot: ClusterSnapshot, batch: number, seed: number, budgetMs: number): { t: Throughput; arns: string[] } {
  const start = performance.now();
  const chosen = naivePlace(snapshot, naiveState(snapshot), identicalRequest(batch), seed, start + budgetMs);
  const seconds = (performance.now() - start) / 1000;
  return { t: throughput(chosen.length, seconds), arns: chosen.map((i) => snapshot.instances[i]!.arn) };
}

function measureNaiveMixed(snapshot: ClusterSnapshot, requests: PlacementRequest[], seed: number, budgetMs: number): { t: Throughput; arns: string[] } {
  const state = naiveState(snapshot);
  const arns: string[] = [];
  const start = performance.now();
  const deadline = start + budgetMs;
  for (let k = 0; k < requests.length && performance.now() < deadline; k++) {
    const chosen = naivePlace(snapshot, state, requests[k]!, seed + k, deadline);
    for (const i of chosen) arns.push(snapshot.instances[i]!.arn);
    if (chosen.length < requests[k]!.count) break; // cut by the deadline (or full): later batches would diverge
  }
  const seconds = (performance.now() - start) / 1000;
  return { t: throughput(arns.length, seconds), arns };
}

function gcFunction(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function measureSnapshot(instances: number, seed: number): SnapshotFigures {
  const gc = gcFunction();
  const settle = (): NodeJS.MemoryUsage => {
    gc?.();
    gc?.();
    return process.memoryUsage();
  };
  const before = settle();
  const t0 = performance.now();
  const objects = simulateCluster(instances, 10, seed);
  const t1 = performance.now();
  const withObjects = settle();
  const snapshot = buildSnapshot(objects);
  snapshot.attributeBuckets('ecs.availability-zone');
  snapshot.groupPostings('service:bench-web');
  snapshot.loadColumns();
  place(snapshot, identicalRequest(0), { seed }); // fixed-filter codes and cell index
  const t2 = performance.now();
  const after = settle();
  const heapBytes = after.heapUsed - before.heapUsed;
  const indexHeapBytes = after.heapUsed - withObjects.heapUsed;
  const arrayBufferBytes = after.arrayBuffers - before.arrayBuffers;
  const tasks = objects.reduce((n, i) => n + i.runningTasksCount, 0);
  // Keep the snapshot alive until after the reading.
  if (snapshot.instances.length !== instances) throw new Error('unreachable');
  return {
    instances,
    tasks,
    objectsMs: t1 - t0,
    buildMs: t2 - t1,
    heapBytes,
    indexHeapBytes,
    arrayBufferBytes,
    bytesPerInstance: (heapBytes + arrayBufferBytes) / instances,
    gcAvailable: gc !== undefined,
  };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function runPlacementBench(opts: PlacementBenchOptions = {}): PlacementBenchResult {
  const sizes = opts.sizes ?? [1000, 5000, 10_000];
  const batch = opts.batch ?? 2000;
  const mixedBatches = opts.mixedBatches ?? 300;
  const budget = opts.naiveBudgetMs ?? 1500;
  const repeat = opts.repeat ?? 7;
  const seed = opts.seed ?? 7;
  const log = opts.log ?? ((line: string) => console.log(line));

  log(`placement bench: batch of ${fmt(batch)} identical tasks; ${mixedBatches} mixed batches of 1-10 tasks; 10 tasks running per instance`);
  log(`every request: spread(attribute:ecs.availability-zone), binpack(memory), memberOf(${MEMBER_OF})`);
  log('');
  log('instances | identical: placed  /s         us/placement  naive /s  speedup | mixed: placed  /s        us/placement  naive /s  speedup | naive agrees');

  const results: SizeResult[] = [];
  const requests = mixedRequests(mixedBatches, seed);
  // Warm the JIT on a small cluster so that the first size is not measured cold.
  const warm = buildSnapshot(simulateCluster(Math.min(...sizes), 10, seed + 1));
  for (let k = 0; k < 3; k++) {
    measureIdentical(warm, batch, seed, 1);
    measureMixed(warm, requests, seed, 1);
  }
  for (const n of sizes) {
    const snapshot = buildSnapshot(simulateCluster(n, 10, seed));
    const identical = measureIdentical(snapshot, batch, seed, repeat);
    const mixed = measureMixed(snapshot, requests, seed, repeat);
    const naiveIdentical = measureNaiveIdentical(snapshot, batch, seed, budget);
    const naiveMixed = measureNaiveMixed(snapshot, requests, seed, budget);
    const agrees =
      naiveIdentical.arns.every((a, k) => a === identical.arns[k]) && naiveMixed.arns.every((a, k) => a === mixed.arns[k]);
    const r: SizeResult = {
      instances: n,
      identical: identical.t,
      mixed: mixed.t,
      naiveIdentical: naiveIdentical.t,
      naiveMixed: naiveMixed.t,
      speedupIdentical: naiveIdentical.t.microsPerPlacement / identical.t.microsPerPlacement,
      speedupMixed: naiveMixed.t.microsPerPlacement / mixed.t.microsPerPlacement,
      naiveAgrees: agrees,
      applyMsPerBatch: mixed.applyMs,
    };
    results.push(r);
    log(
      `${fmt(n).padStart(9)} | ${fmt(r.identical.placements).padStart(13)} ${fmt(r.identical.perSecond).padStart(10)} ${fmt(r.identical.microsPerPlacement, 2).padStart(13)} ` +
        `${fmt(r.naiveIdentical.perSecond).padStart(9)} ${fmt(r.speedupIdentical, 0).padStart(7)}x | ` +
        `${fmt(r.mixed.placements).padStart(13)} ${fmt(r.mixed.perSecond).padStart(9)} ${fmt(r.mixed.microsPerPlacement, 2).padStart(13)} ` +
        `${fmt(r.naiveMixed.perSecond).padStart(9)} ${fmt(r.speedupMixed, 0).padStart(7)}x | ${agrees ? 'yes' : 'NO'} ` +
        `(naive ran ${fmt(r.naiveIdentical.placements)} + ${fmt(r.naiveMixed.placements)} tasks)`,
    );
  }

  const first = results[0]!;
  const last = results[results.length - 1]!;
  const costRatio = {
    from: first.instances,
    to: last.instances,
    identical: last.identical.microsPerPlacement / first.identical.microsPerPlacement,
    mixed: last.mixed.microsPerPlacement / first.mixed.microsPerPlacement,
    naiveIdentical: last.naiveIdentical.microsPerPlacement / first.naiveIdentical.microsPerPlacement,
  };
  log('');
  log(
    `cost per placement, ${fmt(costRatio.to)} vs ${fmt(costRatio.from)} instances (${fmt(costRatio.to / costRatio.from)}x the instances): ` +
      `identical ${fmt(costRatio.identical, 2)}x, mixed ${fmt(costRatio.mixed, 2)}x (naive identical ${fmt(costRatio.naiveIdentical, 2)}x)`,
  );
  log(`applying a mixed batch's plan (applyPlan, not timed above): ${results.map((r) => `${fmt(r.applyMsPerBatch, 3)} ms at ${fmt(r.instances)}`).join(', ')}`);
  const atTarget = results.find((r) => r.instances === TARGET_INSTANCES);
  if (atTarget !== undefined) {
    const verdict = (perSecond: number) => `${perSecond >= TARGET_PER_SECOND ? 'met' : 'NOT met'} (${fmt(perSecond)})`;
    log(
      `target >= ${fmt(TARGET_PER_SECOND)} placements/s at ${fmt(TARGET_INSTANCES)} instances -> identical ${verdict(atTarget.identical.perSecond)}, mixed ${verdict(atTarget.mixed.perSecond)}`,
    );
  }
  const growth = costRatio.to / costRatio.from;
  const linear = (ratio: number) => `${ratio <= growth ? 'met' : 'NOT met'} (${fmt(ratio, 2)}x)`;
  log(`target cost growth no worse than linear (<= ${fmt(growth)}x) -> identical ${linear(costRatio.identical)}, mixed ${linear(costRatio.mixed)}`);

  const snapshot = measureSnapshot(Math.max(...sizes), seed);
  log(
    `snapshot of ${fmt(snapshot.instances)} instances / ${fmt(snapshot.tasks)} tasks: objects ${fmt(snapshot.objectsMs, 1)} ms, ` +
      `build + indexes ${fmt(snapshot.buildMs, 1)} ms, heap ${fmt(snapshot.heapBytes / 1048576, 1)} MiB ` +
      `(of which indexes ${fmt(snapshot.indexHeapBytes / 1048576, 1)} MiB) + typed arrays ` +
      `${fmt(snapshot.arrayBufferBytes / 1048576, 2)} MiB (${fmt(snapshot.bytesPerInstance)} bytes/instance)${snapshot.gcAvailable ? '' : ' [no GC control: approximate]'}`,
  );
  return { sizes: results, costRatio, snapshot };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runPlacementBench();
}

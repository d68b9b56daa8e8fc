// The cost of the load balancers' CloudWatch metrics: requests/s through
// Berth's HAProxy data plane (ten application load balancers, one listener
// and one target group of three nginx backends each) under autocannon in
// its own process, with the metrics collection running every second (60
// times its default rate) and without it, in alternating rounds; and the
// time one collection takes (read the counters, map them to ELB metrics,
// store them) beside one read of target health, the same `show stat` round
// trip the data plane makes every second anyway.
//
//   node dist/bench/elb-metrics.js [--seconds 6] [--rounds 4] [--connections 64] [--balancers 10]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAProxyDataPlane } from '../src/dataplane/haproxy/haproxyDataPlane.js';
import { targetGroup, type DataPlaneConfig } from '../src/dataplane/model.js';
import { freePort, waitFor } from '../src/dataplane/testing.js';
import type { TrafficCounters } from '../src/dataplane/traffic.js';
import { elbMetrics, type MeteredLoadBalancer } from '../src/elbv2/metrics.js';
import { MetricStorage } from '../src/metrics/storage.js';
import { cpuSecondsOfTree, fmt, printRow, stats } from './lib.js';
import { answers, findNginx, load, startProcess } from './loadbalancer.js';

interface Options {
  seconds: number;
  rounds: number;
  connections: number;
  balancers: number;
}

const arn = (kind: string, i: number) =>
  kind === 'lb' ? `arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/bench-${i}/${i.toString(16).padStart(16, '0')}` : `arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench-${i}/${i.toString(16).padStart(16, '0')}`;

function config(ports: number[], backends: number[]): DataPlaneConfig {
  return {
    targetGroups: ports.map((_, i) => targetGroup({ id: arn('tg', i), targets: backends.map((p) => ({ host: '127.0.0.1', port: p })), healthCheck: { intervalSeconds: 2, timeoutSeconds: 1, healthyThreshold: 2 } })),
    loadBalancers: ports.map((port, i) => ({
      id: arn('lb', i),
      type: 'application' as const,
      idleTimeoutSeconds: 60,
      listeners: [{ id: `l${i}`, port, protocol: 'HTTP' as const, bindHost: '127.0.0.1', rules: [], defaultAction: { type: 'forward' as const, targetGroups: [{ targetGroupId: arn('tg', i) }] } }],
    })),
  };
}

export async function runElbMetricsBench(opts: Partial<Options> = {}): Promise<void> {
  const o: Options = { seconds: 6, rounds: 4, connections: 64, balancers: 10, ...opts };
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-elbm-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const backends = [await freePort(), await freePort(), await freePort()];
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`).join('\n');
    writeFileSync(
      join(dir, 'backends.conf'),
      `worker_processes 1;\ndaemon off;\npid ${dir}/backends.pid;\nerror_log ${dir}/backends.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n${temp}\n  keepalive_requests 100000;\n${backends
        .map((p, i) => `  server { listen 127.0.0.1:${p}; location / { return 200 "backend ${i + 1}\\n"; } }`)
        .join('\n')}\n}\n`,
    );
    stops.push((await startProcess(findNginx(), ['-e', `${dir}/backends.log`, '-p', dir, '-c', join(dir, 'backends.conf')], () => answers(`http://127.0.0.1:${backends[0]}/`))).stop);

    const ports: number[] = [];
    for (let i = 0; i < o.balancers; i++) ports.push(await freePort());
    const plane = new HAProxyDataPlane({ dir: join(dir, 'berth'), healthPollMs: 1000 });
    await plane.start();
    stops.push(() => plane.stop());
    await plane.apply(config(ports, backends));
    await waitFor('targets healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined), 30_000, 200);
    const url = `http://127.0.0.1:${ports[0]}/`;
    if (!(await answers(url))) throw new Error(`the load balancer does not answer at ${url}`);

    const storage = new MetricStorage();
    const metered: MeteredLoadBalancer[] = ports.map((_, i) => ({ arn: arn('lb', i), type: 'application', targetGroupArns: [arn('tg', i)] }));
    let previous: TrafficCounters | undefined;
    const collectMs: number[] = [];
    const collect = async () => {
      const started = process.hrtime.bigint();
      const counters = await plane.traffic();
      const now = Date.now();
      for (const m of elbMetrics(metered, previous, counters)) {
        storage.put({ namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions }, now / 1000, typeof m.value === 'number' ? { kind: 'values', values: [m.value] } : { kind: 'set', ...m.value }, m.unit, 1, now);
      }
      previous = counters;
      collectMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    };
    const healthMs: number[] = [];
    const readHealth = async () => {
      const started = process.hrtime.bigint();
      await plane.targetHealth();
      healthMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    };

    const rps = { with: [] as number[], without: [] as number[] };
    // Requests per CPU-second of HAProxy's processes: steady on a shared machine, where req/s is not.
    const perCpu = { with: [] as number[], without: [] as number[] };
    const haproxy = plane.pids[0] as number;
    for (let r = 0; r < o.rounds; r++) {
      for (const mode of r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
        const cpuBefore = cpuSecondsOfTree(haproxy);
        const run = load(url, o.connections, o.seconds);
        let timer: NodeJS.Timeout | undefined;
        if (mode === 'with') {
          timer = setInterval(() => {
            void collect().catch(() => undefined);
          }, 1000);
        }
        const result = await run.result;
        clearInterval(timer);
        rps[mode].push(result.requests.average);
        perCpu[mode].push(result['2xx'] / Math.max(1e-9, cpuSecondsOfTree(haproxy) - cpuBefore));
      }
    }
    for (let i = 0; i < 200; i++) {
      await collect();
      await readHealth();
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    console.log(`\nLoad balancer metrics (${o.balancers} ALBs, ${o.rounds} rounds of ${o.seconds} s, ${o.connections} connections; ${storage.size} series stored)`);
    printRow('req/s with metrics collected every second', median(rps.with), median(rps.without), 'req/s', 'without');
    printRow('requests per HAProxy CPU-second, with', median(perCpu.with), median(perCpu.without), 'req', 'without');
    const roundRatios = rps.with.map((x, i) => x / (rps.without[i] ?? NaN));
    const c = stats(collectMs);
    const h = stats(healthMs);
    printRow('one collection, p50', c.p50, h.p50, 'ms', 'health read');
    printRow('one collection, p99', c.p99, h.p99, 'ms', 'health read');
    console.log(`  median of the rounds' req/s ratios ${fmt(median(roundRatios))} (rounds: ${roundRatios.map((x) => fmt(x)).join(', ')})`);
    console.log(`  target: requests per HAProxy CPU-second with collection >= 0.97x without -> ${median(perCpu.with) / median(perCpu.without) >= 0.97 ? 'met' : 'NOT met'}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  await runElbMetricsBench({ seconds: arg('seconds', 6), rounds: arg('rounds', 4), connections: arg('connections', 64), balancers: arg('balancers', 10) });
}

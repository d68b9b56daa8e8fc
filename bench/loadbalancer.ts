// Load-balancer data plane: Berth's HAProxy data plane (an application load
// balancer with ten rules) against a hand-written haproxy.cfg and an nginx
// reverse proxy, all to the same three backends on loopback, in the same run.
//
//   node dist/bench/loadbalancer.js [--seconds 6] [--rounds 3] [--connections 64] [--samples 5000] [--changes 100]
//
// Figures: requests/s under autocannon (in its own process), added p50/p99
// latency over hitting a backend directly (sequential keep-alive requests,
// timed in this process), and failed requests (non-2xx and errors) while the
// data plane takes 100 target and rule changes under load.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HAProxyDataPlane, findHAProxy } from '../src/dataplane/haproxy/haproxyDataPlane.js';
import { targetGroup, type DataPlaneConfig, type Rule } from '../src/dataplane/model.js';
import { freePort, waitFor } from '../src/dataplane/testing.js';
import { cpuSecondsOfTree, fmt, printRow, stats } from './lib.js';

interface Options {
  seconds: number;
  rounds: number;
  connections: number;
  samples: number;
  changes: number;
}

interface LoadResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));

/** Debian installs nginx in /usr/sbin, which a user's PATH may lack. */
export function findNginx(): string {
  return ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';
}

/** Starts a process and resolves once `ready` answers; `stop` ends it (SIGTERM, then SIGKILL). */

export async function startProcess(cmd: string, args: string[], ready: () => Promise<boolean>): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(`${cmd} to start (${stderr.trim()})`, async () => {
    if (child.exitCode !== null) throw new Error(`${cmd} exited: ${stderr}`);
    return (await ready()) ? true : undefined;
  }, 15_000, 50);
  return {
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

/** autocannon in its own process against `url`; `seconds` 0 runs until `stop`. */
export function load(url: string, connections: number, seconds: number): { stop(): void; result: Promise<LoadResult> } {
  const child = spawn(process.execPath, [LOADGEN, url, String(connections), String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const result = new Promise<LoadResult>((resolve, reject) => {
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`load generator exited with ${code} and no result`));
      }
    });
  });
  return { stop: () => child.stdin.write('stop\n'), result };
}

/** Sequential keep-alive GETs; latencies in ms. */
async function probe(url: string, agent: Agent, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    out.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return out;
}

/** Ten rules of the kinds ALBs carry; requests to /app/... match the last one (priority 100). */
function tenRules(): Rule[] {
  const rules: Rule[] = [];
  for (let i = 1; i <= 9; i++) {
    const conditions: Rule['conditions'] = [
      [{ field: 'path-pattern' as const, values: [`/svc${i}/*`, `/v${i}/api/*`] }],
      [{ field: 'host-header' as const, values: [`svc${i}.example.com`] }],
      [{ field: 'http-header' as const, headerName: 'X-Tenant', values: [`tenant-${i}`] }],
      [{ field: 'query-string' as const, values: [{ key: 'svc', value: `${i}*` }] }],
    ][i % 4] as Rule['conditions'];
    rules.push({ priority: i * 10, conditions, action: { type: 'fixed-response', statusCode: 404, messageBody: `rule ${i}` } });
  }
  rules.push({ priority: 100, conditions: [{ field: 'path-pattern', values: ['/app/*'] }, { field: 'http-request-method', values: ['GET', 'HEAD'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'app' }] } });
  return rules;
}

function albConfig(port: number, backends: number[], extraRules = 0): DataPlaneConfig {
  const rules = tenRules();
  for (let i = 0; i < extraRules; i++) rules.push({ priority: 200 + i, conditions: [{ field: 'path-pattern', values: [`/extra/${i}`] }], action: { type: 'fixed-response', statusCode: 404 } });
  return {
    targetGroups: [targetGroup({ id: 'app', targets: backends.map((p) => ({ host: '127.0.0.1', port: p })), healthCheck: { intervalSeconds: 2, timeoutSeconds: 1, healthyThreshold: 2 }, deregistrationDelaySeconds: 1 })],
    loadBalancers: [
      {
        id: 'bench-alb',
        type: 'application',
        idleTimeoutSeconds: 60,
        listeners: [{ id: 'http', port, protocol: 'HTTP', bindHost: '127.0.0.1', rules, defaultAction: { type: 'fixed-response', statusCode: 404, messageBody: 'no route' } }],
      },
    ],
  };
}

export async function runLoadBalancerBench(opts: Partial<Options> = {}): Promise<void> {
  const o: Options = { seconds: 6, rounds: 3, connections: 64, samples: 5000, changes: 100, ...opts };
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-lb-'));
  const nginx = findNginx();
  const stops: (() => Promise<void>)[] = [];
  try {
    // ---- three backends: one nginx process, one server block each ----------------
    const backendPorts = [await freePort(), await freePort(), await freePort(), await freePort()];
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`).join('\n');
    writeFileSync(
      join(dir, 'backends.conf'),
      `worker_processes 1;\ndaemon off;\npid ${dir}/backends.pid;\nerror_log ${dir}/backends.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n${temp}\n  keepalive_requests 100000;\n${backendPorts
        .map((p, i) => `  server { listen 127.0.0.1:${p}; location / { return 200 "backend ${i + 1}\\n"; } }`)
        .join('\n')}\n}\n`,
    );
    stops.push((await startProcess(nginx, ['-e', `${dir}/backends.log`, '-p', dir, '-c', join(dir, 'backends.conf')], () => answers(`http://127.0.0.1:${backendPorts[0]}/`))).stop);
    const three = backendPorts.slice(0, 3);

    // ---- peers: hand-written haproxy.cfg and nginx ---------------------------------
    const handPort = await freePort();
    writeFileSync(
      join(dir, 'hand-haproxy.cfg'),
      [
        'defaults',
        '  mode http',
        '  timeout connect 5s',
        '  timeout client 60s',
        '  timeout server 60s',
        'frontend app',
        `  bind 127.0.0.1:${handPort}`,
        '  default_backend app',
        'backend app',
        '  balance roundrobin',
        ...three.map((p, i) => `  server s${i + 1} 127.0.0.1:${p} check`),
        '',
      ].join('\n'),
    );
    const hand = await startProcess(findHAProxy(), ['-W', '-f', join(dir, 'hand-haproxy.cfg')], () => answers(`http://127.0.0.1:${handPort}/app/x`));
    stops.push(hand.stop);

    const nginxPort = await freePort();
    writeFileSync(
      join(dir, 'proxy.conf'),
      `worker_processes auto;\ndaemon off;\npid ${dir}/proxy.pid;\nerror_log ${dir}/proxy.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n${temp}\n  upstream app {\n${three
        .map((p) => `    server 127.0.0.1:${p};`)
        .join('\n')}\n    keepalive 128;\n  }\n  server {\n    listen 127.0.0.1:${nginxPort};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`,
    );
    const nginxProxy = await startProcess(nginx, ['-e', `${dir}/proxy.log`, '-p', dir, '-c', join(dir, 'proxy.conf')], () => answers(`http://127.0.0.1:${nginxPort}/app/x`));
    stops.push(nginxProxy.stop);

    // ---- Berth's data plane ----------------------------------------------------------
    const berthPort = await freePort();
    const plane = new HAProxyDataPlane({ dir: join(dir, 'berth'), healthPollMs: 1000 });
    await plane.start();
    stops.push(() => plane.stop());
    await plane.apply(albConfig(berthPort, three));
    await waitFor('Berth ALB healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined), 30_000, 200);

    const processOf = new Map<string, number>([
      ['Berth ALB (10 rules)', plane.pids[0] as number],
      ['hand-written HAProxy', hand.pid],
      ['nginx', nginxProxy.pid],
    ]);
    const cpu = new Map<string, { seconds: number; requests: number }>();
    const targets: [string, string][] = [
      ['backend directly', `http://127.0.0.1:${three[0]}/app/x`],
      ['Berth ALB (10 rules)', `http://127.0.0.1:${berthPort}/app/x`],
      ['hand-written HAProxy', `http://127.0.0.1:${handPort}/app/x`],
      ['nginx', `http://127.0.0.1:${nginxPort}/app/x`],
    ];
    for (const [name, url] of targets) if (!(await answers(url))) throw new Error(`${name} does not answer 200 at ${url}`);

    // ---- throughput: rounds of each, order rotated every round -------------------
    // The machine may be shared: each round measures all four back to back
    // (starting with a different one each time), and the ratios compare
    // figures from the same round; the median round counts.
    console.log(`  throughput: autocannon, ${o.connections} connections, ${o.seconds} s each, ${o.rounds} rounds (${fmt(o.rounds * targets.length * o.seconds, 0)} s)`);
    const perRound: Map<string, LoadResult>[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const results = new Map<string, LoadResult>();
      for (let k = 0; k < targets.length; k++) {
        const [name, url] = targets[(round + k) % targets.length] as [string, string];
        const pid = processOf.get(name);
        const cpuBefore = pid ? cpuSecondsOfTree(pid) : 0;
        const r = await load(url, o.connections, o.seconds).result;
        if (pid) {
          const c = cpu.get(name) ?? { seconds: 0, requests: 0 };
          c.seconds += cpuSecondsOfTree(pid) - cpuBefore;
          c.requests += r['2xx'];
          cpu.set(name, c);
        }
        if (r.non2xx + r.errors > 0) console.log(`  ! ${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        results.set(name, r);
      }
      perRound.push(results);
      console.log(`  round ${round + 1}: ${targets.map(([n]) => `${n} ${fmt(results.get(n)?.requests.average ?? NaN, 0)}`).join(', ')} req/s`);
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((x, y) => x - y);
      return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
    };
    const rps = (name: string) => median(perRound.map((r) => r.get(name)?.requests.average ?? NaN));
    const ratio = (peer: string) => median(perRound.map((r) => (r.get('Berth ALB (10 rules)')?.requests.average ?? NaN) / (r.get(peer)?.requests.average ?? NaN)));
    const row = (peer: string, label: string) =>
      console.log(`  ${'req/s (median of rounds), Berth ALB'.padEnd(44)} ${fmt(rps('Berth ALB (10 rules)')).padStart(10)} req/s  | ${label} ${fmt(rps(peer)).padStart(10)} req/s  | median ratio of rounds ${fmt(ratio(peer))}`);
    row('hand-written HAProxy', 'hand HAProxy');
    row('nginx', 'nginx');
    row('backend directly', 'direct');
    for (const [name] of targets) {
      const lat = perRound.map((r) => r.get(name)?.latency);
      console.log(`  ${name.padEnd(24)} autocannon latency p50 ${lat.map((l) => l?.p50).join('/')} ms, p99 ${lat.map((l) => l?.p99).join('/')} ms (per round)`);
    }
    const perCpuSecond = (name: string) => {
      const c = cpu.get(name);
      return c && c.seconds > 0 ? c.requests / c.seconds : NaN;
    };
    printRow('requests per proxy CPU-second, Berth ALB', perCpuSecond('Berth ALB (10 rules)'), perCpuSecond('hand-written HAProxy'), 'req', 'hand HAProxy');
    printRow('requests per proxy CPU-second, Berth ALB', perCpuSecond('Berth ALB (10 rules)'), perCpuSecond('nginx'), 'req', 'nginx');
    console.log(`  target: Berth >= 0.9x hand-written HAProxy req/s -> ${ratio('hand-written HAProxy') >= 0.9 ? 'met' : 'NOT met'} (median ratio of rounds); per CPU-second ${perCpuSecond('Berth ALB (10 rules)') / perCpuSecond('hand-written HAProxy') >= 0.9 ? 'met' : 'NOT met'}`);

    // ---- added latency: sequential keep-alive requests, interleaved ------------------
    const samples = new Map<string, number[]>(targets.map(([n]) => [n, []]));
    const agents = new Map(targets.map(([n]) => [n, new Agent({ keepAlive: true, maxSockets: 1 })]));
    for (const [name, url] of targets) await probe(url, agents.get(name) as Agent, 200);
    // One request to each in turn, so machine noise falls on all alike.
    for (let k = 0; k < o.samples; k++) {
      for (const [name, url] of targets) (samples.get(name) as number[]).push(...(await probe(url, agents.get(name) as Agent, 1)));
    }
    for (const a of agents.values()) a.destroy();
    const direct = stats(samples.get('backend directly') ?? []);
    console.log(`  latency over one keep-alive connection each, ${o.samples} sequential requests to each in turn; direct p50 ${fmt(direct.p50 * 1000, 0)} us, p99 ${fmt(direct.p99 * 1000, 0)} us`);
    const added = (name: string) => {
      const s = stats(samples.get(name) ?? []);
      return { p50: (s.p50 - direct.p50) * 1000, p99: (s.p99 - direct.p99) * 1000 };
    };
    const berthAdded = added('Berth ALB (10 rules)');
    const handAdded = added('hand-written HAProxy');
    const nginxAdded = added('nginx');
    printRow('added p50 latency, Berth ALB', berthAdded.p50, handAdded.p50, 'us', 'hand HAProxy');
    printRow('added p99 latency, Berth ALB', berthAdded.p99, handAdded.p99, 'us', 'hand HAProxy');
    printRow('added p50 latency, Berth ALB', berthAdded.p50, nginxAdded.p50, 'us', 'nginx');
    printRow('added p99 latency, Berth ALB', berthAdded.p99, nginxAdded.p99, 'us', 'nginx');
    console.log(`  target: added p99 <= 1 ms -> ${berthAdded.p99 <= 1000 ? 'met' : 'NOT met'} (${fmt(berthAdded.p99, 0)} us)`);

    // ---- changes under load ----------------------------------------------------------
    const running = load(`http://127.0.0.1:${berthPort}/app/x`, Math.min(o.connections, 32), 0);
    await new Promise((r) => setTimeout(r, 1000));
    let reloads = 0;
    let inPlace = 0;
    let targetSet = [three[0] as number, three[1] as number];
    let extraRules = 0;
    const started = Date.now();
    for (let i = 0; i < o.changes; i++) {
      // Two of three changes move targets (the first backend always stays), the third adds or drops a rule.
      if (i % 3 !== 2) targetSet = [backendPorts[0] as number, ...backendPorts.slice(1).filter((_, k) => (((i + 1) >> k) & 1) === 1)];
      else extraRules = (extraRules + 1) % 5;
      const outcome = await plane.apply(albConfig(berthPort, targetSet, extraRules));
      if (outcome.reloaded) reloads++;
      else inPlace++;
    }
    const changeSeconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    running.stop();
    const during = await running.result;
    const failed = during.non2xx + during.errors + during.timeouts;
    console.log(
      `  ${o.changes} changes under load (${inPlace} target changes in place, ${reloads} rule changes by seamless reload) in ${fmt(changeSeconds, 1)} s: ${during['2xx']} requests answered 2xx, ${failed} failed (non-2xx ${during.non2xx}, errors ${during.errors}, timeouts ${during.timeouts})`,
    );
    printRow('failed requests during changes, Berth', failed, 0, 'req', 'target');
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const given: Partial<Options> = {};
  for (const k of ['seconds', 'rounds', 'connections', 'samples', 'changes'] as const) {
    const v = opt(k);
    if (v !== undefined) given[k] = v;
  }
  await runLoadBalancerBench(given);
}

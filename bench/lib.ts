import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** Percentiles of a sample (milliseconds in, milliseconds out). */
export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** Prints one figure next to its peer from the same run, with the ratio. */
export function printRow(label: string, ours: number, peer: number, unit: string, peerName: string): void {
  const ratio = ours / peer;
  console.log(`  ${label.padEnd(44)} ${fmt(ours).padStart(10)} ${unit.padEnd(6)} | ${peerName} ${fmt(peer).padStart(10)} ${unit.padEnd(6)} | ratio ${fmt(ratio)}`);
}

export interface SignedCall {
  headers: Record<string, string>;
  body: string;
}

/**
 * Signs one ECS request. A SigV4 signature stays valid for 15 minutes, so the
 * same signed request can be replayed by a load generator; the server still
 * verifies it in full every time.
 */
export async function signEcs(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  operation: string,
  input: unknown,
  region = 'us-east-1',
): Promise<SignedCall> {
  const url = new URL(endpoint);
  const body = JSON.stringify(input);
  const signer = new SignatureV4({ credentials, region, service: 'ecs', sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonEC2ContainerServiceV20141113.${operation}`,
      },
      body,
    }),
  );
  return { headers: signed.headers as Record<string, string>, body };
}

/** Sends one request over a keep-alive agent; resolves with status and latency in ms. */
export function send(endpoint: string, agent: Agent, call: SignedCall): Promise<{ status: number; ms: number }> {
  const url = new URL(endpoint);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/', method: 'POST', agent, headers: { ...call.headers, 'content-length': Buffer.byteLength(call.body) } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      },
    );
    req.on('error', reject);
    req.end(call.body);
  });
}

/** Sequential requests on one keep-alive connection: latency figures. */
export async function latency(endpoint: string, call: SignedCall, n: number, warmup = 200): Promise<Stats> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < warmup; i++) await send(endpoint, agent, call);
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await send(endpoint, agent, call);
      if (r.status !== 200) throw new Error(`HTTP ${r.status} during latency run`);
      samples.push(r.ms);
    }
    return stats(samples);
  } finally {
    agent.destroy();
  }
}

/** `concurrency` keep-alive connections sending for `seconds`: requests per second. */
export async function throughput(endpoint: string, call: SignedCall, concurrency: number, seconds: number): Promise<{ rate: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          const r = await send(endpoint, agent, call);
          if (r.status === 200) done++;
          else errors++;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: done / elapsed, errors };
}

/** Starts a child process and waits until it prints a line matching `ready`. */
export function spawnUntil(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not become ready`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code}`));
    });
  });
}

/** Runs a command to completion; its output, or an error with it when it exits non-zero. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<string> {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(input ?? '');
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${out}`)))),
  );
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * CPU seconds (user + system) used so far by a process and all its
 * descendants, from /proc: a proxy's cost per request, which, unlike req/s,
 * hardly depends on what else the machine runs.
 */
export function cpuSecondsOfTree(root: number): number {
  let total = 0;
  const seen = new Set<number>();
  const visit = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (child) visit(Number(child));
      }
    } catch {
      // exited meanwhile
    }
  };
  visit(root);
  return total;
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The median of a sample (NaN for none). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * A temporary directory for a benchmark's servers (Berth and Debian's
 * docker-registry as child processes, their data inside it) and the Docker
 * CLI's configuration; `remove` stops the servers cleanly before deleting it.
 */
export class BenchWorkspace {
  readonly path: string;
  /** The environment for the Docker CLI: its config (the logins) lives in the workspace. */
  readonly dockerEnv: NodeJS.ProcessEnv;
  /** Image references the benchmark made in the Docker Engine; `remove` removes them. */
  readonly images: string[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(prefix: string) {
    this.path = mkdtempSync(join(tmpdir(), prefix));
    this.dockerEnv = { ...process.env, DOCKER_CONFIG: join(this.path, 'docker-config') };
  }

  /** `berth server` on a free port with its data in `berth/` and `credentials` as its root pair; resolves once it listens. */
  async startBerth(credentials: { accessKeyId: string; secretAccessKey: string }): Promise<{ child: ChildProcess; url: string; host: string }> {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const env = { ...process.env, BERTH_ACCESS_KEY_ID: credentials.accessKeyId, BERTH_SECRET_ACCESS_KEY: credentials.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
    const berth = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(this.path, 'berth')], /listening on (http:\/\/\S+)/, env);
    this.children.push(berth.child);
    const url = berth.match[1]!;
    return { child: berth.child, url, host: new URL(url).host };
  }

  /**
   * Debian's docker-registry, anonymous, on a free loopback port, with its
   * configuration in `<name>.yml` and its data in `<name>/` (with `proxyOf`,
   * a pull-through cache of that registry URL); resolves once it answers.
   */
  async startDockerRegistry(name: string, opts: { deleteEnabled?: boolean; proxyOf?: string } = {}): Promise<{ child: ChildProcess; host: string }> {
    const host = `127.0.0.1:${await freePort()}`;
    const config = join(this.path, `${name}.yml`);
    const deletes = opts.deleteEnabled ? '  delete:\n    enabled: true\n' : '';
    // `proxy`: the registry as a pull-through cache of another (its own mirror mode).
    const proxy = opts.proxyOf !== undefined ? `proxy:\n  remoteurl: ${opts.proxyOf}\n` : '';
    writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(this.path, name)}\n${deletes}http:\n  addr: ${host}\n${proxy}`);
    const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    this.children.push(child);
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
      if (res?.status === 200 || res?.status === 401) return { child, host };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no registry answered at ${host}`);
  }

  /** `docker login` to `host` with an ECR authorization token (base64 of AWS:password), into this workspace's config. */
  async dockerLogin(host: string, token: string): Promise<void> {
    await run('docker', ['login', '--username', 'AWS', '--password-stdin', host], this.dockerEnv, Buffer.from(token, 'base64').toString().slice(4));
  }

  /**
   * A build context `ctx-<n>/` of an image of `layers` fresh random layers of
   * `layerBytes` each on the local busybox image, so that every push uploads
   * all of them (a layer pushed before would be mounted, not uploaded).
   */
  imageContext(n: number, layers: number, layerBytes: number): string {
    const ctx = join(this.path, `ctx-${n}`);
    mkdirSync(ctx);
    let dockerfile = 'FROM berth-test/busybox:latest\n';
    for (let i = 0; i < layers; i++) {
      writeFileSync(join(ctx, `layer-${i}.bin`), randomBytes(layerBytes));
      dockerfile += `COPY layer-${i}.bin /data/layer-${i}.bin\n`;
    }
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return ctx;
  }

  /**
   * Removes the benchmark's images, stops the servers (SIGTERM) and waits
   * for them to exit, since their clean stop writes into the directory, then
   * deletes it.
   */
  async remove(): Promise<void> {
    if (this.images.length) await run('docker', ['rmi', '-f', ...this.images], this.dockerEnv).catch(() => undefined);
    await Promise.all(this.children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(undefined) : c.once('exit', resolve).kill('SIGTERM')))));
    rmSync(this.path, { recursive: true, force: true });
  }
}

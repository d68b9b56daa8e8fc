import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { DeregisterScalableTargetCommand, type ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import {
  CreateClusterCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  paginateListTasks,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type Task,
} from '@aws-sdk/client-ecs';
import { CreateTargetGroupCommand, ModifyTargetGroupAttributesCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startServer, type RunningServer, type ServerConfig } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BERTH_BIN = join(REPO_ROOT, 'bin', 'berth.js');

export const TEST_CREDENTIALS = { accessKeyId: 'AKIATESTBERTH0000001', secretAccessKey: 'test-secret-key-for-berth-tests-0000000' };

export function tempDir(prefix = 'berth-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function ecsClient(endpoint: string, credentials = TEST_CREDENTIALS, region = 'us-east-1'): ECSClient {
  return new ECSClient({ endpoint, region, credentials, maxAttempts: 1 });
}

/** Every file under `dir`, recursively, as full paths. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((p) => !statSync(p).isDirectory());
}

/** Expects `p` to reject with an instance of `cls` whose message matches `message`. */
export async function rejectsWith(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/**
 * A server in this process with fixed test credentials and its own data dir;
 * `options` adds settings of the server (timeouts, garbage collection...).
 */
export async function startTestServer(
  extra: { region?: string; accountId?: string; options?: Partial<Omit<ServerConfig, 'host' | 'port' | 'dataDir' | 'region' | 'accountId'>> } = {},
): Promise<
  RunningServer & { ecs: ECSClient; dataDir: string; stop(): Promise<void> }
> {
  const dir = tempDir();
  process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir.path,
    region: extra.region ?? 'us-east-1',
    accountId: extra.accountId ?? '000000000000',
    log: silentLogger(),
    synchronous: 'normal',
    ...extra.options,
  });
  const ecs = ecsClient(server.url, TEST_CREDENTIALS, extra.region ?? 'us-east-1');
  return {
    ...server,
    ecs,
    dataDir: dir.path,
    async stop() {
      ecs.destroy();
      await server.close();
      dir.remove();
    },
  };
}

/** A `berth server` child process, for tests that kill and restart it. */
export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** What the process wrote to stderr (its JSON log lines) so far. */
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A port that was free a moment ago, for a server that must come back on the same address. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function spawnServer(dataDir: string, args: string[] = [], env: Record<string, string> = {}, port = 0): Promise<ServerProcess> {
  return spawnBerth('server', dataDir, args, env, port, 'berth server did not start');
}

/**
 * `berth up`: the server and one agent in the default cluster; ready once it
 * prints the cluster's container instance.
 */
export function spawnUp(dataDir: string, env: Record<string, string> = {}, port = 0, args: string[] = []): Promise<ServerProcess> {
  return spawnBerth('up', dataDir, args, env, port, 'berth up did not report its container instance', /has one container instance/);
}

function spawnBerth(
  command: 'server' | 'up',
  dataDir: string,
  args: string[],
  env: Record<string, string>,
  port: number,
  notReady: string,
  ready = /listening on/,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BERTH_BIN, command, '--port', String(port), '--data-dir', dataDir, ...args], {
    env: {
      ...process.env,
      BERTH_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      BERTH_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      BERTH_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${notReady} within 30 s: ${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m && ready.test(out)) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          stderr: () => stderr,
          kill: (signal = 'SIGKILL') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth ${command} exited with ${code}: ${stderr}`));
    });
  });
}

/** Polls `fn` (errors count as "not yet") until it returns a value; fails after `ms` naming `what` and the last error. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A `berth agent` child process. */
export interface AgentProcess {
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `berth agent` against `endpoint` (1024 CPU units and 1 GiB unless
 * told otherwise); resolves once it has registered.
 */
export function spawnAgent(
  endpoint: string,
  dataDir: string,
  opts: { cluster: string; availabilityZone?: string; cpu?: number; memory?: number; taskCleanupWait?: string; extra?: string[]; env?: Record<string, string> },
): Promise<AgentProcess> {
  const args = [BERTH_BIN, 'agent', '--endpoint', endpoint, '--cluster', opts.cluster, '--data-dir', dataDir, '--memory', String(opts.memory ?? 1024), '--cpu', String(opts.cpu ?? 1024)];
  if (opts.taskCleanupWait !== undefined) args.push('--task-cleanup-wait', opts.taskCleanupWait);
  if (opts.availabilityZone !== undefined) args.push('--availability-zone', opts.availabilityZone);
  const child = spawn(process.execPath, [...args, ...(opts.extra ?? [])], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, BERTH_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not register: ${err}`)), 30_000);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/registered as/.test(out)) {
        clearTimeout(timer);
        resolve({
          child,
          kill: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}: ${err}`));
    });
  });
}

/** Removes every container (running or not) Docker has for these tasks; what a test leaves behind. */
export async function removeTaskContainers(taskArns: readonly string[]): Promise<void> {
  const run = promisify(execFile);
  for (const arn of taskArns) {
    const { stdout } = await run('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${arn}`]).catch(() => ({ stdout: '' }));
    const ids = stdout.split('\n').filter(Boolean);
    if (ids.length) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
  }
}

/** `berth server` (see spawnServer) with the `default` cluster created, as an agent of an end-to-end test expects. */
export async function spawnServerWithCluster(dataDir: string, args: string[] = [], env: Record<string, string> = {}, port = 0): Promise<ServerProcess> {
  const server = await spawnServer(dataDir, args, env, port);
  const ecs = ecsClient(server.url);
  await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  ecs.destroy();
  return server;
}

/** One task of the `default` cluster as DescribeTasks gives it. */
export async function describeTaskOn(endpoint: string, arn: string): Promise<Task> {
  const c = ecsClient(endpoint);
  try {
    return (await c.send(new DescribeTasksCommand({ cluster: 'default', tasks: [arn] }))).tasks![0]!;
  } finally {
    c.destroy();
  }
}

/** RunTask of `family` in the `default` cluster, which must place it; adds its ARN to `taskArns` and returns it. */
export async function runTaskOn(endpoint: string, family: string, taskArns: string[]): Promise<string> {
  const c = ecsClient(endpoint);
  try {
    const out = await c.send(new RunTaskCommand({ cluster: 'default', taskDefinition: family }));
    assert.deepEqual(out.failures, []);
    const arn = out.tasks![0]!.taskArn!;
    taskArns.push(arn);
    return arn;
  } finally {
    c.destroy();
  }
}

/**
 * Registers `family` with one essential container `app` (the local busybox
 * image and 32 MiB unless `container` says otherwise), then runs it as
 * runTaskOn does.
 */
export async function runContainerOn(endpoint: string, family: string, container: Partial<ContainerDefinition>, taskArns: string[]): Promise<string> {
  const c = ecsClient(endpoint);
  try {
    await c.send(new RegisterTaskDefinitionCommand({ family, containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 32, essential: true, ...container }] }));
  } finally {
    c.destroy();
  }
  return runTaskOn(endpoint, family, taskArns);
}

/**
 * What an end-to-end test with a server and an agent leaves behind, undone:
 * its tasks stopped and their containers removed, then the agent and the
 * server stopped (either may be missing when its start failed).
 */
export async function stopServerAndAgent(server: ServerProcess | undefined, agent: AgentProcess | undefined, taskArns: readonly string[]): Promise<void> {
  if (server) {
    const c = ecsClient(server.url);
    for (const task of taskArns) await c.send(new StopTaskCommand({ cluster: 'default', task })).catch(() => undefined);
    c.destroy();
  }
  await removeTaskContainers(taskArns);
  await agent?.kill();
  await server?.kill('SIGTERM');
}

/**
 * One HTTP GET on 127.0.0.1:`port` (with `host` as the Host header when
 * given, the connection closed after it); status and body, or status 0 when
 * the connection failed or took over 5 s.
 */
export function httpGet(port: number, path: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...(host !== undefined ? { host } : {}), connection: 'close' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/**
 * Ends an end-to-end test whose tasks Docker runs: notes every task of
 * `cluster` (running or stopped; none when the server does not answer),
 * destroys the clients, stops the processes in the order given (SIGTERM;
 * agents before their server), then removes the tasks' containers and the
 * test's directory.
 */
export async function tearDown(opts: {
  ecs: ECSClient;
  cluster?: string;
  /** Tasks seen before, removed too (the server may have forgotten them). */
  taskArns?: Iterable<string>;
  clients?: ({ destroy(): void } | undefined)[];
  processes: ({ kill(signal?: NodeJS.Signals): Promise<unknown> } | undefined)[];
  dir: { remove(): void };
}): Promise<void> {
  const arns: string[] = [...(opts.taskArns ?? [])];
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    try {
      for await (const page of paginateListTasks({ client: opts.ecs }, { ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}), desiredStatus })) arns.push(...(page.taskArns ?? []));
    } catch {
      // the server is gone: its tasks' containers are found by what Docker has
    }
  }
  opts.ecs.destroy();
  for (const c of opts.clients ?? []) c?.destroy();
  for (const p of opts.processes) await p?.kill('SIGTERM');
  await removeTaskContainers(arns);
  opts.dir.remove();
}

/**
 * An HTTP target group health-checked on /health every 5 s (2 s timeout, 2
 * checks to change state) whose targets drain for `delaySeconds`; its ARN.
 */
export async function healthCheckedTargetGroup(
  elb: ElasticLoadBalancingV2Client,
  group: { Name: string; Port: number; TargetType: 'ip' | 'instance' },
  delaySeconds: number,
): Promise<string> {
  const created = await elb.send(
    new CreateTargetGroupCommand({
      ...group,
      Protocol: 'HTTP',
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 2,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    }),
  );
  const arn = created.TargetGroups![0]!.TargetGroupArn!;
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(delaySeconds) }] }));
  return arn;
}

/** The headers (host included) of a POST of `body` to `endpoint`'s root, signed with SigV4 for `service` with the test credentials. */
export async function signedPostHeaders(endpoint: string, service: string, headers: Record<string, string>, body: string, region = 'us-east-1'): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ credentials: TEST_CREDENTIALS, region, service, sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers: { host: url.host, ...headers }, body }));
  return { ...(signed.headers as Record<string, string>) };
}

/**
 * Readers of a service as a scaling test watches it, through `ecs()` (the
 * test's client of the moment): its desired count, and its running tasks,
 * each noted in `seen`.
 */
export function serviceProbes(ecs: () => ECSClient, cluster: string, service: string, seen: Set<string>) {
  return {
    desiredCount: async () => (await ecs().send(new DescribeServicesCommand({ cluster, services: [service] }))).services![0]!.desiredCount,
    runningTasks: async () => {
      const arns = (await ecs().send(new ListTasksCommand({ cluster, serviceName: service, desiredStatus: 'RUNNING' }))).taskArns ?? [];
      arns.forEach((a) => seen.add(a));
      return arns;
    },
  };
}

/**
 * Ends an auto scaling test's service: deregisters its scalable target (so
 * that nothing raises it again while it drains), scales it to 0 and waits
 * until it runs no task, noting in `seen` every task of the cluster. A step
 * that fails (setup did not get that far) is skipped.
 */
export async function drainScalableService(aas: ApplicationAutoScalingClient, ecs: ECSClient, cluster: string, service: string, seen: Set<string>): Promise<void> {
  const { runningTasks } = serviceProbes(() => ecs, cluster, service, seen);
  try {
    await aas.send(new DeregisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: `service/${cluster}/${service}`, ScalableDimension: 'ecs:service:DesiredCount' }));
  } catch {
    // not registered if setup failed
  }
  try {
    await ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: 0 }));
    await waitFor('the service drained', async () => ((await runningTasks()).length === 0 ? true : undefined), 30_000);
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      for (const a of (await ecs.send(new ListTasksCommand({ cluster, desiredStatus }))).taskArns ?? []) seen.add(a);
    }
  } catch {
    // the service may not exist if setup failed
  }
}

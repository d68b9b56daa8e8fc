/**
 * The task engine on the real Docker Engine with the local test image.
 * Every test runs its own task(s), bounded in time; everything labelled with
 * those tasks is removed afterwards. Skipped when no engine answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerRuntime } from '../runtime/docker.js';
import type { TaskView } from '../channel/reports.js';
import { Reporter, type StateChangeApi } from '../channel/reporter.js';
import { AgentStateStore } from '../state/store.js';
import type { AgentTask } from '../../protocol/agent.js';
import { TaskEngine, type TaskStore } from './engine.js';
import { makeTask, MemoryTaskStore, TEST_IMAGE, type TaskShape } from './fixtures.js';
import { taskHealth, type TaskRecord, type TaskStatus } from './model.js';
import { LABEL_TASK_ARN } from './spec.js';

const runtime = new DockerRuntime();
const docker = new Docker();
let skip: string | false = false;
const taskArns = new Set<string>();
const volumes = new Set<string>();
const engines: TaskEngine[] = [];
const dirs: string[] = [];

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-agent-engine-'));
  dirs.push(d);
  return d;
}

interface Harness {
  engine: TaskEngine;
  statuses: Map<string, TaskStatus[]>;
}

async function startEngine(
  store: TaskStore = new MemoryTaskStore(),
  extra: { cleanupWaitMs?: number; onChange?: (r: TaskRecord) => void } = {},
): Promise<Harness> {
  const engine = new TaskEngine({ runtime, store, cleanupWaitMs: extra.cleanupWaitMs ?? 60_000, resyncIntervalMs: 2_000 });
  engines.push(engine);
  const statuses = new Map<string, TaskStatus[]>();
  engine.onChange((r) => {
    const list = statuses.get(r.taskArn) ?? [];
    if (list[list.length - 1] !== r.status) list.push(r.status);
    statuses.set(r.taskArn, list);
  });
  // Listeners are in place before the first pass, as in the agent.
  if (extra.onChange) engine.onChange(extra.onChange);
  await engine.start();
  return { engine, statuses };
}

function task(shape: TaskShape): AgentTask {
  const t = makeTask({ family: 'agent-engine-test', ...shape });
  taskArns.add(t.taskArn);
  return t;
}

async function until(h: Harness, t: AgentTask, what: string, pred: (r: TaskRecord) => boolean, timeoutMs?: number): Promise<TaskRecord> {
  return waitFor(what, () => {
    const r = h.engine.task(t.taskArn);
    return r && pred(r) ? r : undefined;
  }, timeoutMs);
}

const stoppedTask = (r: TaskRecord) => r.status === 'STOPPED';
const container = (r: TaskRecord, name: string) => {
  const c = r.containers.find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
};

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

before(async () => {
  try {
    await runtime.ping();
    await runtime.ensureImage(TEST_IMAGE, { pullBehavior: 'prefer-cached' });
  } catch (err) {
    skip = `no Docker Engine with ${TEST_IMAGE}: ${String(err)}`;
  }
});

after(async () => {
  for (const e of engines) await e.stop();
  for (const arn of taskArns) {
    for (const c of await runtime.list({ [LABEL_TASK_ARN]: arn }).catch(() => [])) await runtime.remove(c.id).catch(() => undefined);
  }
  for (const v of volumes) await runtime.removeVolume(v).catch(() => undefined);
  await runtime.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('task engine on Docker', { concurrency: true }, () => {
  it('stops the task when an essential container exits, with exit codes and SIGKILL after stopTimeout', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const signals = tempDir();
    const tk = task({
      volumes: [{ name: 'signals', host: { sourcePath: signals } }],
      containers: [
        {
          name: 'main',
          command: ['sh', '-c', 'while [ ! -f /signals/go ]; do sleep 0.1; done; exit 3'],
          mountPoints: [{ sourceVolume: 'signals', containerPath: '/signals' }],
        },
        { name: 'side', essential: false, command: ['sleep', '3600'], stopTimeout: 1 },
      ],
    });
    await h.engine.setDesired([tk]);
    await until(h, tk, 'task RUNNING', (x) => x.status === 'RUNNING');
    writeFileSync(join(signals, 'go'), '');
    const r = await until(h, tk, 'task STOPPED', stoppedTask);
    assert.equal(r.stop?.stopCode, 'EssentialContainerExited');
    assert.equal(r.stop?.reason, 'Essential container in task exited');
    assert.equal(container(r, 'main').exitCode, 3);
    assert.equal(container(r, 'side').exitCode, 137, 'sleep ignores SIGTERM as PID 1 and is killed');
    assert.deepEqual(h.statuses.get(tk.taskArn), ['PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
    assert.ok(r.pullStartedAt! <= r.pullStoppedAt! && r.pullStoppedAt! <= r.startedAt! && r.startedAt! <= r.executionStoppedAt!);
  });

  it('honours stopTimeout: SIGTERM, then SIGKILL after the timeout', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({ containers: [{ name: 'stubborn', command: ['sleep', '3600'], stopTimeout: 2 }] });
    await h.engine.setDesired([tk]);
    await until(h, tk, 'RUNNING', (r) => r.status === 'RUNNING');
    const asked = Date.now();
    await h.engine.setDesired([{ ...tk, desiredStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'test' }]);
    const r = await until(h, tk, 'STOPPED', stoppedTask);
    const took = Date.now() - asked;
    assert.ok(took >= 1900 && took < 10_000, `stop took ${took} ms`);
    assert.equal(container(r, 'stubborn').exitCode, 137);
    assert.equal(r.stop?.by, 'server');
  });

  it('orders containers by dependsOn (SUCCESS, HEALTHY) and reports health', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({
      containers: [
        { name: 'init', essential: false, command: ['sh', '-c', 'sleep 0.5; exit 0'] },
        {
          name: 'db',
          command: ['sh', '-c', 'sleep 1; touch /tmp/ready; exec sleep 3600'],
          healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ready'], interval: 1, timeout: 5, retries: 3 },
          stopTimeout: 1,
        },
        {
          name: 'app',
          command: ['sleep', '3600'],
          stopTimeout: 1,
          dependsOn: [
            { containerName: 'init', condition: 'SUCCESS' },
            { containerName: 'db', condition: 'HEALTHY' },
          ],
        },
      ],
    });
    let dbHealthyAt: number | undefined;
    h.engine.onChange((r) => {
      if (r.taskArn === tk.taskArn && dbHealthyAt === undefined && container(r, 'db').health === 'HEALTHY') dbHealthyAt = Date.now();
    });
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'RUNNING', (x) => x.status === 'RUNNING');
    const init = container(r, 'init');
    const app = container(r, 'app');
    assert.equal(init.exitCode, 0);
    assert.ok(app.startedAt! >= init.finishedAt!, 'app started after init finished');
    assert.ok(dbHealthyAt !== undefined && app.startedAt! >= dbHealthyAt - 1000, 'app started once db was healthy');
    assert.equal(container(r, 'db').health, 'HEALTHY');
    assert.equal(taskHealth(r.containers), 'HEALTHY');

    await h.engine.setDesired([{ ...tk, desiredStatus: 'STOPPED' }]);
    const s = await until(h, tk, 'STOPPED', stoppedTask);
    assert.ok(container(s, 'app').finishedAt! <= container(s, 'db').finishedAt!, 'app stopped before db');
  });

  it('stops the task when a dependency cannot be met', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({
      containers: [
        { name: 'init', essential: false, command: ['sh', '-c', 'exit 1'] },
        { name: 'app', command: ['sleep', '3600'], dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
      ],
    });
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'STOPPED', stoppedTask);
    assert.equal(r.stop?.stopCode, 'TaskFailedToStart');
    assert.match(r.stop?.reason ?? '', /dependency .*'init' \(SUCCESS\).*exited with code 1/);
    assert.equal(container(r, 'app').runtimeId, undefined);
  });

  it('reports an unhealthy essential container without stopping the task', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({
      containers: [
        { name: 'web', command: ['sleep', '3600'], stopTimeout: 0, healthCheck: { command: ['CMD-SHELL', 'exit 1'], interval: 1, timeout: 1, retries: 1 } },
      ],
    });
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'UNHEALTHY', (x) => container(x, 'web').health === 'UNHEALTHY');
    assert.equal(taskHealth(r.containers), 'UNHEALTHY');
    assert.equal(r.status, 'RUNNING');
  });

  it('publishes a dynamic host port that serves the container', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({
      containers: [
        { name: 'web', command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'], stopTimeout: 0, portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp' }] },
      ],
    });
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'RUNNING with a binding', (x) => x.status === 'RUNNING' && container(x, 'web').networkBindings.length > 0);
    const binding = container(r, 'web').networkBindings.find((b) => b.bindIP === '0.0.0.0') ?? container(r, 'web').networkBindings[0]!;
    assert.equal(binding.containerPort, 8080);
    assert.equal(binding.protocol, 'tcp');
    assert.ok(binding.hostPort > 0);
    const body = await waitFor('HTTP answer', () => httpGet(binding.hostPort).catch(() => undefined), 5_000);
    assert.match(body, /berth-test/);
  });

  it('links containers by alias in bridge mode and binds container ports directly in host mode', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const linked = task({
      containers: [
        { name: 'db', command: ['sleep', '3600'], stopTimeout: 0 },
        { name: 'app', essential: false, command: ['sh', '-c', 'grep -q database /etc/hosts'], links: ['db:database'] },
      ],
    });
    const port = await freePort();
    const hosted = task({
      networkMode: 'host',
      containers: [{ name: 'web', command: ['httpd', '-f', '-p', String(port), '-h', '/var/www'], stopTimeout: 0, portMappings: [{ containerPort: port }] }],
    });
    await h.engine.setDesired([linked, hosted]);
    const l = await until(h, linked, 'app done', (x) => container(x, 'app').phase === 'STOPPED');
    assert.equal(container(l, 'app').exitCode, 0, 'the link alias resolves');
    const r = await until(h, hosted, 'RUNNING', (x) => x.status === 'RUNNING');
    assert.deepEqual(container(r, 'web').networkBindings, [{ bindIP: '0.0.0.0', containerPort: port, hostPort: port, protocol: 'tcp' }]);
    assert.match(await waitFor('HTTP answer', () => httpGet(port).catch(() => undefined), 5_000), /berth-test/);
  });

  it('shares task volumes between containers (mountPoints, volumesFrom) and removes them at cleanup', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine(new MemoryTaskStore(), { cleanupWaitMs: 200 });
    const check = 'for i in $(seq 1 50); do grep -q hello /data/msg 2>/dev/null && exit 0; sleep 0.1; done; exit 1';
    const tk = task({
      volumes: [{ name: 'shared', host: {} }],
      containers: [
        { name: 'writer', command: ['sh', '-c', 'echo hello > /data/msg; exec sleep 3600'], stopTimeout: 0, mountPoints: [{ sourceVolume: 'shared', containerPath: '/data' }] },
        { name: 'reader', essential: false, command: ['sh', '-c', check], mountPoints: [{ sourceVolume: 'shared', containerPath: '/data', readOnly: true }], dependsOn: [{ containerName: 'writer', condition: 'START' }] },
        { name: 'borrower', essential: false, command: ['sh', '-c', check], volumesFrom: [{ sourceContainer: 'writer', readOnly: true }] },
      ],
    });
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'readers done', (x) => ['reader', 'borrower'].every((n) => container(x, n).phase === 'STOPPED'));
    const volumeName = r.volumes[0]!.source;
    volumes.add(volumeName);
    assert.equal(container(r, 'reader').exitCode, 0, 'reader saw the file through the task volume');
    assert.equal(container(r, 'borrower').exitCode, 0, 'borrower saw the file through volumesFrom');
    assert.equal(r.status, 'RUNNING');
    await docker.getVolume(volumeName).inspect();

    await h.engine.setDesired([{ ...tk, desiredStatus: 'STOPPED' }]);
    await until(h, tk, 'cleaned', (x) => x.cleaned);
    assert.deepEqual(await runtime.list({ [LABEL_TASK_ARN]: tk.taskArn }), []);
    await assert.rejects(docker.getVolume(volumeName).inspect(), 'task volume removed');
    await h.engine.setDesired([]);
    assert.equal(h.engine.task(tk.taskArn), undefined, 'forgotten once the server no longer lists it');
  });

  it('bounds all containers of a task together by task-level memory and cpu (one cgroup per task)', async (t) => {
    if (skip) return t.skip(skip);
    if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) return t.skip('no host cgroups');
    const h = await startEngine();
    // Each container alone fits in 64 MiB; together (40 + 40 MiB of tmpfs pages) they do not.
    const hold = (file: string, delay: string) => ['sh', '-c', `sleep ${delay}; dd if=/dev/zero of=/dev/shm/${file} bs=1M count=40 2>/dev/null && exec sleep 3600`];
    const tight = task({
      memory: '64',
      cpu: '512',
      containers: [
        { name: 'first', command: hold('a', '0'), stopTimeout: 0 },
        { name: 'second', command: hold('b', '1'), stopTimeout: 0, dependsOn: [{ containerName: 'first', condition: 'START' }] },
      ],
    });
    const roomy = task({
      memory: '160',
      containers: [
        { name: 'first', command: hold('a', '0'), stopTimeout: 0 },
        { name: 'second', command: hold('b', '1'), stopTimeout: 0 },
      ],
    });
    await h.engine.setDesired([tight, roomy]);
    const running = await until(h, tight, 'RUNNING', (x) => x.status === 'RUNNING' || x.status === 'STOPPED');
    assert.equal(running.taskGroup?.state, 'created', running.taskGroup?.reason);
    const inspected = await docker.getContainer(container(running, 'first').runtimeId!).inspect();
    assert.equal(inspected.HostConfig.CgroupParent, running.taskGroup.cgroupParent);
    assert.equal(inspected.HostConfig.Memory, 0, 'no per-container copy of the task limit');
    const group = running.taskGroup.name;
    if (existsSync('/sys/fs/cgroup/cpu/cgroup.procs')) {
      assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${group}/cpu.cfs_quota_us`, 'utf8').trim(), '50000', '512 units = half a CPU');
      assert.equal(readFileSync(`/sys/fs/cgroup/memory/berth/${group}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
    }

    const r = await until(h, tight, 'STOPPED', stoppedTask, 30_000);
    assert.equal(r.stop?.stopCode, 'EssentialContainerExited', 'the task outgrew its memory: one container was OOM-killed');
    assert.ok(r.containers.some((c) => c.exitCode === 137), `an exit code 137 among ${r.containers.map((c) => c.exitCode).join(',')}`);
    assert.equal(r.taskGroup?.state, 'removed');
    assert.ok(!existsSync(`/sys/fs/cgroup/memory/berth/${group}`) && !existsSync(`/sys/fs/cgroup/berth/${group}`), 'task cgroup removed');

    await until(h, roomy, 'RUNNING', (x) => x.status === 'RUNNING');
    // Both have written their 40 MiB after a second; give the kernel time to object.
    await new Promise((res) => setTimeout(res, 3_000));
    const ok = h.engine.task(roomy.taskArn)!;
    assert.deepEqual(ok.containers.map((c) => c.phase), ['RUNNING', 'RUNNING']);
    assert.equal(ok.status, 'RUNNING', 'a task within its memory keeps running');
    await h.engine.setDesired([{ ...roomy, desiredStatus: 'STOPPED' }]);
    await until(h, roomy, 'STOPPED', stoppedTask);
  });

  it('fails a task whose shared volume does not exist when autoprovision is false, and runs it once the volume exists', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const name = `berth-test-shared-${Date.now().toString(36)}`;
    volumes.add(name);
    const shape = {
      volumes: [{ name, dockerVolumeConfiguration: { scope: 'shared' as const, autoprovision: false } }],
      containers: [{ name: 'app', command: ['sh', '-c', 'test -d /data && exec sleep 3600'], stopTimeout: 0, mountPoints: [{ sourceVolume: name, containerPath: '/data' }] }],
    };
    const missing = task(shape);
    await h.engine.setDesired([missing]);
    const r = await until(h, missing, 'STOPPED', stoppedTask);
    assert.equal(r.stop?.stopCode, 'TaskFailedToStart');
    assert.match(r.stop?.reason ?? '', new RegExp(`^ResourceInitializationError: shared volume '${name}' does not exist and autoprovision is false`));
    await assert.rejects(docker.getVolume(name).inspect(), 'not created behind the user');

    await docker.createVolume({ Name: name });
    const present = task(shape);
    await h.engine.setDesired([present]);
    await until(h, present, 'RUNNING', (x) => x.status === 'RUNNING');
    await h.engine.setDesired([{ ...present, desiredStatus: 'STOPPED' }]);
    await until(h, present, 'STOPPED', stoppedTask);
  });

  it('fails fast with CannotPullContainerError for an image that cannot be had', async (t) => {
    if (skip) return t.skip(skip);
    const h = await startEngine();
    const tk = task({ containers: [{ name: 'ghost', image: '127.0.0.1:1/berth-test/missing:latest' }] });
    const started = Date.now();
    await h.engine.setDesired([tk]);
    const r = await until(h, tk, 'STOPPED', stoppedTask, 15_000);
    assert.ok(Date.now() - started < 15_000);
    assert.match(container(r, 'ghost').reason ?? '', /^CannotPullContainerError: /);
    assert.equal(r.stop?.stopCode, 'TaskFailedToStart');
    assert.match(r.stop?.reason ?? '', /^CannotPullContainerError: /);
  });

  it('adopts running containers after a restart and reports those that exited meanwhile', async (t) => {
    if (skip) return t.skip(skip);
    const dir = tempDir();
    const sent: { run: number; report: TaskView | { container: string; status: string; exitCode?: number } }[] = [];
    const api = (run: number): StateChangeApi => ({
      submitTask: async (view) => void sent.push({ run, report: view }),
      submitContainer: async (_arn, _cluster, c) => void sent.push({ run, report: { container: c.containerName, status: c.status, ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}) } }),
    });
    // Wired as the agent wires them (agent.ts), and stopped as the agent stops.
    const wire = async (run: number) => {
      const store = await AgentStateStore.open(dir);
      const reporter = new Reporter({ api: api(run), store });
      await reporter.start();
      const h = await startEngine(store, { onChange: (r) => reporter.observe(r) });
      for (const r of h.engine.tasks()) reporter.observe(r);
      const stop = async () => {
        await h.engine.stop();
        await reporter.stop();
        await store.flush();
      };
      return { h, reporter, store, stop };
    };

    // `short` exits once the test drops a file into its host volume: after the first engine is gone.
    const signals = tempDir();
    const tk = task({
      volumes: [{ name: 'signals', host: { sourcePath: signals } }],
      containers: [
        { name: 'web', command: ['sleep', '3600'], stopTimeout: 0 },
        {
          name: 'short',
          essential: false,
          command: ['sh', '-c', 'while [ ! -f /signals/go ]; do sleep 0.1; done; exit 7'],
          mountPoints: [{ sourceVolume: 'signals', containerPath: '/signals' }],
        },
      ],
    });
    const first = await wire(1);
    await first.store.saveDesired([tk]);
    await first.h.engine.setDesired([tk]);
    const running = await until(first.h, tk, 'RUNNING', (r) => r.status === 'RUNNING');
    await first.reporter.idle();
    await first.stop();
    const webId = container(running, 'web').runtimeId!;
    const shortId = container(running, 'short').runtimeId!;
    // While no agent runs, `short` exits.
    writeFileSync(join(signals, 'go'), '');
    await waitFor('short exited', async () => (await runtime.inspect(shortId)).exitCode !== null, 10_000);

    const second = await wire(2);
    await second.h.engine.setDesired((await second.store.loadDesired()) ?? []);
    const r = await until(second.h, tk, 'short seen STOPPED', (x) => container(x, 'short').phase === 'STOPPED');
    assert.equal(container(r, 'short').exitCode, 7);
    assert.equal(container(r, 'web').runtimeId, webId, 'web adopted, not recreated');
    assert.equal(r.status, 'RUNNING');
    const all = await runtime.list({ [LABEL_TASK_ARN]: tk.taskArn });
    assert.equal(all.length, 2, 'no duplicate containers');
    await waitFor('the second run to report', () => sent.some((x) => x.run === 2), 5_000);
    await second.reporter.idle();
    const secondRun = sent.filter((s) => s.run === 2).map((s) => s.report);
    assert.deepEqual(secondRun, [{ container: 'short', status: 'STOPPED', exitCode: 7 }]);
    await second.stop();
  });
});

/**
 * The behaviour every ContainerRuntime must show, as one test suite.
 *
 * An implementation's test file calls `containerRuntimeContract` with a live
 * runtime (or a reason to skip) and an image that holds busybox applets
 * (`sh`, `httpd`, `sleep`, `dd`, ...) and /var/www/index.html containing
 * "berth-test" — `berth-test/busybox:latest` from scripts/build-test-images.sh.
 *
 * The suite labels everything it creates with a per-run label and removes
 * it afterwards; it never touches other containers. Every test is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import {
  ContainerNotFoundError,
  ContainerStartError,
  ImagePullError,
  MANAGED_LABEL,
  NameConflictError,
  VolumeInUseError,
  type ContainerEvent,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerState,
} from './runtime.js';

export const TEST_RUN_LABEL = 'berth.test-run';

export interface ContractTarget {
  /** Suite title, e.g. "DockerRuntime". */
  name: string;
  /** The runtime under test, or why the suite is skipped. */
  runtime: ContainerRuntime | { skip: string };
  /** Local image with busybox applets (see the module comment). */
  image: string;
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GET http://host:port/ → body, with a short timeout. */
function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.on('error', reject);
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function containerRuntimeContract(target: ContractTarget): void {
  const skip = 'skip' in target.runtime ? target.runtime.skip : undefined;
  const rt = target.runtime as ContainerRuntime;
  const runId = randomBytes(4).toString('hex');
  const runLabels = { [TEST_RUN_LABEL]: runId };
  const volumes: string[] = [];
  const tempDirs: string[] = [];
  let counter = 0;

  const spec = (overrides: Partial<ContainerSpec> = {}): ContainerSpec => ({
    name: `berth-contract-${runId}-${++counter}`,
    image: target.image,
    command: ['sleep', '60'],
    ...overrides,
    labels: { ...runLabels, ...overrides.labels },
  });

  /** Creates and starts a container; returns its id. */
  const run = async (overrides: Partial<ContainerSpec> = {}): Promise<string> => {
    const id = await rt.create(spec(overrides));
    await rt.start(id);
    return id;
  };

  const exited = (id: string, timeoutMs = 15_000): Promise<ContainerState> =>
    waitFor(`container ${id.slice(0, 12)} to exit`, async () => {
      const s = await rt.inspect(id);
      return s.running || s.exitCode === null ? undefined : s;
    }, timeoutMs);

  /** Runs a container to completion; returns its state and output. */
  const runToEnd = async (overrides: Partial<ContainerSpec>): Promise<{ state: ContainerState; output: string }> => {
    const id = await run(overrides);
    const state = await exited(id);
    return { state, output: await rt.logs(id) };
  };

  const T = { timeout: 30_000 };

  describe(`ContainerRuntime contract: ${target.name}`, { skip }, () => {
    after(async () => {
      if (skip) return;
      for (const c of await rt.list(runLabels)) await rt.remove(c.id);
      for (const v of volumes) await rt.removeVolume(v);
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
      await rt.close();
    });

    describe('engine and images', () => {
      it('reports the machine it runs on', T, async () => {
        const info = await rt.info();
        assert.ok(info.cpus >= 1, `cpus ${info.cpus}`);
        assert.ok(info.memoryBytes > 64 * 1024 * 1024, `memory ${info.memoryBytes}`);
        assert.match(info.architecture, /^(x86_64|arm64)$/);
        assert.equal(info.os, 'linux');
        assert.ok(info.serverVersion.length > 0);
      });

      it('uses a cached image without contacting a registry (prefer-cached)', T, async () => {
        const r = await rt.ensureImage(target.image, { pullBehavior: 'prefer-cached' });
        assert.equal(r.pulled, false);
        assert.match(r.imageId, /^sha256:[0-9a-f]{64}$/);
      });

      it('fails fast with ImagePullError for an image no registry can serve', T, async () => {
        for (const ref of ['127.0.0.1:9/berth-test/missing:latest', `berth-test/missing-${runId}:latest`]) {
          const t0 = Date.now();
          await assert.rejects(rt.ensureImage(ref), (err: unknown) => {
            assert.ok(err instanceof ImagePullError, `got ${String(err)}`);
            assert.equal(err.code, 'CannotPullContainerError');
            assert.equal(err.image, ref);
            assert.match(err.message, new RegExp(`Unable to find image '${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' locally`));
            return true;
          });
          assert.ok(Date.now() - t0 < 25_000, `${ref} took ${Date.now() - t0} ms`);
        }
      });
    });

    describe('container lifecycle', () => {
      it('reports running, then the exit code and times after exit', T, async () => {
        const id = await run({ command: ['sh', '-c', 'sleep 0.5; exit 3'] });
        const running = await rt.inspect(id);
        assert.equal(running.id, id);
        assert.equal(running.running, true);
        assert.equal(running.status, 'running');
        assert.equal(running.exitCode, null);
        assert.ok(running.startedAt instanceof Date);
        assert.equal(running.finishedAt, null);
        assert.equal(running.health, 'none');
        assert.equal(running.labels[MANAGED_LABEL], 'true');
        assert.ok(running.pid !== null && running.pid > 0);
        assert.ok(running.networks.some((n) => n.ipv4Address.length > 0), 'bridge address');

        const done = await exited(id);
        assert.equal(done.status, 'exited');
        assert.equal(done.exitCode, 3);
        assert.equal(done.oomKilled, false);
        assert.ok(done.finishedAt && done.startedAt && done.finishedAt >= done.startedAt);
        assert.equal(done.pid, null);
      });

      it('passes command, entry point, environment, working dir, user, hostname, extra hosts and ulimits', T, async () => {
        const { state, output } = await runToEnd({
          entryPoint: ['sh', '-c'],
          command: ['echo "$GREETING"; pwd; id -u; hostname; grep -c "10.1.2.3.*db.internal" /etc/hosts; ulimit -n'],
          env: { GREETING: 'hello berth' },
          workingDir: '/tmp',
          user: '65534',
          hostname: 'berth-host',
          extraHosts: [{ hostname: 'db.internal', ipAddress: '10.1.2.3' }],
          ulimits: [{ name: 'nofile', softLimit: 1234, hardLimit: 1234 }],
        });
        assert.equal(state.exitCode, 0, output);
        assert.deepEqual(output.trim().split('\n'), ['hello berth', '/tmp', '65534', 'berth-host', '1', '1234']);
      });

      it('stops a process that handles SIGTERM without waiting for the timeout', T, async () => {
        const id = await run({ command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'] });
        await waitFor('running', async () => (await rt.inspect(id)).running);
        const t0 = Date.now();
        await rt.stop(id, 10);
        const elapsed = Date.now() - t0;
        const s = await rt.inspect(id);
        assert.equal(s.running, false);
        assert.equal(s.exitCode, 0);
        assert.ok(elapsed < 5000, `stop took ${elapsed} ms`);
      });

      it('kills a process that ignores SIGTERM once the stop timeout has passed', T, async () => {
        const id = await run({ command: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'] });
        await waitFor('running', async () => (await rt.inspect(id)).running);
        const t0 = Date.now();
        await rt.stop(id, 2);
        const elapsed = Date.now() - t0;
        const s = await rt.inspect(id);
        assert.equal(s.running, false);
        assert.equal(s.exitCode, 137, 'SIGKILL');
        assert.ok(elapsed >= 1900 && elapsed < 10_000, `stop took ${elapsed} ms`);
        await rt.stop(id, 2); // stopping a stopped container is a no-op
      });

      it('forwards SIGTERM through an init process', T, async () => {
        // Without init, `sleep` as PID 1 would ignore SIGTERM and wait for the kill.
        const id = await run({ command: ['sleep', '60'], init: true });
        await waitFor('running', async () => (await rt.inspect(id)).running);
        const t0 = Date.now();
        await rt.stop(id, 10);
        assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
        assert.equal((await rt.inspect(id)).exitCode, 143);
      });

      it('kills a container that exceeds its memory limit and says so', T, async () => {
        const mib = 1024 * 1024;
        const { state } = await runToEnd({
          command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'],
          memoryBytes: 32 * mib,
          memoryReservationBytes: 16 * mib,
          maxSwapBytes: 0,
        });
        assert.equal(state.oomKilled, true);
        assert.equal(state.exitCode, 137);

        const fits = await runToEnd({
          command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=4M', 'count=1'],
          memoryBytes: 32 * mib,
          maxSwapBytes: 0,
          cpuShares: 256,
          nanoCpus: 500_000_000,
        });
        assert.equal(fits.state.exitCode, 0, fits.output);
        assert.equal(fits.state.oomKilled, false);
      });

      it('bounds the containers of a task group by the group memory together, or says why it cannot', T, async (t) => {
        const mib = 1024 * 1024;
        const name = `berth-contract-${runId}-group`;
        const group = await rt.createTaskGroup({ name, memoryBytes: 48 * mib, cpuUnits: 512 });
        if ('unsupported' in group) {
          assert.ok(group.unsupported.length > 0);
          return t.skip(`no task groups here: ${group.unsupported}`);
        }
        assert.deepEqual(await rt.createTaskGroup({ name, memoryBytes: 48 * mib, cpuUnits: 512 }), group, 'idempotent');
        // 32 MiB each: either fits alone, both together do not.
        const holder = await run({ command: ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/a bs=1M count=32 2>/dev/null && echo held && exec sleep 60'], cgroupParent: group.cgroupParent });
        await waitFor('the first container to hold its memory', async () => (await rt.logs(holder)).includes('held'));
        const second = await runToEnd({ command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=32M', 'count=1'], cgroupParent: group.cgroupParent });
        assert.equal(second.state.exitCode, 137, 'the group is out of memory');
        await rt.remove(holder);
        const alone = await runToEnd({ command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=32M', 'count=1'], cgroupParent: group.cgroupParent });
        assert.equal(alone.state.exitCode, 0, 'fits once the other is gone');
        await rt.removeTaskGroup(name);
        await rt.removeTaskGroup(name); // already gone: no error
      });

      it('samples the resource usage of a running container', T, async () => {
        const id = await run({ command: ['sleep', '60'] });
        const stats = (await rt.stats(id)) as { memory_stats?: { usage?: number }; cpu_stats?: { cpu_usage?: { total_usage?: number } } };
        assert.ok((stats.memory_stats?.usage ?? 0) > 0);
        assert.ok((stats.cpu_stats?.cpu_usage?.total_usage ?? 0) > 0);
        await rt.remove(id);
        await assert.rejects(rt.stats(id), ContainerNotFoundError);
      });

      it('reports a command that cannot be executed as ContainerStartError', T, async () => {
        const id = await rt.create(spec({ command: ['/no/such/program'] }));
        await assert.rejects(rt.start(id), (err: unknown) => {
          assert.ok(err instanceof ContainerStartError, `got ${String(err)}`);
          assert.equal(err.code, 'CannotStartContainerError');
          assert.match(err.message, /no such file|not found/i);
          return true;
        });
        const s = await rt.inspect(id);
        assert.equal(s.running, false);
        assert.ok(s.error, 'inspect reports the start error');
      });

      it('refuses a second container with the same name', T, async () => {
        const s = spec();
        await rt.create(s);
        await assert.rejects(rt.create(s), NameConflictError);
      });

      it('treats unknown containers as not found, and removal as idempotent', T, async () => {
        await assert.rejects(rt.inspect(`berth-contract-${runId}-nope`), ContainerNotFoundError);
        await assert.rejects(rt.stop(`berth-contract-${runId}-nope`, 1), ContainerNotFoundError);
        await assert.rejects(rt.start(`berth-contract-${runId}-nope`), ContainerNotFoundError);
        const id = await run();
        await rt.remove(id); // removes a running container
        await assert.rejects(rt.inspect(id), ContainerNotFoundError);
        await rt.remove(id); // already gone: no error
      });
    });

    describe('networking', () => {
      it('publishes a dynamic host port that answers HTTP from the host', T, async () => {
        const id = await run({
          command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
          portBindings: [
            { containerPort: 8080, protocol: 'tcp', hostPort: 0, hostIp: '127.0.0.1' },
            { containerPort: 9999, protocol: 'udp', hostIp: '127.0.0.1' },
          ],
        });
        const s = await rt.inspect(id);
        const tcp = s.portBindings.find((b) => b.containerPort === 8080 && b.protocol === 'tcp');
        const udp = s.portBindings.find((b) => b.containerPort === 9999 && b.protocol === 'udp');
        assert.ok(tcp && tcp.hostPort > 0 && tcp.hostIp === '127.0.0.1', JSON.stringify(s.portBindings));
        assert.ok(udp && udp.hostPort > 0, JSON.stringify(s.portBindings));
        const body = await waitFor('httpd to answer', () => httpGet('127.0.0.1', tcp.hostPort), 10_000, 200);
        assert.equal(body.trim(), 'berth-test');
      });

      it('binds a fixed host port, and a second container cannot take it', T, async () => {
        const port = await freePort();
        const binding = { containerPort: 80, hostPort: port, hostIp: '127.0.0.1' };
        const id = await run({ command: ['httpd', '-f', '-p', '80', '-h', '/var/www'], portBindings: [binding] });
        const s = await rt.inspect(id);
        assert.deepEqual(s.portBindings, [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: port }]);
        assert.equal((await waitFor('httpd', () => httpGet('127.0.0.1', port), 10_000, 200)).trim(), 'berth-test');

        const second = await rt.create(spec({ command: ['httpd', '-f', '-p', '80'], portBindings: [binding] }));
        await assert.rejects(rt.start(second), (err: unknown) => {
          assert.ok(err instanceof ContainerStartError, `got ${String(err)}`);
          assert.match(err.message, /already allocated|address already in use/i);
          return true;
        });
      });

      it('resolves linked containers by alias', T, async () => {
        const peer = spec();
        await run(peer);
        const { state, output } = await runToEnd({
          command: ['grep', '-cw', 'peer', '/etc/hosts'],
          links: [`${peer.name}:peer`],
        });
        assert.equal(state.exitCode, 0, output);
        assert.equal(output.trim(), '1');
      });

      it('runs without a network in networkMode none', T, async () => {
        const { output } = await runToEnd({ networkMode: 'none', command: ['sh', '-c', 'ls /sys/class/net'] });
        assert.deepEqual(output.trim().split(/\s+/), ['lo']);
      });
    });

    describe('health checks', () => {
      it('becomes healthy when the check passes and unhealthy when it keeps failing', T, async () => {
        const healthy = await run({
          command: ['sh', '-c', 'touch /tmp/ready; sleep 60'],
          healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ready'], interval: 1, timeout: 1, retries: 1 },
        });
        const unhealthy = await run({
          healthCheck: { command: ['CMD', 'false'], interval: 1, timeout: 1, retries: 2 },
        });
        assert.equal((await rt.inspect(unhealthy)).health, 'starting');
        await waitFor('healthy', async () => (await rt.inspect(healthy)).health === 'healthy', 15_000);
        await waitFor('unhealthy', async () => (await rt.inspect(unhealthy)).health === 'unhealthy', 15_000);
        assert.equal((await rt.inspect(unhealthy)).running, true, 'an unhealthy container keeps running');
      });
    });

    describe('labels and events', () => {
      it('lists managed containers by label, running or not', T, async () => {
        const a = await run({ labels: { role: 'a' } });
        const b = await rt.create(spec({ labels: { role: 'b' } }));
        const onlyA = await rt.list({ ...runLabels, role: 'a' });
        assert.deepEqual(onlyA.map((c) => c.id), [a]);
        assert.equal(onlyA[0]?.status, 'running');
        assert.equal(onlyA[0]?.labels[MANAGED_LABEL], 'true');
        assert.equal(onlyA[0]?.image, target.image);
        const withRole = await rt.list({ ...runLabels, role: true });
        assert.deepEqual(new Set(withRole.map((c) => c.id)), new Set([a, b]));
        assert.equal(withRole.find((c) => c.id === b)?.status, 'created');
        assert.deepEqual(await rt.list({ ...runLabels, role: 'c' }), []);
      });

      it('delivers start, health, die and destroy events of its containers', T, async (t) => {
        const seen: ContainerEvent[] = [];
        const connected = new Promise<void>((resolve) => {
          const sub = rt.events((e) => seen.push(e), {
            labels: runLabels,
            onConnectionChange: (up) => up && resolve(),
          });
          t.after(() => sub.stop());
        });
        await connected;
        const id = await run({
          command: ['sh', '-c', 'sleep 2; exit 7'],
          healthCheck: { command: ['CMD-SHELL', 'true'], interval: 1, retries: 1 },
        });
        const die = await waitFor('die event', async () => seen.find((e) => e.containerId === id && e.kind === 'die'));
        assert.equal(die.kind === 'die' && die.exitCode, 7);
        assert.equal(die.labels[TEST_RUN_LABEL], runId);
        assert.ok(die.name.startsWith('berth-contract-'));
        const mine = seen.filter((e) => e.containerId === id).map((e) => (e.kind === 'health_status' ? `health:${e.health}` : e.kind));
        assert.ok(mine.indexOf('start') >= 0 && mine.indexOf('start') < mine.indexOf('die'), mine.join(','));
        assert.ok(mine.includes('health:healthy'), mine.join(','));
        await rt.remove(id);
        await waitFor('destroy event', async () => seen.some((e) => e.containerId === id && e.kind === 'destroy'));
        assert.ok(seen.every((e) => e.labels[TEST_RUN_LABEL] === runId), 'only this run’s containers');
      });
    });

    describe('storage', () => {
      before(() => {
        if (!skip) tempDirs.push(mkdtempSync(join(tmpdir(), 'berth-contract-')));
      });

      it('shares a named volume between containers and through volumesFrom', T, async () => {
        const name = `berth-contract-${runId}-data`;
        volumes.push(name);
        const v = await rt.createVolume({ name, labels: runLabels });
        assert.equal(v.name, name);
        assert.equal(v.labels[TEST_RUN_LABEL], runId);
        assert.equal((await rt.createVolume({ name })).name, name, 'creating again returns the volume');

        const writer = spec({
          command: ['sh', '-c', 'echo shared > /data/file'],
          mounts: [{ type: 'volume', source: name, containerPath: '/data' }],
        });
        const w = await runToEnd(writer);
        assert.equal(w.state.exitCode, 0, w.output);

        const viaVolume = await runToEnd({
          command: ['cat', '/data/file'],
          mounts: [{ type: 'volume', source: name, containerPath: '/data', readOnly: true }],
        });
        assert.equal(viaVolume.output.trim(), 'shared');

        const viaFrom = await runToEnd({
          command: ['sh', '-c', 'cat /data/file && ! touch /data/other 2>/dev/null'],
          volumesFrom: [{ sourceContainer: writer.name, readOnly: true }],
        });
        assert.equal(viaFrom.state.exitCode, 0, viaFrom.output);
        assert.equal(viaFrom.output.trim(), 'shared');

        await assert.rejects(rt.removeVolume(name), VolumeInUseError);
        assert.equal((await rt.inspectVolume(name))?.name, name);
        for (const c of await rt.list(runLabels)) await rt.remove(c.id);
        await rt.removeVolume(name);
        await rt.removeVolume(name); // already gone: no error
        assert.equal(await rt.inspectVolume(name), null);
      });

      it('bind-mounts host paths, honouring read-only', T, async () => {
        const dir = tempDirs[0] as string;
        writeFileSync(join(dir, 'from-host'), 'host data\n');
        const ro = await runToEnd({
          command: ['sh', '-c', 'cat /mnt/from-host; touch /mnt/new'],
          mounts: [{ type: 'bind', source: dir, containerPath: '/mnt', readOnly: true }],
        });
        // stdout and stderr are separate streams: their relative order is not kept.
        assert.ok(ro.output.split('\n').includes('host data'), ro.output);
        assert.notEqual(ro.state.exitCode, 0, 'writing to a read-only bind fails');

        const rw = await runToEnd({
          command: ['sh', '-c', 'echo from-container > /mnt/out'],
          mounts: [{ type: 'bind', source: dir, containerPath: '/mnt' }],
        });
        assert.equal(rw.state.exitCode, 0, rw.output);
      });

      it('keeps the root filesystem read-only when asked, with writable tmpfs', T, async () => {
        const { state, output } = await runToEnd({
          command: ['sh', '-c', 'touch /scratch/ok && ! touch /root/nope 2>/dev/null && echo done'],
          readonlyRootfs: true,
          tmpfs: [{ containerPath: '/scratch', sizeMiB: 8 }],
        });
        assert.equal(state.exitCode, 0, output);
        assert.equal(output.trim(), 'done');
      });
    });
  });
}

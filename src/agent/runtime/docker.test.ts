/**
 * DockerRuntime against the real Docker Engine: the shared runtime contract,
 * then what is specific to Docker (pull behaviours, pull timeout, engine
 * unreachable, event stream reconnection).
 *
 * Needs an engine (scripts/ensure-docker.sh) and berth-test/busybox:latest
 * (scripts/build-test-images.sh); skips with a message when no engine answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerRuntime } from './docker.js';
import { dockerConnection } from './docker-mapping.js';
import { ImagePullError, RuntimeUnavailableError, type ContainerEvent } from './runtime.js';
import { TEST_RUN_LABEL, containerRuntimeContract, waitFor } from './runtime.contract.js';

const TEST_IMAGE = 'berth-test/busybox:latest';

async function probe(): Promise<DockerRuntime | { skip: string }> {
  const rt = new DockerRuntime({ pullTimeoutMs: 20_000 });
  try {
    await rt.ping();
  } catch (err) {
    return { skip: `no Docker Engine reachable (${(err as Error).message}); run scripts/ensure-docker.sh` };
  }
  try {
    await rt.ensureImage(TEST_IMAGE, { pullBehavior: 'prefer-cached' });
  } catch {
    return { skip: `${TEST_IMAGE} is missing; run scripts/build-test-images.sh` };
  }
  return rt;
}

const target = await probe();
containerRuntimeContract({ name: 'DockerRuntime', runtime: target, image: TEST_IMAGE });

const skip = 'skip' in target ? target.skip : undefined;
const engineSocket = dockerConnection().socketPath;
const T = { timeout: 30_000 };

describe('DockerRuntime when the engine is unreachable', () => {
  it('reports RuntimeUnavailableError instead of hanging', T, async () => {
    const rt = new DockerRuntime({ dockerHost: 'unix:///nonexistent/docker.sock' });
    await assert.rejects(rt.ping(), RuntimeUnavailableError);
    await assert.rejects(rt.inspect('x'), (err: unknown) => {
      assert.ok(err instanceof RuntimeUnavailableError);
      assert.match(err.message, /\/nonexistent\/docker\.sock/);
      return true;
    });
    await assert.rejects(rt.create({ name: 'x', image: TEST_IMAGE }), RuntimeUnavailableError);
    await assert.rejects(rt.ensureImage(TEST_IMAGE), RuntimeUnavailableError);
  });
});

describe('DockerRuntime image pull behaviours', { skip }, () => {
  const docker = new Docker(dockerConnection());
  const runId = randomBytes(4).toString('hex');
  // A local copy of the test image under a registry that refuses connections.
  const repo = '127.0.0.1:9/berth-test/busybox';
  const ref = `${repo}:${runId}`;

  before(async () => {
    await docker.getImage(TEST_IMAGE).tag({ repo, tag: runId });
  });
  after(async () => {
    await docker.getImage(ref).remove().catch(() => undefined);
  });

  it('prefer-cached uses the cached image', T, async () => {
    const rt = new DockerRuntime({ pullBehavior: 'prefer-cached' });
    assert.equal((await rt.ensureImage(ref)).pulled, false);
  });

  it('default tries the registry and falls back to the cached image', T, async () => {
    const rt = new DockerRuntime({ pullBehavior: 'default' });
    const r = await rt.ensureImage(ref);
    assert.equal(r.pulled, false);
    assert.match(r.imageId, /^sha256:/);
  });

  it('always fails when the registry cannot be reached, even with a cached image', T, async () => {
    const rt = new DockerRuntime({ pullBehavior: 'always' });
    await assert.rejects(rt.ensureImage(ref), (err: unknown) => {
      assert.ok(err instanceof ImagePullError);
      assert.match(err.message, new RegExp(`pulling image '${repo.replace(/\./g, '\\.')}:${runId}' failed: .*connection refused`));
      return true;
    });
  });

  it('once pulls an image this runtime has not pulled before', T, async () => {
    const rt = new DockerRuntime();
    await assert.rejects(rt.ensureImage(ref, { pullBehavior: 'once' }), ImagePullError);
  });

  it('gives up on a registry that never answers after the pull timeout', T, async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const rt = new DockerRuntime({ pullTimeoutMs: 1500 });
      const t0 = Date.now();
      await assert.rejects(rt.ensureImage(`127.0.0.1:${port}/berth-test/silent:1`), (err: unknown) => {
        assert.ok(err instanceof ImagePullError, `got ${String(err)}`);
        assert.match(err.message, /within 1.5s/);
        return true;
      });
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('DockerRuntime event stream', { skip: skip ?? (engineSocket ? undefined : 'engine is not on a unix socket') }, () => {
  /**
   * A unix-socket proxy in front of the engine that can be cut, so the test
   * can take the engine "away" from one runtime and bring it back.
   */
  const dir = mkdtempSync(join(tmpdir(), 'berth-proxy-'));
  const proxyPath = join(dir, 'docker.sock');
  const open = new Set<Socket>();
  let up = true;
  const proxy = createServer((client) => {
    if (!up) return client.destroy();
    const engine = connect(engineSocket as string);
    open.add(client).add(engine);
    client.pipe(engine).pipe(client);
    const close = () => {
      client.destroy();
      engine.destroy();
      open.delete(client);
      open.delete(engine);
    };
    client.on('error', close).on('close', close);
    engine.on('error', close).on('close', close);
  });
  const direct = new DockerRuntime();
  const runId = randomBytes(4).toString('hex');

  before(() => new Promise<void>((r) => proxy.listen(proxyPath, r)));
  after(async () => {
    for (const c of await direct.list({ [TEST_RUN_LABEL]: runId })) await direct.remove(c.id);
    for (const s of open) s.destroy();
    await new Promise((r) => proxy.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconnects after the engine goes away and replays what happened meanwhile', T, async (t) => {
    const viaProxy = new DockerRuntime({ dockerHost: `unix://${proxyPath}` });
    const seen: ContainerEvent[] = [];
    const changes: boolean[] = [];
    const sub = viaProxy.events((e) => seen.push(e), {
      labels: { [TEST_RUN_LABEL]: runId },
      onConnectionChange: (connected) => changes.push(connected),
    });
    t.after(() => sub.stop());
    await waitFor('first connection', async () => changes.includes(true));

    // Cut the engine off, let a container live and die, then restore it.
    up = false;
    for (const s of open) s.destroy();
    await waitFor('disconnect noticed', async () => changes.includes(false));
    const id = await direct.create({
      name: `berth-events-${runId}`,
      image: TEST_IMAGE,
      command: ['sh', '-c', 'exit 5'],
      labels: { [TEST_RUN_LABEL]: runId },
    });
    await direct.start(id);
    await waitFor('exit', async () => (await direct.inspect(id)).exitCode !== null);
    assert.equal(seen.length, 0, 'nothing arrives while disconnected');
    up = true;

    const die = await waitFor('replayed die event', async () =>
      seen.find((e) => e.containerId === id && e.kind === 'die'),
    );
    assert.equal(die.kind === 'die' && die.exitCode, 5);
    assert.equal(changes.at(-1), true, 'reconnected');
    assert.equal(seen.filter((e) => e.containerId === id && e.kind === 'die').length, 1, 'delivered once');
  });

  it('delivers nothing after stop()', T, async () => {
    const seen: ContainerEvent[] = [];
    const sub = direct.events((e) => seen.push(e), { labels: { [TEST_RUN_LABEL]: runId } });
    sub.stop();
    const id = await direct.create({
      name: `berth-events-${runId}-2`,
      image: TEST_IMAGE,
      command: ['true'],
      labels: { [TEST_RUN_LABEL]: runId },
    });
    await direct.start(id);
    await waitFor('exit', async () => (await direct.inspect(id)).exitCode !== null);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, []);
  });
});

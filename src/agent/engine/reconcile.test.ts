import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerState } from '../runtime/runtime.js';
import { makeTask, type TaskShape } from './fixtures.js';
import type { TaskRecord } from './model.js';
import { applyOutcome, ESSENTIAL_EXITED_REASON, observe, reconcile, type Effect, type Outcome } from './reconcile.js';
import { newTaskRecord } from './spec.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

function state(id: string, s: Partial<ContainerState>): ContainerState {
  return {
    id,
    name: id,
    image: 'img',
    imageId: 'sha256:img',
    status: 'running',
    running: true,
    exitCode: null,
    startedAt: new Date(T0),
    finishedAt: null,
    health: 'none',
    healthOutput: null,
    portBindings: [],
    networks: [{ name: 'bridge', ipv4Address: '172.17.0.9' }],
    oomKilled: false,
    error: null,
    labels: {},
    pid: 1,
    ...s,
  };
}

const running = (id: string, extra: Partial<ContainerState> = {}) => state(id, extra);
const exited = (id: string, code: number, extra: Partial<ContainerState> = {}) =>
  state(id, { status: 'exited', running: false, exitCode: code, finishedAt: new Date(T0 + 1000), pid: null, ...extra });

/**
 * A tiny world: runs reconcile passes, applying every effect as a
 * successful runtime would (or as `fail` says), with containers' engine
 * state held in `world` (keyed by container name).
 */
class Sim {
  record: TaskRecord;
  world = new Map<string, ContainerState | 'gone'>();
  now = T0;
  log: Effect[][] = [];
  fail: (e: Effect) => Outcome | undefined = () => undefined;

  constructor(shape: TaskShape) {
    let n = 0;
    this.record = newTaskRecord(makeTask(shape), () => `token${n++}`);
  }

  /** One pass; returns the effects it asked for. */
  pass(): Effect[] {
    this.record = observe(this.record, this.world, this.now);
    const plan = reconcile(this.record, { now: this.now, cleanupWaitMs: HOUR });
    this.record = plan.record;
    for (const e of plan.effects) {
      const outcome = this.fail(e) ?? this.apply(e);
      this.record = applyOutcome(this.record, e, outcome, this.now);
    }
    this.log.push(plan.effects);
    return plan.effects;
  }

  /** Passes until nothing changes (bounded). */
  settle(): void {
    for (let i = 0; i < 30; i++) {
      const before = JSON.stringify(this.record);
      const effects = this.pass();
      if (effects.length === 0 && JSON.stringify(this.record) === before) return;
    }
    throw new Error('did not settle');
  }

  private apply(e: Effect): Outcome {
    switch (e.kind) {
      case 'create':
        this.world.set(e.container, state(`id-${e.container}`, { status: 'created', running: false, startedAt: null, pid: null }));
        return { ok: true, runtimeId: `id-${e.container}` };
      case 'start':
        this.world.set(e.container, running(`id-${e.container}`, { startedAt: new Date(this.now) }));
        return { ok: true };
      case 'stop': {
        const s = this.world.get(e.container);
        if (s && s !== 'gone' && s.running) this.world.set(e.container, exited(s.id, 137));
        return { ok: true };
      }
      case 'remove':
        this.world.set(e.container, 'gone');
        return { ok: true };
      case 'createTaskGroup':
        return { ok: true, taskGroup: { cgroupParent: `/berth/${this.record.taskGroup?.name ?? ''}` } };
      default:
        return { ok: true };
    }
  }

  c(name: string) {
    const c = this.record.containers.find((x) => x.name === name);
    assert.ok(c, name);
    return c;
  }
}

describe('reconcile', () => {
  it('pulls, creates and starts containers, then reports RUNNING', () => {
    const sim = new Sim({ containers: [{ name: 'web' }, { name: 'side', essential: false }] });
    assert.deepEqual(sim.pass().map((e) => e.kind), ['pull', 'pull']);
    assert.equal(sim.record.status, 'PENDING');
    assert.equal(sim.record.pullStartedAt, T0);
    assert.deepEqual(sim.pass().map((e) => e.kind), ['create', 'create'], 'images there: ACTIVATING, and creating');
    assert.equal(sim.record.status, 'ACTIVATING');
    assert.equal(sim.record.pullStoppedAt, T0);
    assert.deepEqual(sim.pass().map((e) => e.kind), ['start', 'start']);
    assert.equal(sim.record.status, 'ACTIVATING');
    sim.settle();
    assert.equal(sim.record.status, 'RUNNING');
    assert.equal(sim.c('web').phase, 'RUNNING');
    assert.equal(sim.c('web').runtimeId, 'id-web');
    assert.deepEqual(sim.c('web').ipv4Addresses, ['172.17.0.9']);
  });

  it('stops the task when an essential container exits, dependents first', () => {
    const sim = new Sim({
      containers: [
        { name: 'main' },
        { name: 'db', essential: false },
        { name: 'app', essential: false, dependsOn: [{ containerName: 'db', condition: 'START' }] },
      ],
    });
    sim.settle();
    assert.equal(sim.record.status, 'RUNNING');
    sim.world.set('main', exited('id-main', 3));
    sim.now += 1000;
    sim.pass();
    assert.equal(sim.record.status, 'DEACTIVATING');
    assert.deepEqual(sim.record.stop, { by: 'agent', stopCode: 'EssentialContainerExited', reason: ESSENTIAL_EXITED_REASON, at: sim.now });
    assert.equal(sim.c('main').exitCode, 3);
    // app stops before db, which it depends on.
    assert.deepEqual(sim.pass(), [{ kind: 'stop', container: 'app', timeoutSeconds: 30 }]);
    assert.equal(sim.record.status, 'STOPPING');
    assert.deepEqual(sim.pass(), [{ kind: 'stop', container: 'db', timeoutSeconds: 30 }]);
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.equal(sim.c('db').exitCode, 137);
    assert.equal(sim.record.executionStoppedAt, sim.now);
    assert.equal(sim.record.cleanupAt, sim.now + HOUR);
  });

  it('starts a SUCCESS dependent only after its dependency exited 0', () => {
    const sim = new Sim({
      containers: [
        { name: 'init', essential: false },
        { name: 'app', dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
      ],
    });
    sim.settle();
    assert.equal(sim.c('app').phase, 'PULLED');
    assert.equal(sim.c('init').phase, 'RUNNING');
    assert.equal(sim.record.status, 'ACTIVATING');
    sim.world.set('init', exited('id-init', 0));
    sim.settle();
    assert.equal(sim.c('app').phase, 'RUNNING');
    assert.equal(sim.record.status, 'RUNNING');
  });

  it('stops the task when a SUCCESS dependency fails', () => {
    const sim = new Sim({
      containers: [
        { name: 'init', essential: false },
        { name: 'app', dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
      ],
    });
    sim.settle();
    sim.world.set('init', exited('id-init', 2));
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.equal(sim.record.stop?.stopCode, 'TaskFailedToStart');
    assert.match(sim.record.stop?.reason ?? '', /dependency of container 'app' on 'init' \(SUCCESS\).*exited with code 2/);
    assert.equal(sim.c('app').runtimeId, undefined, 'app was never created');
  });

  it('waits for HEALTHY up to the dependency startTimeout', () => {
    const sim = new Sim({
      containers: [
        { name: 'db', startTimeout: 5, healthCheck: { command: ['CMD-SHELL', 'true'] } },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ],
    });
    sim.settle();
    assert.equal(sim.c('app').phase, 'PULLED');
    sim.now = T0 + 3000;
    sim.world.set('db', running('id-db', { health: 'starting' }));
    sim.record = observe(sim.record, sim.world, sim.now);
    const plan = reconcile(sim.record, { now: sim.now, cleanupWaitMs: HOUR });
    assert.deepEqual(plan.effects, []);
    assert.equal(plan.wakeAt, T0 + 5000);
    sim.now = T0 + 6000;
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.match(sim.record.stop?.reason ?? '', /did not reach HEALTHY within its startTimeout of 5s/);
  });

  it('starts a HEALTHY dependent once the dependency is healthy, and derives task health', () => {
    const sim = new Sim({
      containers: [
        { name: 'db', healthCheck: { command: ['CMD-SHELL', 'true'] } },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ],
    });
    sim.settle();
    sim.world.set('db', running('id-db', { health: 'healthy' }));
    sim.settle();
    assert.equal(sim.c('db').health, 'HEALTHY');
    assert.equal(sim.c('app').phase, 'RUNNING');
    assert.equal(sim.record.status, 'RUNNING');
  });

  it('fails the task with CannotPullContainerError when an essential image cannot be had', () => {
    const sim = new Sim({ containers: [{ name: 'web', image: 'nowhere/missing' }] });
    sim.fail = (e) =>
      e.kind === 'pull' ? { ok: false, transient: false, code: 'CannotPullContainerError', message: 'pull access denied' } : undefined;
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.equal(sim.c('web').reason, 'CannotPullContainerError: pull access denied');
    assert.deepEqual(
      { stopCode: sim.record.stop?.stopCode, reason: sim.record.stop?.reason },
      { stopCode: 'TaskFailedToStart', reason: 'CannotPullContainerError: pull access denied' },
    );
    assert.ok(sim.log.flat().every((e) => e.kind === 'pull'), 'nothing but the pull was attempted');
  });

  it('stops on the server’s request and cleans up after the wait', () => {
    const sim = new Sim({
      containers: [{ name: 'web', mountPoints: [{ sourceVolume: 'scratch', containerPath: '/s' }] }],
      volumes: [{ name: 'scratch', host: {} }],
    });
    sim.settle();
    assert.equal(sim.record.volumes[0]?.created, true);
    sim.record = { ...sim.record, task: { ...sim.record.task, desiredStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'bye' } };
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.equal(sim.record.stop?.by, 'server');
    assert.deepEqual(sim.pass(), [], 'nothing is removed before the cleanup wait');
    sim.now += HOUR;
    assert.deepEqual(sim.pass(), [{ kind: 'remove', container: 'web' }]);
    assert.deepEqual(sim.pass(), [{ kind: 'removeVolume', volume: 'scratch' }]);
    sim.pass();
    assert.equal(sim.record.cleaned, true);
  });

  it('creates the task group before any container and removes it before the task is STOPPED', () => {
    const sim = new Sim({ memory: '128', containers: [{ name: 'web' }] });
    assert.deepEqual(sim.pass().map((e) => e.kind), ['pull']);
    assert.deepEqual(sim.pass().map((e) => e.kind), ['createTaskGroup']);
    assert.equal(sim.record.taskGroup?.state, 'created');
    assert.deepEqual(sim.pass().map((e) => e.kind), ['create']);
    sim.settle();
    assert.equal(sim.record.status, 'RUNNING');
    sim.record = { ...sim.record, task: { ...sim.record.task, desiredStatus: 'STOPPED' } };
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    const kinds = sim.log.flat().map((e) => e.kind);
    assert.ok(kinds.indexOf('removeTaskGroup') > kinds.indexOf('stop'), 'removed after its containers stopped');
    assert.equal(sim.record.taskGroup?.state, 'removed');
  });

  it('fails the task when a shared volume without autoprovision is missing', () => {
    const sim = new Sim({
      containers: [{ name: 'web', mountPoints: [{ sourceVolume: 'data', containerPath: '/d' }] }],
      volumes: [{ name: 'data', dockerVolumeConfiguration: { scope: 'shared', autoprovision: false } }],
    });
    sim.fail = (e) => (e.kind === 'checkVolume' ? { ok: false, transient: false, code: 'ResourceInitializationError', message: "shared volume 'data' does not exist" } : undefined);
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.deepEqual(
      { stopCode: sim.record.stop?.stopCode, reason: sim.record.stop?.reason },
      { stopCode: 'TaskFailedToStart', reason: "ResourceInitializationError: shared volume 'data' does not exist" },
    );
    assert.ok(!sim.log.flat().some((e) => e.kind === 'create' || e.kind === 'createVolume'), 'no container, and the volume is not made');
  });

  it('stops tasks the server no longer lists', () => {
    const sim = new Sim({ containers: [{ name: 'web' }] });
    sim.settle();
    sim.record = { ...sim.record, inDesiredSet: false };
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
  });

  it('retries later after a transient failure', () => {
    const sim = new Sim({ containers: [{ name: 'web' }] });
    let failures = 1;
    sim.fail = (e) =>
      e.kind === 'pull' && failures-- > 0 ? { ok: false, transient: true, code: 'DockerDaemonUnavailable', message: 'down' } : undefined;
    sim.pass();
    assert.equal(sim.c('web').phase, 'PENDING');
    const plan = reconcile(sim.record, { now: sim.now + 100, cleanupWaitMs: HOUR });
    assert.deepEqual(plan.effects, []);
    assert.ok(plan.wakeAt && plan.wakeAt > sim.now);
    sim.now = plan.wakeAt;
    sim.settle();
    assert.equal(sim.record.status, 'RUNNING');
  });

  it('adopts containers it finds by label and never goes backwards', () => {
    const sim = new Sim({ containers: [{ name: 'web' }] });
    sim.world.set('web', running('found-id'));
    sim.record = observe(sim.record, sim.world, sim.now);
    assert.equal(sim.c('web').runtimeId, 'found-id');
    assert.equal(sim.c('web').phase, 'RUNNING');
    sim.world.set('web', state('found-id', { status: 'created', running: false, startedAt: null }));
    sim.record = observe(sim.record, sim.world, sim.now);
    assert.equal(sim.c('web').phase, 'RUNNING');
  });

  it('refuses a task that needs what the instance does not have', () => {
    const sim = new Sim({ containers: [{ name: 'web' }], networkMode: 'awsvpc' });
    sim.settle();
    assert.equal(sim.record.status, 'STOPPED');
    assert.match(sim.record.stop?.reason ?? '', /awsvpc/);
  });
});

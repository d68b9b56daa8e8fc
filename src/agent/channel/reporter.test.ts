import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTask } from '../engine/fixtures.js';
import type { TaskRecord } from '../engine/model.js';
import { newTaskRecord } from '../engine/spec.js';
import { EcsApiError } from './ecs.js';
import { Reporter, isPermanentRejection, type ReporterStore, type StateChangeApi } from './reporter.js';
import { reportsBetween, taskView } from './reports.js';

class MemoryStore implements ReporterStore {
  state: unknown;
  async loadReporterState<T>(): Promise<T | undefined> {
    return structuredClone(this.state) as T | undefined;
  }
  async saveReporterState<T>(state: T): Promise<void> {
    this.state = structuredClone(state);
  }
}

const networkError = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const clientError = (name: string, status: number) => new EcsApiError(name, name, status);

function record(): TaskRecord {
  return newTaskRecord(makeTask({ containers: [{ name: 'web' }, { name: 'side', essential: false }] }), () => 't');
}

function running(r: TaskRecord): TaskRecord {
  return {
    ...r,
    status: 'RUNNING',
    containers: r.containers.map((c) => ({ ...c, phase: 'RUNNING', runtimeId: `id-${c.name}` })),
  };
}

describe('reports', () => {
  it('turns a status change into one full task report, and container changes into container reports', () => {
    const r0 = record();
    const r1 = running(r0);
    const [report, ...rest] = reportsBetween(taskView(r0), taskView(r1));
    assert.equal(rest.length, 0);
    assert.equal(report?.kind, 'task');
    assert.deepEqual(report?.kind === 'task' && report.view.containers.map((c) => [c.containerName, c.status, c.runtimeId]), [
      ['web', 'RUNNING', 'id-web'],
      ['side', 'RUNNING', 'id-side'],
    ]);
    const r2 = { ...r1, containers: r1.containers.map((c) => (c.name === 'side' ? { ...c, phase: 'STOPPED' as const, exitCode: 1 } : c)) };
    assert.deepEqual(reportsBetween(taskView(r1), taskView(r2)), [
      {
        kind: 'container',
        taskArn: r0.taskArn,
        cluster: r0.task.clusterArn,
        container: { containerName: 'side', runtimeId: 'id-side', status: 'STOPPED', exitCode: 1, networkBindings: [] },
      },
    ]);
    assert.deepEqual(reportsBetween(taskView(r2), taskView(r2)), []);
  });

  it('reports nothing about a container that is still PENDING; its runtime id goes with the next report', () => {
    const r0 = record();
    const created = { ...r0, status: 'ACTIVATING' as const, containers: r0.containers.map((c) => ({ ...c, phase: 'CREATED' as const, runtimeId: `id-${c.name}` })) };
    const [activating] = reportsBetween(taskView(r0), taskView({ ...r0, status: 'ACTIVATING' }));
    assert.equal(activating?.kind, 'task');
    assert.deepEqual(reportsBetween(taskView({ ...r0, status: 'ACTIVATING' }), taskView(created)), []);
    const webRunning = { ...created, containers: created.containers.map((c) => (c.name === 'web' ? { ...c, phase: 'RUNNING' as const } : c)) };
    assert.deepEqual(
      reportsBetween(taskView(created), taskView(webRunning)).map((r) => r.kind === 'container' && [r.container.containerName, r.container.status, r.container.runtimeId]),
      [['web', 'RUNNING', 'id-web']],
    );
  });

  it('carries the agent’s stop reason but not the server’s', () => {
    const r = { ...running(record()), status: 'DEACTIVATING' as const };
    assert.equal(taskView({ ...r, stop: { by: 'agent', stopCode: 'EssentialContainerExited', reason: 'Essential container in task exited', at: 1 } }).reason, 'Essential container in task exited');
    assert.equal(taskView({ ...r, stop: { by: 'server', reason: 'Task stopped by user', at: 1 } }).reason, undefined);
  });

  it('classifies server answers', () => {
    assert.equal(isPermanentRejection(clientError('InvalidParameterException', 400)), true);
    assert.equal(isPermanentRejection(clientError('ThrottlingException', 400)), false);
    assert.equal(isPermanentRejection(clientError('ServerException', 500)), false);
    assert.equal(isPermanentRejection(clientError('UnrecognizedClientException', 403)), false);
    assert.equal(isPermanentRejection(networkError()), false);
  });
});

describe('reporter', () => {
  it('delivers in order, retrying until the server accepts, and drops what the server rejects', async () => {
    const store = new MemoryStore();
    const delivered: string[] = [];
    let outage = 3;
    const api: StateChangeApi = {
      submitTask: async (view) => {
        if (outage-- > 0) throw networkError();
        delivered.push(`task ${view.status}`);
      },
      submitContainer: async (_arn, _cluster, c) => {
        if (c.containerName === 'side' && c.exitCode === 99) throw clientError('InvalidParameterException', 400);
        delivered.push(`container ${c.containerName} ${c.status} ${c.exitCode}`);
      },
    };
    const reporter = new Reporter({ api, store, backoff: { baseMs: 5, capMs: 20 } });
    await reporter.start();
    const r0 = record();
    const r1 = running(r0);
    reporter.observe(r0);
    assert.equal(reporter.pending, 0, 'nothing new for the server yet');
    reporter.observe(r1);
    reporter.observe(r1);
    const side = (code: number): TaskRecord => ({
      ...r1,
      containers: r1.containers.map((c) => (c.name === 'side' ? { ...c, phase: 'STOPPED', exitCode: code } : c)),
    });
    reporter.observe(side(99));
    reporter.observe(side(1));
    await reporter.idle();
    assert.deepEqual(delivered, ['task RUNNING', 'container side STOPPED 1']);
    reporter.observe({ ...side(1), status: 'STOPPED' });
    await reporter.idle();
    assert.deepEqual(delivered, ['task RUNNING', 'container side STOPPED 1', 'task STOPPED']);
    await reporter.stop();
  });

  it('lets a task report replace the task’s queued reports, except RUNNING, and delivers other tasks meanwhile', async () => {
    const delivered: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = record();
    const b = record();
    const name = (arn: string) => (arn === a.taskArn ? 'a' : 'b');
    const api: StateChangeApi = {
      submitTask: async (view) => {
        if (view.taskArn === a.taskArn) await gate;
        const side = view.containers.find((c) => c.containerName === 'side');
        delivered.push(`${name(view.taskArn)} task ${view.status} side ${side?.status} ${side?.exitCode}`);
      },
      submitContainer: async (arn, _cluster, c) => void delivered.push(`${name(arn)} container ${c.containerName} ${c.status}`),
    };
    const reporter = new Reporter({ api, store: new MemoryStore() });
    await reporter.start();
    const stoppedSide = (r: TaskRecord): TaskRecord => ({
      ...r,
      containers: r.containers.map((c) => (c.name === 'side' ? { ...c, phase: 'STOPPED', exitCode: 1 } : c)),
    });
    reporter.observe({ ...a, status: 'ACTIVATING' }); // on its way, held by the server
    reporter.observe(running(a)); // kept: the server records the start time from it
    reporter.observe(stoppedSide(running(a))); // replaced by the next task report
    reporter.observe({ ...stoppedSide(running(a)), status: 'DEACTIVATING' }); // replaced by the next
    reporter.observe({ ...stoppedSide(running(a)), status: 'STOPPED' });
    reporter.observe(running(b));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(delivered, ['b task RUNNING side RUNNING undefined'], 'another task is not held up');
    release();
    await reporter.idle();
    assert.deepEqual(delivered, [
      'b task RUNNING side RUNNING undefined',
      'a task ACTIVATING side PENDING undefined',
      'a task RUNNING side RUNNING undefined',
      'a task STOPPED side STOPPED 1',
    ]);
    await reporter.stop();
  });

  it('ignores a record older than what it reported (read back after a crash)', async () => {
    const delivered: string[] = [];
    const api: StateChangeApi = {
      submitTask: async (v) => void delivered.push(`task ${v.status}`),
      submitContainer: async (_a, _c, c) => void delivered.push(`container ${c.containerName} ${c.status}`),
    };
    const reporter = new Reporter({ api, store: new MemoryStore() });
    await reporter.start();
    const r1 = running(record());
    reporter.observe(r1);
    reporter.observe({ ...r1, status: 'ACTIVATING' });
    reporter.observe({ ...r1, containers: r1.containers.map((c) => (c.name === 'side' ? { ...c, phase: 'CREATED' } : c)) });
    reporter.observe({ ...r1, containers: r1.containers.map((c) => (c.name === 'side' ? { ...c, phase: 'STOPPED', exitCode: 2 } : c)) });
    await reporter.idle();
    assert.deepEqual(delivered, ['task RUNNING', 'container side STOPPED']);
    await reporter.stop();
  });

  it('keeps undelivered reports across restarts and catches up on unqueued changes', async () => {
    const store = new MemoryStore();
    const down: StateChangeApi = { submitTask: async () => Promise.reject(networkError()), submitContainer: async () => Promise.reject(networkError()) };
    const first = new Reporter({ api: down, store, backoff: { baseMs: 5, capMs: 10 } });
    await first.start();
    const r0 = record();
    first.observe(running(r0));
    await new Promise((r) => setTimeout(r, 30));
    await first.stop();
    assert.equal(first.pending, 1);

    const delivered: string[] = [];
    const up: StateChangeApi = {
      submitTask: async (v) => void delivered.push(`task ${v.status}`),
      submitContainer: async (_a, _c, c) => void delivered.push(`container ${c.containerName}`),
    };
    const second = new Reporter({ api: up, store });
    await second.start();
    // The previous run stopped the task but crashed before queuing the report.
    second.observe({ ...running(r0), status: 'STOPPED' });
    second.observe({ ...running(r0), status: 'STOPPED' });
    await second.idle();
    assert.deepEqual(delivered, ['task RUNNING', 'task STOPPED']);
    await second.stop();
  });
});

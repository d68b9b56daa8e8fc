import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTask } from '../engine/fixtures.js';
import { newTaskRecord } from '../engine/spec.js';
import { PathQueue } from './files.js';
import { AgentStateStore, newInstanceId } from './store.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'berth-agent-state-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('agent state store', () => {
  it('generates an EC2-style instance id once and keeps it', async () => {
    assert.match(newInstanceId(), /^i-[0-9a-f]{17}$/);
    const dir = tempDir();
    const a = await AgentStateStore.open(dir);
    assert.match(a.identity().instanceId, /^i-[0-9a-f]{17}$/);
    await a.saveIdentity({ containerInstanceArn: 'arn:ci', clusterArn: 'arn:cluster', metadataPort: 51679 });
    await a.flush();
    const b = await AgentStateStore.open(dir);
    assert.deepEqual(b.identity(), { ...a.identity() });
    assert.equal(b.identity().containerInstanceArn, 'arn:ci');
  });

  it('stores task records, the desired set and the reporter state', async () => {
    const dir = tempDir();
    const s = await AgentStateStore.open(dir);
    const t1 = makeTask({ containers: [{ name: 'a' }] });
    const t2 = makeTask({ containers: [{ name: 'b' }] });
    const r1 = newTaskRecord(t1, () => 'x');
    const r2 = newTaskRecord(t2, () => 'y');
    await Promise.all([s.saveTask(r1), s.saveTask(r2), s.saveDesired([t1, t2]), s.saveReporterState({ queue: [1, 2] })]);
    // Writes to one path land in the order they were asked for.
    await Promise.all([s.saveTask({ ...r1, status: 'ACTIVATING' }), s.saveTask({ ...r1, status: 'RUNNING' })]);
    await s.deleteTask(t2.taskArn);

    const again = await AgentStateStore.open(dir);
    const tasks = await again.loadTasks();
    assert.deepEqual(tasks.map((r) => [r.taskArn, r.status]), [[t1.taskArn, 'RUNNING']]);
    assert.deepEqual((await again.loadDesired())?.map((t) => t.taskArn), [t1.taskArn, t2.taskArn]);
    assert.deepEqual(await again.loadReporterState(), { queue: [1, 2] });
    const leftovers = [...readdirSync(dir), ...readdirSync(join(dir, 'tasks'))].filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temporary files are left behind');
  });

  it('does not write again a desired set that differs only in task versions', async () => {
    const dir = tempDir();
    const s = await AgentStateStore.open(dir);
    const t = makeTask({ containers: [{ name: 'a' }] });
    await s.saveDesired([t]);
    const before = statSync(join(dir, 'desired.json')).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await s.saveDesired([{ ...t, version: 7 }]);
    assert.equal(statSync(join(dir, 'desired.json')).mtimeMs, before, 'a version bump alone is not written');
    await s.saveDesired([{ ...t, version: 8, desiredStatus: 'STOPPED' }]);
    assert.equal((await (await AgentStateStore.open(dir)).loadDesired())?.[0]?.desiredStatus, 'STOPPED');
    await s.saveDesired([]);
    assert.deepEqual(await (await AgentStateStore.open(dir)).loadDesired(), []);
  });

  it('replaces a write that has not started by a newer one to the same path', async () => {
    const dir = tempDir();
    const q = new PathQueue();
    const path = join(dir, 'x.json');
    const writes = Array.from({ length: 20 }, (_, i) => q.write(path, { i }, i === 0));
    await Promise.all(writes);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { i: 19 });
    // Each caller resolves once its value or a newer one is stored; the first write was asked to be durable.
    const late = q.write(path, { i: 20 }, false);
    const latest = q.write(path, { i: 21 }, false);
    await late;
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { i: 21 });
    await latest;
    await q.delete(path);
    assert.equal(existsSync(path), false);
  });

  it('starts empty', async () => {
    const s = await AgentStateStore.open(tempDir());
    assert.deepEqual(await s.loadTasks(), []);
    assert.equal(await s.loadDesired(), undefined);
    assert.equal(await s.loadReporterState(), undefined);
  });
});

// Task cgroups against stand-in cgroup trees in a temp dir (the kernel's
// files are plain files there): which files are written, with what. The
// kernel's own behaviour is covered by the runtime contract suite.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cfsQuotaUs, HostCgroups } from './cgroups.js';

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function tree(files: Record<string, string>): { root: string } {
  const root = mkdtempSync(join(tmpdir(), 'berth-cgroups-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return { root };
}

const read = (root: string, path: string) => readFileSync(join(root, path), 'utf8');

describe('task cgroups', () => {
  it('turns CPU units into a CFS quota per 100 ms, never below the kernel minimum', () => {
    assert.equal(cfsQuotaUs(1024), 100_000);
    assert.equal(cfsQuotaUs(512), 50_000);
    assert.equal(cfsQuotaUs(2048), 200_000);
    assert.equal(cfsQuotaUs(2), 1_000);
  });

  it('says why when the memory or cpu controller is missing', async () => {
    const v1 = tree({ 'memory/cgroup.procs': '' });
    const r1 = await HostCgroups.detect(v1.root);
    assert.ok('unavailable' in r1 && /cpu controller/.test(r1.unavailable), JSON.stringify(r1));
    const v2 = tree({ 'cgroup.controllers': 'cpuset io memory pids' });
    const r2 = await HostCgroups.detect(v2.root);
    assert.ok('unavailable' in r2 && /lacks the cpu controller/.test(r2.unavailable), JSON.stringify(r2));
  });

  it('writes the memory limit and CPU quota under each v1 controller', async () => {
    const t = tree({ 'memory/cgroup.procs': '', 'cpu/cgroup.procs': '' });
    const cg = await HostCgroups.detect(t.root);
    assert.ok(cg instanceof HostCgroups && cg.version === 'v1');
    assert.equal(await cg.create('task1', { memoryBytes: 64 * 1024 * 1024, cpuUnits: 256 }), '/berth/task1');
    assert.equal(read(t.root, 'memory/berth/task1/memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(read(t.root, 'cpu/berth/task1/cpu.cfs_quota_us'), '25000');
    assert.equal(read(t.root, 'cpu/berth/task1/cpu.cfs_period_us'), '100000');
  });

  it('delegates cpu and memory down to the task group and writes memory.max and cpu.max on v2', async () => {
    const t = tree({
      'cgroup.controllers': 'cpuset cpu io memory pids',
      'cgroup.subtree_control': 'cpu memory',
      // The kernel creates these with each directory.
      'berth/cgroup.subtree_control': '',
      'berth/task2/cgroup.subtree_control': '',
    });
    const cg = await HostCgroups.detect(t.root);
    assert.ok(cg instanceof HostCgroups && cg.version === 'v2');
    assert.equal(await cg.create('task2', { memoryBytes: 128 * 1024 * 1024, cpuUnits: 1536 }), '/berth/task2');
    assert.equal(read(t.root, 'berth/task2/memory.max'), String(128 * 1024 * 1024));
    assert.equal(read(t.root, 'berth/task2/cpu.max'), '150000 100000');
    // Each write enables one controller; the stand-in file keeps the last one.
    assert.equal(read(t.root, 'berth/cgroup.subtree_control'), '+memory');
    assert.equal(read(t.root, 'cgroup.subtree_control'), 'cpu memory', 'nothing written where both are enabled');
  });
});

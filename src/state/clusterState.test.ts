import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from '../core/errors.js';
import { createCluster } from '../ecs/clusters.js';
import { ACTIVE_TASK_STATES } from '../protocol/agent.js';
import { deregisterContainerInstance, registerContainerInstance, updateContainerInstancesState, type ContainerInstanceDoc } from '../ecs/containerInstances.js';
import { putAttributes } from '../ecs/attributes.js';
import { createReadModels, type DomainContext } from '../ecs/context.js';
import { registerTaskDefinition } from '../ecs/taskDefinitions.js';
import { placementRequest, runTask, stopTask, submitTaskStateChange, type StoredTask } from '../ecs/tasks.js';
import type { TaskDefinitionDoc } from '../ecs/taskdef/types.js';
import { place } from '../scheduler/engine.js';
import { hashString } from '../scheduler/random.js';
import { buildSnapshot, type ClusterSnapshot } from '../scheduler/snapshot.js';
import type { InstanceSnapshot, PlacementRequest, PlacementStrategy } from '../scheduler/types.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Change, ChangeListener, Kind, Query, Row, Store, Transaction } from '../store/store.js';
import { reservePlacements } from '../ecs/writers/placement.js';
import { ClusterStateCache, StoreClusterState } from './clusterState.js';
import { instanceSnapshotOf } from './instanceView.js';

/** Deterministic PRNG (mulberry32) so a failing sequence can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

async function fixture(opts: { store?: Store; connected?: boolean; maxQueuedChanges?: number } = {}) {
  const store = opts.store ?? (await openSqliteStore({ path: ':memory:' }));
  const ctx: DomainContext = { store, region: 'us-east-1', accountId: '000000000000', now: Date.now, state: createReadModels(store, { plain: true }) };
  const { cluster } = (await createCluster(ctx, { clusterName: 'c1' })) as { cluster: { clusterArn: string } };
  await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 128, memory: 256 }] });
  await registerTaskDefinition(ctx, { family: 'db', containerDefinitions: [{ name: 'db', image: 'busybox', cpu: 256, memory: 512 }] });
  await registerTaskDefinition(ctx, {
    family: 'edge',
    containerDefinitions: [{ name: 'edge', image: 'busybox', cpu: 64, memory: 64, portMappings: [{ containerPort: 80, hostPort: 8080 }] }],
  });
  const cache = new ClusterStateCache(store, opts.maxQueuedChanges !== undefined ? { maxQueuedChanges: opts.maxQueuedChanges } : {});
  const setAgent = (arn: string, connected: boolean) =>
    store.transaction(async (tx) => {
      const row = await tx.get<ContainerInstanceDoc>('containerInstance', arn);
      if (!row || row.doc.agentConnected === connected) return;
      await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: connected, version: row.doc.version + 1 } });
    });
  let n = 0;
  const register = async (az = AZS[n % 3]!, cpu = 2048, memory = 4096) => {
    n++;
    const r = await registerContainerInstance(ctx, {
      cluster: 'c1',
      instanceIdentityDocument: JSON.stringify({ instanceId: `i-${String(n).padStart(8, '0')}`, availabilityZone: az, instanceType: 'm5.large' }),
      totalResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: cpu },
        { name: 'MEMORY', type: 'INTEGER', integerValue: memory },
        { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22'] },
      ],
      versionInfo: { agentVersion: '1.0.0' },
    });
    if (opts.connected === true) await setAgent(r.containerInstance.containerInstanceArn, true);
    return r.containerInstance.containerInstanceArn;
  };
  return { store, ctx, cache, clusterArn: cluster.clusterArn, register, setAgent };
}

/** What RunTask reads today: every placeable instance and every task not STOPPED, straight from the store. */
async function freshInstances(store: Store, clusterArn: string): Promise<InstanceSnapshot[]> {
  const rows = await store.find<ContainerInstanceDoc>('containerInstance', { cluster: clusterArn, status: ['ACTIVE', 'DRAINING'] });
  const tasks = await store.find<StoredTask>('task', { cluster: clusterArn, state: [...ACTIVE_TASK_STATES] });
  const loads = new Map<string, { groups: Map<string, number>; count: number }>();
  for (const t of tasks) {
    const instance = t.keys?.['instance'] ?? '';
    let l = loads.get(instance);
    if (!l) loads.set(instance, (l = { groups: new Map(), count: 0 }));
    l.groups.set(t.doc.task.group, (l.groups.get(t.doc.task.group) ?? 0) + 1);
    l.count++;
  }
  return rows.map((r) => instanceSnapshotOf(r, loads.get(r.arn) ?? { groups: new Map(), count: 0 }));
}

function normInstance(i: InstanceSnapshot) {
  return {
    arn: i.arn,
    status: i.status,
    agentConnected: i.agentConnected,
    ec2InstanceId: i.ec2InstanceId,
    agentVersion: i.agentVersion,
    registeredAt: i.registeredAt,
    attributes: [...i.attributes].sort(),
    runningTasksCount: i.runningTasksCount,
    taskGroups: [...i.taskGroups].filter(([, n]) => n > 0).sort(),
    remaining: { cpu: i.remaining.cpu, memory: i.remaining.memory, gpus: [...i.remaining.gpus] },
    usedPorts: { tcp: [...i.usedPorts.tcp].sort((a, b) => a - b), udp: [...i.usedPorts.udp].sort((a, b) => a - b) },
    launchTypes: i.launchTypes,
    networkModes: i.networkModes,
  };
}

const normAll = (xs: readonly InstanceSnapshot[]) => xs.map(normInstance).sort((a, b) => (a.arn < b.arn ? -1 : 1));

/** Everything a snapshot answers, in a comparable form; also checks its indexes agree with its instances. */
function describeSnapshot(s: ClusterSnapshot) {
  const n = s.instances.length;
  const load = s.loadColumns();
  const groups = new Set<string>();
  for (let i = 0; i < n; i++) {
    const inst = s.instances[i]!;
    assert.equal(s.indexOf(inst.arn), i);
    assert.equal(s.arnHashes[i], hashString(inst.arn));
    assert.equal(load.cpu[i], inst.remaining.cpu);
    assert.equal(load.memory[i], inst.remaining.memory);
    assert.equal(load.gpus[i], inst.remaining.gpus.length);
    for (const g of inst.taskGroups.keys()) groups.add(g);
  }
  const postings: [string, number[], number[]][] = [];
  for (const g of [...groups].sort()) {
    const expected = s.instances.flatMap((inst, i) => ((inst.taskGroups.get(g) ?? 0) > 0 ? [[i, inst.taskGroups.get(g)!] as const] : []));
    const p = s.groupPostings(g);
    if (expected.length === 0) {
      assert.equal(p, undefined);
      continue;
    }
    assert.ok(p, `postings of ${g}`);
    assert.deepEqual([...p.instances], expected.map(([i]) => i), `positions of ${g}`);
    assert.deepEqual([...p.counts], expected.map(([, c]) => c), `counts of ${g}`);
    postings.push([g, [...p.instances], [...p.counts]]);
  }
  assert.equal(s.groupPostings('family:nothing-here'), undefined);
  const buckets = s.attributeBuckets('ecs.availability-zone');
  for (let i = 0; i < n; i++) assert.equal(buckets.values[buckets.bucketOf[i]!], s.instances[i]!.attributes.get('ecs.availability-zone'));
  return { instances: s.instances.map(normInstance), load: [[...load.cpu], [...load.memory], [...load.gpus]], postings };
}

const REQUESTS: { td: string; strategy: PlacementStrategy[]; constraints?: PlacementRequest['placementConstraints'] }[] = [
  { td: 'web', strategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }] },
  { td: 'db', strategy: [{ type: 'spread', field: 'instanceId' }], constraints: [{ type: 'distinctInstance' }] },
  { td: 'edge', strategy: [{ type: 'binpack', field: 'cpu' }], constraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone != us-east-1c' }] },
];

/** The engine gives the same answer on the cached snapshot as on one built from a fresh read. */
async function assertPlacesLikeFresh(store: Store, cached: ClusterSnapshot, fresh: readonly InstanceSnapshot[], seed: number) {
  const freshSnap = buildSnapshot(fresh);
  for (const r of REQUESTS) {
    const td = (await store.find<{ taskDefinition: TaskDefinitionDoc }>('taskDefinition', { name: r.td, limit: 1 }))[0]!.doc.taskDefinition;
    const { request } = placementRequest(td, {
      group: `family:${r.td}`,
      count: 5,
      placementStrategy: r.strategy,
      ...(r.constraints ? { placementConstraints: [...r.constraints] } : {}),
      launchType: 'EC2',
    });
    const a = place(cached, request, { seed });
    const b = place(freshSnap, request, { seed });
    assert.deepEqual(a.placements.map((p) => p.instanceArn), b.placements.map((p) => p.instanceArn), `placements of ${r.td}`);
    assert.equal(a.diagnosis.message, b.diagnosis.message);
  }
}

async function randomWrites(f: Awaited<ReturnType<typeof fixture>>, seed: number, steps: number, check: (step: number) => Promise<void>) {
  const r = rng(seed);
  const instances: string[] = [];
  for (let i = 0; i < 4; i++) {
    const arn = await f.register();
    instances.push(arn);
    await f.setAgent(arn, true);
  }
  for (let step = 0; step < steps; step++) {
    const roll = r.next();
    const anyInstance = () => r.pick(instances);
    const anyTask = async () => {
      const tasks = await f.store.find<StoredTask>('task', { cluster: f.clusterArn, state: [...ACTIVE_TASK_STATES] });
      return tasks.length > 0 ? r.pick(tasks) : undefined;
    };
    try {
      if (roll < 0.08) {
        const arn = await f.register(r.pick(AZS), r.pick([1024, 2048, 4096]), r.pick([2048, 4096]));
        instances.push(arn);
        if (r.next() < 0.8) await f.setAgent(arn, true);
      } else if (roll < 0.14) {
        await f.setAgent(anyInstance(), r.next() < 0.7);
      } else if (roll < 0.45) {
        const q = r.pick(REQUESTS);
        await runTask(f.ctx, {
          cluster: 'c1',
          taskDefinition: q.td,
          count: 1 + r.int(3),
          placementStrategy: q.strategy,
          ...(q.constraints ? { placementConstraints: [...q.constraints] } : {}),
          ...(r.next() < 0.2 ? { group: 'custom-group' } : {}),
        });
      } else if (roll < 0.58) {
        const t = await anyTask();
        if (t) await stopTask(f.ctx, { cluster: 'c1', task: t.arn });
      } else if (roll < 0.72) {
        const t = await anyTask();
        if (t) await submitTaskStateChange(f.ctx, { cluster: 'c1', task: t.arn, status: r.pick(['PENDING', 'RUNNING', 'STOPPED']) });
      } else if (roll < 0.8) {
        await updateContainerInstancesState(f.ctx, { cluster: 'c1', containerInstances: [anyInstance()], status: r.pick(['ACTIVE', 'DRAINING']) });
      } else if (roll < 0.85) {
        await deregisterContainerInstance(f.ctx, { cluster: 'c1', containerInstance: anyInstance(), force: true });
      } else if (roll < 0.92) {
        await putAttributes(f.ctx, { cluster: 'c1', attributes: [{ name: 'rack', value: r.pick(['r1', 'r2']), targetId: anyInstance() }] });
      } else {
        // Re-registration keeps the ARN and the reservations; resources may grow.
        const arn = anyInstance();
        const row = await f.store.get<ContainerInstanceDoc>('containerInstance', arn);
        if (row && row.doc.status !== 'INACTIVE') {
          await registerContainerInstance(f.ctx, {
            cluster: 'c1',
            containerInstanceArn: arn,
            totalResources: [
              { name: 'CPU', type: 'INTEGER', integerValue: 4096 },
              { name: 'MEMORY', type: 'INTEGER', integerValue: 8192 },
            ],
            versionInfo: { agentVersion: r.pick(['1.0.0', '1.1.0']) },
          });
        }
      }
    } catch (err) {
      // Domain refusals (no room, instance gone) are part of a random sequence; anything else is a bug.
      if (!(err instanceof AwsError)) throw err;
    }
    await check(step);
  }
}

describe('ClusterStateCache', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`agrees with a fresh read of the store after random writes (seed ${seed})`, async () => {
      const f = await fixture();
      const kept: { snapshot: ClusterSnapshot; expected: ReturnType<typeof normAll> }[] = [];
      await randomWrites(f, seed, 120, async (step) => {
        const { snapshot, version } = await f.cache.snapshot(f.clusterArn);
        assert.ok(version >= 0);
        const fresh = await freshInstances(f.store, f.clusterArn);
        assert.deepEqual(normAll(snapshot.instances), normAll(fresh), `step ${step}`);
        // Some snapshots are only examined at the end, after many more writes: they must not have changed.
        if (step % 7 === 0) kept.push({ snapshot, expected: normAll(fresh) });
        else describeSnapshot(snapshot);
        if (step % 10 === 0) await assertPlacesLikeFresh(f.store, snapshot, fresh, step);
      });
      for (const k of kept) {
        assert.deepEqual(normAll(k.snapshot.instances), k.expected);
        describeSnapshot(k.snapshot);
      }
      assert.ok(f.cache.stats().reads > 0);
      f.cache.close();
      await f.store.close();
    });
  }

  it('keeps groups held by many instances right (dense columns) as tasks come and go', async () => {
    const f = await fixture();
    const arns: string[] = [];
    for (let i = 0; i < 90; i++) {
      arns.push(await f.register());
      await f.setAgent(arns[i]!, true);
    }
    const r = rng(42);
    const kept: { snapshot: ClusterSnapshot; expected: ReturnType<typeof normAll> }[] = [];
    for (let step = 0; step < 40; step++) {
      if (step < 15 || r.next() < 0.6) {
        await runTask(f.ctx, { cluster: 'c1', taskDefinition: r.pick(['web', 'db']), count: 10, placementStrategy: [{ type: 'spread', field: 'instanceId' }] });
      } else {
        const tasks = await f.store.find<StoredTask>('task', { cluster: f.clusterArn, state: [...ACTIVE_TASK_STATES] });
        for (let k = 0; k < 8 && tasks.length > 0; k++) await stopTask(f.ctx, { cluster: 'c1', task: tasks.splice(r.int(tasks.length), 1)[0]!.arn });
      }
      const { snapshot } = await f.cache.snapshot(f.clusterArn);
      const fresh = await freshInstances(f.store, f.clusterArn);
      assert.deepEqual(normAll(snapshot.instances), normAll(fresh), `step ${step}`);
      if (step % 5 === 0) kept.push({ snapshot, expected: normAll(fresh) });
      else {
        describeSnapshot(snapshot);
        await assertPlacesLikeFresh(f.store, snapshot, fresh, step);
      }
    }
    for (const k of kept) {
      assert.deepEqual(normAll(k.snapshot.instances), k.expected);
      describeSnapshot(k.snapshot);
    }
    f.cache.close();
    await f.store.close();
  });

  it('drops cached filter results when an instance\'s agent, status or attributes change', async () => {
    const f = await fixture();
    const arns: string[] = [];
    for (let i = 0; i < 6; i++) {
      arns.push(await f.register());
      await f.setAgent(arns[i]!, true);
    }
    const changes: ((arn: string) => Promise<unknown>)[] = [
      (arn) => f.setAgent(arn, false),
      (arn) => updateContainerInstancesState(f.ctx, { cluster: 'c1', containerInstances: [arn], status: 'DRAINING' }),
      (arn) => putAttributes(f.ctx, { cluster: 'c1', attributes: [{ name: 'ecs.availability-zone', value: 'us-east-1c', targetId: arn }] }),
    ];
    for (const change of changes) {
      const before = await f.cache.snapshot(f.clusterArn);
      const fresh = await freshInstances(f.store, f.clusterArn);
      await assertPlacesLikeFresh(f.store, before.snapshot, fresh, 1); // warms the snapshot family's filter cache
      const chosen = place(before.snapshot, (await requestFor(f.store, 'edge', 1, { placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone != us-east-1c' }] })).request, { seed: 1 });
      await change(chosen.placements[0]!.instanceArn);
      const after = await f.cache.snapshot(f.clusterArn);
      await assertPlacesLikeFresh(f.store, after.snapshot, await freshInstances(f.store, f.clusterArn), 1);
    }
    f.cache.close();
    await f.store.close();
  });

  it('applies writers that race with snapshot calls in commit order', async () => {
    const f = await fixture();
    const arns: string[] = [];
    for (let i = 0; i < 6; i++) {
      arns.push(await f.register());
      await f.setAgent(arns[i]!, true);
    }
    await f.cache.snapshot(f.clusterArn);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      work.push(runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', count: 2 }));
      work.push(f.cache.snapshot(f.clusterArn).then(({ snapshot }) => describeSnapshot(snapshot)));
      if (i % 5 === 0) work.push(f.setAgent(arns[i % 6]!, i % 10 !== 0));
    }
    await Promise.all(work);
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    assert.deepEqual(normAll(snapshot.instances), normAll(await freshInstances(f.store, f.clusterArn)));
    f.cache.close();
    await f.store.close();
  });

  it('re-syncs a cluster from the store when its backlog overflows', async () => {
    const f = await fixture({ maxQueuedChanges: 3 });
    await randomWrites(f, 9, 40, async (step) => {
      if (step % 4 !== 0) return;
      const { snapshot } = await f.cache.snapshot(f.clusterArn);
      assert.deepEqual(normAll(snapshot.instances), normAll(await freshInstances(f.store, f.clusterArn)), `step ${step}`);
    });
    assert.ok(f.cache.stats().loads > 1, 'the overflowing cluster was loaded again');
    f.cache.close();
    await f.store.close();
  });

  it('re-syncs a cluster when re-reading a changed row fails', async () => {
    const inner = await openSqliteStore({ path: ':memory:' });
    const flaky = new FlakyStore(inner);
    const f = await fixture({ store: flaky });
    const a = await f.register();
    await f.setAgent(a, true);
    await f.cache.snapshot(f.clusterArn);
    flaky.failGets = 1;
    await f.setAgent(a, false);
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    assert.equal(flaky.failGets, 0, 'the failing read happened');
    assert.equal(snapshot.instances[0]!.agentConnected, false);
    assert.equal(f.cache.stats().loads, 2);
    f.cache.close();
    await inner.close();
  });

  it('brings the tasks of an instance that becomes placeable again', async () => {
    const f = await fixture();
    const a = await f.register();
    const b = await f.register();
    for (const arn of [a, b]) await f.setAgent(arn, true);
    await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', count: 6, placementStrategy: [{ type: 'spread', field: 'instanceId' }] });
    const setStatus = (status: 'ACTIVE' | 'INACTIVE') =>
      f.store.transaction(async (tx) => {
        const row = (await tx.get<ContainerInstanceDoc>('containerInstance', a))!;
        await tx.update('containerInstance', { ...row, status, doc: { ...row.doc, status } });
      });
    await setStatus('INACTIVE'); // its tasks stay: the cache's first load does not see them
    assert.deepEqual((await f.cache.snapshot(f.clusterArn)).snapshot.instances.map((i) => i.arn), [b]);
    await setStatus('ACTIVE');
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    assert.deepEqual(normAll(snapshot.instances), normAll(await freshInstances(f.store, f.clusterArn)));
    assert.equal(snapshot.instances.find((i) => i.arn === a)?.runningTasksCount, 3);
    f.cache.close();
    await f.store.close();
  });

  it('answers current() inside a transaction without waiting, with handed-over rows applied', async () => {
    const f = await fixture({ connected: true });
    const a = await f.register();
    assert.equal(f.cache.current(f.clusterArn), undefined, 'not loaded yet');
    const first = await f.cache.snapshot(f.clusterArn);
    const { td, reservation } = await requestFor(f.store, 'web', 1);
    let committed: { updated: Row<ContainerInstanceDoc>; task: Row<StoredTask> } | undefined;
    await f.store.transaction(async (tx) => {
      const row = (await tx.get<ContainerInstanceDoc>('containerInstance', a))!;
      committed = await commitOne(tx, row, f.clusterArn, td, 'family:web', reservation, 1);
    });
    f.cache.noteCommitted({ instances: [committed!.updated], tasks: [committed!.task] });
    const inside = await f.store.transaction(async () => f.cache.current(f.clusterArn));
    assert.ok(inside && inside.version > first.version);
    assert.equal(inside.snapshot.instances[0]!.taskGroups.get('family:web'), 1);
    assert.equal(inside.snapshot.instances[0]!.remaining.memory, first.snapshot.instances[0]!.remaining.memory - reservation.memory);
    assert.equal(f.cache.stats().reads, 0);
    f.cache.close();
    await f.store.close();
  });

  it('agrees with the store-backed implementation after instances and tasks change', async () => {
    const f = await fixture({ connected: true });
    const plain = new StoreClusterState(f.store);
    const a = await f.register();
    await f.register();
    await f.cache.snapshot(f.clusterArn);
    const { tasks } = await runTask(f.ctx, { cluster: 'c1', taskDefinition: 'web', count: 3 });
    await stopTask(f.ctx, { cluster: 'c1', task: tasks[0]!.taskArn });
    await f.setAgent(a, false);
    const cached = await f.cache.snapshot(f.clusterArn);
    const read = await plain.snapshot(f.clusterArn);
    assert.deepEqual(normAll(cached.snapshot.instances), normAll(read.snapshot.instances));
    assert.equal(read.snapshot.instances.reduce((n, i) => n + i.runningTasksCount, 0), 2);
    assert.deepEqual(read.snapshot.instances.map((i) => i.agentConnected).sort(), [false, true]);
    f.cache.close();
    await f.store.close();
  });

  it('returns the same snapshot while nothing changes, and only ACTIVE or DRAINING instances', async () => {
    const f = await fixture();
    const a = await f.register();
    const b = await f.register();
    const first = await f.cache.snapshot(f.clusterArn);
    assert.equal((await f.cache.snapshot(f.clusterArn)).snapshot, first.snapshot);
    await updateContainerInstancesState(f.ctx, { cluster: 'c1', containerInstances: [a], status: 'DRAINING' });
    await deregisterContainerInstance(f.ctx, { cluster: 'c1', containerInstance: b });
    const next = await f.cache.snapshot(f.clusterArn);
    assert.notEqual(next.snapshot, first.snapshot);
    assert.ok(next.version > first.version);
    assert.deepEqual(next.snapshot.instances.map((i) => [i.arn, i.status]), [[a, 'DRAINING']]);
    f.cache.close();
    await f.store.close();
  });
});

// ---------------------------------------------------------------------------
// Commit-time re-check

/** RunTask's write for one placement, as src/domain/tasks.ts does it (reservation and pending count). */
async function commitOne(tx: Transaction, instance: Row<ContainerInstanceDoc>, clusterArn: string, td: TaskDefinitionDoc, group: string, res: { cpu: number; memory: number; tcpPorts: number[]; udpPorts: number[] }, id: number) {
  const remainingResources = instance.doc.remainingResources.map((r) => {
    if (r.name === 'CPU') return { ...r, integerValue: (r.integerValue ?? 0) - res.cpu };
    if (r.name === 'MEMORY') return { ...r, integerValue: (r.integerValue ?? 0) - res.memory };
    if (r.name === 'PORTS') return { ...r, stringSetValue: [...new Set([...(r.stringSetValue ?? []), ...res.tcpPorts.map(String)])] };
    if (r.name === 'PORTS_UDP') return { ...r, stringSetValue: [...new Set([...(r.stringSetValue ?? []), ...res.udpPorts.map(String)])] };
    return r;
  });
  const doc = { ...instance.doc, remainingResources, pendingTasksCount: instance.doc.pendingTasksCount + 1, version: instance.doc.version + 1 };
  const updated = await tx.update('containerInstance', { ...instance, doc });
  const taskArn = `${clusterArn.replace(':cluster/', ':task/')}/t${id}`;
  const task = await tx.insert<StoredTask>('task', {
    arn: taskArn,
    cluster: clusterArn,
    name: '',
    keys: { instance: instance.arn, service: '', startedBy: '' },
    status: 'RUNNING',
    state: 'PROVISIONING',
    seq: id,
    doc: {
      task: { taskArn, clusterArn, taskDefinitionArn: td.taskDefinitionArn, containerInstanceArn: instance.arn, group, lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING', containers: [] } as unknown as StoredTask['task'],
      reservation: res,
    },
  });
  return { updated, task };
}

async function requestFor(store: Store, family: string, count: number, extra: Partial<Parameters<typeof placementRequest>[1]> = {}) {
  const td = (await store.find<{ taskDefinition: TaskDefinitionDoc }>('taskDefinition', { name: family, limit: 1 }))[0]!.doc.taskDefinition;
  return { td, ...placementRequest(td, { group: `family:${family}`, count, launchType: 'EC2', ...extra }) };
}

describe('reservePlacements', () => {
  it('keeps only what still fits when another writer filled the chosen instance after the snapshot', async () => {
    const f = await fixture({ connected: true });
    const small = await f.register('us-east-1a', 512, 1024);
    const big = await f.register('us-east-1a', 4096, 8192);
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    const { td, request, reservation } = await requestFor(f.store, 'web', 3, { placementStrategy: [{ type: 'binpack', field: 'memory' }] });
    assert.deepEqual(place(snapshot, request, { seed: 1 }).placements.map((p) => p.instanceArn), [small, small, small]);
    // Another writer takes most of the small instance.
    await f.store.transaction(async (tx) => {
      let row = (await tx.get<ContainerInstanceDoc>('containerInstance', small))!;
      for (let i = 0; i < 3; i++) row = (await commitOne(tx, row, f.clusterArn, td, 'other', { cpu: 128, memory: 256, tcpPorts: [], udpPorts: [] }, 100 + i)).updated;
    });
    const out = await f.store.transaction(async (tx) => {
      const reserved = await reservePlacements(tx, { clusterArn: f.clusterArn, snapshot, request, seed: 1 });
      const rows = new Map(reserved.rows);
      for (const [k, p] of reserved.placements.entries()) {
        const { updated } = await commitOne(tx, rows.get(p.instanceArn)!, f.clusterArn, td, request.group, reservation, k);
        rows.set(p.instanceArn, updated);
      }
      return reserved;
    });
    assert.equal(out.unplaced, 0);
    assert.equal(out.rounds, 2);
    assert.deepEqual(out.placements.map((p) => p.instanceArn), [small, big, big]);
    for (const inst of await freshInstances(f.store, f.clusterArn)) {
      assert.ok(inst.remaining.cpu >= 0 && inst.remaining.memory >= 0, `${inst.arn} is not overcommitted`);
    }
    f.cache.close();
    await f.store.close();
  });

  it('does not place on an instance drained after the snapshot, nor on a host port taken since', async () => {
    const f = await fixture({ connected: true });
    const a = await f.register('us-east-1a');
    const b = await f.register('us-east-1b');
    const c = await f.register('us-east-1c');
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    await updateContainerInstancesState(f.ctx, { cluster: 'c1', containerInstances: [a], status: 'DRAINING' });
    const edge = await requestFor(f.store, 'edge', 3, { placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] });
    await f.store.transaction(async (tx) => {
      const row = (await tx.get<ContainerInstanceDoc>('containerInstance', b))!;
      await commitOne(tx, row, f.clusterArn, edge.td, 'other', { cpu: 1, memory: 1, tcpPorts: [8080], udpPorts: [] }, 1);
    });
    const out = await f.store.transaction((tx) => reservePlacements(tx, { clusterArn: f.clusterArn, snapshot, request: edge.request, seed: 7 }));
    assert.deepEqual(out.placements.map((p) => p.instanceArn), [c]);
    assert.equal(out.unplaced, 2);
    assert.deepEqual(new Set(out.failures.map((x) => x.arn)), new Set([b, c]));
    f.cache.close();
    await f.store.close();
  });

  it('reads the chosen instances\' tasks for distinctInstance, so a stale snapshot cannot double up', async () => {
    const f = await fixture({ connected: true });
    const a = await f.register('us-east-1a');
    const b = await f.register('us-east-1a');
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    const db = await requestFor(f.store, 'db', 2, { placementConstraints: [{ type: 'distinctInstance' }] });
    await f.store.transaction(async (tx) => {
      const row = (await tx.get<ContainerInstanceDoc>('containerInstance', a))!;
      await commitOne(tx, row, f.clusterArn, db.td, 'family:db', db.reservation, 1);
    });
    const out = await f.store.transaction((tx) => reservePlacements(tx, { clusterArn: f.clusterArn, snapshot, request: db.request, seed: 3 }));
    assert.deepEqual(out.placements.map((p) => p.instanceArn), [b]);
    assert.equal(out.unplaced, 1);
    f.cache.close();
    await f.store.close();
  });

  it('applies rows handed over by the writer without re-reading them', async () => {
    const f = await fixture({ connected: true });
    for (let i = 0; i < 6; i++) await f.register();
    await f.cache.snapshot(f.clusterArn);
    const { td, request, reservation } = await requestFor(f.store, 'web', 4, { placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }] });
    const readsBefore = f.cache.stats().reads;
    for (let round = 0; round < 10; round++) {
      const { snapshot } = await f.cache.snapshot(f.clusterArn);
      const instances: Row<ContainerInstanceDoc>[] = [];
      const tasks: Row<StoredTask>[] = [];
      await f.store.transaction(async (tx) => {
        instances.length = 0;
        tasks.length = 0;
        const reserved = await reservePlacements(tx, { clusterArn: f.clusterArn, snapshot, request, seed: round });
        const rows = new Map(reserved.rows);
        for (const [k, p] of reserved.placements.entries()) {
          const { updated, task } = await commitOne(tx, rows.get(p.instanceArn)!, f.clusterArn, td, request.group, reservation, round * 10 + k);
          rows.set(p.instanceArn, updated);
          tasks.push(task);
        }
        instances.push(...[...rows.values()].filter((r) => r.version > reserved.rows.get(r.arn)!.version));
      });
      f.cache.noteCommitted({ instances, tasks });
    }
    const { snapshot } = await f.cache.snapshot(f.clusterArn);
    assert.deepEqual(normAll(snapshot.instances), normAll(await freshInstances(f.store, f.clusterArn)));
    const stats = f.cache.stats();
    assert.equal(stats.reads, readsBefore, 'no row was re-read');
    assert.ok(stats.noted >= 40 + 10, `changes applied from handed-over rows: ${stats.noted}`);
    f.cache.close();
    await f.store.close();
  });
});

/** A store whose `get` fails on demand, to exercise re-syncs. */
class FlakyStore implements Store {
  failGets = 0;
  constructor(private readonly inner: Store) {}
  get<T>(kind: Kind, arn: string): Promise<Row<T> | undefined> {
    if (this.failGets > 0) {
      this.failGets--;
      return Promise.reject(new Error('injected read failure'));
    }
    return this.inner.get<T>(kind, arn);
  }
  find<T>(kind: Kind, q?: Query): Promise<Row<T>[]> {
    return this.inner.find<T>(kind, q);
  }
  count(kind: Kind, q?: Query): Promise<number> {
    return this.inner.count(kind, q);
  }
  distinctNames(kind: Kind, q?: Parameters<Store['distinctNames']>[1]): Promise<string[]> {
    return this.inner.distinctNames(kind, q);
  }
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }
  watch(listener: ChangeListener): () => void {
    return this.inner.watch(listener);
  }
  changesSince(seq: number, limit?: number): Promise<Change[]> {
    return this.inner.changesSince(seq, limit);
  }
  lastChangeSeq(): Promise<number> {
    return this.inner.lastChangeSeq();
  }
  purge(kind: Kind, q: { status: string; state?: string; updatedBefore: number }): Promise<number> {
    return this.inner.purge(kind, q);
  }
  trimChanges(before: number): Promise<number> {
    return this.inner.trimChanges(before);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

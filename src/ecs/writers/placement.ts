/**
 * The commit-time re-check (Nomad's `evaluateNodePlan`): a plan made on a
 * snapshot taken before the transaction is checked against the chosen
 * instances as the committing transaction reads them, and only placements
 * that still fit are kept. Used only by the task writer.
 */
import { ACTIVE_TASK_STATES } from '../../protocol/agent.js';
import { OverlaySnapshot } from '../../scheduler/cachedSnapshot.js';
import { parseCql } from '../../scheduler/cql/index.js';
import { commitCheck, place } from '../../scheduler/engine.js';
import { buildSnapshot, type ClusterSnapshot } from '../../scheduler/snapshot.js';
import type { FailureReason, InstanceSnapshot, Placement, PlacementDiagnosis, PlacementFailure, PlacementRequest } from '../../scheduler/types.js';
import { EMPTY_LOAD, instanceSnapshotOf, NO_GPUS, placeable, type InstanceLoad } from '../../state/instanceView.js';
import type { Row, Transaction } from '../../store/store.js';
import type { ContainerInstanceDoc, StoredTask } from '../model.js';

export interface ReserveInput {
  readonly clusterArn: string;
  /** From `ClusterStateCache.snapshot`, taken before the transaction began. */
  readonly snapshot: ClusterSnapshot;
  /**
   * A fresher snapshot at the start of each placement round, when there is
   * one: `() => cache.current(clusterArn)?.snapshot`. Transactions that
   * committed while this one waited are then already in it, so concurrent
   * RunTask calls do not all aim at the same instances.
   */
  readonly refresh?: () => ClusterSnapshot | undefined;
  readonly request: PlacementRequest;
  readonly seed: number;
  /** Placement rounds before giving up on tasks whose instances keep filling up under it. */
  readonly maxRounds?: number;
}

export interface ReservedPlacements {
  /**
   * Placements that fit the chosen instances as read in this transaction,
   * counting the ones before them, in order. Persist all of them (with the
   * same accounting as RunTask's) in this transaction.
   */
  readonly placements: readonly Placement[];
  /** The chosen instances' rows as read in this transaction, before any write. */
  readonly rows: ReadonlyMap<string, Row<ContainerInstanceDoc>>;
  readonly unplaced: number;
  /** When `unplaced > 0`: one failure per instance that could not take the next task. */
  readonly failures: readonly PlacementFailure[];
  readonly diagnosis: PlacementDiagnosis;
  /** Placement rounds run: 1 unless the snapshot was stale for a chosen instance. */
  readonly rounds: number;
}

const FIXED_REJECTIONS: ReadonlySet<FailureReason> = new Set<FailureReason>(['INACTIVE', 'MISSING', 'AGENT', 'ATTRIBUTE', 'MemberOf placement constraint unsatisfied']);

function needsTaskState(request: PlacementRequest): boolean {
  return (request.placementConstraints ?? []).some(
    (c) => c.type === 'distinctInstance' || (c.type === 'memberOf' && c.expression !== undefined && parseCql(c.expression).dependsOnTasks),
  );
}

/** `inst` after `k` more tasks of the request. */
function withPlaced(inst: InstanceSnapshot, request: PlacementRequest, k: number): InstanceSnapshot {
  if (k === 0) return inst;
  const taskGroups = new Map(inst.taskGroups);
  taskGroups.set(request.group, (taskGroups.get(request.group) ?? 0) + k);
  return {
    ...inst,
    remaining: { cpu: inst.remaining.cpu - k * request.cpu, memory: inst.remaining.memory - k * request.memory, gpus: inst.remaining.gpus },
    usedPorts: {
      tcp: request.tcpPorts?.length ? [...inst.usedPorts.tcp, ...request.tcpPorts] : inst.usedPorts.tcp,
      udp: request.udpPorts?.length ? [...inst.usedPorts.udp, ...request.udpPorts] : inst.usedPorts.udp,
    },
    runningTasksCount: inst.runningTasksCount + k,
    taskGroups,
  };
}

/**
 * `base` corrected with what a transaction read: instances gone or no longer
 * eligible keep their fixed fields (the snapshot's indexes rely on them) but
 * are left no room; the others take the resources and task state read.
 */
function corrected(base: ClusterSnapshot, truth: ReadonlyMap<string, InstanceSnapshot | undefined>, excluded: ReadonlyMap<string, FailureReason>): ClusterSnapshot {
  const replaced = new Map<number, InstanceSnapshot>();
  for (const [arn, t] of truth) {
    const i = base.indexOf(arn);
    if (i === undefined) continue;
    const inst = base.instances[i]!;
    if (t === undefined || excluded.has(arn)) replaced.set(i, { ...inst, remaining: { cpu: -1, memory: -1, gpus: NO_GPUS } });
    else replaced.set(i, { ...inst, remaining: t.remaining, usedPorts: t.usedPorts, runningTasksCount: t.runningTasksCount, taskGroups: t.taskGroups });
  }
  return new OverlaySnapshot(base, replaced);
}

/**
 * Places `request` on a cached snapshot and re-checks the plan inside the
 * committing transaction: the chosen instances are re-read in `tx` and a
 * placement is kept only if it still fits there (status, agent, attributes,
 * constraints, CPU, memory, host ports), counting the placements kept before
 * it. Tasks whose instance no longer fits are placed again on the snapshot
 * corrected with what was read, up to `maxRounds` rounds. Nothing is
 * written; the caller persists `placements` against `rows`.
 *
 * Group counts come from the snapshot unless the request has a
 * distinctInstance or task-dependent memberOf constraint; then the chosen
 * instances' tasks are read in `tx` too.
 */
export async function reservePlacements(tx: Transaction, input: ReserveInput): Promise<ReservedPlacements> {
  const { request, clusterArn } = input;
  const maxRounds = input.maxRounds ?? 3;
  const exactTasks = needsTaskState(request);
  /** The chosen instances as the transaction sees them, with the placements kept so far; undefined when gone. */
  const truth = new Map<string, InstanceSnapshot | undefined>();
  const rows = new Map<string, Row<ContainerInstanceDoc>>();
  /** Instances a re-check found no longer eligible at all, with why. */
  const excluded = new Map<string, FailureReason>();
  const placements: Placement[] = [];
  let base = input.snapshot;
  let rounds = 0;
  let lastFailures: readonly PlacementFailure[] = [];
  let lastDiagnosis: PlacementDiagnosis | undefined;
  let lastRejected: { arn: string; reason: FailureReason }[] = [];

  while (placements.length < request.count && rounds < maxRounds) {
    rounds++;
    base = input.refresh?.() ?? base;
    const snap = truth.size === 0 ? base : corrected(base, truth, excluded);
    const plan = place(snap, { ...request, count: request.count - placements.length }, { seed: (input.seed + rounds - 1) >>> 0 });
    lastFailures = plan.failures;
    lastDiagnosis = plan.diagnosis;
    lastRejected = [];
    if (plan.placements.length === 0) break;

    for (const p of plan.placements) {
      if (truth.has(p.instanceArn)) continue;
      const row = await tx.get<ContainerInstanceDoc>('containerInstance', p.instanceArn);
      if (row === undefined || row.cluster !== clusterArn || !placeable(row.doc.status)) {
        truth.set(p.instanceArn, undefined);
        continue;
      }
      rows.set(row.arn, row);
      let load: InstanceLoad;
      if (exactTasks) {
        const tasks = await tx.find<StoredTask>('task', { cluster: clusterArn, where: { instance: row.arn }, state: [...ACTIVE_TASK_STATES] });
        const groups = new Map<string, number>();
        for (const t of tasks) groups.set(t.doc.task.group, (groups.get(t.doc.task.group) ?? 0) + 1);
        load = { groups, count: tasks.length };
      } else {
        const i = base.indexOf(row.arn);
        const cached = i === undefined ? undefined : base.instances[i];
        load = cached !== undefined ? { groups: cached.taskGroups, count: cached.runningTasksCount } : EMPTY_LOAD;
      }
      truth.set(row.arn, instanceSnapshotOf(row, load));
    }

    // Re-check against the chosen instances as read, with this call's earlier placements applied.
    const chosen = [...new Set(plan.placements.map((p) => p.instanceArn))].flatMap((arn) => {
      const t = truth.get(arn);
      return t === undefined ? [] : [t];
    });
    const { accepted, rejected } = commitCheck(buildSnapshot(chosen), plan);
    const added = new Map<string, number>();
    for (const p of accepted) {
      placements.push(p);
      added.set(p.instanceArn, (added.get(p.instanceArn) ?? 0) + 1);
    }
    for (const [arn, k] of added) truth.set(arn, withPlaced(truth.get(arn)!, request, k));
    if (rejected.length === 0) break;
    lastRejected = [...new Map(rejected.map((r) => [r.placement.instanceArn, r.reason] as const))].map(([arn, reason]) => ({ arn, reason }));
    for (const r of rejected) if (FIXED_REJECTIONS.has(r.reason)) excluded.set(r.placement.instanceArn, r.reason);
  }

  const unplaced = request.count - placements.length;
  let failures: readonly PlacementFailure[] = [];
  if (unplaced > 0) {
    // Excluded instances were left no room in the corrected snapshot: report why they were excluded
    // instead, and leave out those no longer ACTIVE, as placement does.
    failures = (lastRejected.length > 0 ? lastRejected : lastFailures).flatMap((f) => {
      const reason = excluded.get(f.arn) ?? f.reason;
      return reason === 'INACTIVE' || reason === 'MISSING' ? [] : [{ arn: f.arn, reason }];
    });
  }
  const diagnosis = lastDiagnosis ?? place(base, { ...request, count: 0 }, { seed: input.seed }).diagnosis;
  return { placements, rows, unplaced, failures, diagnosis, rounds };
}

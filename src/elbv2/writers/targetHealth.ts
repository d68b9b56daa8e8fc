/**
 * The one writer of targets' observed health (`TargetDoc.health`), for the
 * data plane's health checks. It touches only that field of each target's own
 * row, so reports at any rate never rewrite target groups and never race
 * RegisterTargets/DeregisterTargets on the fields those own.
 */
import { withRetry, type Store } from '../../store/store.js';
import type { TargetDoc, TargetHealthReport } from '../model.js';
import { targetArn } from '../targets.js';

export interface HealthObservation {
  targetGroupArn: string;
  id: string;
  port: number;
  health: TargetHealthReport;
}

/**
 * Records observations in one transaction; returns how many targets changed.
 * An observation of a target no longer registered is dropped, and one older
 * than what is recorded never overwrites it.
 */
export async function reportTargetHealth(store: Store, observations: readonly HealthObservation[]): Promise<number> {
  return withRetry(store, async (tx) => {
    let changed = 0;
    for (const o of observations) {
      const row = await tx.get<TargetDoc>('target', targetArn(o.targetGroupArn, o.id, o.port));
      if (!row) continue;
      const prev = row.doc.health;
      if (prev && prev.at > o.health.at) continue;
      if (prev && prev.State === o.health.State && prev.Reason === o.health.Reason && prev.Description === o.health.Description) continue;
      await tx.update<TargetDoc>('target', { ...row, doc: { ...row.doc, health: o.health } });
      changed++;
    }
    return changed;
  });
}

import { withRetry, type Store } from '../store/store.js';
import { imageArn, type ImageDoc } from './images.js';

/**
 * `lastRecordedPullTime` of images pulled through `/v2/`, coalesced: a pull
 * only notes the time in memory; `flush` writes every image's latest pull
 * time in one transaction. However many pulls arrive, the store sees at most
 * one write per image per flush.
 */
export class PullTimeRecorder {
  private pending = new Map<string, number>();

  /** Notes a pull of `digest` in the repository `repoArn` at `at` (epoch ms). */
  record(repoArn: string, digest: string, at: number): void {
    const arn = imageArn(repoArn, digest);
    const known = this.pending.get(arn);
    if (known === undefined || known < at) this.pending.set(arn, at);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Writes the noted pull times (images deleted meanwhile are skipped); returns how many images were updated. */
  async flush(store: Store): Promise<number> {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    try {
      return await withRetry(store, async (tx) => {
        let n = 0;
        for (const [arn, at] of batch) {
          const row = await tx.get<ImageDoc>('image', arn);
          if (!row || (row.doc.lastRecordedPullTime ?? 0) >= at) continue;
          await tx.update('image', { ...row, doc: { ...row.doc, lastRecordedPullTime: at } });
          n++;
        }
        return n;
      });
    } catch (err) {
      // Keep the times for the next flush (a later pull of the same image wins).
      for (const [arn, at] of batch) if ((this.pending.get(arn) ?? 0) < at) this.pending.set(arn, at);
      throw err;
    }
  }
}

/**
 * The scheduled-action loop of Application Auto Scaling: every tick (5 s;
 * BERTH_SCHEDULED_ACTION_INTERVAL_MS) it fires the scheduled actions that
 * came due since they last fired (once, however many times they came due),
 * within their StartTime and EndTime. Policy scaling is driven by alarms
 * (see `alarms.ts` and `autoscaling/scale.ts`).
 */
import type { Logger } from '../core/log.js';
import type { AutoScalingContext, ScheduledActionDoc } from '../autoscaling/model.js';
import { fireScheduledAction } from '../autoscaling/ops.js';
import { nextFire, parseSchedule } from '../autoscaling/schedule.js';

export class ScheduledActionController {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly intervalMs: number;

  constructor(
    private readonly ctx: AutoScalingContext,
    private readonly opts: { intervalMs?: number; log?: Logger } = {},
  ) {
    const env = Number(process.env.BERTH_SCHEDULED_ACTION_INTERVAL_MS);
    this.intervalMs = opts.intervalMs ?? (Number.isFinite(env) && env > 0 ? env : 5_000);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running && !this.stopped) this.running = this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Fires every action due at the current time. */
  async tick(): Promise<void> {
    const now = this.ctx.now();
    let rows;
    try {
      rows = await this.ctx.store.find<ScheduledActionDoc>('scheduledAction');
    } catch (err) {
      this.opts.log?.warn({ err }, 'could not list scheduled actions');
      return;
    }
    for (const row of rows) {
      if (this.stopped) return;
      const a = row.doc.action;
      try {
        const zone = a.Timezone ?? 'UTC';
        const schedule = parseSchedule(a.Schedule, zone);
        const origin = (a.StartTime ?? a.CreationTime) * 1000;
        const since = row.doc.lastFiredAt ?? a.CreationTime * 1000 - 1;
        const due = nextFire(schedule, Math.max(since, (a.StartTime ?? 0) * 1000 - 1), origin, zone);
        if (due === undefined || due > now) continue;
        if (a.EndTime !== undefined && due > a.EndTime * 1000) continue;
        await fireScheduledAction(this.ctx, row, now);
      } catch (err) {
        this.opts.log?.warn({ err, scheduledAction: a.ScheduledActionName }, 'scheduled action failed');
      }
    }
  }
}

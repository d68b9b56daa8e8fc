/**
 * Writes the pull times the registry notes (`PullTimeRecorder`) every
 * `intervalMs` (one second by default), and once more when stopped, so that
 * `lastRecordedPullTime` in DescribeImages trails a pull by about a second
 * while a busy registry writes at most once a second.
 */
import type { Logger } from '../../core/log.js';
import type { PullTimeRecorder } from '../../ecr/pullTimes.js';
import type { Store } from '../../store/store.js';
import { Controller } from '../runtime.js';

export class PullTimeFlusher {
  private readonly controller: Controller;

  constructor(
    private readonly recorder: PullTimeRecorder,
    private readonly store: Store,
    opts: { intervalMs?: number; log?: Logger } = {},
  ) {
    this.controller = new Controller({
      name: 'ecr-pull-times',
      ...(opts.log ? { log: opts.log } : {}),
      keys: () => Promise.resolve(this.recorder.size > 0 ? ['flush'] : []),
      resyncEveryMs: opts.intervalMs ?? 1000,
      sync: async () => {
        await this.recorder.flush(this.store);
      },
    });
  }

  start(): void {
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await this.recorder.flush(this.store).catch(() => undefined);
  }
}

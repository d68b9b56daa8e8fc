/**
 * The lifecycle controller: applies each repository's ECR lifecycle policy
 * on a schedule, and runs lifecycle policy previews as they are started.
 *
 * Keys are `policy|<repository ARN>` and `preview|<repository ARN>`. A
 * policy key's pass is due an interval after the later of the policy's put
 * and its last pass (`lastEvaluatedAt`, kept in the store, so restarts do not
 * delay or repeat passes); a sync before that requeues itself for the due
 * time. Repository and preview changes enqueue their keys; a periodic resync
 * is the safety net.
 */
import type { Logger } from '../../core/log.js';
import type { EcrContext } from '../../ecr/context.js';
import { applyLifecyclePolicy, completePreview, lifecycleWork, nextLifecyclePass } from '../../ecr/lifecycle/operations.js';
import type { RepositoryDoc } from '../../ecr/repositories.js';
import { Controller } from '../runtime.js';

/** ECR applies lifecycle policies about once a day; Berth, by default, every hour. */
export const DEFAULT_LIFECYCLE_INTERVAL_MS = 60 * 60 * 1000;

export interface LifecycleControllerOptions {
  /** Time between two passes of a repository's policy (ms). */
  readonly intervalMs?: number;
  readonly log?: Logger;
}

export class LifecycleController {
  private readonly controller: Controller;
  private readonly intervalMs: number;

  constructor(
    private readonly ctx: EcrContext,
    private readonly opts: LifecycleControllerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_LIFECYCLE_INTERVAL_MS;
    this.controller = new Controller({
      name: 'ecr-lifecycle',
      watch: {
        feed: ctx.store,
        onChanges: (changes) => {
          for (const c of changes) {
            if (c.kind === 'repository' && c.op !== 'delete') this.controller.enqueue(`policy|${c.arn}`);
            if (c.kind === 'lifecyclePreview' && c.op !== 'delete') this.controller.enqueue(`preview|${c.cluster}`);
          }
        },
      },
      resyncOnStart: true,
      ...(opts.log ? { log: opts.log } : {}),
      keys: () => this.keys(),
      resyncEveryMs: Math.min(this.intervalMs, 5 * 60 * 1000),
      sync: (key) => this.sync(key),
    });
  }

  private async keys(): Promise<string[]> {
    const work = await lifecycleWork(this.ctx);
    return [...work.policies.map((r) => `policy|${r.arn}`), ...work.previews.map((arn) => `preview|${arn}`)];
  }

  private async sync(key: string): Promise<{ requeueAfterMs: number } | void> {
    const bar = key.indexOf('|');
    const what = key.slice(0, bar);
    const repoArn = key.slice(bar + 1);
    if (what === 'preview') {
      await completePreview(this.ctx, repoArn);
      return;
    }
    const repo = await this.ctx.store.get<RepositoryDoc>('repository', repoArn);
    const due = repo ? nextLifecyclePass(repo.doc, this.intervalMs) : undefined;
    if (due === undefined) {
      this.controller.forget(key);
      return;
    }
    const wait = due - this.ctx.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const pass = await applyLifecyclePolicy(this.ctx, repoArn);
    if (pass.expired.length + pass.referrers.length > 0) {
      this.opts.log?.info(
        { repository: repo?.name, expired: pass.expired.map((e) => ({ digest: e.image.digest, rulePriority: e.rulePriority })), referrers: pass.referrers },
        'lifecycle policy expired images',
      );
    }
    return { requeueAfterMs: this.intervalMs };
  }

  start(): void {
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }
}

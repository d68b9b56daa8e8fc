/**
 * The load balancer controller: makes the data plane serve the ELBv2 state.
 *
 * One key (the whole configuration: listeners of different load balancers
 * share the host's ports, so they are mapped together), synced whenever an
 * ELBv2 resource or an ACM certificate changes, and every `resyncEveryMs`.
 * A sync reads every load balancer, maps them (`elbv2/dataplaneConfig.ts`),
 * applies the result to the data plane, and records each load balancer's
 * state: `active` when served, `failed` with the reason when not.
 *
 * The data plane is started lazily, when the first load balancer exists, and
 * stopped with the controller. When it cannot start (HAProxy missing), every
 * load balancer is `failed` with the reason and the server runs on; the
 * controller tries again at each resync.
 *
 * Health the data plane observes goes to the targets' rows through the one
 * writer of that field (`elbv2/writers/targetHealth.ts`).
 */
import type { Logger } from '../core/log.js';
import type { DataPlane, TargetHealth } from '../dataplane/dataplane.js';
import { certificateKeyPair } from '../acm/certificates.js';
import type { ContainerInstanceDoc } from '../ecs/model.js';
import { dataPlaneTargetId, toDataPlaneConfig, type TargetRef } from '../elbv2/dataplaneConfig.js';
import { setLoadBalancerState } from '../elbv2/loadBalancers.js';
import type { Elbv2Context, LoadBalancerDoc } from '../elbv2/model.js';
import { loadBalancerView, type LoadBalancerView } from '../elbv2/view.js';
import { reportTargetHealth, type HealthObservation } from '../elbv2/writers/targetHealth.js';
import type { Change, Kind } from '../store/store.js';
import { Controller } from './runtime.js';

const WATCHED: ReadonlySet<Kind> = new Set<Kind>(['loadBalancer', 'listener', 'listenerRule', 'targetGroup', 'target', 'certificate', 'containerInstance']);
const KEY = 'data-plane';

export interface LoadBalancerControllerOptions {
  /** The address listeners bind (BERTH_LB_BIND_HOST, default 127.0.0.1). */
  bindHost?: string;
  /** Makes and starts the data plane; called when the first load balancer exists, again after a failure. May throw (for example, HAProxy missing). */
  createDataPlane: () => Promise<DataPlane>;
  /** Default 30 s. */
  resyncEveryMs?: number;
  log?: Logger;
}

/**
 * The address of an instance target. Berth's container instances are the
 * agents of this host, so they are reached on the loopback address.
 */
const INSTANCE_HOST = '127.0.0.1';

export class LoadBalancerController {
  private readonly runtime: Controller;
  private readonly bindHost: string;
  private plane: DataPlane | undefined;
  private unsubscribeHealth: (() => void) | undefined;
  /** Why the data plane could not start, until it does. */
  private startError: string | undefined;
  /** Data plane targets → ELBv2 targets, as of the last applied configuration. */
  private targets = new Map<string, TargetRef>();
  private healthWrites: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: Elbv2Context,
    private readonly opts: LoadBalancerControllerOptions,
  ) {
    this.bindHost = opts.bindHost ?? '127.0.0.1';
    this.runtime = new Controller({
      name: 'load-balancers',
      watch: { feed: ctx.store, onChanges: (changes) => this.onChanges(changes) },
      sync: () => this.sync(),
      keys: () => Promise.resolve([KEY]),
      resyncEveryMs: opts.resyncEveryMs ?? 30_000,
      backoff: { baseMs: 200, capMs: 10_000 },
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  start(): void {
    this.runtime.start();
    this.runtime.enqueue(KEY);
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
    this.unsubscribeHealth?.();
    await this.healthWrites;
    await this.plane?.stop();
    this.plane = undefined;
  }

  /** Waits until no sync is queued or running (tests). */
  idle(): Promise<void> {
    return this.runtime.idle();
  }

  private onChanges(changes: readonly Change[]): void {
    if (changes.some((c) => WATCHED.has(c.kind))) this.runtime.enqueue(KEY);
  }

  private async sync(): Promise<void> {
    const now = this.ctx.now();
    const rows = await this.ctx.store.find<LoadBalancerDoc>('loadBalancer');
    if (rows.length === 0 && !this.plane) return;
    const views: LoadBalancerView[] = [];
    for (const row of rows.sort((a, b) => a.doc.CreatedTime - b.doc.CreatedTime || a.arn.localeCompare(b.arn))) {
      const view = await loadBalancerView(this.ctx.store, row.arn, now);
      if (view) views.push(view);
    }
    const instances = new Set<string>();
    for (const ci of await this.ctx.store.find<ContainerInstanceDoc>('containerInstance')) {
      instances.add(ci.arn);
      instances.add(ci.doc.ec2InstanceId);
      instances.add(ci.arn.slice(ci.arn.lastIndexOf('/') + 1));
    }
    const certificates = new Map<string, { certificatePem: string; privateKeyPem: string } | undefined>();
    for (const v of views) {
      for (const l of v.listeners) {
        for (const arn of [...(l.listener.Certificates ?? []).map((c) => c.CertificateArn), ...(l.listener.additionalCertificates ?? [])]) {
          if (!arn || certificates.has(arn)) continue;
          const pair = await certificateKeyPair(this.ctx.store, arn);
          certificates.set(arn, pair ? { certificatePem: pair.certificate + (pair.chain ?? ''), privateKeyPem: pair.privateKey } : undefined);
        }
      }
    }
    const mapped = toDataPlaneConfig({
      views,
      bindHost: this.bindHost,
      instanceHost: (id) => (instances.has(id) ? INSTANCE_HOST : undefined),
      certificate: (arn) => certificates.get(arn),
    });

    const plane = await this.dataPlane();
    if (!plane) {
      for (const v of views) await this.setState(v.loadBalancer.LoadBalancerArn, { Code: 'failed', Reason: this.startError ?? 'The data plane is not running' });
      return;
    }
    // Known before the apply: health reports may arrive while it runs.
    this.targets = new Map([...this.targets, ...mapped.targets]);
    try {
      await plane.apply(mapped.config);
    } catch (err) {
      const reason = `The data plane could not apply the configuration: ${err instanceof Error ? err.message : String(err)}`;
      for (const v of views) await this.setState(v.loadBalancer.LoadBalancerArn, { Code: 'failed', Reason: reason });
      throw err;
    }
    this.targets = mapped.targets;
    for (const v of views) {
      const arn = v.loadBalancer.LoadBalancerArn;
      const problems = mapped.failed.get(arn);
      await this.setState(arn, problems ? { Code: 'failed', Reason: problems.join('; ') } : { Code: 'active' });
    }
  }

  private async setState(arn: string, state: LoadBalancerDoc['State']): Promise<void> {
    if (await setLoadBalancerState(this.ctx, arn, state)) {
      if (state.Code === 'failed') this.opts.log?.warn({ loadBalancer: arn, reason: state.Reason }, 'load balancer cannot be served');
      else this.opts.log?.info({ loadBalancer: arn, state: state.Code }, 'load balancer state changed');
    }
  }

  /** The running data plane, started on first use; undefined (with `startError`) when it cannot start. */
  private async dataPlane(): Promise<DataPlane | undefined> {
    if (this.plane) return this.plane;
    let plane: DataPlane;
    try {
      plane = await this.opts.createDataPlane();
    } catch (err) {
      const reason = `The data plane could not start: ${err instanceof Error ? err.message : String(err)}`;
      if (reason !== this.startError) this.opts.log?.error({ err }, 'load balancers cannot be served: the data plane (HAProxy) could not start');
      this.startError = reason;
      return undefined;
    }
    this.startError = undefined;
    this.plane = plane;
    this.unsubscribeHealth = plane.onHealthChange((changes) => {
      this.healthWrites = this.healthWrites.then(() => this.recordHealth(changes));
    });
    return plane;
  }

  private async recordHealth(changes: readonly TargetHealth[]): Promise<void> {
    const at = this.ctx.now();
    const observations: HealthObservation[] = [];
    for (const h of changes) {
      if (h.state === 'draining') continue;
      const ref = this.targets.get(dataPlaneTargetId(h.targetGroupId, h.host, h.port));
      if (!ref) continue;
      observations.push({
        targetGroupArn: ref.targetGroupArn,
        id: ref.id,
        port: ref.port,
        health: { State: h.state, ...(h.reason !== undefined ? { Reason: h.reason } : {}), ...(h.description !== undefined ? { Description: h.description } : {}), at },
      });
    }
    if (observations.length === 0) return;
    try {
      await reportTargetHealth(this.ctx.store, observations);
    } catch (err) {
      this.opts.log?.warn({ err }, 'could not record target health');
    }
  }
}

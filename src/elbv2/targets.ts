/** Targets: RegisterTargets, DeregisterTargets and DescribeTargetHealth. */
import { isIP } from 'node:net';
import { InvalidTargetException, TooManyTargetsException, ValidationError } from '../core/errors.js';
import { withRetry, type Row, type Transaction } from '../store/store.js';
import { getTargetGroup, targetGroupUsage } from './common.js';
import { MAX_TARGETS_PER_TARGET_GROUP, type Elbv2Context, type TargetDoc, type TargetGroupDoc } from './model.js';

export interface TargetDescription {
  Id: string;
  Port?: number;
  AvailabilityZone?: string;
}

/** The row ARN of a registered target: one row per target group, id and port. */
export function targetArn(targetGroupArn: string, id: string, port: number): string {
  return `${targetGroupArn}#${id}:${port}`;
}

function portOf(tg: TargetGroupDoc, t: TargetDescription): number {
  const port = t.Port ?? tg.Port;
  if (port === undefined) throw new ValidationError(`A port must be specified for target '${t.Id}'`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`1 validation error detected: Value '${port}' at 'targets.member.port' failed to satisfy constraint: Member must have value between 1 and 65535`);
  }
  return port;
}

function checkTarget(tg: TargetGroupDoc, t: TargetDescription): void {
  if (t.Id === '') throw new ValidationError('A target ID must be specified');
  if (tg.TargetType === 'ip') {
    if (isIP(t.Id) === 0) throw new InvalidTargetException(`The IP address '${t.Id}' is not a valid IPv4 address`);
    if (tg.IpAddressType === 'ipv4' && isIP(t.Id) !== 4) throw new InvalidTargetException(`The IP address '${t.Id}' is not a valid IPv4 address`);
  } else if (tg.TargetType === 'instance' && isIP(t.Id) !== 0) {
    throw new InvalidTargetException(`The following targets are not valid instances: '${t.Id}'`);
  }
}

/** Removes targets whose deregistration delay has passed (they are gone as far as ELBv2 is concerned). */
async function sweepDrained(tx: Transaction, rows: Row<TargetDoc>[], now: number): Promise<Row<TargetDoc>[]> {
  const live: Row<TargetDoc>[] = [];
  for (const r of rows) {
    if (r.doc.drainingUntil !== undefined && r.doc.drainingUntil <= now) await tx.remove('target', r.arn, r.version);
    else live.push(r);
  }
  return live;
}

export async function registerTargets(ctx: Elbv2Context, input: { TargetGroupArn: string; Targets: TargetDescription[] }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const tg = (await getTargetGroup(tx, input.TargetGroupArn)).doc;
    const now = ctx.now();
    const rows = await sweepDrained(tx, await tx.find<TargetDoc>('target', { where: { targetGroup: tg.TargetGroupArn } }), now);
    const byArn = new Map(rows.map((r) => [r.arn, r]));
    let count = rows.length;
    for (const t of input.Targets) {
      checkTarget(tg, t);
      const port = portOf(tg, t);
      const arn = targetArn(tg.TargetGroupArn, t.Id, port);
      const existing = byArn.get(arn);
      if (existing) {
        // Registering a registered target changes nothing; a draining one is registered again and checked afresh.
        if (existing.doc.drainingUntil === undefined) continue;
        const { drainingUntil: _d, health: _h, ...rest } = existing.doc;
        byArn.set(arn, await tx.update<TargetDoc>('target', { ...existing, status: 'registered', doc: { ...rest, registeredAt: now } }));
        continue;
      }
      if (++count > MAX_TARGETS_PER_TARGET_GROUP) throw new TooManyTargetsException('You have reached the maximum number of targets per target group');
      const doc: TargetDoc = { TargetGroupArn: tg.TargetGroupArn, Id: t.Id, Port: port, ...(t.AvailabilityZone !== undefined ? { AvailabilityZone: t.AvailabilityZone } : {}), registeredAt: now };
      byArn.set(arn, await tx.insert<TargetDoc>('target', { arn, cluster: '', name: `${t.Id}:${port}`, status: 'registered', seq: now, keys: { targetGroup: tg.TargetGroupArn }, doc }));
    }
  });
  return {};
}

export async function deregisterTargets(ctx: Elbv2Context, input: { TargetGroupArn: string; Targets: TargetDescription[] }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const tg = (await getTargetGroup(tx, input.TargetGroupArn)).doc;
    const now = ctx.now();
    const rows = await sweepDrained(tx, await tx.find<TargetDoc>('target', { where: { targetGroup: tg.TargetGroupArn } }), now);
    const byArn = new Map(rows.map((r) => [r.arn, r]));
    const missing = input.Targets.filter((t) => !byArn.has(targetArn(tg.TargetGroupArn, t.Id, portOf(tg, t))));
    if (missing.length > 0) {
      throw new InvalidTargetException(`The following targets are not registered in target group '${tg.TargetGroupArn}': ${missing.map((t) => `'${t.Id}'`).join(', ')}`);
    }
    const delay = Number(tg.attributes['deregistration_delay.timeout_seconds'] ?? '300') * 1000;
    for (const t of input.Targets) {
      const arn = targetArn(tg.TargetGroupArn, t.Id, portOf(tg, t));
      const row = byArn.get(arn);
      if (!row || row.doc.drainingUntil !== undefined) continue;
      if (delay <= 0) {
        await tx.remove('target', row.arn, row.version);
        byArn.delete(arn);
      } else {
        byArn.set(arn, await tx.update<TargetDoc>('target', { ...row, status: 'draining', doc: { ...row.doc, drainingUntil: now + delay } }));
      }
    }
  });
  return {};
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  'Elb.RegistrationInProgress': 'Target registration is in progress',
  'Elb.InitialHealthChecking': 'Initial health checks in progress',
  'Target.DeregistrationInProgress': 'Target deregistration is in progress',
  'Target.NotInUse': 'Target group is not configured to receive traffic from the load balancer',
  'Target.NotRegistered': 'Target is not registered to the target group',
  'Target.FailedHealthChecks': 'Health checks failed',
  'Target.Timeout': 'Request timed out',
  'Target.HealthCheckDisabled': 'Health checks are disabled',
};

function health(State: string, Reason?: string, Description?: string): Record<string, string> {
  return { State, ...(Reason !== undefined ? { Reason, Description: Description ?? DESCRIPTIONS[Reason] ?? Reason } : {}) };
}

/**
 * A target's health as ELBv2 reports it: draining while its deregistration
 * delay runs; `unused` while no load balancer routes to its target group;
 * then what the data plane last observed, or `initial` until it has.
 */
export function targetHealthOf(tg: TargetGroupDoc, target: TargetDoc | undefined, inUse: boolean, now: number): Record<string, string> {
  if (!target) return health('unused', 'Target.NotRegistered');
  if (target.drainingUntil !== undefined && target.drainingUntil > now) return health('draining', 'Target.DeregistrationInProgress');
  if (!inUse) return health('unused', 'Target.NotInUse');
  if (!tg.HealthCheckEnabled) return health('unavailable', 'Target.HealthCheckDisabled');
  const h = target.health;
  if (!h || h.at < target.registeredAt) return health('initial', 'Elb.RegistrationInProgress');
  return h.State === 'healthy' ? health('healthy') : health(h.State, h.Reason ?? 'Target.FailedHealthChecks', h.Description);
}

export async function describeTargetHealth(ctx: Elbv2Context, input: { TargetGroupArn: string; Targets?: TargetDescription[] }): Promise<unknown> {
  const tg = (await getTargetGroup(ctx.store, input.TargetGroupArn)).doc;
  const now = ctx.now();
  const inUse = (await targetGroupUsage(ctx.store)).has(tg.TargetGroupArn);
  const rows = (await ctx.store.find<TargetDoc>('target', { where: { targetGroup: tg.TargetGroupArn } })).filter(
    (r) => r.doc.drainingUntil === undefined || r.doc.drainingUntil > now,
  );
  const byArn = new Map(rows.map((r) => [r.arn, r.doc]));
  const wanted: { Id: string; Port: number; AvailabilityZone?: string }[] =
    input.Targets?.map((t) => ({ Id: t.Id, Port: portOf(tg, t), ...(t.AvailabilityZone !== undefined ? { AvailabilityZone: t.AvailabilityZone } : {}) })) ??
    rows.map((r) => ({ Id: r.doc.Id, Port: r.doc.Port, ...(r.doc.AvailabilityZone !== undefined ? { AvailabilityZone: r.doc.AvailabilityZone } : {}) }));
  return {
    TargetHealthDescriptions: wanted.map((t) => {
      const doc = byArn.get(targetArn(tg.TargetGroupArn, t.Id, t.Port));
      return {
        Target: { Id: t.Id, Port: t.Port, ...(doc?.AvailabilityZone !== undefined ? { AvailabilityZone: doc.AvailabilityZone } : {}) },
        HealthCheckPort: tg.HealthCheckPort === undefined || tg.HealthCheckPort === 'traffic-port' ? String(t.Port) : tg.HealthCheckPort,
        TargetHealth: targetHealthOf(tg, doc, inUse, now),
      };
    }),
  };
}

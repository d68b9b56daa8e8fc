/**
 * Placement filters: which container instances can take one more task.
 *
 * Filters run in a fixed order, cheapest and least specific first, and an
 * instance is rejected by the first that fails; that filter's ECS failure
 * reason is what `failures` and service events report for the instance.
 *
 *   status → agent → launchType → networkMode → attributes → memberOf
 *   → distinctInstance → cpu → memory → gpu → tcpPorts → udpPorts
 *
 * The first six ("fixed" filters, memberOf only when its expression does not
 * read task state) depend on fields a batch never changes; their results are
 * cached on the snapshot. The others read the load a batch has added.
 */
import { parseCql, type CompiledExpression } from './cql/index.js';
import type { ClusterSnapshot, PortProtocol } from './snapshot.js';
import type {
  FailureReason,
  FilterName,
  FilterRejections,
  InstanceSnapshot,
  PlacementDiagnosis,
  PlacementFailure,
  PlacementRequest,
} from './types.js';

/** Filters in pipeline order. A filter's code is its index + 1; 0 means "fits". */
export const FILTERS: readonly { readonly name: FilterName; readonly reason: FailureReason; readonly describe: string }[] = [
  { name: 'status', reason: 'INACTIVE', describe: 'not ACTIVE' },
  { name: 'agent', reason: 'AGENT', describe: 'agent disconnected' },
  { name: 'launchType', reason: 'ATTRIBUTE', describe: 'launch type not supported' },
  { name: 'networkMode', reason: 'ATTRIBUTE', describe: 'network mode not supported' },
  { name: 'attributes', reason: 'ATTRIBUTE', describe: 'missing required attributes' },
  { name: 'memberOf', reason: 'MemberOf placement constraint unsatisfied', describe: 'outside memberOf' },
  { name: 'distinctInstance', reason: 'DistinctInstance placement constraint unsatisfied', describe: 'already hold a task of the group' },
  { name: 'cpu', reason: 'RESOURCE:CPU', describe: 'not enough CPU' },
  { name: 'memory', reason: 'RESOURCE:MEMORY', describe: 'not enough memory' },
  { name: 'gpu', reason: 'RESOURCE:GPU', describe: 'not enough GPUs' },
  { name: 'tcpPorts', reason: 'RESOURCE:PORTS', describe: 'TCP host port in use' },
  { name: 'udpPorts', reason: 'RESOURCE:PORTS_UDP', describe: 'UDP host port in use' },
];

export const FITS = 0;
export const F_STATUS = 1;
export const F_AGENT = 2;
export const F_LAUNCH_TYPE = 3;
export const F_NETWORK_MODE = 4;
export const F_ATTRIBUTES = 5;
export const F_MEMBER_OF = 6;
export const F_DISTINCT = 7;
export const F_CPU = 8;
export const F_MEMORY = 9;
export const F_GPU = 10;
export const F_TCP_PORTS = 11;
export const F_UDP_PORTS = 12;

export function filterOf(code: number): (typeof FILTERS)[number] {
  const f = FILTERS[code - 1];
  if (f === undefined) throw new RangeError(`No placement filter with code ${code}`);
  return f;
}

/**
 * The filters of one request over one snapshot. Constraint expressions are
 * parsed once here (a malformed one throws `CqlSyntaxError`).
 */
export class FilterPipeline {
  private readonly fixedMemberOf: readonly CompiledExpression[];
  private readonly taskMemberOf: readonly CompiledExpression[];
  private readonly distinct: boolean;
  private readonly tcp: readonly number[];
  private readonly udp: readonly number[];
  private readonly hasPorts: boolean;
  private readonly gpus: number;
  private readonly required: readonly { readonly name: string; readonly value?: string }[];
  /** Reused for every task-state memberOf evaluation, so the hot path does not allocate. */
  private readonly ctx: { pendingTasks: number; pendingGroup: string };
  /** 1 where one of the request's TCP (UDP) host ports is in use; built on first use. */
  private tcpUsers: Uint8Array | undefined;
  private udpUsers: Uint8Array | undefined;

  constructor(
    private readonly snapshot: ClusterSnapshot,
    private readonly request: PlacementRequest,
  ) {
    const fixed: CompiledExpression[] = [];
    const task: CompiledExpression[] = [];
    let distinct = false;
    for (const c of request.placementConstraints ?? []) {
      if (c.type === 'distinctInstance') distinct = true;
      else if (c.expression !== undefined) {
        const expr = parseCql(c.expression);
        (expr.dependsOnTasks ? task : fixed).push(expr);
      }
    }
    this.fixedMemberOf = fixed;
    this.taskMemberOf = task;
    this.distinct = distinct;
    this.tcp = request.tcpPorts ?? [];
    this.udp = request.udpPorts ?? [];
    this.hasPorts = this.tcp.length + this.udp.length > 0;
    this.gpus = request.gpus ?? 0;
    this.required = request.requiresAttributes ?? [];
    this.ctx = { pendingTasks: 0, pendingGroup: request.group };
  }

  /** First failing filter among those that read only fixed fields of the instance, or FITS. */
  fixedFailureOf(inst: InstanceSnapshot): number {
    if (inst.status !== 'ACTIVE') return F_STATUS;
    if (!inst.agentConnected) return F_AGENT;
    const { launchType, networkMode } = this.request;
    if (launchType !== undefined && inst.launchTypes !== undefined && !inst.launchTypes.includes(launchType)) return F_LAUNCH_TYPE;
    if (networkMode !== undefined && inst.networkModes !== undefined && !inst.networkModes.includes(networkMode)) return F_NETWORK_MODE;
    for (const a of this.required) {
      if (!inst.attributes.has(a.name) || (a.value !== undefined && inst.attributes.get(a.name) !== a.value)) return F_ATTRIBUTES;
    }
    for (const e of this.fixedMemberOf) if (!e.matches(inst)) return F_MEMBER_OF;
    return FITS;
  }

  /** `fixedFailureOf` the instance at position `i`. */
  fixedFailure(i: number): number {
    return this.fixedFailureOf(this.snapshot.instances[i]!);
  }

  /**
   * `fixedFailure` of every instance, cached on the snapshot (and on
   * snapshots derived from it) for requests with the same fixed requirements.
   */
  fixedFailures(): Uint8Array {
    const { launchType, networkMode } = this.request;
    const key = JSON.stringify([
      launchType ?? null,
      networkMode ?? null,
      this.required.map((a) => [a.name, a.value ?? null]),
      this.fixedMemberOf.map((e) => e.source),
    ]);
    return this.snapshot.memoFixed(`filters:${key}`, () => {
      const instances = this.snapshot.instances;
      const codes = new Uint8Array(instances.length);
      for (let i = 0; i < instances.length; i++) codes[i] = this.fixedFailureOf(instances[i]!);
      return codes;
    });
  }

  /**
   * First failing filter among those that read load, or FITS, for instance
   * `i` carrying `placed` tasks of this request beyond the snapshot, with
   * `cpu`/`memory`/`freeGpus` left and `groupTasks` tasks of the group
   * (snapshot and batch together).
   */
  loadFailure(i: number, cpu: number, memory: number, freeGpus: number, groupTasks: number, placed: number): number {
    const inst = this.snapshot.instances[i]!;
    if (this.taskMemberOf.length > 0) {
      this.ctx.pendingTasks = placed;
      for (const e of this.taskMemberOf) if (!e.matches(inst, this.ctx)) return F_MEMBER_OF;
    }
    if (this.distinct && groupTasks > 0) return F_DISTINCT;
    if (cpu < this.request.cpu) return F_CPU;
    if (memory < this.request.memory) return F_MEMORY;
    if (freeGpus < this.gpus) return F_GPU;
    if (this.hasPorts) {
      // Tasks of this batch bind the same static ports, so one is the most an instance can take.
      if (this.tcp.length > 0 && (placed > 0 || (this.tcpUsers ??= this.portUsers('tcp', this.tcp))[i] === 1)) return F_TCP_PORTS;
      if (this.udp.length > 0 && (placed > 0 || (this.udpUsers ??= this.portUsers('udp', this.udp))[i] === 1)) return F_UDP_PORTS;
    }
    return FITS;
  }

  /** 1 where any of `ports` is in use. */
  private portUsers(protocol: PortProtocol, ports: readonly number[]): Uint8Array {
    if (ports.length === 1) return this.snapshot.portUsers(protocol, ports[0]!);
    const any = new Uint8Array(this.snapshot.instances.length);
    for (const port of ports) {
      const users = this.snapshot.portUsers(protocol, port);
      for (let i = 0; i < any.length; i++) any[i]! |= users[i]!;
    }
    return any;
  }
}

/**
 * How many instances each filter rejects, kept as codes change so a batch
 * need not re-read every code at its end. `closest` is the instance rejected
 * by the latest filter (the first such instance by position).
 */
export class FilterTally {
  readonly perFilter = new Int32Array(FILTERS.length + 1);
  closest = -1;

  /** Counts nothing yet: `count` each instance once its code is known. */
  constructor(private readonly codes: Uint8Array) {}

  /** Instance `i` now has code `code` instead of its former (counted) one. */
  set(i: number, code: number): void {
    this.perFilter[this.codes[i]!]!--;
    this.codes[i] = code;
    this.count(i);
  }

  /** Counts instance `i` with its current code. */
  count(i: number): void {
    const code = this.codes[i]!;
    this.perFilter[code]!++;
    const c = this.closest;
    if (code !== FITS && (c < 0 || code > this.codes[c]! || (code === this.codes[c]! && i < c))) this.closest = i;
  }
}

/**
 * Failures and diagnosis from the filter code of every instance (0 = could
 * take another task) and their tally. Instances that are not ACTIVE are
 * counted in the diagnosis but, as in ECS, not reported as failures.
 */
export function diagnose(
  snapshot: ClusterSnapshot,
  codes: Uint8Array,
  tally: FilterTally,
  withFailures: boolean,
): { failures: PlacementFailure[]; diagnosis: PlacementDiagnosis } {
  const perFilter = tally.perFilter;
  const failures: PlacementFailure[] = [];
  if (withFailures) {
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      if (code !== FITS && code !== F_STATUS) failures.push({ arn: snapshot.instances[i]!.arn, reason: filterOf(code).reason });
    }
  }
  const rejected: FilterRejections[] = [];
  for (let code = 1; code <= FILTERS.length; code++) {
    const n = perFilter[code]!;
    if (n > 0) rejected.push({ filter: filterOf(code).name, reason: filterOf(code).reason, instances: n });
  }
  const eligible = perFilter[FITS]!;
  const parts = rejected.map((r) => `${r.instances} ${FILTERS.find((f) => f.name === r.filter)!.describe} (${r.reason})`);
  const message =
    `${eligible} of ${codes.length} container instance${codes.length === 1 ? '' : 's'} can take the task` +
    (parts.length > 0 ? `: ${parts.join(', ')}` : '');
  const closest = tally.closest;
  const diagnosis: PlacementDiagnosis = {
    instances: codes.length,
    eligible,
    rejected,
    message,
    ...(closest >= 0 ? { closest: { instanceArn: snapshot.instances[closest]!.arn, reason: filterOf(codes[closest]!).reason } } : {}),
  };
  return { failures, diagnosis };
}

/** Tasks of `group` on each instance according to the snapshot. */
export function groupCounts(snapshot: ClusterSnapshot, group: string, into: Float64Array): Float64Array {
  const p = snapshot.groupPostings(group);
  if (p !== undefined) for (let k = 0; k < p.instances.length; k++) into[p.instances[k]!] = p.counts[k]!;
  return into;
}

/** Convenience for tests and tools: the filter code of one instance with nothing placed by a batch. */
export function firstFailure(snapshot: ClusterSnapshot, request: PlacementRequest, instance: InstanceSnapshot): number {
  const i = snapshot.indexOf(instance.arn);
  if (i === undefined) throw new RangeError(`${instance.arn} is not in the snapshot`);
  const pipeline = new FilterPipeline(snapshot, request);
  return (
    pipeline.fixedFailure(i) ||
    pipeline.loadFailure(i, instance.remaining.cpu, instance.remaining.memory, instance.remaining.gpus.length, instance.taskGroups.get(request.group) ?? 0, 0)
  );
}

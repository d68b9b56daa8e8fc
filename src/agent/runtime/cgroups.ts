/**
 * Task cgroups on the host's cgroup filesystem: one group per task that
 * bounds all of its containers together (ECS task-level `cpu` and `memory`
 * on Linux), as the ECS agent's `/ecs/<task id>` groups do.
 *
 * The engine places each container of the task in a child of the group
 * (Docker `CgroupParent`), so the kernel enforces the task's limits on the
 * sum of its containers. Works with the `cgroupfs` driver on cgroup v1 and
 * v2; the caller decides whether this host's groups are the engine's.
 */
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Parent of every task group, under each controller (v1) or the unified root (v2). */
export const TASK_GROUP_PREFIX = 'berth';

/** The CFS period the quota is expressed in (the kernel default, as Docker uses). */
const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas below 1 ms. */
const MIN_CFS_QUOTA_US = 1_000;

export type CgroupVersion = 'v1' | 'v2';

export interface TaskGroupLimits {
  /** CPU units; 1024 is one CPU. Enforced as a CFS quota. */
  cpuUnits?: number;
  memoryBytes?: number;
}

/** CFS quota in microseconds per 100 ms period for `units` CPU units. */
export function cfsQuotaUs(units: number): number {
  return Math.max(MIN_CFS_QUOTA_US, Math.round((units / 1024) * CFS_PERIOD_US));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : undefined;
}

/** Removes a directory when present; a missing one is not an error. */
async function rmdirIfPresent(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

export class HostCgroups {
  constructor(
    readonly version: CgroupVersion,
    private readonly root = '/sys/fs/cgroup',
  ) {}

  /**
   * The cgroup version mounted at `root` when the memory and cpu controllers
   * can be written there; otherwise why not.
   */
  static async detect(root = '/sys/fs/cgroup'): Promise<HostCgroups | { unavailable: string }> {
    if (await exists(join(root, 'cgroup.controllers'))) {
      const controllers = (await readFile(join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/);
      const missing = ['cpu', 'memory'].filter((c) => !controllers.includes(c));
      if (missing.length) return { unavailable: `the cgroup v2 hierarchy at ${root} lacks the ${missing.join(' and ')} controller` };
      return new HostCgroups('v2', root);
    }
    for (const c of ['memory', 'cpu']) {
      if (!(await exists(join(root, c, 'cgroup.procs')))) return { unavailable: `no cgroup v1 ${c} controller is mounted at ${join(root, c)}` };
    }
    return new HostCgroups('v1', root);
  }

  /** The engine's `CgroupParent` for the group `name`. */
  parentOf(name: string): string {
    return `/${TASK_GROUP_PREFIX}/${name}`;
  }

  /** Creates the group (or updates its limits) and returns its `CgroupParent`. */
  async create(name: string, limits: TaskGroupLimits): Promise<string> {
    if (this.version === 'v1') await this.createV1(name, limits);
    else await this.createV2(name, limits);
    return this.parentOf(name);
  }

  private async createV1(name: string, limits: TaskGroupLimits): Promise<void> {
    const memory = join(this.root, 'memory', TASK_GROUP_PREFIX, name);
    await mkdir(memory, { recursive: true });
    if (limits.memoryBytes !== undefined) await writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    const cpu = join(this.root, 'cpu', TASK_GROUP_PREFIX, name);
    await mkdir(cpu, { recursive: true });
    if (limits.cpuUnits !== undefined) {
      await writeFile(join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(cfsQuotaUs(limits.cpuUnits)));
    }
  }

  private async createV2(name: string, limits: TaskGroupLimits): Promise<void> {
    const prefix = join(this.root, TASK_GROUP_PREFIX);
    const group = join(prefix, name);
    // Controllers reach a group only when every ancestor delegates them.
    await this.delegate(this.root);
    await mkdir(prefix, { recursive: true });
    await this.delegate(prefix);
    await mkdir(group, { recursive: true });
    await this.delegate(group);
    if (limits.memoryBytes !== undefined) await writeFile(join(group, 'memory.max'), String(limits.memoryBytes));
    if (limits.cpuUnits !== undefined) await writeFile(join(group, 'cpu.max'), `${cfsQuotaUs(limits.cpuUnits)} ${CFS_PERIOD_US}`);
  }

  private async delegate(dir: string): Promise<void> {
    const control = join(dir, 'cgroup.subtree_control');
    const enabled = (await readFile(control, 'utf8')).split(/\s+/);
    for (const c of ['cpu', 'memory']) {
      if (!enabled.includes(c)) await writeFile(control, `+${c}`);
    }
  }

  /**
   * Removes the group; its containers must have exited (the engine removes
   * their own groups when they stop). A group that is gone is not an error.
   */
  async remove(name: string): Promise<void> {
    if (this.version === 'v2') {
      await rmdirIfPresent(join(this.root, TASK_GROUP_PREFIX, name));
      return;
    }
    // The engine creates the parent under every v1 controller it uses, not only cpu and memory.
    const controllers = await readdir(this.root, { withFileTypes: true });
    for (const c of controllers) {
      if (c.isDirectory() || c.isSymbolicLink()) await rmdirIfPresent(join(this.root, c.name, TASK_GROUP_PREFIX, name));
    }
  }
}

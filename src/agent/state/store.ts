/**
 * The agent's durable state, in its data dir:
 *
 *   agent.json        identity: stable instance id, container instance ARN, metadata port
 *   desired.json      the last desired task set the server pushed (acked only once written)
 *   tasks/<arn>.json  one TaskRecord per task: container ids and observed state
 *   reports.json      state-change reports not yet accepted by the server (in order),
 *                     and the task state last handed to the reporter
 *
 * Every write is atomic and a file holds the latest value written (see
 * files.ts). Durable writes: the identity, the desired set, and the first
 * record of a task (it holds the metadata token its containers carry).
 * Later records and the reporter state are written behind: what they add is
 * observed again from the engine, and reported again, after a power loss.
 * Reads happen at start-up only; the running agent holds the truth in
 * memory and writes through.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskRecord } from '../engine/model.js';
import type { TaskStore } from '../engine/engine.js';
import { sameTask, type AgentTask, type AgentTaskWish } from '../../protocol/agent.js';
import { PathQueue, readJson } from './files.js';

export interface AgentIdentity {
  /** `i-` + 17 hex digits, generated once. */
  instanceId: string;
  containerInstanceArn?: string;
  clusterArn?: string;
  /** Port the metadata endpoint listened on; containers keep its URL across agent restarts. */
  metadataPort?: number;
  /** Hex key the task credential ids and tokens are derived from (HMAC), generated once: ids in containers' environment outlive agent restarts. */
  credentialsKey?: string;
  /** Port the task credentials endpoint listened on (80 unless it was taken). */
  credentialsPort?: number;
}

interface DesiredFile {
  tasks: AgentTask[];
  /** Epoch ms. */
  savedAt: number;
}

/** A fresh EC2-style instance id: `i-` and 17 lowercase hex digits. */
export function newInstanceId(): string {
  return `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

function wantSame(stored: Map<string, AgentTaskWish>, tasks: readonly AgentTask[]): boolean {
  if (tasks.length !== stored.size) return false;
  return tasks.every((t) => {
    const wish = stored.get(t.taskArn);
    return wish !== undefined && sameTask(wish, t);
  });
}

function wishes(tasks: readonly AgentTask[]): Map<string, AgentTaskWish> {
  return new Map(tasks.map((t) => [t.taskArn, { desiredStatus: t.desiredStatus, stopCode: t.stopCode, stoppedReason: t.stoppedReason }]));
}

export class AgentStateStore implements TaskStore {
  private readonly queue = new PathQueue();
  private identityValue: AgentIdentity;
  /** Tasks whose record is durably stored. */
  private readonly storedTasks = new Set<string>();
  /** What the desired set last written wants, by task ARN. */
  private desired: Map<string, AgentTaskWish> | undefined;
  private desiredWrites = 0;

  private constructor(
    readonly dir: string,
    identity: AgentIdentity,
  ) {
    this.identityValue = identity;
  }

  /** Opens (creating when needed) the state in `dir`. */
  static async open(dir: string): Promise<AgentStateStore> {
    await mkdir(join(dir, 'tasks'), { recursive: true, mode: 0o700 });
    const stored = await readJson<AgentIdentity>(join(dir, 'agent.json'));
    const store = new AgentStateStore(dir, stored?.instanceId ? stored : { instanceId: newInstanceId() });
    if (!stored?.instanceId) await store.saveIdentity({});
    return store;
  }

  identity(): AgentIdentity {
    return { ...this.identityValue };
  }

  /** Merges `patch` into the identity and persists it. */
  async saveIdentity(patch: Partial<Omit<AgentIdentity, 'instanceId'>>): Promise<void> {
    this.identityValue = { ...this.identityValue, ...patch };
    await this.queue.write(join(this.dir, 'agent.json'), this.identityValue);
  }

  async loadDesired(): Promise<AgentTask[] | undefined> {
    const tasks = (await readJson<DesiredFile>(join(this.dir, 'desired.json')))?.tasks;
    if (tasks) this.desired = wishes(tasks);
    return tasks;
  }

  /**
   * Resolves once the set is durable: only then may the push be
   * acknowledged. A set that wants what the stored one wants (task versions
   * aside: they move with every report) is durable already.
   */
  async saveDesired(tasks: readonly AgentTask[]): Promise<void> {
    if (this.desired && wantSame(this.desired, tasks)) return;
    const file: DesiredFile = { tasks: [...tasks], savedAt: Date.now() };
    const write = ++this.desiredWrites;
    this.desired = undefined;
    await this.queue.write(join(this.dir, 'desired.json'), file);
    if (write === this.desiredWrites) this.desired = wishes(tasks);
  }

  // ---- task records (TaskStore) ------------------------------------------------

  private taskPath(taskArn: string): string {
    return join(this.dir, 'tasks', `${encodeURIComponent(taskArn)}.json`);
  }

  async loadTasks(): Promise<TaskRecord[]> {
    const dir = join(this.dir, 'tasks');
    const out: TaskRecord[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      try {
        const r = await readJson<TaskRecord>(join(dir, name));
        if (r?.taskArn) {
          out.push(r);
          this.storedTasks.add(r.taskArn);
        }
      } catch {
        // A damaged record is skipped; the server's next push recreates the task's record.
      }
    }
    return out;
  }

  async saveTask(r: TaskRecord): Promise<void> {
    const first = !this.storedTasks.has(r.taskArn);
    await this.queue.write(this.taskPath(r.taskArn), r, first);
    this.storedTasks.add(r.taskArn);
  }

  deleteTask(taskArn: string): Promise<void> {
    this.storedTasks.delete(taskArn);
    return this.queue.delete(this.taskPath(taskArn));
  }

  // ---- reporter state -----------------------------------------------------------

  /** The reporter's queue of unaccepted reports and last reported views (its own format). */
  loadReporterState<T>(): Promise<T | undefined> {
    return readJson<T>(join(this.dir, 'reports.json'));
  }

  saveReporterState<T>(state: T): Promise<void> {
    return this.queue.write(join(this.dir, 'reports.json'), state, false);
  }

  /** Resolves once every write requested so far has settled. */
  flush(): Promise<void> {
    return this.queue.drain();
  }
}

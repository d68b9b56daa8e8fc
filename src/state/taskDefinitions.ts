import type { TaskDefinitionDoc } from '../ecs/taskdef/types.js';
import type { Store } from '../store/store.js';

/**
 * Parsed task definitions for running tasks: what RunTask resolves a
 * task definition reference to, and the revisions tasks run (a task row names
 * its revision instead of holding a copy). Every committed change of any task
 * definition empties it (they are rare: register, deregister, delete), so an
 * entry is always what a read of the committed rows would answer. Holds at
 * most `capacity` entries, least recently used dropped first.
 */
export class TaskDefinitionCache {
  private readonly entries = new Map<string, TaskDefinitionDoc>();
  /** Counts committed task definition changes, so that a read overtaken by one is not kept. */
  private generation = 0;
  private readonly unwatch: () => void;

  constructor(
    store: Store,
    private readonly capacity = 1000,
  ) {
    this.unwatch = store.watch((changes) => {
      if (!changes.some((c) => c.kind === 'taskDefinition')) return;
      this.generation++;
      this.entries.clear();
    });
  }

  /**
   * What `load` answers for `key`, loaded once until a task definition
   * changes. `load` reads the store or a transaction that has not written
   * task definitions; an undefined answer is not kept.
   */
  async through(key: string, load: () => Promise<TaskDefinitionDoc | undefined>): Promise<TaskDefinitionDoc | undefined> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const generation = this.generation;
    const td = await load();
    if (td !== undefined && generation === this.generation) {
      if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, td);
    }
    return td;
  }

  close(): void {
    this.unwatch();
    this.entries.clear();
  }
}


/**
 * Mutual exclusion per key within one process: `run(key, fn)` runs `fn`
 * after every earlier `run` of the same key has settled; different keys do
 * not wait for each other. Not reentrant: `fn` must not `run` its own key.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys held or waited for (tests). */
  get size(): number {
    return this.tails.size;
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, ChangeListener } from '../store/store.js';
import { Controller } from './runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `ok()` (timers fire late on a busy machine, never early). */
async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await sleep(5);
  }
}

describe('controller runtime', () => {
  it('coalesces a key queued twice and syncs once more a key enqueued while it runs', async () => {
    const seen: string[] = [];
    let release: (() => void) | undefined;
    const c = new Controller({
      name: 't',
      sync: async (key) => {
        seen.push(key);
        if (key === 'a' && seen.filter((k) => k === 'a').length === 1) await new Promise<void>((r) => (release = r));
      },
    });
    c.start();
    c.enqueue('a');
    c.enqueue('a');
    await sleep(5);
    c.enqueue('a'); // while running: once more afterwards
    c.enqueue('a');
    release!();
    await c.idle();
    assert.deepEqual(seen, ['a', 'a']);
    await c.stop();
  });

  it('never syncs one key twice at once, but runs different keys concurrently up to the limit', async () => {
    let running = 0;
    let peak = 0;
    const perKey = new Map<string, number>();
    const c = new Controller({
      name: 't',
      concurrency: 3,
      sync: async (key) => {
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        assert.equal(perKey.get(key), 1, `${key} runs once at a time`);
        running++;
        peak = Math.max(peak, running);
        await sleep(10);
        running--;
        perKey.set(key, perKey.get(key)! - 1);
      },
    });
    c.start();
    for (let round = 0; round < 3; round++) for (const k of ['a', 'b', 'c', 'd', 'e']) c.enqueue(k);
    await sleep(15);
    for (const k of ['a', 'b']) c.enqueue(k);
    await c.idle();
    assert.equal(peak, 3);
    await c.stop();
  });

  it('retries a failing key with growing delays and stops retrying after a success', async () => {
    const at: number[] = [];
    const c = new Controller({
      name: 't',
      backoff: { baseMs: 20, capMs: 1000, random: () => 0.999 },
      sync: () => {
        at.push(Date.now());
        if (at.length < 4) return Promise.reject(new Error('not yet'));
        return Promise.resolve();
      },
    });
    c.start();
    c.enqueue('k');
    await c.idle(1);
    assert.equal(at.length, 4);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Delays just under 20, 40, 80 ms (timers may fire late, never early): each at least about double the first.
    assert.ok(gaps[0]! >= 18 && gaps[1]! >= 37 && gaps[2]! >= 75, `gaps ${gaps.join(', ')}`);
    assert.deepEqual(c.stats().failures, 3);
    await sleep(200);
    assert.equal(at.length, 4, 'no retry after the success');
    await c.stop();
  });

  it('syncs again after requeueAfterMs, sooner when enqueued in between', async () => {
    const at: number[] = [];
    const c = new Controller({
      name: 't',
      sync: () => {
        at.push(Date.now());
        return Promise.resolve(at.length === 1 ? { requeueAfterMs: 60 } : at.length === 2 ? { requeueAfterMs: 10_000 } : {});
      },
    });
    c.start();
    const t0 = Date.now();
    c.enqueue('k');
    await until(() => at.length === 2);
    assert.ok(at[1]! - t0 >= 58, 'second sync after 60 ms');
    c.enqueue('k'); // long before the 10 s requeue
    await c.idle();
    assert.equal(at.length, 3);
    await c.stop();
  });

  it('resyncs every key periodically and runs nothing after stop', async () => {
    const seen: string[] = [];
    const c = new Controller({ name: 't', keys: () => Promise.resolve(['x', 'y']), resyncEveryMs: 30, sync: (k) => (seen.push(k), Promise.resolve()) });
    c.start();
    await until(() => seen.filter((k) => k === 'x').length >= 2 && seen.includes('y'));
    await c.stop();
    const n = seen.length;
    c.enqueue('x');
    await sleep(60);
    assert.equal(seen.length, n);
  });

  it('waits for syncs in flight on stop', async () => {
    let done = false;
    const c = new Controller({
      name: 't',
      sync: async () => {
        await sleep(40);
        done = true;
      },
    });
    c.start();
    c.enqueue('k');
    await sleep(5);
    await c.stop();
    assert.equal(done, true);
  });

  it('follows its change feed only while running, and resyncs once at start when asked', async () => {
    const listeners = new Set<ChangeListener>();
    const feed = {
      watch(l: ChangeListener) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const emit = (arn: string) => {
      for (const l of listeners) l([{ kind: 'service', op: 'update', arn, cluster: 'c', keys: {} } as unknown as Change]);
    };
    const seen: string[] = [];
    const c: Controller = new Controller({
      name: 't',
      watch: { feed, onChanges: (changes) => changes.forEach((ch) => c.enqueue(ch.arn)) },
      resyncOnStart: true,
      keys: () => Promise.resolve(['at-start']),
      sync: (k) => (seen.push(k), Promise.resolve()),
    });
    emit('before-start');
    assert.equal(listeners.size, 0, 'not subscribed before start');
    c.start();
    await until(() => seen.includes('at-start'));
    emit('while-running');
    await until(() => seen.includes('while-running'));
    await c.stop();
    assert.equal(listeners.size, 0, 'unsubscribed on stop');
    assert.deepEqual(seen.sort(), ['at-start', 'while-running']);
  });
});

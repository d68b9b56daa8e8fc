import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedLock } from './keyedLock.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedLock', () => {
  it('runs the holders of one key one after another, in order, and other keys meanwhile', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const holder = (key: string, name: string) =>
      lock.run(key, async () => {
        events.push(`${name} in`);
        await tick();
        events.push(`${name} out`);
      });
    await Promise.all([holder('a', 'a1'), holder('a', 'a2'), holder('b', 'b1')]);
    assert.deepEqual(events.filter((e) => e.startsWith('a')), ['a1 in', 'a1 out', 'a2 in', 'a2 out']);
    assert.ok(events.indexOf('b1 in') < events.indexOf('a1 out'), 'another key does not wait');
    assert.equal(lock.size, 0, 'nothing held once all are done');
  });

  it('releases the key when a holder throws', async () => {
    const lock = new KeyedLock();
    await assert.rejects(lock.run('k', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await lock.run('k', () => Promise.resolve(42)), 42);
    assert.equal(lock.size, 0);
  });
});

import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { eachChunk } from './streams.js';

const pieces = (n: number, size: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.alloc(size, i % 256));

describe('eachChunk', () => {
  it('hands on every chunk in order, as produced, and waits for each pending promise before the next', async () => {
    const source = new PassThrough();
    const seen: Buffer[] = [];
    let busy = false;
    let overlapped = false;
    const done = eachChunk(source, (chunk) => {
      if (busy) overlapped = true;
      seen.push(chunk);
      if (seen.length % 3 !== 0) return;
      busy = true;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          busy = false;
          resolve();
        }, 2),
      );
    });
    const sent = pieces(20, 1000);
    for (const p of sent) source.write(p);
    source.end();
    await done;
    assert.equal(overlapped, false, 'a chunk arrived while the previous promise was pending');
    assert.ok(Buffer.concat(seen).equals(Buffer.concat(sent)));
    // Chunks are not regathered: none is larger than what was written.
    assert.ok(seen.every((c) => c.length <= 1000));
  });

  it('rejects with what onChunk threw or rejected with, and destroys the stream', async () => {
    const thrown = Readable.from(pieces(5, 10));
    await assert.rejects(
      eachChunk(thrown, () => {
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.ok(thrown.destroyed);
    const rejected = Readable.from(pieces(5, 10));
    await assert.rejects(
      eachChunk(rejected, () => Promise.reject(new Error('write failed'))),
      /write failed/,
    );
    assert.ok(rejected.destroyed);
  });

  it('rejects when the stream fails or closes before its end', async () => {
    const failing = new PassThrough();
    const a = eachChunk(failing, () => undefined);
    failing.write(Buffer.from('partial'));
    failing.destroy(new Error('connection reset'));
    await assert.rejects(a, /connection reset/);
    const cut = new PassThrough();
    const b = eachChunk(cut, () => undefined);
    cut.write(Buffer.from('partial'));
    cut.destroy();
    await assert.rejects(b, (err: NodeJS.ErrnoException) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
  });
});

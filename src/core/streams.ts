import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * Reads `body` chunk by chunk as it arrives, handing each to `onChunk`; while
 * a promise `onChunk` returns is pending, the stream is paused. Resolves once
 * the stream has ended and the last promise settled; rejects when the stream
 * fails or closes early, or when `onChunk` throws (the stream is then
 * destroyed).
 *
 * Unlike `for await`, which reads whatever has gathered as one Buffer (a copy
 * into fresh memory each time the consumer falls behind), this hands on the
 * chunks as the socket produced them.
 */
export async function eachChunk(body: Readable, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  let failure: unknown;
  let pending: Promise<void> | undefined;
  const fail = (err: unknown): void => {
    failure ??= err;
    body.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const ended = finished(body);
  body.on('data', (chunk: Buffer) => {
    if (failure !== undefined) return;
    let r: void | Promise<void>;
    try {
      r = onChunk(chunk);
    } catch (err) {
      fail(err);
      return;
    }
    if (r instanceof Promise) {
      body.pause();
      pending = r.then(
        () => {
          pending = undefined;
          if (failure === undefined) body.resume();
        },
        (err: unknown) => {
          pending = undefined;
          fail(err);
        },
      );
    }
  });
  try {
    await ended;
  } catch (err) {
    await pending;
    throw failure ?? err;
  }
  await pending;
  if (failure !== undefined) throw failure;
}

/** Resolves when `out` may take more writes, or when it is gone (closed or destroyed). */
export function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

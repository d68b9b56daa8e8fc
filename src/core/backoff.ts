/**
 * Exponential backoff with full jitter: the n-th retry (from 0) waits a
 * uniformly random time in [0, min(cap, base · 2^n)). Spreads reconnecting
 * agents after a server restart instead of having them arrive together.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Source of uniform numbers in [0, 1); Math.random by default. */
  random?: () => number;
}

export function fullJitterDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Default for reconnects and report retries: 250 ms doubling to a 15 s cap. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 15_000 };

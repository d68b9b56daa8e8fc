/**
 * Seeded randomness and hashing for placement.
 *
 * The engine never calls Math.random: every random choice derives from the
 * seed the caller passes in, so a plan can be reproduced from (snapshot,
 * request, seed).
 */

/** Finaliser of MurmurHash3: a bijection on uint32 that spreads every input bit. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** 32-bit FNV-1a hash of a string, finalised with `mix32`. Stable across runs and platforms. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h >>> 0);
}

/** A stream of uniform numbers in [0, 1) with 53 bits of precision. */
export interface Rng {
  next(): number;
}

/**
 * A small, fast deterministic generator (a Weyl sequence finalised by `mix32`).
 * Equal seeds give equal streams; it is not for cryptography.
 */
export function createRng(seed: number): Rng {
  let state = mix32((seed >>> 0) ^ 0x9e3779b9);
  const step = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    return mix32(state);
  };
  return {
    next(): number {
      const hi = step() >>> 5; // 27 bits
      const lo = step() >>> 6; // 26 bits
      return (hi * 67108864 + lo) / 9007199254740992;
    },
  };
}

/** An exponentially distributed draw with mean 1 (used to build random rankings, see rankers.ts). */
export function exponential(rng: Rng): number {
  return -Math.log(1 - rng.next());
}

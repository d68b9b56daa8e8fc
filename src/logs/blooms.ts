/**
 * Skip index for FilterLogEvents: a Bloom filter of the byte trigrams of a
 * block of consecutive events (one stream's, from one PutLogEvents). A term
 * of three bytes or more can occur in a block only if all of its trigrams
 * are set in the block's filter, so a term or phrase search reads only the
 * blocks that may hold it instead of every message of the group.
 *
 * Contract: `mayContain(bloom, text)` is false only when no message of the
 * block contains `text` (as a substring of its UTF-8 bytes, which is exactly
 * a substring of the text); it is never a reason to skip the matcher.
 */
import type { Prefilter } from './filterPattern.js';

/** Events per block: small enough that a rare term leaves most blocks out. */
export const BLOCK_EVENTS = 64;
/** Bits per filter (256 bytes a block, 4 bytes an event): a 64-event block of JSON lines sets about half of them. */
const BITS = 2048;
const SHIFT = 32 - Math.log2(BITS);

function bitOf(a: number, b: number, c: number): number {
  return Math.imul((a << 16) | (b << 8) | c, 0x9e3779b1) >>> SHIFT;
}

/** The filter of a block's messages. */
export function bloomOf(messages: readonly string[]): Uint8Array {
  const bloom = new Uint8Array(BITS / 8);
  for (const m of messages) {
    // ASCII (most log lines): the characters are the UTF-8 bytes, read without encoding.
    let ascii = m.length >= 3;
    let a = m.charCodeAt(0);
    let b = m.charCodeAt(1);
    for (let i = 2; ascii && i < m.length; i++) {
      const c = m.charCodeAt(i);
      if (c > 0x7f || a > 0x7f || b > 0x7f) {
        ascii = false;
        break;
      }
      const bit = bitOf(a, b, c);
      bloom[bit >>> 3]! |= 1 << (bit & 7);
      a = b;
      b = c;
    }
    if (ascii) continue;
    const bytes = Buffer.from(m, 'utf8');
    for (let i = 0; i + 2 < bytes.length; i++) {
      const bit = bitOf(bytes[i]!, bytes[i + 1]!, bytes[i + 2]!);
      bloom[bit >>> 3]! |= 1 << (bit & 7);
    }
  }
  return bloom;
}

/** The bits a text needs, or undefined when it is too short to say anything (under three bytes). */
function bitsOf(text: string): number[] | undefined {
  const b = Buffer.from(text, 'utf8');
  if (b.length < 3) return undefined;
  const bits: number[] = [];
  for (let i = 0; i + 2 < b.length; i++) bits.push(bitOf(b[i]!, b[i + 1]!, b[i + 2]!));
  return bits;
}

/** A test of blocks compiled from a prefilter; undefined when the prefilter can rule out no block. */
export type BlockTest = (bloom: Uint8Array) => boolean;

export function blockTest(p: Prefilter): BlockTest | undefined {
  switch (p.k) {
    case 'contains': {
      const bits = bitsOf(p.text);
      if (!bits) return undefined;
      return (bloom) => bits.every((bit) => (bloom[bit >>> 3]! & (1 << (bit & 7))) !== 0);
    }
    case 'jsonNumber':
      return undefined;
    case 'and': {
      const a = blockTest(p.a);
      const b = blockTest(p.b);
      if (!a) return b;
      if (!b) return a;
      return (bloom) => a(bloom) && b(bloom);
    }
    case 'or': {
      const a = blockTest(p.a);
      const b = blockTest(p.b);
      if (!a || !b) return undefined;
      return (bloom) => a(bloom) || b(bloom);
    }
  }
}

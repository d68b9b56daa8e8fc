import { InvalidParameterException } from './errors.js';

/**
 * Opaque pagination tokens. A token encodes where the previous page ended
 * (never an offset, so inserts between calls neither skip nor repeat items)
 * and which listing it belongs to, so a token from another listing is refused.
 */
export function encodeToken(scope: string, position: unknown): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
}

export function decodeToken<T>(scope: string, token: string | undefined): T | undefined {
  if (token === undefined || token === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; p?: unknown };
    if (parsed && parsed.s === scope && parsed.p !== undefined) return parsed.p as T;
  } catch {
    // fall through to the error below
  }
  throw new InvalidParameterException('Invalid nextToken: pass the nextToken returned by the previous call with the same parameters.');
}

/** Validates `maxResults` (1..max) and returns the page size to use. */
export function pageSize(maxResults: number | undefined, max = 100, def = 100): number {
  if (maxResults === undefined) return def;
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > max) {
    throw new InvalidParameterException(`maxResults must be between 1 and ${max}; got ${maxResults}.`);
  }
  return maxResults;
}

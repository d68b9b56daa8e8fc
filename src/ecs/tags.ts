import { InvalidParameterException } from '../core/errors.js';

export interface Tag {
  key?: string;
  value?: string;
}

export const MAX_TAGS = 50;

/**
 * Checks tags as ECS does: at most 50 per resource, keys 1-128 characters,
 * values up to 256, and the `aws:` prefix reserved.
 */
export function validateTags(tags: readonly Tag[] | undefined, member = 'tags'): Tag[] {
  const out: Tag[] = [];
  for (const [i, t] of (tags ?? []).entries()) {
    const key = t.key;
    if (key === undefined || key.length < 1 || key.length > 128) {
      throw new InvalidParameterException(`${member}[${i}].key must be 1 to 128 characters long.`);
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new InvalidParameterException(`Tag keys starting with 'aws:' are reserved for system use: '${key}'.`);
    }
    const value = t.value ?? '';
    if (value.length > 256) {
      throw new InvalidParameterException(`${member}[${i}].value for key '${key}' must be at most 256 characters long.`);
    }
    out.push({ key, value });
  }
  return out;
}

/** Adds or replaces tags by key; refuses to exceed the per-resource limit. */
export function mergeTags(existing: readonly Tag[] | undefined, added: readonly Tag[]): Tag[] {
  const byKey = new Map<string, string>();
  for (const t of existing ?? []) if (t.key !== undefined) byKey.set(t.key, t.value ?? '');
  for (const t of added) if (t.key !== undefined) byKey.set(t.key, t.value ?? '');
  if (byKey.size > MAX_TAGS) {
    throw new InvalidParameterException(`A resource can have at most ${MAX_TAGS} tags; this request would leave ${byKey.size}.`);
  }
  return [...byKey].map(([key, value]) => ({ key, value }));
}

export function removeTags(existing: readonly Tag[] | undefined, keys: readonly string[]): Tag[] {
  const drop = new Set(keys);
  return (existing ?? []).filter((t) => t.key === undefined || !drop.has(t.key));
}

/** Tags compared regardless of order. */
export function sameTags(a: readonly Tag[] | undefined, b: readonly Tag[] | undefined): boolean {
  const norm = (x: readonly Tag[] | undefined) =>
    JSON.stringify([...(x ?? [])].map((t) => [t.key ?? '', t.value ?? '']).sort());
  return norm(a) === norm(b);
}

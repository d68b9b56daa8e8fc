import type { LifecyclePolicy, LifecycleRule } from './policy.js';

/** What the evaluator needs of an image. `pushedAt` is epoch milliseconds. */
export interface LifecycleImage {
  digest: string;
  tags: readonly string[];
  pushedAt: number;
}

export interface Expiry {
  image: LifecycleImage;
  /** The rule that expires the image. */
  rulePriority: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A tagPatternList entry: `*` matches any run of characters, everything else itself. */
function patternRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** Whether a rule's tag requirements select an image (tagStatus, and every prefix or pattern matched by one of its tags). */
export function selects(rule: LifecycleRule, image: LifecycleImage): boolean {
  const s = rule.selection;
  switch (s.tagStatus) {
    case 'any':
      return true;
    case 'untagged':
      return image.tags.length === 0;
    case 'tagged': {
      if (image.tags.length === 0) return false;
      if (s.tagPrefixList) return s.tagPrefixList.every((p) => image.tags.some((t) => t.startsWith(p)));
      const patterns = (s.tagPatternList ?? []).map(patternRegExp);
      return patterns.every((re) => image.tags.some((t) => re.test(t)));
    }
  }
}

/** Newest first; equal push times in digest order, so that the result never depends on input order. */
function newestFirst(a: LifecycleImage, b: LifecycleImage): number {
  return b.pushedAt - a.pushedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
}

/**
 * The images a lifecycle policy expires at `now`, following ECR's rules:
 *
 * - Rules apply in rulePriority order, lowest first.
 * - A rule selects the images its tag requirements match, then expires,
 *   for `imageCountMoreThan`, all but the `countNumber` most recently pushed
 *   of them, for `sinceImagePushed`, those pushed more than `countNumber`
 *   days before `now`.
 * - An image selected by a rule of higher priority (lower number) is never
 *   expired by a later rule, but a later rule still counts it among the
 *   images it selects.
 * - Every image is expired by at most one rule.
 *
 * Pure: no clock, no store; the result is sorted by digest.
 */
export function evaluateLifecyclePolicy(policy: LifecyclePolicy, images: readonly LifecycleImage[], now: number): Expiry[] {
  const claimed = new Set<string>();
  const expired = new Map<string, Expiry>();
  const rules = [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority);
  for (const rule of rules) {
    const selected = images.filter((i) => selects(rule, i)).sort(newestFirst);
    const s = rule.selection;
    const candidates = s.countType === 'imageCountMoreThan' ? selected.slice(s.countNumber) : selected.filter((i) => i.pushedAt < now - s.countNumber * DAY_MS);
    for (const image of candidates) {
      if (claimed.has(image.digest) || expired.has(image.digest)) continue;
      expired.set(image.digest, { image, rulePriority: rule.rulePriority });
    }
    for (const image of selected) claimed.add(image.digest);
  }
  return [...expired.values()].sort((a, b) => (a.image.digest < b.image.digest ? -1 : 1));
}

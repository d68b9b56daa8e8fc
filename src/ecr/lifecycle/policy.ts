import { InvalidParameterException } from '../../core/errors.js';

/**
 * ECR's lifecycle policy language, parsed and checked as ECR checks it:
 * first the shape (ECR validates the text against a JSON schema and words
 * its errors the way that validator does), then the rules' meaning.
 */

export type TagStatus = 'tagged' | 'untagged' | 'any';
export type CountType = 'imageCountMoreThan' | 'sinceImagePushed';

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: {
    tagStatus: TagStatus;
    tagPrefixList?: string[];
    tagPatternList?: string[];
    countType: CountType;
    countUnit?: 'days';
    countNumber: number;
  };
  action: { type: 'expire' };
}

export interface LifecyclePolicy {
  rules: LifecycleRule[];
}

/** ECR's limits on the policy text (the model's LifecyclePolicyText length). */
export const MIN_POLICY_LENGTH = 100;
export const MAX_POLICY_LENGTH = 30720;
/** At most four wildcards in each tagPatternList entry. */
export const MAX_WILDCARDS = 4;

function fail(reason: string): never {
  throw new InvalidParameterException(`Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ${reason}'`);
}

const q = (names: string[]): string => `[${names.map((n) => JSON.stringify(n)).join(',')}]`;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function object(v: unknown, required: string[], allowed: string[]): Record<string, unknown> {
  if (typeName(v) !== 'object') fail(`instance type (${typeName(v)}) does not match any allowed primitive type (allowed: ["object"])`);
  const o = v as Record<string, unknown>;
  const missing = required.filter((k) => o[k] === undefined);
  if (missing.length > 0) fail(`object has missing required properties (${q(missing)})`);
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`object instance has properties which are not allowed by the schema: (${q(extra)})`);
  return o;
}

function ofType(v: unknown, type: 'string' | 'integer' | 'array'): void {
  if (typeName(v) !== type) fail(`instance type (${typeName(v)}) does not match any allowed primitive type (allowed: ["${type}"])`);
}

function oneOf<T extends string>(v: unknown, values: readonly T[]): T {
  ofType(v, 'string');
  if (!values.includes(v as T)) fail(`instance value (${JSON.stringify(v)}) not found in enum (possible values: ${q([...values])})`);
  return v as T;
}

function atLeast(v: unknown, min: number): number {
  ofType(v, 'integer');
  if ((v as number) < min) fail(`numeric instance is lower than the required minimum (minimum: ${min}, found: ${String(v)})`);
  return v as number;
}

function strings(v: unknown): string[] {
  ofType(v, 'array');
  const list = v as unknown[];
  if (list.length < 1) fail('array is too short: must have at least 1 elements but instance has 0 elements');
  for (const s of list) ofType(s, 'string');
  if (new Set(list).size !== list.length) fail('array must not contain duplicate elements');
  return list as string[];
}

/** Parses and validates a lifecycle policy; throws InvalidParameterException with ECR's wording. */
export function parseLifecyclePolicy(text: string): LifecyclePolicy {
  if (text.length < MIN_POLICY_LENGTH) {
    throw new InvalidParameterException(`Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length greater than or equal to ${MIN_POLICY_LENGTH}'`);
  }
  if (text.length > MAX_POLICY_LENGTH) {
    throw new InvalidParameterException(`Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length less than or equal to ${MAX_POLICY_LENGTH}'`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    fail('the lifecycle policy text is not valid JSON');
  }
  const root = object(doc, ['rules'], ['rules']);
  ofType(root.rules, 'array');
  const rawRules = root.rules as unknown[];
  if (rawRules.length < 1) fail('array is too short: must have at least 1 elements but instance has 0 elements');
  const rules: LifecycleRule[] = rawRules.map((raw) => {
    const r = object(raw, ['rulePriority', 'selection', 'action'], ['rulePriority', 'description', 'selection', 'action']);
    const rulePriority = atLeast(r.rulePriority, 1);
    if (r.description !== undefined) ofType(r.description, 'string');
    const s = object(r.selection, ['tagStatus', 'countType', 'countNumber'], ['tagStatus', 'tagPrefixList', 'tagPatternList', 'countType', 'countUnit', 'countNumber']);
    const tagStatus = oneOf(s.tagStatus, ['tagged', 'untagged', 'any'] as const);
    const countType = oneOf(s.countType, ['imageCountMoreThan', 'sinceImagePushed'] as const);
    const countUnit = s.countUnit === undefined ? undefined : oneOf(s.countUnit, ['days'] as const);
    const countNumber = atLeast(s.countNumber, 1);
    const tagPrefixList = s.tagPrefixList === undefined ? undefined : strings(s.tagPrefixList);
    const tagPatternList = s.tagPatternList === undefined ? undefined : strings(s.tagPatternList);
    const a = object(r.action, ['type'], ['type']);
    oneOf(a.type, ['expire'] as const);

    if (tagStatus === 'tagged' && tagPrefixList === undefined && tagPatternList === undefined) {
      fail(`rule ${rulePriority}: tagPrefixList or tagPatternList is required when tagStatus is tagged`);
    }
    if (tagPrefixList !== undefined && tagPatternList !== undefined) fail(`rule ${rulePriority}: tagPrefixList and tagPatternList cannot both be specified`);
    if (tagStatus !== 'tagged' && (tagPrefixList !== undefined || tagPatternList !== undefined)) {
      fail(`rule ${rulePriority}: tagPrefixList and tagPatternList can only be used when tagStatus is tagged`);
    }
    for (const p of tagPatternList ?? []) {
      if ((p.match(/\*/g)?.length ?? 0) > MAX_WILDCARDS) fail(`rule ${rulePriority}: tagPatternList value '${p}' has more than ${MAX_WILDCARDS} wildcards`);
    }
    if (countType === 'sinceImagePushed' && countUnit === undefined) fail(`rule ${rulePriority}: countUnit is required when countType is sinceImagePushed`);
    if (countType === 'imageCountMoreThan' && countUnit !== undefined) fail(`rule ${rulePriority}: countUnit can only be used when countType is sinceImagePushed`);
    return {
      rulePriority,
      ...(typeof r.description === 'string' ? { description: r.description } : {}),
      selection: {
        tagStatus,
        ...(tagPrefixList ? { tagPrefixList } : {}),
        ...(tagPatternList ? { tagPatternList } : {}),
        countType,
        ...(countUnit ? { countUnit } : {}),
        countNumber,
      },
      action: { type: 'expire' },
    };
  });
  const seen = new Set<number>();
  for (const r of rules) {
    if (seen.has(r.rulePriority)) fail(`rulePriority ${r.rulePriority} is used by more than one rule; each rule must have a unique rulePriority`);
    seen.add(r.rulePriority);
  }
  const highest = Math.max(...rules.map((r) => r.rulePriority));
  for (const r of rules) {
    if (r.selection.tagStatus === 'any' && r.rulePriority !== highest) {
      fail(`the rule with tagStatus any (rulePriority ${r.rulePriority}) must have the highest rulePriority`);
    }
  }
  return { rules: [...rules].sort((a, b) => a.rulePriority - b.rulePriority) };
}

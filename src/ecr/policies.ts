import { InvalidParameterException, RepositoryPolicyNotFoundException } from '../core/errors.js';
import { compilePolicy } from '../iam/policy/index.js';
import { withRetry } from '../store/store.js';
import type { EcrContext } from './context.js';
import { getRepository } from './repositories.js';

/**
 * Repository policies: SetRepositoryPolicy, GetRepositoryPolicy and
 * DeleteRepositoryPolicy. The policy is stored with the repository, as given,
 * for IAM authorization to evaluate.
 */

const INVALID = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'";
const EFFECTS = new Set(['Allow', 'Deny']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Condition']);

function isStringOrStrings(v: unknown): v is string | string[] {
  return typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));
}

function list(v: string | string[]): string[] {
  return typeof v === 'string' ? [v] : v;
}

function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(value);
}

interface Statement {
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Condition?: unknown;
}

/**
 * Checks a repository policy's grammar as ECR does: a JSON object with a
 * non-empty `Statement`, each statement with an `Effect`, a principal and
 * actions, and no `Resource` (a repository policy applies to its repository).
 */
export function parseRepositoryPolicy(text: string): Statement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InvalidParameterException(INVALID);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidParameterException(INVALID);
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d)) if (key !== 'Version' && key !== 'Id' && key !== 'Statement') throw new InvalidParameterException(INVALID);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw new InvalidParameterException(INVALID);
  const statements = Array.isArray(d.Statement) ? (d.Statement as unknown[]) : d.Statement !== undefined ? [d.Statement] : [];
  if (statements.length === 0) throw new InvalidParameterException(INVALID);
  for (const s of statements) {
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw new InvalidParameterException(INVALID);
    const st = s as Record<string, unknown>;
    for (const key of Object.keys(st)) if (!STATEMENT_KEYS.has(key)) throw new InvalidParameterException(INVALID);
    if (typeof st.Effect !== 'string' || !EFFECTS.has(st.Effect)) throw new InvalidParameterException(INVALID);
    if ((st.Principal === undefined) === (st.NotPrincipal === undefined)) throw new InvalidParameterException(INVALID);
    const actions = st.Action ?? st.NotAction;
    if ((st.Action === undefined) === (st.NotAction === undefined) || !isStringOrStrings(actions)) throw new InvalidParameterException(INVALID);
    for (const a of list(actions)) if (a !== '*' && !/^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/.test(a)) throw new InvalidParameterException(INVALID);
    if (st.Condition !== undefined && (typeof st.Condition !== 'object' || st.Condition === null || Array.isArray(st.Condition))) throw new InvalidParameterException(INVALID);
  }
  return statements as Statement[];
}

function everyone(principal: unknown): boolean {
  if (principal === '*') return true;
  if (principal && typeof principal === 'object') {
    const aws = (principal as Record<string, unknown>).AWS;
    return aws === '*' || (Array.isArray(aws) && aws.includes('*'));
  }
  return false;
}

/** Whether the policy denies everyone SetRepositoryPolicy unconditionally: applying it would lock the repository's policy. */
export function locksOutPolicyChanges(statements: Statement[]): boolean {
  return statements.some((s) => {
    if (s.Effect !== 'Deny' || s.Condition !== undefined || !everyone(s.Principal)) return false;
    if (s.Action !== undefined) return list(s.Action).some((a) => wildcardMatch(a, 'ecr:SetRepositoryPolicy'));
    return s.NotAction !== undefined && !list(s.NotAction).some((a) => wildcardMatch(a, 'ecr:SetRepositoryPolicy'));
  });
}

export async function setRepositoryPolicy(
  ctx: EcrContext,
  input: { registryId?: string; repositoryName: string; policyText: string; force?: boolean },
): Promise<unknown> {
  const statements = parseRepositoryPolicy(input.policyText);
  if (input.force !== true && locksOutPolicyChanges(statements)) {
    throw new InvalidParameterException(
      "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The policy would prevent setting a repository policy in the future; use force to set it anyway'",
    );
  }
  const repo = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    return tx.update('repository', { ...row, doc: { ...row.doc, policyText: input.policyText } });
  });
  return { registryId: ctx.accountId, repositoryName: repo.name, policyText: input.policyText };
}

function policyNotFound(ctx: EcrContext, name: string): Error {
  return new RepositoryPolicyNotFoundException(`Repository policy does not exist for the repository with name '${name}' in the registry with id '${ctx.accountId}'`);
}

export async function getRepositoryPolicy(ctx: EcrContext, input: { registryId?: string; repositoryName: string }): Promise<unknown> {
  const repo = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  if (repo.doc.policyText === undefined) throw policyNotFound(ctx, repo.name);
  return { registryId: ctx.accountId, repositoryName: repo.name, policyText: repo.doc.policyText };
}

export async function deleteRepositoryPolicy(ctx: EcrContext, input: { registryId?: string; repositoryName: string }): Promise<unknown> {
  const text = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const { policyText, ...rest } = row.doc;
    if (policyText === undefined) throw policyNotFound(ctx, row.name);
    await tx.update('repository', { ...row, doc: rest });
    return policyText;
  });
  return { registryId: ctx.accountId, repositoryName: input.repositoryName, policyText: text };
}

/**
 * A repository policy as the policy engine reads it: ECR policies name no
 * Resource (the repository is implied), so each statement without one gets
 * the repository's ARN. Text that is not a JSON policy is returned as is, for
 * the engine to name the problem.
 */
export function withImpliedResource(policyText: string, repositoryArn: string): string {
  try {
    const parsed = JSON.parse(policyText) as { Statement?: unknown };
    const statements = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement !== undefined ? [parsed.Statement] : [];
    for (const st of statements) {
      if (st && typeof st === 'object' && !('Resource' in st) && !('NotResource' in st)) (st as Record<string, unknown>).Resource = repositoryArn;
    }
    return JSON.stringify(parsed);
  } catch {
    return policyText;
  }
}

/** The compiled policy of a repository, for authorization. */
export function compileRepositoryPolicy(policyText: string, repositoryArn: string) {
  return compilePolicy(withImpliedResource(policyText, repositoryArn), 'resource', `${repositoryArn} repository policy`);
}

/**
 * Repository policies (SetRepositoryPolicy, GetRepositoryPolicy,
 * DeleteRepositoryPolicy): a resource-based IAM policy on a repository,
 * validated by the policy engine and evaluated with the caller's identity
 * policies for every ECR call and `/v2/` request on the repository.
 */
import { InvalidParameterException, RepositoryPolicyNotFoundException } from '../core/errors.js';
import { compilePolicy, PolicySyntaxError } from '../iam/policy/index.js';
import { withRetry } from '../store/store.js';
import type { EcrContext } from './context.js';
import { getRepository, type RepositoryDoc } from './repositories.js';

interface PolicyInput {
  registryId?: string;
  repositoryName: string;
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

function check(policyText: string, arn: string): void {
  try {
    compileRepositoryPolicy(policyText, arn);
  } catch (err) {
    if (err instanceof PolicySyntaxError) throw new InvalidParameterException("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'", { hint: err.message });
    throw err;
  }
}

export async function setRepositoryPolicy(ctx: EcrContext, input: PolicyInput & { policyText: string }): Promise<unknown> {
  const doc = await withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    check(input.policyText, row.arn);
    const next: RepositoryDoc = { ...row.doc, policyText: input.policyText };
    await tx.update<RepositoryDoc>('repository', { ...row, doc: next });
    return next;
  });
  return { registryId: doc.registryId, repositoryName: doc.repositoryName, policyText: input.policyText };
}

function notFound(doc: RepositoryDoc): Error {
  return new RepositoryPolicyNotFoundException(`Repository policy does not exist for the repository with name '${doc.repositoryName}' in the registry with id '${doc.registryId}'`);
}

export async function getRepositoryPolicy(ctx: EcrContext, input: PolicyInput): Promise<unknown> {
  const row = await getRepository(ctx, ctx.store, input.repositoryName, input.registryId);
  if (row.doc.policyText === undefined) throw notFound(row.doc);
  return { registryId: row.doc.registryId, repositoryName: row.doc.repositoryName, policyText: row.doc.policyText };
}

export async function deleteRepositoryPolicy(ctx: EcrContext, input: PolicyInput): Promise<unknown> {
  return withRetry(ctx.store, async (tx) => {
    const row = await getRepository(ctx, tx, input.repositoryName, input.registryId);
    const policyText = row.doc.policyText;
    if (policyText === undefined) throw notFound(row.doc);
    const { policyText: _dropped, ...rest } = row.doc;
    await tx.update<RepositoryDoc>('repository', { ...row, doc: rest });
    return { registryId: row.doc.registryId, repositoryName: row.doc.repositoryName, policyText };
  });
}

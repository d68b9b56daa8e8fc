import { ClusterNotFoundException, InvalidParameterException } from '../core/errors.js';
import type { DomainContext } from './context.js';

/** Names of clusters, families, services: up to 255 letters, digits, hyphens and underscores. */
export const NAME_RE = /^[a-zA-Z0-9_-]{1,255}$/;

export type ResourceType = 'cluster' | 'task-definition' | 'container-instance' | 'task' | 'service' | 'capacity-provider' | 'task-set';

export interface ParsedArn {
  region: string;
  accountId: string;
  resourceType: string;
  /** Everything after `<type>/`. */
  resource: string;
}

const ARN_RE = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):([a-z-]+)\/(.+)$/;

export function parseArn(arn: string): ParsedArn | undefined {
  const m = ARN_RE.exec(arn);
  if (!m) return undefined;
  return { region: m[1]!, accountId: m[2]!, resourceType: m[3]!, resource: m[4]! };
}

export function arnPrefix(ctx: Pick<DomainContext, 'region' | 'accountId'>): string {
  return `arn:aws:ecs:${ctx.region}:${ctx.accountId}`;
}

export function clusterArn(ctx: DomainContext, name: string): string {
  return `${arnPrefix(ctx)}:cluster/${name}`;
}

export function taskDefinitionArn(ctx: Pick<DomainContext, 'region' | 'accountId'>, family: string, revision: number): string {
  return `${arnPrefix(ctx)}:task-definition/${family}:${revision}`;
}

export function containerInstanceArn(ctx: DomainContext, clusterName: string, id: string): string {
  return `${arnPrefix(ctx)}:container-instance/${clusterName}/${id}`;
}

export function taskArn(ctx: DomainContext, clusterName: string, id: string): string {
  return `${arnPrefix(ctx)}:task/${clusterName}/${id}`;
}

export function serviceArn(ctx: DomainContext, clusterName: string, name: string): string {
  return `${arnPrefix(ctx)}:service/${clusterName}/${name}`;
}

/** The last path segment of an ARN, or the string itself when it is a short id. */
export function shortId(ref: string): string {
  const i = ref.lastIndexOf('/');
  return i >= 0 ? ref.slice(i + 1) : ref;
}

/**
 * Resolves the `cluster` member of a request (a name, an ARN, or absent for
 * `default`) to the cluster's ARN and name. It does not check existence.
 */
export function resolveClusterRef(ctx: DomainContext, ref: string | undefined): { arn: string; name: string } {
  const value = ref === undefined || ref === '' ? 'default' : ref;
  if (value.startsWith('arn:')) {
    const p = parseArn(value);
    if (!p || p.resourceType !== 'cluster') {
      throw new InvalidParameterException(`Invalid cluster ARN '${value}': expected arn:aws:ecs:<region>:<account>:cluster/<name>.`);
    }
    if (p.region !== ctx.region || p.accountId !== ctx.accountId) {
      throw new ClusterNotFoundException('Cluster not found.');
    }
    return { arn: value, name: p.resource };
  }
  if (!NAME_RE.test(value)) {
    throw new InvalidParameterException(
      `Invalid cluster name '${value.slice(0, 300)}': up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.`,
    );
  }
  return { arn: clusterArn(ctx, value), name: value };
}

/** A 32-hex-digit identifier as ECS uses for tasks and container instances. */
export function newId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

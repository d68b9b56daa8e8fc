import { AwsError } from '../core/errors.js';
import type { Principal } from './auth/sigv4.js';

/** An authenticated API request as the protocol layer sees it. */
export interface ApiRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  requestId: string;
  principal: Principal;
  /**
   * Throws AccessDeniedException unless the caller may perform `operation`
   * with `input` (already validated); every protocol calls it before the
   * operation's handler. Absent when the server runs without authorization.
   */
  authorize?(operation: string, input: Record<string, unknown>): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** Operation name for metrics and logs. */
  operation: string;
  /** 'ok' or the AWS error type. */
  outcome: string;
  /** An unexpected failure to be logged with its stack. */
  fault?: unknown;
  /** Advice for the operator about a client error, logged with the request, never sent. */
  hint?: string;
}

/**
 * One AWS wire protocol of one service (ECS, ECR and ACM over AWS JSON 1.1,
 * ELBv2 over the AWS query protocol, all on the same HTTP port). The HTTP
 * server authenticates a request, then asks each protocol in turn whether it
 * is its own: JSON protocols by `X-Amz-Target`, query protocols by the SigV4
 * credential scope's service name.
 */
export interface ServiceProtocol {
  /** Short name for metrics and logs, for example `ecs`. */
  readonly service: string;
  /** Whether the request is this protocol's; `principal.service` is the SigV4 credential scope's service name. */
  matches(req: Omit<ApiRequest, 'body' | 'requestId'>): boolean;
  handle(req: ApiRequest): Promise<ApiResponse>;
}

/** The first value of request header `name` (lower case), or '' when absent. */
export function headerOf(headers: ApiRequest['headers'], name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** What went wrong behind an error answer: the thrown value, and whether it was unexpected (to be logged with its stack). */
export interface Failure {
  readonly err: unknown;
  readonly unexpected: boolean;
}

/**
 * A protocol's answer. `outcome` is 'ok' or the AWS error type; an error
 * answer carries its `failure`, whose thrown value becomes `fault` when it was
 * unexpected and whose operator hint (of an AwsError) is kept for the log.
 */
export function apiResponse(status: number, headers: Record<string, string>, body: string | Buffer, operation: string, outcome: string, failure?: Failure): ApiResponse {
  const fault = failure?.unexpected ? failure.err : undefined;
  const hint = failure?.err instanceof AwsError ? failure.err.hint : undefined;
  return {
    status,
    headers,
    body,
    operation,
    outcome,
    ...(fault !== undefined ? { fault } : {}),
    ...(hint !== undefined ? { hint } : {}),
  };
}

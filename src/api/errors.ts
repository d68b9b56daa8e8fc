/**
 * AWS JSON 1.0/1.1 error responses: the one mapping from a thrown value to the
 * wire. The error classes live in `core/errors.ts`; re-exported here for the
 * protocol layer's convenience.
 */
import { AwsError } from '../core/errors.js';

export * from '../core/errors.js';

export interface WireError {
  status: number;
  type: string;
  body: Record<string, unknown>;
  /** True when the error was not an AwsError: the caller must log it with its stack. */
  unexpected: boolean;
}

/** The single mapping from a thrown value to the AWS JSON 1.x error response. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AwsError) {
    return {
      status: err.status,
      type: err.type,
      body: { __type: err.type, message: err.message, ...err.extra },
      unexpected: false,
    };
  }
  return {
    status: 500,
    type: 'ServerException',
    body: { __type: 'ServerException', message: 'Berth encountered an internal error. It has been logged with its request id; retry the request.' },
    unexpected: true,
  };
}

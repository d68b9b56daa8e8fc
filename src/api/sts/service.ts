import { awsQueryServiceOf, type QueryOperationHandler } from '../awsQuery.js';
import { ValidationError } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { STS_MODEL } from '../models/sts.generated.js';
import type { IamContext } from '../../iam/model.js';
import type { Identity, Principals } from '../../iam/principals.js';
import * as sts from '../../iam/sts.js';
import { UnrecognizedClientException } from '../../core/errors.js';

/** The STS operations Berth serves. */
export function stsOperations(ctx: IamContext, principals: Principals): Readonly<Record<string, QueryOperationHandler>> {
  const caller = async (req: ApiRequest): Promise<Identity> => {
    const id = await principals.resolve(req.principal.accessKeyId);
    if (!id) throw new UnrecognizedClientException('The security token included in the request is invalid.');
    return id;
  };
  return {
    GetCallerIdentity: async (_input, req) => sts.getCallerIdentity(await caller(req)),
    AssumeRole: async (input, req) => sts.assumeRole(ctx, input, await caller(req)),
    GetSessionToken: async (input, req) => sts.getSessionToken(ctx, input, await caller(req)),
  };
}

/** STS over the AWS query protocol (signing name `sts`). */
export function stsProtocol(ctx: IamContext, principals: Principals): ServiceProtocol {
  return awsQueryServiceOf('sts', STS_MODEL, {
    operations: stsOperations(ctx, principals),
    unsupported: (name) => new ValidationError(`Berth does not implement ${name} yet. The README lists the STS operations that work today.`),
  });
}

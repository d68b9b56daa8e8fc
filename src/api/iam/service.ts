import { awsQueryServiceOf, type QueryOperationHandler } from '../awsQuery.js';
import { ValidationError } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { IAM_MODEL } from '../models/iam.generated.js';
import type { IamContext } from '../../iam/model.js';
import type { Identity, Principals } from '../../iam/principals.js';
import * as iam from '../../iam/entities.js';
import { UnrecognizedClientException } from '../../core/errors.js';

type In = Record<string, unknown>;

/** The IAM operations Berth serves. */
export function iamOperations(ctx: IamContext, principals: Principals): Readonly<Record<string, QueryOperationHandler>> {
  const op =
    (fn: (ctx: IamContext, input: In) => Promise<unknown>): QueryOperationHandler =>
    (input) =>
      fn(ctx, input);
  const caller = async (req: ApiRequest): Promise<Identity> => {
    const id = await principals.resolve(req.principal.accessKeyId);
    if (!id) throw new UnrecognizedClientException('The security token included in the request is invalid.');
    return id;
  };
  const asCaller =
    (fn: (ctx: IamContext, input: In, user: string | undefined) => Promise<unknown>): QueryOperationHandler =>
    async (input, req) => {
      const id = await caller(req);
      return fn(ctx, input, id.kind === 'user' || id.kind === 'session' ? id.userName : undefined);
    };
  return {
    CreateUser: op(iam.createUser),
    GetUser: async (input, req) => {
      const id = await caller(req);
      return iam.getUser(ctx, input, { ...(id.kind === 'user' || id.kind === 'session' ? { userName: id.userName } : {}), arn: id.arn, userId: id.userId });
    },
    ListUsers: op(iam.listUsers),
    UpdateUser: op(iam.updateUser),
    DeleteUser: op(iam.deleteUser),

    CreateAccessKey: asCaller(iam.createAccessKey),
    ListAccessKeys: asCaller(iam.listAccessKeys),
    UpdateAccessKey: asCaller(iam.updateAccessKey),
    DeleteAccessKey: asCaller(iam.deleteAccessKey),
    GetAccessKeyLastUsed: op(iam.getAccessKeyLastUsed),

    CreateGroup: op(iam.createGroup),
    GetGroup: op(iam.getGroup),
    ListGroups: op(iam.listGroups),
    DeleteGroup: op(iam.deleteGroup),
    AddUserToGroup: op(iam.addUserToGroup),
    RemoveUserFromGroup: op(iam.removeUserFromGroup),
    ListGroupsForUser: op(iam.listGroupsForUser),

    CreateRole: op(iam.createRole),
    GetRole: op(iam.getRole),
    ListRoles: op(iam.listRoles),
    UpdateRole: op(iam.updateRole),
    UpdateAssumeRolePolicy: op(iam.updateAssumeRolePolicy),
    DeleteRole: op(iam.deleteRole),

    CreatePolicy: op(iam.createPolicy),
    GetPolicy: op(iam.getPolicy),
    ListPolicies: op(iam.listPolicies),
    DeletePolicy: op(iam.deletePolicy),
    CreatePolicyVersion: op(iam.createPolicyVersion),
    GetPolicyVersion: op(iam.getPolicyVersion),
    ListPolicyVersions: op(iam.listPolicyVersions),
    SetDefaultPolicyVersion: op(iam.setDefaultPolicyVersion),
    DeletePolicyVersion: op(iam.deletePolicyVersion),
    ListEntitiesForPolicy: op(iam.listEntitiesForPolicy),

    AttachUserPolicy: op(iam.attachPolicy('user')),
    AttachGroupPolicy: op(iam.attachPolicy('group')),
    AttachRolePolicy: op(iam.attachPolicy('role')),
    DetachUserPolicy: op(iam.detachPolicy('user')),
    DetachGroupPolicy: op(iam.detachPolicy('group')),
    DetachRolePolicy: op(iam.detachPolicy('role')),
    ListAttachedUserPolicies: op(iam.listAttachedPolicies('user')),
    ListAttachedGroupPolicies: op(iam.listAttachedPolicies('group')),
    ListAttachedRolePolicies: op(iam.listAttachedPolicies('role')),

    PutUserPolicy: op(iam.putInlinePolicy('user')),
    PutGroupPolicy: op(iam.putInlinePolicy('group')),
    PutRolePolicy: op(iam.putInlinePolicy('role')),
    GetUserPolicy: op(iam.getInlinePolicy('user')),
    GetGroupPolicy: op(iam.getInlinePolicy('group')),
    GetRolePolicy: op(iam.getInlinePolicy('role')),
    DeleteUserPolicy: op(iam.deleteInlinePolicy('user')),
    DeleteGroupPolicy: op(iam.deleteInlinePolicy('group')),
    DeleteRolePolicy: op(iam.deleteInlinePolicy('role')),
    ListUserPolicies: op(iam.listInlinePolicies('user')),
    ListGroupPolicies: op(iam.listInlinePolicies('group')),
    ListRolePolicies: op(iam.listInlinePolicies('role')),

    TagUser: op(iam.tagEntity('user')),
    UntagUser: op(iam.untagEntity('user')),
    ListUserTags: op(iam.listEntityTags('user')),
    TagRole: op(iam.tagEntity('role')),
    UntagRole: op(iam.untagEntity('role')),
    ListRoleTags: op(iam.listEntityTags('role')),
    TagPolicy: op(iam.tagEntity('policy')),
    UntagPolicy: op(iam.untagEntity('policy')),
    ListPolicyTags: op(iam.listEntityTags('policy')),
  };
}

/** IAM over the AWS query protocol (signing name `iam`). */
export function iamProtocol(ctx: IamContext, principals: Principals): ServiceProtocol {
  return awsQueryServiceOf('iam', IAM_MODEL, {
    operations: iamOperations(ctx, principals),
    unsupported: (name) => new ValidationError(`Berth does not implement ${name} yet. The README lists the IAM operations that work today.`),
  });
}

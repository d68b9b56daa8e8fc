import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ApiRequest } from '../protocol.js';
import { ECS_TARGET_PREFIX, ecsProtocol, type EcsInput, type EcsOperations } from './service.js';

function request(operation: string, body: unknown): ApiRequest {
  return {
    method: 'POST',
    path: '/',
    query: '',
    headers: { 'x-amz-target': `${ECS_TARGET_PREFIX}.${operation}`, 'content-type': 'application/x-amz-json-1.1' },
    body: Buffer.from(JSON.stringify(body)),
    requestId: 'r-1',
    principal: { accessKeyId: 'AKID', service: 'ecs', region: 'us-east-1' },
  };
}

// Compile-time contract of the operations table: each of these lines must fail
// to compile (tsc reports an unused @ts-expect-error otherwise, and the build fails).
export const mistyped: EcsOperations[] = [
  // @ts-expect-error -- a RunTask handler that needs `family`, which RunTask does not have
  { RunTask: async (input: { family: string }) => input.family },
  // @ts-expect-error -- StopTask's `task` is required but `reason` is optional: a handler needing `reason` does not fit
  { StopTask: async (input: { task: string; reason: string }) => input.reason },
  // @ts-expect-error -- a handler that takes `count` as text, where the model says number
  { RunTask: async (input: { taskDefinition: string; count?: string }) => input.count },
  // @ts-expect-error -- RunTask's launchType is an enum that includes values beyond this handler's two
  { RunTask: async (input: { taskDefinition: string; launchType?: 'EC2' | 'FARGATE' }) => input.launchType },
];

describe('the ECS operations table', () => {
  it('gives handlers the validated input of their operation, with null optional members removed', async () => {
    let seen: EcsInput<'ListClusters'> | undefined;
    const protocol = ecsProtocol({
      ListClusters: async (input) => {
        seen = input;
        return { clusterArns: [] };
      },
    });
    const res = await protocol.handle(request('ListClusters', { maxResults: null, nextToken: 'abc' }));
    assert.equal(res.status, 200);
    assert.deepEqual(seen, { nextToken: 'abc' });
  });

  it('never calls a handler with input the model rejects', async () => {
    let calls = 0;
    const protocol = ecsProtocol({
      RunTask: async () => {
        calls++;
        return {};
      },
    });
    const res = await protocol.handle(request('RunTask', { launchType: 'LAMBDA' }));
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(String(res.body)), {
      __type: 'InvalidParameterException',
      message:
        '2 validation errors detected: ' +
        "Value 'LAMBDA' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, EXTERNAL, FARGATE, MANAGED_INSTANCES]; " +
        "Value null at 'taskDefinition' failed to satisfy constraint: Member must not be null",
    });
    assert.equal(calls, 0);
  });

  it('answers UnsupportedFeatureException for a modelled operation without a handler', async () => {
    const res = await ecsProtocol({}).handle(request('CreateService', { serviceName: 's' }));
    assert.equal(res.status, 400);
    assert.equal((JSON.parse(String(res.body)) as { __type: string }).__type, 'UnsupportedFeatureException');
  });
});

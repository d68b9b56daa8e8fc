import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { acmProtocol } from './acm/service.js';
import { autoScalingProtocol } from './autoscaling/service.js';
import { cloudWatchProtocols } from './cloudwatch/service.js';
import { ecrProtocol } from './ecr/service.js';
import { ecsProtocol } from './ecs/service.js';
import { logsProtocol } from './logs/service.js';
import { secretsManagerProtocol } from './secretsmanager/service.js';
import { ssmProtocol } from './ssm/service.js';
import { awsJsonServiceOf } from './awsJson.js';
import { awsQueryServiceOf } from './awsQuery.js';
import { bindOperations } from './bind.js';
import { ELBV2_MODEL } from './models/elbv2.generated.js';
import { SSM_MODEL } from './models/ssm.generated.js';
import type { Operations } from './models/index.js';
import type { ApiRequest, ServiceProtocol } from './protocol.js';

/**
 * What every AWS JSON service answers before any of its handlers runs: its
 * target prefix and content type, and the error (type, message, status) for an
 * operation its model lacks, one Berth does not serve, a missing required
 * member and a member of the wrong type. No handler is reached, so the
 * services are built without a context.
 */
/**
 * A service's front end, its target prefix, content type, a modelled
 * operation Berth does not serve with the error type and message it answers,
 * and a served operation with a required member with the error type of a
 * request without it.
 */
type Case = [
  protocol: () => ServiceProtocol,
  targetPrefix: string,
  contentType: string,
  unsupported: [operation: string, type: string, message: string],
  required: [operation: string, member: string, type: string],
];

const noContext = {} as never;
const readme = (service: string) => `The README lists the ${service} operations that work today.`;
const JSON_1_1 = 'application/x-amz-json-1.1';

// prettier-ignore
const CASES: Record<string, Case> = {
  acm: [() => acmProtocol(noContext), 'CertificateManager', JSON_1_1, ['RequestCertificate', 'ValidationException', `Berth does not implement RequestCertificate: it imports certificates and does not issue them. ${readme('ACM')}`], ['DescribeCertificate', 'CertificateArn', 'ValidationException']],
  autoscaling: [() => autoScalingProtocol(noContext), 'AnyScaleFrontendService', JSON_1_1, ['TagResource', 'ValidationException', `Berth does not implement TagResource yet. ${readme('Application Auto Scaling')}`], ['DescribeScalableTargets', 'ServiceNamespace', 'ValidationException']],
  cloudwatch: [() => cloudWatchProtocols(noContext)[0]!, 'GraniteServiceVersion20100801', 'application/x-amz-json-1.0', ['GetDashboard', 'ValidationException', `Berth does not implement GetDashboard yet. ${readme('CloudWatch')}`], ['DeleteAlarms', 'AlarmNames', 'ValidationException']],
  ecr: [() => ecrProtocol(noContext), 'AmazonEC2ContainerRegistry_V20150921', JSON_1_1, ['DescribeRegistry', 'ValidationException', `Berth does not implement DescribeRegistry yet. ${readme('ECR')}`], ['DescribeImages', 'repositoryName', 'InvalidParameterException']],
  ecs: [() => ecsProtocol({ DescribeTaskDefinition: () => Promise.resolve({}) }), 'AmazonEC2ContainerServiceV20141113', JSON_1_1, ['CreateService', 'UnsupportedFeatureException', `Berth does not implement CreateService yet. ${readme('ECS')}`], ['DescribeTaskDefinition', 'taskDefinition', 'InvalidParameterException']],
  logs: [() => logsProtocol(noContext), 'Logs_20140328', JSON_1_1, ['PutDestination', 'InvalidParameterException', `Berth does not implement PutDestination yet. ${readme('CloudWatch Logs')}`], ['CreateLogGroup', 'logGroupName', 'InvalidParameterException']],
  secretsmanager: [() => secretsManagerProtocol(noContext), 'secretsmanager', JSON_1_1, ['RotateSecret', 'InvalidRequestException', `Berth does not implement RotateSecret yet. ${readme('Secrets Manager')}`], ['GetSecretValue', 'SecretId', 'InvalidParameterException']],
  ssm: [() => ssmProtocol(noContext), 'AmazonSSM', JSON_1_1, ['SendCommand', 'ValidationException', `Berth does not implement SendCommand yet. ${readme('Systems Manager')}`], ['GetParameter', 'Name', 'ValidationException']],
};

// Compile-time contract of the generic service builders: each marked line must
// fail to compile (tsc reports an unused @ts-expect-error otherwise, and the
// build fails). Never called.
const unsupportedHere = (name: string) => new Error(name);
export function mistyped(): unknown[] {
  return [
    // @ts-expect-error -- a GetParameter handler that needs `Names`, which GetParameter does not have
    awsJsonServiceOf('ssm', SSM_MODEL, { operations: { GetParameter: async (input: { Names: string[] }) => input.Names }, unsupported: unsupportedHere }),
    // @ts-expect-error -- the SSM model served under ACM's name
    awsJsonServiceOf('acm', SSM_MODEL, { operations: {}, unsupported: unsupportedHere }),
    // @ts-expect-error -- a CreateLoadBalancer handler that takes `Name` as a number, where the model says string
    awsQueryServiceOf('elbv2', ELBV2_MODEL, { operations: { CreateLoadBalancer: async (input: { Name: number }) => input.Name }, unsupported: unsupportedHere }),
    // @ts-expect-error -- an operation SSM does not have
    ((ops: Operations<'ssm'>) => ops)({ LaunchRocket: async () => ({}) }),
    // @ts-expect-error -- a domain function whose input needs `Names`, which GetParameter does not have
    bindOperations<'ssm', { region: string }>({ region: 'r' }, { GetParameter: async (_ctx, input: { Names: string[] }) => input.Names }),
    // @ts-expect-error -- a domain function written for another context
    bindOperations<'ssm', { region: string }>({ region: 'r' }, { GetParameter: async (ctx: { accountId: string }) => ctx.accountId }),
  ];
}

function request(target: string, body: string): ApiRequest {
  return {
    method: 'POST',
    path: '/',
    query: '',
    headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
    body: Buffer.from(body),
    requestId: 'r-1',
    principal: { accessKeyId: 'AKID', service: 'test', region: 'us-east-1' },
  };
}

describe('the AWS JSON services before their handlers', () => {
  for (const [service, [protocolOf, targetPrefix, contentType, unsupported, required]] of Object.entries(CASES)) {
    describe(service, () => {
      const protocol = protocolOf();
      const call = async (operation: string, body: unknown) => {
        const req = request(`${targetPrefix}.${operation}`, typeof body === 'string' ? body : JSON.stringify(body));
        assert.ok(protocol.matches(req), `${service} takes ${targetPrefix}.${operation}`);
        const res = await protocol.handle(req);
        assert.equal(res.headers['content-type'], contentType);
        return { status: res.status, body: JSON.parse(String(res.body)) as { __type: string; message: string } };
      };

      it('answers only its own target prefix', () => {
        assert.equal(protocol.service, service);
        assert.equal(protocol.matches(request(`Other_20200101.${required[0]}`, '{}')), false);
        assert.equal(protocol.matches(request(`${targetPrefix}Other.${required[0]}`, '{}')), false);
      });

      it('answers UnknownOperationException for an operation its model does not have', async () => {
        assert.deepEqual(await call('LaunchRocket', {}), {
          status: 400,
          body: { __type: 'UnknownOperationException', message: `Operation LaunchRocket is not supported by ${service}.` },
        });
      });

      it('answers its own error for a modelled operation Berth does not serve', async () => {
        const [operation, type, message] = unsupported;
        assert.deepEqual(await call(operation, {}), { status: 400, body: { __type: type, message } });
      });

      it('answers its own validation error for a missing required member', async () => {
        const [operation, member, type] = required;
        assert.deepEqual(await call(operation, {}), {
          status: 400,
          body: {
            __type: type,
            message: `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
          },
        });
      });

      it('answers SerializationException for a member of the wrong type and for a body that is not JSON', async () => {
        const [operation, member] = required;
        const wrong = await call(operation, { [member]: true });
        assert.equal(wrong.status, 400);
        assert.equal(wrong.body.__type, 'SerializationException');
        const notJson = await call(operation, '{');
        assert.equal(notJson.status, 400);
        assert.equal(notJson.body.__type, 'SerializationException');
        assert.match(notJson.body.message, /^The request body is not valid JSON: /);
      });
    });
  }
});

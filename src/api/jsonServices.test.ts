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
interface Case {
  protocol: () => ServiceProtocol;
  targetPrefix: string;
  contentType: string;
  /** A modelled operation Berth does not serve, with the error and message it answers. */
  unsupported: [operation: string, type: string, message: string];
  /** A served operation with a required string member, and the error type of a request without it. */
  required: [operation: string, member: string, type: string];
  /** Extra headers of every error answer. */
  errorHeaders?: Record<string, string>;
}

const noContext = {} as never;
const readme = (service: string) => `The README lists the ${service} operations that work today.`;

const CASES: Record<string, Case> = {
  acm: {
    protocol: () => acmProtocol(noContext),
    targetPrefix: 'CertificateManager',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['RequestCertificate', 'ValidationException', `Berth does not implement RequestCertificate: it imports certificates and does not issue them. ${readme('ACM')}`],
    required: ['DescribeCertificate', 'CertificateArn', 'ValidationException'],
  },
  autoscaling: {
    protocol: () => autoScalingProtocol(noContext),
    targetPrefix: 'AnyScaleFrontendService',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['TagResource', 'ValidationException', `Berth does not implement TagResource yet. ${readme('Application Auto Scaling')}`],
    required: ['DescribeScalableTargets', 'ServiceNamespace', 'ValidationException'],
  },
  cloudwatch: {
    protocol: () => cloudWatchProtocols(noContext)[0]!,
    targetPrefix: 'GraniteServiceVersion20100801',
    contentType: 'application/x-amz-json-1.0',
    unsupported: ['GetDashboard', 'ValidationException', `Berth does not implement GetDashboard yet. ${readme('CloudWatch')}`],
    required: ['DeleteAlarms', 'AlarmNames', 'ValidationException'],
  },
  ecr: {
    protocol: () => ecrProtocol(noContext),
    targetPrefix: 'AmazonEC2ContainerRegistry_V20150921',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['DescribeRegistry', 'ValidationException', `Berth does not implement DescribeRegistry yet. ${readme('ECR')}`],
    required: ['DescribeImages', 'repositoryName', 'InvalidParameterException'],
  },
  ecs: {
    protocol: () => ecsProtocol({ DescribeTaskDefinition: () => Promise.resolve({}) }),
    targetPrefix: 'AmazonEC2ContainerServiceV20141113',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['CreateService', 'UnsupportedFeatureException', `Berth does not implement CreateService yet. ${readme('ECS')}`],
    required: ['DescribeTaskDefinition', 'taskDefinition', 'InvalidParameterException'],
  },
  logs: {
    protocol: () => logsProtocol(noContext),
    targetPrefix: 'Logs_20140328',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['PutDestination', 'InvalidParameterException', `Berth does not implement PutDestination yet. ${readme('CloudWatch Logs')}`],
    required: ['CreateLogGroup', 'logGroupName', 'InvalidParameterException'],
  },
  secretsmanager: {
    protocol: () => secretsManagerProtocol(noContext),
    targetPrefix: 'secretsmanager',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['RotateSecret', 'InvalidRequestException', `Berth does not implement RotateSecret yet. ${readme('Secrets Manager')}`],
    required: ['GetSecretValue', 'SecretId', 'InvalidParameterException'],
  },
  ssm: {
    protocol: () => ssmProtocol(noContext),
    targetPrefix: 'AmazonSSM',
    contentType: 'application/x-amz-json-1.1',
    unsupported: ['SendCommand', 'ValidationException', `Berth does not implement SendCommand yet. ${readme('Systems Manager')}`],
    required: ['GetParameter', 'Name', 'ValidationException'],
  },
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
  for (const [service, c] of Object.entries(CASES)) {
    describe(service, () => {
      const protocol = c.protocol();
      const call = async (operation: string, body: unknown) => {
        const req = request(`${c.targetPrefix}.${operation}`, typeof body === 'string' ? body : JSON.stringify(body));
        assert.ok(protocol.matches(req), `${service} takes ${c.targetPrefix}.${operation}`);
        const res = await protocol.handle(req);
        assert.equal(res.headers['content-type'], c.contentType);
        return { status: res.status, body: JSON.parse(String(res.body)) as { __type: string; message: string } };
      };

      it('answers only its own target prefix', () => {
        assert.equal(protocol.service, service);
        assert.equal(protocol.matches(request(`Other_20200101.${c.required[0]}`, '{}')), false);
        assert.equal(protocol.matches(request(`${c.targetPrefix}Other.${c.required[0]}`, '{}')), false);
      });

      it('answers UnknownOperationException for an operation its model does not have', async () => {
        assert.deepEqual(await call('LaunchRocket', {}), {
          status: 400,
          body: { __type: 'UnknownOperationException', message: `Operation LaunchRocket is not supported by ${service}.` },
        });
      });

      it('answers its own error for a modelled operation Berth does not serve', async () => {
        const [operation, type, message] = c.unsupported;
        assert.deepEqual(await call(operation, {}), { status: 400, body: { __type: type, message } });
      });

      it('answers its own validation error for a missing required member', async () => {
        const [operation, member, type] = c.required;
        assert.deepEqual(await call(operation, {}), {
          status: 400,
          body: {
            __type: type,
            message: `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
          },
        });
      });

      it('answers SerializationException for a member of the wrong type and for a body that is not JSON', async () => {
        const [operation, member] = c.required;
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

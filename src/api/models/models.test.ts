import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { createValidator } from '../validate.js';
import { ACM_MODEL } from './acm.generated.js';
import { AUTOSCALING_MODEL } from './autoscaling.generated.js';
import { CLOUDWATCH_MODEL } from './cloudwatch.generated.js';
import { ECR_MODEL } from './ecr.generated.js';
import { ECS_MODEL } from './ecs.generated.js';
import { ELBV2_MODEL } from './elbv2.generated.js';
import { IAM_MODEL } from './iam.generated.js';
import { LOGS_MODEL } from './logs.generated.js';
import { SECRETSMANAGER_MODEL } from './secretsmanager.generated.js';
import { SSM_MODEL } from './ssm.generated.js';
import { STS_MODEL } from './sts.generated.js';
import { operationNames, shapeOf, type ServiceModel } from './model.js';

const MODELS: Record<string, ServiceModel> = {
  acm: ACM_MODEL,
  autoscaling: AUTOSCALING_MODEL,
  cloudwatch: CLOUDWATCH_MODEL,
  ecr: ECR_MODEL,
  ecs: ECS_MODEL,
  elbv2: ELBV2_MODEL,
  iam: IAM_MODEL,
  logs: LOGS_MODEL,
  secretsmanager: SECRETSMANAGER_MODEL,
  ssm: SSM_MODEL,
  sts: STS_MODEL,
};

const require = createRequire(import.meta.url);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

type Schema = [number, string, string, unknown, string[], unknown[], number?];
const deref = (ref: unknown): Schema => (typeof ref === 'function' ? (ref as () => unknown)() : ref) as Schema;

describe('the generated models and the installed AWS SDK packages', () => {
  for (const [service, model] of Object.entries(MODELS)) {
    describe(service, () => {
      const sdk = require(model.source.package) as Record<string, unknown>;
      const commands = Object.keys(sdk)
        .filter((k) => /^[A-Z]\w*Command$/.test(k) && typeof sdk[k] === 'function')
        .map((k) => k.slice(0, -'Command'.length))
        .sort();

      it('is generated from the installed package version', () => {
        const pkg = require(`${model.source.package}/package.json`) as { version: string };
        assert.equal(model.source.version, pkg.version);
      });

      it('has exactly the commands the package exports, with their input members and required members', () => {
        assert.deepEqual([...operationNames(model)], commands);
        for (const op of commands) {
          const [, , name, , memberNames = [], , requiredCount = 0] = deref((sdk[`${op}$`] as unknown[])[4]);
          const io = model.operations[op]!;
          const input = shapeOf(model, io.input);
          assert.ok(input && input.type === 'structure', `${op} input is a structure`);
          if (io.input === 'Unit') continue;
          assert.equal(io.input, name, `${op} input shape`);
          assert.deepEqual(Object.keys(input.members).sort(), [...memberNames].sort(), `${op} members`);
          const required = Object.entries(input.members).filter(([, m]) => m.required).map(([k]) => k).sort();
          assert.deepEqual(required, memberNames.slice(0, requiredCount).sort(), `${op} required members`);
        }
      });

      it('has every exception class the package exports, with its fault', () => {
        const baseName = Object.keys(sdk).find((k) => k.endsWith('ServiceException') && typeof sdk[k] === 'function');
        assert.ok(baseName, 'the package exports its base exception');
        const base = sdk[baseName] as abstract new () => unknown;
        const classes = Object.keys(sdk).filter((k) => {
          const v = sdk[k];
          return typeof v === 'function' && k !== baseName && (v as { prototype: unknown }).prototype instanceof base;
        });
        assert.ok(classes.length > 0);
        for (const name of classes) {
          const s = shapeOf(model, name);
          assert.ok(s && s.type === 'structure' && s.error, `${name} is an error shape`);
          assert.ok(model.errors.includes(name), `${name} is listed in errors`);
          const Ctor = sdk[name] as new (opts: object) => { $fault: string };
          assert.equal(s.error.fault, new Ctor({ message: 'x', $metadata: {} }).$fault, `${name} fault`);
        }
        assert.deepEqual([...model.errors].sort(), [...classes].sort());
      });

      it('has enums equal to the enum objects the package exports', () => {
        let compared = 0;
        for (const [name, shape] of Object.entries(model.shapes)) {
          if (shape.type !== 'string' || !shape.enum || !(name in sdk)) continue;
          const values = Object.values(sdk[name] as Record<string, string>);
          assert.deepEqual([...shape.enum].sort(), values.sort(), name);
          compared++;
        }
        assert.ok(compared > 0, 'no enum compared');
      });

      it('has the metadata the client configuration states', () => {
        const Client = Object.keys(sdk).find((k) => /Client$/.test(k) && k !== '__Client')!;
        const emit = process.emitWarning;
        process.emitWarning = () => {};
        const client = new (sdk[Client] as new (c: object) => { config: Record<string, unknown> })({
          region: 'us-east-1',
          credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        });
        process.emitWarning = emit;
        const settings = client.config['protocolSettings'] as { serviceTarget: string; xmlNamespace: string };
        assert.equal(model.metadata.sdkId, client.config['serviceId']);
        assert.equal(model.metadata.apiVersion, client.config['apiVersion']);
        assert.equal(model.metadata.signingName, client.config['defaultSigningName']);
        const first = model.metadata.protocols[0]!;
        if (first.protocol === 'awsQuery') assert.equal(first.xmlNamespace, settings.xmlNamespace);
        else if (first.protocol === 'rpcv2Cbor') assert.equal(first.serviceName, settings.serviceTarget);
        else assert.equal(first.targetPrefix, settings.serviceTarget);
      });

      it('references only shapes it defines', () => {
        assert.doesNotThrow(() => createValidator(model));
      });
    });
  }

  it('states the protocols and endpoints of the services Berth will serve', () => {
    assert.deepEqual(ECR_MODEL.metadata.protocols, [{ protocol: 'awsJson1_1', targetPrefix: 'AmazonEC2ContainerRegistry_V20150921' }]);
    assert.equal(ECR_MODEL.metadata.endpointPrefix, 'api.ecr');
    assert.deepEqual(ELBV2_MODEL.metadata.protocols, [
      { protocol: 'awsQuery', xmlNamespace: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/', version: '2015-12-01' },
    ]);
    assert.equal(ELBV2_MODEL.metadata.signingName, 'elasticloadbalancing');
    assert.deepEqual(
      CLOUDWATCH_MODEL.metadata.protocols.map((p) => p.protocol),
      ['awsJson1_0', 'awsQuery', 'rpcv2Cbor'],
    );
    assert.equal(CLOUDWATCH_MODEL.metadata.awsQueryCompatible, true);
    assert.equal(CLOUDWATCH_MODEL.metadata.signingName, 'monitoring');
    assert.equal(IAM_MODEL.metadata.endpointPrefix, 'iam');
    assert.equal(STS_MODEL.metadata.protocols[0]?.protocol, 'awsQuery');
    assert.equal(LOGS_MODEL.operations.StartLiveTail.hostPrefix, 'stream-');
  });

  it('states error faults, HTTP statuses and awsQuery codes', () => {
    const notFound = shapeOf(ECR_MODEL, 'RepositoryNotFoundException');
    assert.ok(notFound?.type === 'structure');
    assert.deepEqual(notFound.error, { fault: 'client' });
    assert.deepEqual(notFound.members['message'], { target: 'String' });
    const lbNotFound = shapeOf(ELBV2_MODEL, 'LoadBalancerNotFoundException');
    assert.ok(lbNotFound?.type === 'structure');
    assert.deepEqual(lbNotFound.error, { fault: 'client', httpStatus: 400, queryCode: 'LoadBalancerNotFound', queryStatus: 400 });
    const server = shapeOf(ECS_MODEL, 'ServerException');
    assert.ok(server?.type === 'structure');
    assert.equal(server.error?.fault, 'server');
  });

  it('is what the generator makes from the installed packages (npm run gen:model was run)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(repoRoot, 'scripts/gen-model.mjs'), '--check'], { cwd: repoRoot });
    assert.equal(stdout.trim().split('\n').length, Object.keys(MODELS).length);
  });
});

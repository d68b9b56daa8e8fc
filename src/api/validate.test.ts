import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { AwsError, InvalidParameterException, SerializationException, UnknownOperationException } from './errors.js';
import { ECS_MODEL } from './models/ecs.generated.js';
import { isOperationOf, operationNames, shapeOf, type ApiModel } from './models/model.js';
import { createValidator, MAX_LISTED_VIOLATIONS } from './validate.js';

const validateInput = createValidator(ECS_MODEL);
const OPERATION_NAMES = operationNames(ECS_MODEL);
const isKnownOperation = (name: string): boolean => isOperationOf(ECS_MODEL, name);
const shape = (name: string) => shapeOf(ECS_MODEL, name);
const createInputValidator = createValidator;
/** The ECS model seen through the general model type, indexed by any string. */
const ECS: ApiModel = ECS_MODEL;

/** The error `fn` throws, asserted to be an AwsError of `type`. */
function thrown(fn: () => void, type: string): AwsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AwsError, `expected an AwsError, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    return err;
  }
  assert.fail(`expected ${type}, nothing was thrown`);
}

function message(op: string, body: unknown, type: string): string {
  return thrown(() => validateInput(op, body), type).message;
}

/** Every key of `value` is a member the model declares (so a passing test proves the members are real). */
function assertAllMembersKnown(shapeName: string, value: unknown, path = shapeName): void {
  const s = shape(shapeName);
  assert.ok(s, `no shape ${shapeName}`);
  if (s.type === 'structure' || s.type === 'union') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const member = s.members[k];
      assert.ok(member, `${path}.${k} is not a member of ${shapeName}`);
      assertAllMembersKnown(member.target, v, `${path}.${k}`);
    }
  } else if (s.type === 'list') {
    (value as unknown[]).forEach((v, i) => assertAllMembersKnown(s.member, v, `${path}[${i}]`));
  } else if (s.type === 'map') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) assertAllMembersKnown(s.value, v, `${path}.${k}`);
  }
}

const realisticTaskDefinition = {
  family: 'web-app',
  taskRoleArn: 'arn:aws:iam::123456789012:role/web-task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE', 'EC2'],
  cpu: '1024',
  memory: '2048',
  pidMode: 'task',
  runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
  ephemeralStorage: { sizeInGiB: 30 },
  tags: [
    { key: 'team', value: 'platform' },
    { key: 'env', value: 'prod' },
  ],
  placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.os-type == linux' }],
  proxyConfiguration: {
    type: 'APPMESH',
    containerName: 'envoy',
    properties: [
      { name: 'IgnoredUID', value: '1337' },
      { name: 'ProxyIngressPort', value: '15000' },
    ],
  },
  volumes: [
    { name: 'scratch', host: { sourcePath: '/tmp/scratch' } },
    {
      name: 'shared',
      efsVolumeConfiguration: {
        fileSystemId: 'fs-12345678',
        rootDirectory: '/',
        transitEncryption: 'ENABLED',
        transitEncryptionPort: 2049,
        authorizationConfig: { accessPointId: 'fsap-1234', iam: 'ENABLED' },
      },
    },
    {
      name: 'docker',
      dockerVolumeConfiguration: { scope: 'shared', autoprovision: true, driver: 'local', driverOpts: { type: 'tmpfs' }, labels: { a: 'b' } },
    },
  ],
  containerDefinitions: [
    {
      name: 'web',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2',
      repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:creds' },
      cpu: 512,
      memory: 1024,
      memoryReservation: 512,
      essential: true,
      portMappings: [
        { containerPort: 8080, hostPort: 8080, protocol: 'tcp', name: 'http', appProtocol: 'http' },
        { containerPort: 9090, protocol: 'udp' },
        { containerPortRange: '10000-10100', protocol: 'tcp' },
      ],
      entryPoint: ['/bin/sh', '-c'],
      command: ['node server.js'],
      environment: [
        { name: 'NODE_ENV', value: 'production' },
        { name: 'PORT', value: '8080' },
      ],
      environmentFiles: [{ value: 'arn:aws:s3:::bucket/web.env', type: 's3' }],
      secrets: [{ name: 'DB_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/db' }],
      mountPoints: [{ sourceVolume: 'shared', containerPath: '/data', readOnly: false }],
      volumesFrom: [{ sourceContainer: 'envoy', readOnly: true }],
      dependsOn: [{ containerName: 'envoy', condition: 'HEALTHY' }],
      startTimeout: 60,
      stopTimeout: 30,
      restartPolicy: { enabled: true, ignoredExitCodes: [0, 143], restartAttemptPeriod: 300 },
      linuxParameters: {
        capabilities: { add: ['SYS_PTRACE'], drop: ['NET_RAW'] },
        devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: ['read', 'write'] }],
        initProcessEnabled: true,
        sharedMemorySize: 64,
        tmpfs: [{ containerPath: '/run', size: 64, mountOptions: ['rw', 'noexec'] }],
        maxSwap: 0,
        swappiness: 60,
      },
      ulimits: [{ name: 'nofile', softLimit: 65536, hardLimit: 65536 }],
      logConfiguration: {
        logDriver: 'awslogs',
        options: { 'awslogs-group': '/ecs/web', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'web' },
        secretOptions: [{ name: 'token', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/token' }],
      },
      healthCheck: { command: ['CMD-SHELL', 'curl -f http://localhost:8080/health || exit 1'], interval: 30, timeout: 5, retries: 3, startPeriod: 10 },
      systemControls: [{ namespace: 'net.core.somaxconn', value: '1024' }],
      resourceRequirements: [{ type: 'GPU', value: '1', sharingStrategy: { nvidiaMps: { memory: 4096, maxComputePercent: 50 } } }],
      dockerLabels: { 'com.example.team': 'platform' },
      extraHosts: [{ hostname: 'db.internal', ipAddress: '10.0.0.5' }],
      dnsServers: ['10.0.0.2'],
      user: '1000:1000',
      workingDirectory: '/app',
      readonlyRootFilesystem: true,
      privileged: false,
      interactive: false,
      pseudoTerminal: false,
      versionConsistency: 'enabled',
    },
    {
      name: 'envoy',
      image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29',
      essential: true,
      memory: 256,
      firelensConfiguration: { type: 'fluentbit', options: { 'enable-ecs-log-metadata': 'true' } },
      healthCheck: { command: ['CMD-SHELL', 'curl -s http://localhost:9901/server_info'] },
    },
  ],
};

describe('validateInput on the ECS model', () => {
  it('accepts a large, realistic RegisterTaskDefinition', () => {
    assertAllMembersKnown('RegisterTaskDefinitionRequest', realisticTaskDefinition);
    validateInput('RegisterTaskDefinition', realisticTaskDefinition);
    validateInput('RegisterTaskDefinition', JSON.parse(JSON.stringify(realisticTaskDefinition)));
  });

  it('accepts realistic CreateService and RunTask requests', () => {
    const createService = {
      cluster: 'prod',
      serviceName: 'web',
      taskDefinition: 'web-app:7',
      desiredCount: 3,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: 'web', containerPort: 8080 }],
      deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: true, rollback: true } },
      placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }],
      serviceConnectConfiguration: { enabled: true, namespace: 'internal', containerConfigurations: [{ logLevel: 'debug' }] },
      enableExecuteCommand: true,
      propagateTags: 'SERVICE',
      tags: [{ key: 'team', value: 'platform' }],
    };
    assertAllMembersKnown('CreateServiceRequest', createService);
    validateInput('CreateService', createService);

    const runTask = {
      cluster: 'prod',
      taskDefinition: 'web-app',
      count: 2,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1, base: 0 }],
      overrides: {
        containerOverrides: [{ name: 'web', command: ['npm', 'run', 'migrate'], environment: [{ name: 'X', value: '1' }], cpu: 256 }],
        cpu: '512',
      },
      startedBy: 'ci',
    };
    assertAllMembersKnown('RunTaskRequest', runTask);
    validateInput('RunTask', runTask);
  });

  it('reports missing required members in the AWS validation format', () => {
    assert.equal(
      message('RegisterTaskDefinition', { containerDefinitions: [] }, 'InvalidParameterException'),
      "1 validation error detected: Value null at 'family' failed to satisfy constraint: Member must not be null",
    );
    assert.equal(
      message('RegisterTaskDefinition', {}, 'InvalidParameterException'),
      '2 validation errors detected: ' +
        "Value null at 'family' failed to satisfy constraint: Member must not be null; " +
        "Value null at 'containerDefinitions' failed to satisfy constraint: Member must not be null",
    );
  });

  it('reports missing required members at depth with 1-based list paths', () => {
    const body = {
      family: 'f',
      containerDefinitions: [{ name: 'a' }, { name: 'b', secrets: [{ name: 's', valueFrom: 'v' }, { name: 's2' }] }],
    };
    assert.equal(
      message('RegisterTaskDefinition', body, 'InvalidParameterException'),
      "1 validation error detected: Value null at 'containerDefinitions.2.member.secrets.2.member.valueFrom' failed to satisfy constraint: Member must not be null",
    );
  });

  it('treats null as absent for optional members and as missing for required ones', () => {
    validateInput('RegisterTaskDefinition', { family: 'f', containerDefinitions: [], networkMode: null, volumes: null, cpu: null });
    validateInput('ListClusters', { nextToken: null, maxResults: null });
    assert.match(
      message('RegisterTaskDefinition', { family: null, containerDefinitions: [] }, 'InvalidParameterException'),
      /Value null at 'family' failed to satisfy constraint: Member must not be null$/,
    );
  });

  it('rejects null list elements and null map values', () => {
    assert.equal(
      message('RegisterTaskDefinition', { family: 'f', containerDefinitions: [null] }, 'InvalidParameterException'),
      "1 validation error detected: Value null at 'containerDefinitions.1.member' failed to satisfy constraint: Member must not be null",
    );
    const body = { family: 'f', containerDefinitions: [{ dockerLabels: { a: 'x', b: null } }] };
    assert.equal(
      message('RegisterTaskDefinition', body, 'InvalidParameterException'),
      "1 validation error detected: Value null at 'containerDefinitions.1.member.dockerLabels' failed to satisfy constraint: Map value must satisfy constraint: [Member must not be null]",
    );
  });

  it('reports enum violations with the enum value set, at the top level and in lists', () => {
    assert.equal(
      message('RegisterTaskDefinition', { family: 'f', containerDefinitions: [], networkMode: 'overlay' }, 'InvalidParameterException'),
      "1 validation error detected: Value 'overlay' at 'networkMode' failed to satisfy constraint: Member must satisfy enum value set: [awsvpc, bridge, host, none]",
    );
    const body = {
      family: 'f',
      requiresCompatibilities: ['FARGATE', 'LAMBDA'],
      containerDefinitions: [{ name: 'a', portMappings: [{ containerPort: 80, protocol: 'tcp' }, { containerPort: 81, protocol: 'icmp' }] }],
    };
    assert.equal(
      message('RegisterTaskDefinition', body, 'InvalidParameterException'),
      // Violations are listed in the model's member order (containerDefinitions comes first).
      '2 validation errors detected: ' +
        "Value 'icmp' at 'containerDefinitions.1.member.portMappings.2.member.protocol' failed to satisfy constraint: Member must satisfy enum value set: [tcp, udp]; " +
        "Value 'LAMBDA' at 'requiresCompatibilities.2.member' failed to satisfy constraint: Member must satisfy enum value set: [EC2, EXTERNAL, FARGATE, MANAGED_INSTANCES]",
    );
  });

  it('enum values are case-sensitive', () => {
    thrown(() => validateInput('RunTask', { taskDefinition: 't', launchType: 'fargate' }), 'InvalidParameterException');
    validateInput('RunTask', { taskDefinition: 't', launchType: 'FARGATE' });
  });

  it('rejects members of the wrong JSON type with a SerializationException naming the member', () => {
    const base = { family: 'f', containerDefinitions: [] as unknown[] };
    assert.equal(message('RegisterTaskDefinition', { ...base, family: 5 }, 'SerializationException'), "NUMBER_VALUE can not be converted to a String at 'family'");
    assert.equal(
      message('RegisterTaskDefinition', { ...base, family: { a: 1 } }, 'SerializationException'),
      "Start of structure or map found where not expected at 'family'",
    );
    assert.equal(message('RegisterTaskDefinition', { ...base, family: ['f'] }, 'SerializationException'), "Start of list found where not expected at 'family'");
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: { name: 'a' } }, 'SerializationException'),
      "Start of structure or map found where not expected at 'containerDefinitions'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ cpu: '256' }] }, 'SerializationException'),
      "STRING_VALUE can not be converted to a Number at 'containerDefinitions.1.member.cpu'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ essential: 'true' }] }, 'SerializationException'),
      "STRING_VALUE can not be converted to a Boolean at 'containerDefinitions.1.member.essential'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ logConfiguration: 'awslogs' }] }, 'SerializationException'),
      "STRING_VALUE can not be converted to a Structure at 'containerDefinitions.1.member.logConfiguration'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ command: 'npm start' }] }, 'SerializationException'),
      "STRING_VALUE can not be converted to a List at 'containerDefinitions.1.member.command'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ dockerLabels: ['a'] }] }, 'SerializationException'),
      "Start of list found where not expected at 'containerDefinitions.1.member.dockerLabels'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, containerDefinitions: [{ dockerLabels: { version: 2 } }] }, 'SerializationException'),
      "NUMBER_VALUE can not be converted to a String at 'containerDefinitions.1.member.dockerLabels.version'",
    );
    assert.equal(
      message('RegisterTaskDefinition', { ...base, networkMode: true }, 'SerializationException'),
      "BOOLEAN_VALUE can not be converted to a String at 'networkMode'",
    );
  });

  it('a type error wins over constraint violations found earlier', () => {
    // family is missing (a violation) and a later member has the wrong type.
    const err = thrown(() => validateInput('RegisterTaskDefinition', { containerDefinitions: 'x' }), 'SerializationException');
    assert.equal(err.message, "STRING_VALUE can not be converted to a List at 'containerDefinitions'");
  });

  it('rejects bodies that are not JSON objects', () => {
    assert.equal(message('ListClusters', [], 'SerializationException'), 'Start of list found where not expected');
    assert.equal(message('ListClusters', 'x', 'SerializationException'), 'STRING_VALUE can not be converted to a Structure');
    assert.equal(message('ListClusters', 3, 'SerializationException'), 'NUMBER_VALUE can not be converted to a Structure');
    assert.equal(message('ListClusters', null, 'SerializationException'), 'The request body must be a JSON object');
    assert.equal(message('ListClusters', undefined, 'SerializationException'), 'The request body must be a JSON object');
    validateInput('ListClusters', {});
  });

  it('ignores unknown members, including prototype keys', () => {
    const body = JSON.parse(
      '{"family":"f","containerDefinitions":[{"name":"a","__proto__":{"cpu":"x"},"constructor":1,"toString":[]}],' +
        '"__proto__":{"family":5},"prototype":null,"hasOwnProperty":"x","unknownMember":{"deep":[1,2,3]}}',
    ) as unknown;
    validateInput('RegisterTaskDefinition', body);
    // An inherited property never stands in for a required member.
    const inherited = Object.create({ family: 'f', containerDefinitions: [] }) as object;
    assert.match(message('RegisterTaskDefinition', inherited, 'InvalidParameterException'), /^2 validation errors detected/);
    assert.equal(({} as Record<string, unknown>)['family'], undefined, 'Object.prototype untouched');
  });

  it('accepts prototype-like keys inside maps', () => {
    const body = JSON.parse('{"family":"f","containerDefinitions":[{"dockerLabels":{"__proto__":"x","constructor":"y"}}]}') as unknown;
    validateInput('RegisterTaskDefinition', body);
    const bad = JSON.parse('{"family":"f","containerDefinitions":[{"dockerLabels":{"__proto__":7}}]}') as unknown;
    assert.equal(
      message('RegisterTaskDefinition', bad, 'SerializationException'),
      "NUMBER_VALUE can not be converted to a String at 'containerDefinitions.1.member.dockerLabels.__proto__'",
    );
  });

  it('accepts epoch-second timestamps and rejects strings', () => {
    validateInput('SubmitTaskStateChange', { pullStartedAt: 1_700_000_000, pullStoppedAt: 1_700_000_000.123 });
    validateInput('ListServiceDeployments', { service: 's', createdAt: { after: 0, before: 1_800_000_000 } });
    assert.equal(
      message('SubmitTaskStateChange', { pullStartedAt: '2024-01-01T00:00:00Z' }, 'SerializationException'),
      "STRING_VALUE can not be converted to a Timestamp at 'pullStartedAt'",
    );
  });

  it('requires exactly one member of a union', () => {
    const withSharing = (sharingStrategy: unknown) => ({
      family: 'f',
      containerDefinitions: [{ resourceRequirements: [{ type: 'GPU', value: '1', sharingStrategy }] }],
    });
    validateInput('RegisterTaskDefinition', withSharing({ nvidiaMps: { memory: 1 } }));
    assert.equal(
      message('RegisterTaskDefinition', withSharing({}), 'SerializationException'),
      "A union must have exactly one member set, found 0 at 'containerDefinitions.1.member.resourceRequirements.1.member.sharingStrategy'",
    );
    // Members the model does not know are ignored, as everywhere else.
    validateInput('RegisterTaskDefinition', withSharing({ nvidiaMps: { memory: 1 }, unknownVariant: {} }));
  });

  it('lists at most MAX_LISTED_VIOLATIONS violations but counts all', () => {
    const secrets = Array.from({ length: 25 }, () => ({ name: 's' }));
    const msg = message('RegisterTaskDefinition', { family: 'f', containerDefinitions: [{ secrets }] }, 'InvalidParameterException');
    assert.match(msg, /^25 validation errors detected: /);
    assert.equal(msg.split('; ').length, MAX_LISTED_VIOLATIONS);
  });

  it('echoes at most a bounded prefix of long input values', () => {
    const long = 'x'.repeat(100_000);
    const msg = message('RegisterTaskDefinition', { family: 'f', containerDefinitions: [], networkMode: long }, 'InvalidParameterException');
    assert.ok(msg.length < 1_000, `message has ${msg.length} characters`);
  });

  it('handles huge arrays and deep unknown nesting without trouble', () => {
    const environment = Array.from({ length: 200_000 }, (_, i) => ({ name: `V${i}`, value: String(i) }));
    validateInput('RegisterTaskDefinition', { family: 'f', containerDefinitions: [{ environment }] });

    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = { a: [deep] };
    validateInput('RegisterTaskDefinition', { family: 'f', containerDefinitions: [{ name: 'a', extra: deep }], extra: deep });
  });

  it('throws UnknownOperationException for an operation ECS does not have', () => {
    thrown(() => validateInput('LaunchRocket', {}), 'UnknownOperationException');
    thrown(() => validateInput('__proto__', {}), 'UnknownOperationException');
    thrown(() => validateInput('toString', {}), 'UnknownOperationException');
    assert.ok(new UnknownOperationException('x') instanceof AwsError);
  });

  it('exposes the operation names', () => {
    assert.ok(OPERATION_NAMES.includes('RegisterTaskDefinition'));
    assert.deepEqual([...OPERATION_NAMES], [...OPERATION_NAMES].sort());
    assert.equal(isKnownOperation('RunTask'), true);
    assert.equal(isKnownOperation('runTask'), false);
    assert.equal(isKnownOperation('constructor'), false);
  });

  it('validates a realistic body quickly', () => {
    const body = JSON.parse(JSON.stringify(realisticTaskDefinition)) as unknown;
    const runs = 5_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) validateInput('RegisterTaskDefinition', body);
    const perCallUs = Number(process.hrtime.bigint() - start) / 1_000 / runs;
    assert.ok(perCallUs < 500, `${perCallUs.toFixed(1)} µs per validation`);
  });
});

describe('the generated model and the installed AWS SDK', () => {
  const require = createRequire(import.meta.url);
  const sdk = require('@aws-sdk/client-ecs') as Record<string, unknown>;
  const commands = Object.keys(sdk)
    .filter((k) => /^[A-Z]\w*Command$/.test(k) && typeof sdk[k] === 'function')
    .map((k) => k.slice(0, -'Command'.length))
    .sort();

  it('covers every command @aws-sdk/client-ecs exports, and nothing else', () => {
    assert.ok(commands.length > 50, `only ${commands.length} commands found`);
    assert.deepEqual([...OPERATION_NAMES], commands);
  });

  it('has, for every operation, the input members and required members of the SDK schema', () => {
    for (const op of commands) {
      const opSchema = sdk[`${op}$`] as unknown[];
      const inputRef = opSchema[4];
      const input = (typeof inputRef === 'function' ? (inputRef as () => unknown)() : inputRef) as unknown[];
      const [, , name, , memberNames, , requiredCount = 0] = input as [number, string, string, unknown, string[], unknown[], number?];
      const io = ECS.operations[op];
      assert.ok(io, op);
      assert.equal(io.input, name, `${op} input shape`);
      const s = shape(io.input);
      assert.ok(s && s.type === 'structure', `${op} input is a structure`);
      assert.deepEqual(Object.keys(s.members).sort(), [...memberNames].sort(), `${op} members`);
      const required = Object.entries(s.members).filter(([, m]) => m.required).map(([k]) => k).sort();
      assert.deepEqual(required, memberNames.slice(0, requiredCount).sort(), `${op} required members`);
    }
  });

  it('has enum values equal to the enums the SDK exports', () => {
    const networkMode = sdk['NetworkMode'] as Record<string, string>;
    const s = shape('NetworkMode');
    assert.ok(s && s.type === 'string' && s.enum);
    assert.deepEqual([...s.enum].sort(), Object.values(networkMode).sort());
  });

  it('references only shapes it defines', () => {
    assert.doesNotThrow(() => createInputValidator(ECS_MODEL));
  });
});

describe('createInputValidator on a synthetic model', () => {
  const model: ApiModel = {
    operations: { Op: { input: 'In', output: 'Out' } },
    shapes: {
      Out: { type: 'structure', members: {} },
      In: {
        type: 'structure',
        members: {
          count: { target: 'Int' },
          big: { target: 'Long' },
          ratio: { target: 'Double' },
          data: { target: 'Blob' },
          doc: { target: 'Doc' },
          labels: { target: 'LabelMap' },
          node: { target: 'Node' },
          choice: { target: 'Choice' },
        },
      },
      Int: { type: 'integer' },
      Long: { type: 'long' },
      Double: { type: 'double' },
      Blob: { type: 'blob' },
      Doc: { type: 'document' },
      Color: { type: 'string', enum: ['red', 'green'] },
      Str: { type: 'string' },
      LabelMap: { type: 'map', key: 'Color', value: 'Color' },
      Node: { type: 'structure', members: { next: { target: 'Node' }, name: { target: 'Str', required: true } } },
      Choice: { type: 'union', members: { a: { target: 'Str' }, b: { target: 'Int' } } },
    },
  };
  const validate = createInputValidator(model);
  const msg = (body: unknown, type: string) => thrown(() => validate('Op', body), type).message;

  it('requires integers to be integral and in range', () => {
    validate('Op', { count: 3, big: 2 ** 53, ratio: 0.5 });
    assert.equal(msg({ count: 1.5 }, 'SerializationException'), "NUMBER_VALUE can not be converted to an Integer at 'count'");
    assert.equal(msg({ count: 2 ** 31 }, 'SerializationException'), "NUMBER_VALUE can not be converted to an Integer at 'count'");
    assert.equal(msg({ big: 0.1 }, 'SerializationException'), "NUMBER_VALUE can not be converted to a Long at 'big'");
    assert.equal(msg({ ratio: '0.5' }, 'SerializationException'), "STRING_VALUE can not be converted to a Double at 'ratio'");
    assert.equal(msg({ ratio: Infinity }, 'SerializationException'), "NUMBER_VALUE can not be converted to a Double at 'ratio'");
  });

  it('accepts base64 blobs only', () => {
    validate('Op', { data: Buffer.from('hello').toString('base64') });
    thrown(() => validate('Op', { data: 'not base64!' }), 'SerializationException');
  });

  it('accepts any JSON in a document', () => {
    validate('Op', { doc: { any: [1, 'two', null, { three: true }] } });
    validate('Op', { doc: 'scalar' });
  });

  it('reports map key and value enum violations at the map', () => {
    validate('Op', { labels: { red: 'green' } });
    assert.equal(
      msg({ labels: { blue: 'red' } }, 'InvalidParameterException'),
      "1 validation error detected: Value 'blue' at 'labels' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy enum value set: [red, green]]",
    );
    assert.equal(
      msg({ labels: { red: 'blue' } }, 'InvalidParameterException'),
      "1 validation error detected: Value 'blue' at 'labels' failed to satisfy constraint: Map value must satisfy constraint: [Member must satisfy enum value set: [red, green]]",
    );
  });

  it('handles recursive shapes and caps their depth', () => {
    validate('Op', { node: { name: 'a', next: { name: 'b', next: { name: 'c' } } } });
    assert.equal(
      msg({ node: { name: 'a', next: { next: { name: 'c' } } } }, 'InvalidParameterException'),
      "1 validation error detected: Value null at 'node.next.name' failed to satisfy constraint: Member must not be null",
    );
    let deep: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < 10_000; i++) deep = { name: 'n', next: deep };
    assert.match(msg({ node: deep }, 'SerializationException'), /^Request nesting too deep at 'node(\.next)+'$/);
  });

  it('requires exactly one union member', () => {
    validate('Op', { choice: { a: 'x' } });
    validate('Op', { choice: { b: 1, a: null, unknown: 2 } });
    assert.equal(msg({ choice: { a: 'x', b: 1 } }, 'SerializationException'), "A union must have exactly one member set, found 2 at 'choice'");
  });

  it('refuses a model that references an undefined shape', () => {
    assert.throws(
      () => createInputValidator({ operations: { Op: { input: 'Missing', output: 'Missing' } }, shapes: {} }),
      /undefined shape Missing/,
    );
  });
});

describe('property: validation throws only typed AWS errors', () => {
  const errorTypes = new Set(['SerializationException', 'InvalidParameterException']);
  const check = (op: string, body: unknown): void => {
    try {
      validateInput(op, body);
    } catch (err) {
      if (!(err instanceof AwsError) || !errorTypes.has(err.type)) throw err;
      assert.ok(err instanceof SerializationException || err instanceof InvalidParameterException);
    }
  };
  const op = fc.constantFrom(...OPERATION_NAMES);

  it('for random JSON bodies', () => {
    fc.assert(fc.property(op, fc.jsonValue({ maxDepth: 6 }), (o, body) => check(o, body)), { numRuns: 2_000 });
  });

  it('for random JSON objects using the operation’s member names', () => {
    const keyed = op.chain((o) => {
      const s = shape(ECS.operations[o]?.input ?? '');
      const names = s && s.type === 'structure' ? Object.keys(s.members) : [];
      const key = names.length ? fc.oneof(fc.constantFrom(...names), fc.string()) : fc.string();
      return fc.tuple(fc.constant(o), fc.dictionary(key, fc.jsonValue({ maxDepth: 4 })));
    });
    fc.assert(fc.property(keyed, ([o, body]) => check(o, body)), { numRuns: 2_000 });
  });

  it('for arbitrary JavaScript values', () => {
    fc.assert(fc.property(op, fc.anything({ withNullPrototype: true, withObjectString: true }), (o, body) => check(o, body)), {
      numRuns: 1_000,
    });
  });

  it('for a realistic body with one subtree replaced by random JSON', () => {
    const paths: (string | number)[][] = [];
    const collect = (v: unknown, path: (string | number)[]): void => {
      paths.push(path);
      if (Array.isArray(v)) v.forEach((e, i) => collect(e, [...path, i]));
      else if (v && typeof v === 'object') for (const [k, e] of Object.entries(v)) collect(e, [...path, k]);
    };
    collect(realisticTaskDefinition, []);
    const mutate = (path: (string | number)[], replacement: unknown): unknown => {
      const copy = JSON.parse(JSON.stringify(realisticTaskDefinition)) as Record<string, unknown>;
      if (path.length === 0) return replacement;
      let node: Record<string | number, unknown> = copy;
      for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
      node[path[path.length - 1]!] = replacement;
      return copy;
    };
    fc.assert(
      fc.property(fc.nat(paths.length - 1), fc.jsonValue({ maxDepth: 3 }), (i, replacement) =>
        check('RegisterTaskDefinition', mutate(paths[i]!, replacement)),
      ),
      { numRuns: 3_000 },
    );
  });

  it('accepts any value generated from the model', () => {
    const memo = new Map<string, fc.Arbitrary<unknown>>();
    const arb = (name: string): fc.Arbitrary<unknown> => {
      const cached = memo.get(name);
      if (cached) return cached;
      const s = shape(name);
      assert.ok(s, name);
      let a: fc.Arbitrary<unknown>;
      switch (s.type) {
        case 'structure': {
          const entries = Object.entries(s.members);
          const model = Object.fromEntries(entries.map(([k, m]) => [k, arb(m.target)]));
          const requiredKeys = entries.filter(([, m]) => m.required).map(([k]) => k);
          a = fc.record(model, { requiredKeys });
          break;
        }
        case 'union':
          a = fc.oneof(...Object.entries(s.members).map(([k, m]) => arb(m.target).map((v) => ({ [k]: v }))));
          break;
        case 'list':
          a = fc.array(arb(s.member), { maxLength: 2 });
          break;
        case 'map':
          a = fc.dictionary(arb(s.key) as fc.Arbitrary<string>, arb(s.value), { maxKeys: 2 });
          break;
        case 'string':
          a = s.enum ? fc.constantFrom(...s.enum) : fc.string({ maxLength: 8 });
          break;
        case 'boolean':
          a = fc.boolean();
          break;
        case 'blob':
          a = fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('base64'));
          break;
        case 'document':
          a = fc.jsonValue({ maxDepth: 2 });
          break;
        case 'timestamp':
          a = fc.integer({ min: 0, max: 2 ** 32 });
          break;
        default:
          a = fc.integer();
      }
      memo.set(name, a);
      return a;
    };
    const body = op.chain((o) => fc.tuple(fc.constant(o), arb(ECS.operations[o]!.input)));
    fc.assert(fc.property(body, ([o, b]) => validateInput(o, b)), { numRuns: 500 });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeTaskDefinition } from './normalize.js';
import type { RegisterTaskDefinitionInput, RegistrationContext } from './types.js';

const ctx: RegistrationContext = {
  region: 'us-east-1',
  accountId: '123456789012',
  revision: 3,
  registeredAt: 1_700_000_000.123,
  registeredBy: 'arn:aws:iam::123456789012:user/dev',
};

const attributeNames = (doc: { requiresAttributes?: { name?: string }[] }): string[] =>
  (doc.requiresAttributes ?? []).map((a) => a.name ?? '');

describe('normalizeTaskDefinition', () => {
  it('returns the ECS doc for a bridge-mode nginx with an app sidecar', () => {
    const input: RegisterTaskDefinitionInput = {
      family: 'web',
      volumes: [{ name: 'static' }],
      containerDefinitions: [
        {
          name: 'nginx',
          image: 'nginx:1.27',
          memory: 256,
          links: ['app:backend'],
          portMappings: [{ containerPort: 80 }],
          mountPoints: [{ sourceVolume: 'static', containerPath: '/usr/share/nginx/html', readOnly: true }],
          logConfiguration: { logDriver: 'json-file', options: { 'max-size': '10m' } },
        },
        {
          name: 'app',
          image: 'ghcr.io/example/app:2.1',
          cpu: 128,
          memoryReservation: 128,
          essential: false,
          command: ['serve', '--port', '8080'],
          environment: [{ name: 'PORT', value: '8080' }],
          portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
        },
      ],
    };

    const doc = normalizeTaskDefinition(input, ctx);

    assert.deepEqual(doc, {
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:3',
      containerDefinitions: [
        {
          name: 'nginx',
          image: 'nginx:1.27',
          cpu: 0,
          memory: 256,
          links: ['app:backend'],
          portMappings: [{ containerPort: 80, hostPort: 0, protocol: 'tcp' }],
          essential: true,
          environment: [],
          mountPoints: [{ sourceVolume: 'static', containerPath: '/usr/share/nginx/html', readOnly: true }],
          volumesFrom: [],
          logConfiguration: { logDriver: 'json-file', options: { 'max-size': '10m' } },
          systemControls: [],
        },
        {
          name: 'app',
          image: 'ghcr.io/example/app:2.1',
          cpu: 128,
          memoryReservation: 128,
          portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
          essential: false,
          command: ['serve', '--port', '8080'],
          environment: [{ name: 'PORT', value: '8080' }],
          mountPoints: [],
          volumesFrom: [],
          systemControls: [],
        },
      ],
      family: 'web',
      revision: 3,
      volumes: [{ name: 'static', host: {} }],
      status: 'ACTIVE',
      requiresAttributes: [
        { name: 'com.amazonaws.ecs.capability.logging-driver.json-file' },
        { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.18' },
        { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.19' },
        { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.21' },
      ],
      placementConstraints: [],
      compatibilities: ['EXTERNAL', 'EC2'],
      registeredAt: 1_700_000_000.123,
      registeredBy: 'arn:aws:iam::123456789012:user/dev',
      enableFaultInjection: false,
    });
    // Like ECS: no networkMode, requiresCompatibilities, cpu or memory when the request has none.
    assert.equal('networkMode' in doc, false);
    assert.equal('requiresCompatibilities' in doc, false);
    assert.equal('cpu' in doc, false);
  });

  it('returns the ECS doc for a Fargate service with an ECR image and awslogs', () => {
    const input: RegisterTaskDefinitionInput = {
      family: 'api',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1 vCPU',
      memory: '2 GB',
      executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
      runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
      containerDefinitions: [
        {
          name: 'api',
          image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/api:latest',
          portMappings: [{ name: 'api-80-tcp', containerPort: 80, appProtocol: 'http' }],
          environmentFiles: [],
          ulimits: [],
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': '/ecs/api',
              'awslogs-create-group': 'true',
              'awslogs-region': 'us-east-1',
              'awslogs-stream-prefix': 'ecs',
            },
            secretOptions: [],
          },
        },
        {
          name: 'redis',
          image: 'redis:7',
          memoryReservation: 512,
          essential: false,
          portMappings: [{ containerPort: 6379 }],
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/ecs/api', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs' },
          },
        },
      ],
      tags: [{ key: 'team', value: 'core' }],
    };

    const doc = normalizeTaskDefinition(input, ctx);

    assert.equal(doc.cpu, '1024');
    assert.equal(doc.memory, '2048');
    assert.equal(doc.networkMode, 'awsvpc');
    assert.deepEqual(doc.requiresCompatibilities, ['FARGATE']);
    assert.deepEqual(doc.compatibilities, ['EC2', 'FARGATE', 'MANAGED_INSTANCES']);
    assert.deepEqual(doc.runtimePlatform, { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' });
    assert.equal('tags' in doc, false);
    // awsvpc: hostPort is the container port.
    assert.deepEqual(doc.containerDefinitions[0]?.portMappings, [
      { containerPort: 80, hostPort: 80, protocol: 'tcp', name: 'api-80-tcp', appProtocol: 'http' },
    ]);
    assert.deepEqual(doc.containerDefinitions[1]?.portMappings, [{ containerPort: 6379, hostPort: 6379, protocol: 'tcp' }]);
    assert.deepEqual(doc.containerDefinitions[0]?.environmentFiles, []);
    assert.deepEqual(doc.containerDefinitions[0]?.ulimits, []);
    // The attribute set ECS returned for an equivalent registration.
    assert.deepEqual(
      new Set(attributeNames(doc)),
      new Set([
        'com.amazonaws.ecs.capability.logging-driver.awslogs',
        'ecs.capability.execution-role-awslogs',
        'com.amazonaws.ecs.capability.ecr-auth',
        'com.amazonaws.ecs.capability.docker-remote-api.1.19',
        'com.amazonaws.ecs.capability.docker-remote-api.1.21',
        'ecs.capability.execution-role-ecr-pull',
        'com.amazonaws.ecs.capability.docker-remote-api.1.18',
        'ecs.capability.task-eni',
        'com.amazonaws.ecs.capability.docker-remote-api.1.29',
      ]),
    );
  });

  it('fills health check defaults and orders containers with dependsOn', () => {
    const input: RegisterTaskDefinitionInput = {
      family: 'shop',
      containerDefinitions: [
        {
          name: 'db',
          image: 'postgres:16',
          memory: 512,
          healthCheck: { command: ['CMD-SHELL', 'pg_isready -U postgres'] },
        },
        {
          name: 'migrate',
          image: 'example/shop-migrate:1',
          memory: 128,
          essential: false,
          dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
        },
        {
          name: 'shop',
          image: 'example/shop:1',
          memory: 256,
          stopTimeout: 20,
          dependsOn: [
            { containerName: 'migrate', condition: 'SUCCESS' },
            { containerName: 'db', condition: 'HEALTHY' },
          ],
        },
      ],
    };

    const doc = normalizeTaskDefinition(input, ctx);

    assert.deepEqual(doc.containerDefinitions[0]?.healthCheck, {
      command: ['CMD-SHELL', 'pg_isready -U postgres'],
      interval: 30,
      timeout: 5,
      retries: 3,
    });
    assert.deepEqual(doc.containerDefinitions[2]?.dependsOn, [
      { containerName: 'migrate', condition: 'SUCCESS' },
      { containerName: 'db', condition: 'HEALTHY' },
    ]);
    assert.deepEqual(attributeNames(doc), [
      'ecs.capability.container-health-check',
      'com.amazonaws.ecs.capability.docker-remote-api.1.24',
      'ecs.capability.container-ordering',
    ]);
    assert.deepEqual(doc.compatibilities, ['EXTERNAL', 'EC2']);
  });

  it('omits requiresAttributes when no feature needs one, like the CLI example', () => {
    const doc = normalizeTaskDefinition(
      {
        family: 'sleep360',
        containerDefinitions: [{ name: 'sleep', image: 'busybox', cpu: 10, memory: 10, command: ['sleep', '360'], essential: true }],
      },
      { ...ctx, revision: 1 },
    );
    assert.equal('requiresAttributes' in doc, false);
    assert.deepEqual(doc.containerDefinitions, [
      {
        name: 'sleep',
        image: 'busybox',
        cpu: 10,
        memory: 10,
        portMappings: [],
        essential: true,
        command: ['sleep', '360'],
        environment: [],
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
      },
    ]);
  });

  it('does not modify the request', () => {
    const input: RegisterTaskDefinitionInput = {
      family: 'f',
      containerDefinitions: [{ name: 'c', image: 'busybox', memory: 64, portMappings: [{ containerPort: 80 }] }],
    };
    const before = structuredClone(input);
    normalizeTaskDefinition(input, ctx);
    assert.deepEqual(input, before);
  });

  it('maps task roles, namespaces, volumes and secrets to agent capabilities', () => {
    const doc = normalizeTaskDefinition(
      {
        family: 'caps',
        networkMode: 'host',
        taskRoleArn: 'arn:aws:iam::123456789012:role/app',
        pidMode: 'task',
        volumes: [
          { name: 'cache', dockerVolumeConfiguration: { driver: 'local' } },
          { name: 'shared', efsVolumeConfiguration: { fileSystemId: 'fs-12345678' } },
        ],
        containerDefinitions: [
          {
            name: 'app',
            image: 'example/app:1',
            memory: 128,
            privileged: true,
            secrets: [
              { name: 'DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf' },
              { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/api-key' },
            ],
            environmentFiles: [{ type: 's3', value: 'arn:aws:s3:::bucket/app.env' }],
            linuxParameters: { initProcessEnabled: true },
          },
        ],
      },
      ctx,
    );
    assert.deepEqual(doc.volumes[0], { name: 'cache', dockerVolumeConfiguration: { driver: 'local', scope: 'task' } });
    assert.deepEqual(doc.volumes[1], { name: 'shared', efsVolumeConfiguration: { fileSystemId: 'fs-12345678', rootDirectory: '/' } }, 'EFS mounts its root unless told otherwise, as ECS says');
    assert.deepEqual(attributeNames(doc), [
      'com.amazonaws.ecs.capability.task-iam-role',
      'com.amazonaws.ecs.capability.task-iam-role-network-host',
      'ecs.capability.pid-ipc-namespace-sharing',
      'ecs.capability.docker-plugin.local',
      'ecs.capability.efs',
      'ecs.capability.efsAuth',
      'com.amazonaws.ecs.capability.docker-remote-api.1.25',
      'com.amazonaws.ecs.capability.privileged-container',
      'ecs.capability.secrets.asm.environment-variables',
      'ecs.capability.secrets.ssm.environment-variables',
      'ecs.capability.env-files.s3',
    ]);
    // Host mode with EFS: not for external instances, fine for EC2 and managed instances.
    assert.deepEqual(doc.compatibilities, ['EC2', 'MANAGED_INSTANCES']);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { AwsError } from '../../core/errors.js';
import { normalizeTaskDefinition } from './normalize.js';
import type { RegisterTaskDefinitionInput, RegistrationContext } from './types.js';

const ctx: RegistrationContext = {
  region: 'eu-west-1',
  accountId: '123456789012',
  revision: 1,
  registeredAt: 1_700_000_000,
  registeredBy: 'arn:aws:iam::123456789012:root',
};

const container = (over: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
  name: 'app',
  image: 'example/app:1',
  memory: 256,
  ...over,
});

const bridge = (...containers: ContainerDefinition[]): RegisterTaskDefinitionInput => ({
  family: 'fam',
  containerDefinitions: containers.length ? containers : [container()],
});

const fargate = (over: Partial<RegisterTaskDefinitionInput> = {}): RegisterTaskDefinitionInput => ({
  family: 'fam',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  cpu: '256',
  memory: '512',
  containerDefinitions: [{ name: 'app', image: 'example/app:1' }],
  ...over,
});

/** Asserts that registering `input` fails with a ClientException whose message matches `message`. */
function rejects(input: RegisterTaskDefinitionInput, message: RegExp): void {
  assert.throws(
    () => normalizeTaskDefinition(input, ctx),
    (err: unknown) => {
      assert.ok(err instanceof AwsError, `expected an AwsError, got ${String(err)}`);
      assert.equal(err.type, 'ClientException');
      assert.match(err.message, message);
      return true;
    },
  );
}

const accepts = (input: RegisterTaskDefinitionInput): void => {
  assert.doesNotThrow(() => normalizeTaskDefinition(input, ctx));
};

describe('task identity', () => {
  it('rejects families outside letters, numbers, hyphens and underscores', () => {
    rejects({ ...bridge(), family: 'my.family' }, /^Family contains invalid characters\. Up to 255 letters/);
    rejects({ ...bridge(), family: 'x'.repeat(256) }, /Family contains invalid characters/);
    rejects({ ...bridge(), family: '' }, /Family should not be null or empty/);
    accepts({ ...bridge(), family: 'My_family-2' });
  });

  it('needs 1 to 10 containers with unique, valid names and images', () => {
    rejects({ family: 'f', containerDefinitions: [] }, /^Container list cannot be empty\./);
    const eleven = Array.from({ length: 11 }, (_, i) => container({ name: `c${i}` }));
    rejects(bridge(...eleven), /^Too many containers\. .*at most 10/);
    accepts(bridge(...eleven.slice(0, 10)));
    rejects(bridge(container(), container()), /Duplicate container name 'app'/);
    rejects(bridge(container({ name: 'my app' })), /Container name 'my app' contains invalid characters/);
    rejects(bridge(container({ name: '' })), /^Container\.name should not be null or empty\./);
    rejects(bridge(container({ image: '' })), /^Container\.image should not be null or empty\./);
    rejects(bridge(container({ image: '$IMAGE_NAME' })), /^Container\.image contains invalid characters/);
    accepts(bridge(container({ image: `registry.example.com:5000/team/app@sha256:${'a'.repeat(64)}` })));
  });

  it('needs at least one essential container', () => {
    rejects(bridge(container({ essential: false })), /doesn't have any essential container\. Set 'essential' to true/);
    accepts(bridge(container({ essential: false }), container({ name: 'main' })));
  });
});

describe('cpu and memory', () => {
  it('needs memory or memoryReservation on each container without task-level memory', () => {
    rejects(
      bridge(container({ memory: undefined })),
      /^Invalid setting for container 'app'\. At least one of 'memory' or 'memoryReservation' must be specified\./,
    );
    accepts(bridge(container({ memory: undefined, memoryReservation: 64 })));
    accepts({ ...bridge(container({ memory: undefined })), memory: '512' });
  });

  it('checks container memory bounds', () => {
    rejects(bridge(container({ memory: 4 })), /Invalid 'memory' setting for container 'app'\. The minimum is 6 MiB/);
    rejects(bridge(container({ memory: undefined, memoryReservation: 5 })), /Invalid 'memoryReservation' setting .*minimum is 6 MiB/);
    rejects(
      bridge(container({ memory: 128, memoryReservation: 256 })),
      /'memory' must be greater than or equal to 'memoryReservation'/,
    );
    accepts(bridge(container({ memory: 128, memoryReservation: 128 })));
  });

  it('parses task-level units and rejects malformed values', () => {
    const doc = normalizeTaskDefinition({ ...bridge(), cpu: '0.25 vCPU', memory: '0.5GB' }, ctx);
    assert.equal(doc.cpu, '256');
    assert.equal(doc.memory, '512');
    rejects({ ...bridge(), cpu: 'lots' }, /^Invalid 'cpu' setting for task\./);
    rejects({ ...bridge(), cpu: '64' }, /^Invalid 'cpu' setting for task\./);
    rejects({ ...bridge(), cpu: '0.1 vCPU' }, /^Invalid 'cpu' setting for task\./);
    rejects({ ...bridge(), memory: '1.5 MB' }, /^Invalid 'memory' setting for task\./);
  });

  it('keeps containers within the task size', () => {
    rejects({ ...bridge(container({ memory: 1024 })), memory: '512' }, /^The 'memory' setting for container 'app' is greater than for the task\./);
    rejects(
      { ...bridge(container({ memory: undefined, memoryReservation: 300 }), container({ name: 'b', memory: undefined, memoryReservation: 300 })), memory: '512' },
      /^The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'/,
    );
    rejects({ ...bridge(container({ cpu: 2048 })), cpu: '1024' }, /^The 'cpu' setting for container 'app' is greater than for the task\./);
    rejects(
      { ...bridge(container({ cpu: 600 }), container({ name: 'b', cpu: 600 })), cpu: '1024' },
      /^The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'/,
    );
    accepts({ ...bridge(container({ cpu: 512 }), container({ name: 'b', cpu: 512 })), cpu: '1024', memory: '512' });
  });
});

describe('port mappings', () => {
  it('requires matching host and container ports in awsvpc and host mode', () => {
    rejects(
      { ...bridge(container({ portMappings: [{ containerPort: 80, hostPort: 8080 }] })), networkMode: 'awsvpc' },
      /^When networkMode=awsvpc, the host ports and container ports in port mappings must match\./,
    );
    rejects(
      { ...bridge(container({ portMappings: [{ containerPort: 80, hostPort: 8080 }] })), networkMode: 'host' },
      /^When networkMode=host, the host ports and container ports/,
    );
    accepts({ ...bridge(container({ portMappings: [{ containerPort: 80, hostPort: 80 }] })), networkMode: 'host' });
  });

  it('checks port ranges, duplicates and none mode', () => {
    rejects(bridge(container({ portMappings: [{ containerPort: 70000 }] })), /Invalid containerPort 70000 .*between 1 and 65535/);
    rejects(bridge(container({ portMappings: [{ containerPort: 80, hostPort: -1 }] })), /Invalid hostPort -1/);
    rejects(bridge(container({ portMappings: [{ containerPort: 80 }, { containerPort: 80, protocol: 'tcp' }] })), /maps container port 80\/tcp more than once/);
    accepts(bridge(container({ portMappings: [{ containerPort: 53 }, { containerPort: 53, protocol: 'udp' }] })));
    rejects(
      bridge(container({ portMappings: [{ containerPort: 80, hostPort: 8080 }] }), container({ name: 'b', portMappings: [{ containerPort: 81, hostPort: 8080 }] })),
      /Host port 8080\/tcp is mapped more than once \(containers 'app' and 'b'\)/,
    );
    accepts(bridge(container({ portMappings: [{ containerPort: 80 }] }), container({ name: 'b', portMappings: [{ containerPort: 80 }] })));
    rejects({ ...bridge(container({ portMappings: [{ containerPort: 80 }] })), networkMode: 'none' }, /not supported when networkMode=none/);
    rejects(bridge(container({ portMappings: [{ containerPortRange: '9000-8000' }] })), /Invalid containerPortRange '9000-8000'/);
    rejects(bridge(container({ portMappings: [{ containerPortRange: '8000-8010', containerPort: 8000 }] })), /cannot combine containerPortRange/);
    accepts(bridge(container({ portMappings: [{ containerPortRange: '8000-8010' }] })));
  });
});

describe('references between containers and volumes', () => {
  it('allows links only in bridge mode, to existing containers, without cycles', () => {
    rejects(
      { ...bridge(container({ links: ['db'] }), container({ name: 'db' })), networkMode: 'awsvpc' },
      /^Links are not supported when networkMode=awsvpc\./,
    );
    rejects(bridge(container({ links: ['db'] })), /links to container 'db', which does not exist/);
    rejects(bridge(container({ links: ['app'] })), /cannot link to itself/);
    rejects(
      bridge(container({ links: ['db'] }), container({ name: 'db', links: ['app'] })),
      /^Container links should not have a cycle: app -> db -> app\./,
    );
    accepts(bridge(container({ links: ['db:database'] }), container({ name: 'db' })));
  });

  it('requires mount points and volumesFrom to name task volumes and containers', () => {
    rejects(bridge(container({ mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] })), /^Unknown volume 'data'\./);
    rejects(
      { ...bridge(container({ mountPoints: [{ sourceVolume: 'data' }] })), volumes: [{ name: 'data' }] },
      /needs a 'containerPath'/,
    );
    rejects(bridge(container({ volumesFrom: [{ sourceContainer: 'ghost' }] })), /volumes from container 'ghost', which does not exist/);
    rejects(bridge(container({ volumesFrom: [{ sourceContainer: 'app' }] })), /cannot mount volumes from itself/);
    accepts({ ...bridge(container({ mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] })), volumes: [{ name: 'data' }] });
  });

  it('validates volumes', () => {
    rejects({ ...bridge(), volumes: [{ name: 'v' }, { name: 'v' }] }, /Duplicate volume name 'v'/);
    rejects({ ...bridge(), volumes: [{ name: 'bad name' }] }, /Invalid volume name 'bad name'/);
    rejects({ ...bridge(), volumes: [{ name: 'v', host: { sourcePath: '' } }] }, /^host\.sourcePath should not be blank/);
    rejects({ ...bridge(), volumes: [{ name: 'v', host: { sourcePath: 'relative/dir' } }] }, /must be an absolute path/);
    rejects({ ...bridge(), volumes: [{ name: 'v', host: {}, dockerVolumeConfiguration: {} }] }, /more than one volume type/);
    rejects({ ...bridge(), volumes: [{ name: 'v', dockerVolumeConfiguration: { autoprovision: true } }] }, /only supported when the Docker volume scope is 'shared'/);
  });
});

describe('dependsOn', () => {
  const db = (over: Partial<ContainerDefinition> = {}): ContainerDefinition => container({ name: 'db', ...over });

  it('needs existing targets and valid conditions', () => {
    rejects(
      bridge(container({ dependsOn: [{ containerName: 'ghost', condition: 'START' }] })),
      /^Cannot depend on container \+ 'ghost' because it does not exist\./,
    );
    rejects(bridge(container({ dependsOn: [{ containerName: 'app', condition: 'START' }] })), /cannot depend on itself/);
    rejects(
      bridge(container({ dependsOn: [{ containerName: 'db', condition: 'SUCCESS' }] }), db()),
      /^A dependency container with SUCCESS or COMPLETE condition cannot be an essential container\./,
    );
    accepts(bridge(container({ dependsOn: [{ containerName: 'db', condition: 'COMPLETE' }] }), db({ essential: false })));
  });

  it('requires a health check for HEALTHY', () => {
    rejects(
      bridge(container({ dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] }), db()),
      /depends on container 'db' being HEALTHY, but 'db' has no healthCheck/,
    );
    accepts(bridge(container({ dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] }), db({ healthCheck: { command: ['CMD', 'true'] } })));
  });

  it('detects cycles', () => {
    rejects(
      bridge(
        container({ dependsOn: [{ containerName: 'b', condition: 'START' }] }),
        container({ name: 'b', dependsOn: [{ containerName: 'c', condition: 'START' }] }),
        container({ name: 'c', dependsOn: [{ containerName: 'app', condition: 'START' }] }),
      ),
      /^Container dependencies must not form a cycle: app -> b -> c -> app\./,
    );
    accepts(
      bridge(
        container({ dependsOn: [{ containerName: 'b', condition: 'START' }, { containerName: 'c', condition: 'START' }] }),
        container({ name: 'b', dependsOn: [{ containerName: 'c', condition: 'START' }] }),
        container({ name: 'c' }),
      ),
    );
  });
});

describe('container settings', () => {
  it('checks health check command and ranges', () => {
    rejects(bridge(container({ healthCheck: { command: ['curl', 'localhost'] } })), /must start with CMD or CMD-SHELL/);
    rejects(bridge(container({ healthCheck: { command: ['CMD'] } })), /must start with CMD or CMD-SHELL/);
    const hc = (over: object) => bridge(container({ healthCheck: { command: ['CMD', 'true'], ...over } }));
    rejects(hc({ interval: 4 }), /Invalid healthCheck interval 4 .*between 5 and 300/);
    rejects(hc({ interval: 301 }), /interval 301/);
    rejects(hc({ timeout: 1 }), /Invalid healthCheck timeout 1 .*between 2 and 60/);
    rejects(hc({ retries: 11 }), /Invalid healthCheck retries 11 .*between 1 and 10/);
    rejects(hc({ startPeriod: 301 }), /Invalid healthCheck startPeriod 301 .*between 0 and 300/);
    accepts(hc({ interval: 5, timeout: 60, retries: 10, startPeriod: 0 }));
  });

  it('checks ulimits', () => {
    rejects(bridge(container({ ulimits: [{ name: 'nofile', softLimit: 2048, hardLimit: 1024 }] })), /softLimit \(2048\) must not be greater than hardLimit \(1024\)/);
    rejects(
      bridge(container({ ulimits: [{ name: 'nofile', softLimit: 1, hardLimit: 2 }, { name: 'nofile', softLimit: 1, hardLimit: 2 }] })),
      /Ulimit 'nofile' is set more than once/,
    );
    accepts(bridge(container({ ulimits: [{ name: 'nofile', softLimit: 65535, hardLimit: 65535 }] })));
  });

  it('checks secrets and environment files', () => {
    rejects(bridge(container({ secrets: [{ name: 'A', valueFrom: '' }] })), /Secret 'A' .*empty 'valueFrom'/);
    rejects(
      bridge(container({ secrets: [{ name: 'A', valueFrom: 'p1' }, { name: 'A', valueFrom: 'p2' }] })),
      /Secret 'A' is defined more than once/,
    );
    rejects(bridge(container({ environmentFiles: [{ type: 's3', value: 'arn:aws:s3:::bucket/app.txt' }] })), /Invalid environment file .*\.env extension/);
    accepts(bridge(container({ environmentFiles: [{ type: 's3', value: 'arn:aws:s3:::bucket/conf/app.env' }] })));
  });

  it('checks stop and start timeouts', () => {
    rejects(bridge(container({ stopTimeout: -1 })), /Invalid 'stopTimeout' setting for container 'app'/);
    accepts(bridge(container({ stopTimeout: 300, startTimeout: 120 })));
  });

  it('requires a log router for awsfirelens', () => {
    rejects(bridge(container({ logConfiguration: { logDriver: 'awsfirelens' } })), /no container in the task has a firelensConfiguration/);
    accepts(
      bridge(
        container({ logConfiguration: { logDriver: 'awsfirelens', options: { Name: 'cloudwatch' } } }),
        container({ name: 'router', essential: false, firelensConfiguration: { type: 'fluentbit' } }),
      ),
    );
  });

  it('rejects hostname in awsvpc mode', () => {
    rejects({ ...bridge(container({ hostname: 'app' })), networkMode: 'awsvpc' }, /'hostname' parameter is not supported when networkMode=awsvpc/);
  });

  it('checks task-level extras', () => {
    rejects({ ...bridge(), proxyConfiguration: { containerName: 'envoy' } }, /proxyConfiguration names container 'envoy'/);
    rejects({ ...bridge(), ephemeralStorage: { sizeInGiB: 20 } }, /Invalid ephemeralStorage sizeInGiB 20/);
    rejects(
      { ...bridge(), placementConstraints: Array.from({ length: 11 }, () => ({ type: 'memberOf' as const, expression: 'attribute:x == y' })) },
      /Too many placement constraints: 11/,
    );
  });
});

describe('requiresCompatibilities FARGATE', () => {
  it('accepts a minimal Fargate definition', () => {
    const doc = normalizeTaskDefinition(fargate(), ctx);
    assert.deepEqual(doc.compatibilities, ['EC2', 'FARGATE', 'MANAGED_INSTANCES']);
  });

  it('needs awsvpc and a task size before anything else', () => {
    rejects(fargate({ networkMode: undefined }), /^Fargate only supports network mode ‘awsvpc’\./);
    rejects(fargate({ networkMode: 'bridge' }), /^Fargate only supports network mode ‘awsvpc’\./);
    rejects(fargate({ cpu: undefined }), /^Fargate requires that 'cpu' be defined at the task level\.$/);
    rejects(fargate({ memory: undefined }), /^Fargate requires that 'memory' be defined at the task level\.$/);
  });

  it('accepts only valid Fargate sizes', () => {
    rejects(
      fargate({ cpu: '1024', memory: '1024' }),
      /^No Fargate configuration exists for given values: 1024 CPU, 1024 memory\. With 1024 CPU, 'memory' must be between 2048 and 8192 in steps of 1024\./,
    );
    rejects(fargate({ cpu: '256', memory: '1536' }), /No Fargate configuration exists for given values: 256 CPU, 1536 memory/);
    rejects(fargate({ cpu: '128', memory: '512' }), /No Fargate configuration exists .*'cpu' must be one of 256, 512/);
    accepts(fargate({ cpu: '16 vCPU', memory: '120GB' }));
  });

  it('rejects container features Fargate does not run', () => {
    rejects(fargate({ containerDefinitions: [container({ privileged: true })] }), /^Fargate requires that the privileged setting be false at the container level\./);
    rejects(fargate({ containerDefinitions: [container({ stopTimeout: 121 })] }), /at most 120 seconds/);
    rejects(fargate({ containerDefinitions: [container({ logConfiguration: { logDriver: 'json-file' } })] }), /does not support log driver json-file/);
    rejects(
      fargate({ containerDefinitions: [container({ logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-stream-prefix': 'x' } } })] }),
      /^Fargate requires task definition to have execution role ARN to support log driver awslogs\./,
    );
    rejects(
      fargate({
        executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
        containerDefinitions: [container({ logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'g' } } })],
      }),
      /^Fargate requires log configuration options to include awslogs-stream-prefix/,
    );
    rejects(
      fargate({ containerDefinitions: [container({ image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1' })] }),
      /^Fargate requires task definition to have execution role ARN to support ECR images\./,
    );
    rejects(
      fargate({ containerDefinitions: [container({ linuxParameters: { capabilities: { add: ['NET_ADMIN'] } } })] }),
      /only supports adding the SYS_PTRACE kernel capability; container 'app' adds NET_ADMIN/,
    );
    rejects(fargate({ volumes: [{ name: 'v', host: { sourcePath: '/var/data' } }] }), /does not support host paths/);
    rejects(fargate({ ipcMode: 'task' }), /Fargate does not support 'ipcMode'/);
  });
});

describe('requiresCompatibilities EXTERNAL and MANAGED_INSTANCES', () => {
  it('rejects awsvpc for external instances', () => {
    rejects({ ...bridge(), networkMode: 'awsvpc', requiresCompatibilities: ['EXTERNAL'] }, /External instances do not support network mode awsvpc/);
    accepts({ ...bridge(), requiresCompatibilities: ['EXTERNAL', 'EC2'] });
  });

  it('rejects bridge mode for managed instances', () => {
    rejects({ ...bridge(), requiresCompatibilities: ['MANAGED_INSTANCES'] }, /Managed instances support network modes awsvpc and host only/);
  });
});

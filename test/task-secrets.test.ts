// Container `secrets` end to end: a real server, a real agent and Docker Engine.
// The agent fetches the values at container creation; they reach the
// container's environment and nowhere else Berth keeps or prints things.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describeTaskOn, filesUnder, spawnAgent, spawnServerWithCluster, stopServerAndAgent, tempDir, TEST_CREDENTIALS, waitFor, type AgentProcess, type ServerProcess, runContainerOn } from './helpers.js';

const run = promisify(execFile);

const DB_PASSWORD = 'pw-canary-4be1c0de';
const DB_USER = 'user-canary-77aa';
const API_TOKEN = 'token-canary-9f3e';
const API_URL = 'url-canary-5d2c';
const CANARIES = [DB_PASSWORD, DB_USER, API_TOKEN, API_URL];

describe('container secrets', { timeout: 300_000 }, () => {
  const dir = tempDir('berth-task-secrets-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let agentOutput = '';
  let secretArn = '';
  let urlArn = '';
  const taskArns: string[] = [];
  const pushed: string[] = [];

  const describeTask = (arn: string) => describeTaskOn(server.url, arn);

  const runTask = (
    family: string,
    secrets: { name: string; valueFrom: string }[],
    extra: { image?: string; repositoryCredentials?: { credentialsParameter: string } } = {},
  ): Promise<string> =>
    runContainerOn(
      server.url,
      family,
      {
        image: extra.image ?? 'berth-test/busybox:latest',
        ...(extra.repositoryCredentials ? { repositoryCredentials: extra.repositoryCredentials } : {}),
        environment: [{ name: 'PLAIN', value: 'visible' }],
        secrets,
        command: ['sh', '-c', 'echo "P=$DB_PASSWORD U=$DB_USER T=$API_TOKEN A=$API_URL PLAIN=$PLAIN"; sleep 120'],
      },
      taskArns,
    );

  before(async () => {
    server = await spawnServerWithCluster(join(dir.path, 'server'), [], { BERTH_LOG_LEVEL: 'debug' });
    const sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    secretArn = (await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: JSON.stringify({ user: DB_USER, password: DB_PASSWORD }) }))).ARN!;
    await sm.send(new CreateSecretCommand({ Name: 'app/password', SecretString: DB_PASSWORD }));
    sm.destroy();
    const ssm = new SSMClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    await ssm.send(new PutParameterCommand({ Name: '/app/token', Value: API_TOKEN, Type: 'SecureString' }));
    await ssm.send(new PutParameterCommand({ Name: '/app/url', Value: API_URL, Type: 'String' }));
    urlArn = 'arn:aws:ssm:us-east-1:000000000000:parameter/app/url';
    ssm.destroy();
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: 'default', cpu: 512, memory: 512, env: { BERTH_LOG_LEVEL: 'debug' } });
    agent.child.stdout?.on('data', (d: Buffer) => (agentOutput += d.toString()));
    agent.child.stderr?.on('data', (d: Buffer) => (agentOutput += d.toString()));
  });

  after(async () => {
    await stopServerAndAgent(server, agent, taskArns);
    for (const ref of pushed) await run('docker', ['rmi', '-f', ref]).catch(() => undefined);
    dir.remove();
  });

  it('puts Secrets Manager and Parameter Store values into the container environment, and nowhere else', async () => {
    const arn = await runTask('with-secrets', [
      { name: 'DB_PASSWORD', valueFrom: secretArn.replace(/-[A-Za-z0-9]{6}$/, '').replace(':secret:app/db', ':secret:app/password') },
      { name: 'DB_USER', valueFrom: `${secretArn}:user::` },
      { name: 'API_TOKEN', valueFrom: '/app/token' },
      { name: 'API_URL', valueFrom: urlArn },
    ]);
    await waitFor('the task to run', async () => {
      const t = await describeTask(arn);
      if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason} ${t.containers?.[0]?.reason ?? ''}`);
      return t.lastStatus === 'RUNNING' ? t : undefined;
    }, 120_000);
    const id = (await run('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${arn}`])).stdout.trim();
    assert.ok(id, 'the task has a container');
    const line = await waitFor('the container to print its environment', async () => {
      const { stdout } = await run('docker', ['logs', id]);
      return stdout.includes('P=') ? stdout.trim() : undefined;
    }, 60_000);
    assert.equal(line, `P=${DB_PASSWORD} U=${DB_USER} T=${API_TOKEN} A=${API_URL} PLAIN=visible`);

    // Not in DescribeTasks, the container's labels, the agent's state files, nor either log.
    const described = JSON.stringify(await describeTask(arn));
    const inspect = JSON.parse((await run('docker', ['inspect', id])).stdout) as { Config: { Labels: Record<string, string> } }[];
    const agentFiles = filesUnder(join(dir.path, 'agent')).map((f) => [f, readFileSync(f, 'utf8')] as const);
    for (const canary of CANARIES) {
      assert.ok(!described.includes(canary), `DescribeTasks shows ${canary}`);
      assert.ok(!JSON.stringify(inspect[0]!.Config.Labels).includes(canary), `container labels show ${canary}`);
      for (const [f, text] of agentFiles) assert.ok(!text.includes(canary), `${f} holds ${canary}`);
      assert.ok(!agentOutput.includes(canary), `the agent's log shows ${canary}`);
      assert.ok(!server.stderr().includes(canary), `the server's log shows ${canary}`);
    }
  });

  it('stops a task whose secret is missing with ECS\'s ResourceInitializationError', async () => {
    const missing = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/none-AbCdEf';
    const arn = await runTask('missing-secret', [{ name: 'DB_PASSWORD', valueFrom: missing }]);
    const task = await waitFor('the task to stop', async () => {
      const t = await describeTask(arn);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);
    assert.equal(task.stopCode, 'TaskFailedToStart');
    // The whole reason, cut (as ECS cuts it) to 255 characters.
    const full = `ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret ${missing} from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.`;
    const reason = task.stoppedReason ?? '';
    assert.ok(reason.length <= 255 && reason.length > 200, reason);
    assert.ok(full.startsWith(reason.replace(/\.\.\.$/, '')), reason);

    const arn2 = await runTask('missing-parameter', [{ name: 'API_TOKEN', valueFrom: '/app/none' }]);
    const task2 = await waitFor('the task to stop', async () => {
      const t = await describeTask(arn2);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);
    assert.equal(task2.stopCode, 'TaskFailedToStart');
    assert.match(task2.stoppedReason ?? '', /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: .*invalid parameters: \/app\/none$/);
  });

  it('pulls with the registry credentials a repositoryCredentials secret holds', async () => {
    const credentials = TEST_CREDENTIALS;
    const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const uri = (await ecr.send(new CreateRepositoryCommand({ repositoryName: `berth-repocreds-${process.pid}/app` }))).repository!.repositoryUri!;
      const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
      const password = Buffer.from(token, 'base64').toString().slice('AWS:'.length);
      const dockerEnv = { ...process.env, DOCKER_CONFIG: join(dir.path, 'docker-config') };
      const ref = `${uri}:v1`;
      await run('docker', ['login', '--username', 'AWS', '--password', password, uri.split('/')[0]!], { env: dockerEnv });
      await run('docker', ['tag', 'berth-test/busybox:latest', ref]);
      pushed.push(ref);
      await run('docker', ['push', ref], { env: dockerEnv });
      await run('docker', ['rmi', ref]);
      const good = (await sm.send(new CreateSecretCommand({ Name: 'registry/good', SecretString: JSON.stringify({ username: 'AWS', password }) }))).ARN!;
      const bad = (await sm.send(new CreateSecretCommand({ Name: 'registry/bad', SecretString: JSON.stringify({ username: 'AWS', password: 'wrong' }) }))).ARN!;
      const stopped = async (arn: string) =>
        waitFor('the task to stop', async () => {
          const t = await describeTask(arn);
          return t.lastStatus === 'STOPPED' ? t : undefined;
        }, 120_000);

      // Wrong credentials in the secret: the pull is refused, although the agent could have got a token of its own.
      const refused = await stopped(await runTask('repocreds-bad', [], { image: ref, repositoryCredentials: { credentialsParameter: bad } }));
      assert.match(refused.containers?.[0]?.reason ?? '', /^CannotPullContainerError: /);
      const missing = await stopped(
        await runTask('repocreds-missing', [], { image: ref, repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:registry/none-AbCdEf' } }),
      );
      assert.match(missing.stoppedReason ?? '', /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: /);

      const arn = await runTask('repocreds-good', [], { image: ref, repositoryCredentials: { credentialsParameter: good } });
      await waitFor('the task to run', async () => {
        const t = await describeTask(arn);
        if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason} ${t.containers?.[0]?.reason ?? ''}`);
        return t.lastStatus === 'RUNNING' ? t : undefined;
      }, 120_000);
    } finally {
      ecr.destroy();
      sm.destroy();
    }
  });
});

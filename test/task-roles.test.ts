// Task roles and execution roles end to end: a real server, a real agent and
// Docker Engine, real AWS clients. A task's containers find their role's
// credentials on the agent's endpoint with no configuration, as on ECS; the
// execution role is who fetches the task's secrets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { BERTH_BIN, describeTaskOn, ecsClient, filesUnder, runTaskOn, spawnAgent, spawnServerWithCluster, stopServerAndAgent, tempDir, TEST_CREDENTIALS, waitFor, type AgentProcess, type ServerProcess } from './helpers.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const SESSION_SECONDS = 40;

const trust = (principal: Record<string, string>): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }] });

/** Fetches a container's task credentials the way the AWS CLI would, from inside it (busybox nc); `path` replaces the id's path. */
const FETCH = [
  'if [ -n "$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" ]; then H=169.254.170.2; P=80; U="$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; A="";',
  'elif [ -n "$AWS_CONTAINER_CREDENTIALS_FULL_URI" ]; then R="${AWS_CONTAINER_CREDENTIALS_FULL_URI#http://}"; HP="${R%%/*}"; H="${HP%:*}"; P="${HP##*:}"; U="/${R#*/}"; A="Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN\\r\\n";',
  'else echo NO-CREDENTIALS-VARIABLES; exit 0; fi;',
  '[ -n "$1" ] && U="$1";',
  'printf "GET $U HTTP/1.0\\r\\nHost: $H\\r\\n${A}\\r\\n" | nc "$H" "$P"',
].join(' ');

interface Fetched {
  status: number;
  body: string;
}

describe('task roles and execution roles', { timeout: 420_000 }, () => {
  const dir = tempDir('berth-task-roles-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let agentOutput = '';
  let secretArn = '';
  const taskArns: string[] = [];
  const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

  const describeTask = (arn: string) => describeTaskOn(server.url, arn);

  const register = async (family: string, roles: { taskRoleArn?: string; executionRoleArn?: string; networkMode?: 'host' }, secrets: { name: string; valueFrom: string }[] = []) => {
    const c = ecsClient(server.url);
    try {
      await c.send(
        new RegisterTaskDefinitionCommand({
          family,
          ...roles,
          containerDefinitions: [{ name: 'app', image: 'berth-test/busybox:latest', memory: 32, essential: true, secrets, command: ['sh', '-c', 'echo "S=$APP_SECRET"; sleep 300'] }],
        }),
      );
    } finally {
      c.destroy();
    }
  };

  const runTask = (family: string) => runTaskOn(server.url, family, taskArns);

  const running = (arn: string) =>
    waitFor('the task to run', async () => {
      const t = await describeTask(arn);
      if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason} ${t.containers?.[0]?.reason ?? ''}`);
      return t.lastStatus === 'RUNNING' ? t : undefined;
    }, 120_000);

  const stopped = (arn: string) =>
    waitFor('the task to stop', async () => {
      const t = await describeTask(arn);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);

  const containerOf = async (arn: string): Promise<string> => {
    const id = (await run('docker', ['ps', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${arn}`])).stdout.trim();
    assert.ok(id, 'the task has a running container');
    return id;
  };

  const envOf = async (id: string): Promise<Record<string, string>> => {
    const { stdout } = await run('docker', ['exec', id, 'env']);
    return Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };

  /** What the container gets from its credentials endpoint. */
  const fetchInside = async (id: string, path?: string): Promise<Fetched> => {
    const { stdout } = await run('docker', ['exec', id, 'sh', '-c', FETCH, 'fetch', ...(path ? [path] : [])], { timeout: 30_000 });
    if (stdout.includes('NO-CREDENTIALS-VARIABLES')) return { status: 0, body: '' };
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(stdout)?.[1] ?? NaN);
    return { status, body: stdout.slice(stdout.indexOf('\r\n\r\n') + 4) };
  };

  const sts = (c: { AccessKeyId: string; SecretAccessKey: string; Token: string }) =>
    new STSClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token } });

  before(async () => {
    server = await spawnServerWithCluster(join(dir.path, 'server'), [], { BERTH_TASK_ROLE_SESSION_SECONDS: String(SESSION_SECONDS), BERTH_LOG_LEVEL: 'debug' });
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    const ecsTasks = trust({ Service: 'ecs-tasks.amazonaws.com' });
    for (const name of ['app-task', 'other-task', 'exec-denied', 'exec-allowed']) await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: ecsTasks }));
    await iam.send(new CreateRoleCommand({ RoleName: 'not-for-ecs', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` }) }));
    const sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    secretArn = (await sm.send(new CreateSecretCommand({ Name: 'app/key', SecretString: 'secret-canary-31c7' }))).ARN!;
    sm.destroy();
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'exec-allowed',
        PolicyName: 'read-app-key',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }] }),
      }),
    );
    iam.destroy();
    agent = await spawnAgent(server.url, join(dir.path, 'agent'), { cluster: 'default', cpu: 1024, memory: 512, env: { BERTH_LOG_LEVEL: 'debug' } });
    agent.child.stdout?.on('data', (d: Buffer) => (agentOutput += d.toString()));
    agent.child.stderr?.on('data', (d: Buffer) => (agentOutput += d.toString()));
  });

  after(async () => {
    await stopServerAndAgent(server, agent, taskArns);
    dir.remove();
  });

  it("serves a task its role's credentials, which act as the assumed role, and only its own", async () => {
    await register('with-role', { taskRoleArn: roleArn('app-task') });
    await register('other-role', { taskRoleArn: roleArn('other-task') });
    await register('no-role', {});
    const [a, b, none] = [await runTask('with-role'), await runTask('other-role'), await runTask('no-role')];
    await Promise.all([running(a), running(b), running(none)]);
    const [ca, cb, cn] = [await containerOf(a), await containerOf(b), await containerOf(none)];

    const got = await fetchInside(ca);
    assert.equal(got.status, 200, got.body);
    const creds = JSON.parse(got.body) as { RoleArn: string; AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string };
    assert.deepEqual(Object.keys(creds).sort(), ['AccessKeyId', 'Expiration', 'RoleArn', 'SecretAccessKey', 'Token']);
    assert.equal(creds.RoleArn, roleArn('app-task'));
    assert.match(creds.AccessKeyId, /^ASIA/);
    assert.match(creds.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const taskId = a.slice(a.lastIndexOf('/') + 1);
    const client = sts(creds);
    try {
      const who = await client.send(new GetCallerIdentityCommand({}));
      assert.equal(who.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app-task/${taskId}`);
    } finally {
      client.destroy();
    }

    // The AWS CLI finds them from the container's variables alone (run on the host, which reaches the same address).
    const env = await envOf(ca);
    const cliEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir.path, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_DEFAULT_REGION: 'us-east-1' };
    for (const k of ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN']) if (env[k]) cliEnv[k] = env[k];
    const cli = await run('aws', ['sts', 'get-caller-identity', '--endpoint-url', server.url, '--output', 'json'], { env: cliEnv });
    assert.equal((JSON.parse(cli.stdout) as { Arn: string }).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app-task/${taskId}`);
    // And so does the AWS SDK for JavaScript v3 with its default credential chain.
    const sdk = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
         const c = new STSClient({ endpoint: process.argv[1], region: 'us-east-1' });
         console.log((await c.send(new GetCallerIdentityCommand({}))).Arn);`,
        server.url,
      ],
      { env: cliEnv, cwd: join(BERTH_BIN, '..', '..') },
    );
    assert.equal(sdk.stdout.trim(), `arn:aws:sts::${ACCOUNT}:assumed-role/app-task/${taskId}`);

    // Another task gets its own role's credentials; a made-up id gets nothing.
    const other = await fetchInside(cb);
    assert.equal(other.status, 200);
    const otherCreds = JSON.parse(other.body) as { RoleArn: string; AccessKeyId: string };
    assert.equal(otherCreds.RoleArn, roleArn('other-task'));
    assert.notEqual(otherCreds.AccessKeyId, creds.AccessKeyId);
    const guessed = await fetchInside(cb, `/v2/credentials/${randomBytes(32).toString('hex')}`);
    assert.ok(guessed.status >= 400 && guessed.status < 500, `a made-up id answered ${guessed.status}`);
    assert.ok(!guessed.body.includes('AccessKeyId'));
    assert.equal((await fetchInside(cb, '/v2/credentials/')).status, 400);

    // In host network mode too.
    await register('host-role', { taskRoleArn: roleArn('app-task'), networkMode: 'host' });
    const h = await runTask('host-role');
    await running(h);
    const fromHost = await fetchInside(await containerOf(h));
    assert.equal(fromHost.status, 200, fromHost.body);
    assert.equal((JSON.parse(fromHost.body) as { RoleArn: string }).RoleArn, roleArn('app-task'));

    // A task without a role has no variables (and so no id to ask with).
    const noneEnv = await envOf(cn);
    assert.deepEqual(Object.keys(noneEnv).filter((k) => k.startsWith('AWS_CONTAINER_')), []);
    assert.equal((await fetchInside(cn)).status, 0);

    // The secret never reaches the task records, the agent's state files or the logs.
    const described = JSON.stringify(await describeTask(a));
    assert.ok(!described.includes(creds.SecretAccessKey) && !described.includes(creds.Token));
    for (const f of filesUnder(join(dir.path, 'agent'))) {
      const text = readFileSync(f, 'utf8');
      assert.ok(!text.includes(creds.SecretAccessKey) && !text.includes(creds.Token), `${f} holds the task's credentials`);
    }
    assert.ok(!agentOutput.includes(creds.SecretAccessKey) && !agentOutput.includes(creds.Token), "the agent's log shows the task's credentials");
    assert.ok(!server.stderr().includes(creds.SecretAccessKey) && !server.stderr().includes(creds.Token), "the server's log shows the task's credentials");

    // Expired credentials are refused; by then the endpoint serves renewed ones that work.
    const expiresAt = Date.parse(creds.Expiration);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 1500));
    const late = sts(creds);
    try {
      await assert.rejects(late.send(new GetCallerIdentityCommand({})), (err: Error) => /^ExpiredToken(Exception)?$/.test(err.name) && err.message === 'The security token included in the request is expired');
    } finally {
      late.destroy();
    }
    const renewed = JSON.parse((await fetchInside(ca)).body) as { AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string };
    assert.notEqual(renewed.AccessKeyId, creds.AccessKeyId);
    assert.ok(Date.parse(renewed.Expiration) > Date.now());
    const fresh = sts(renewed);
    try {
      assert.equal((await fresh.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app-task/${taskId}`);
    } finally {
      fresh.destroy();
    }
  });

  it("refuses to run a task whose role does not trust ECS, in ECS's words", async () => {
    await register('untrusting', { taskRoleArn: roleArn('not-for-ecs') });
    const c = ecsClient(server.url);
    try {
      await assert.rejects(c.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'untrusting' })), (err: Error) => {
        assert.equal(err.name, 'ClientException');
        assert.equal(
          err.message,
          `ECS was unable to assume the role '${roleArn('not-for-ecs')}' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.`,
        );
        return true;
      });
    } finally {
      c.destroy();
    }
  });

  it('lets only principals that may pass the role to ecs-tasks.amazonaws.com run a task with it', async () => {
    const iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'deployer' }));
    const allow = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
    await iam.send(new PutUserPolicyCommand({ UserName: 'deployer', PolicyName: 'run', PolicyDocument: allow([{ Effect: 'Allow', Action: 'ecs:RunTask', Resource: '*' }]) }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'deployer' }))).AccessKey!;
    const deployer = ecsClient(server.url, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
    try {
      await assert.rejects(deployer.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'with-role' })), (err: Error) => {
        assert.equal(err.name, 'AccessDeniedException');
        assert.equal(err.message, `User: arn:aws:iam::${ACCOUNT}:user/deployer is not authorized to perform: iam:PassRole on resource: ${roleArn('app-task')} because no identity-based policy allows the iam:PassRole action`);
        return true;
      });
      await iam.send(
        new PutUserPolicyCommand({
          UserName: 'deployer',
          PolicyName: 'pass',
          PolicyDocument: allow([{ Effect: 'Allow', Action: 'iam:PassRole', Resource: roleArn('app-task'), Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } }]),
        }),
      );
      const out = await waitFor('the policy to apply', async () => {
        try {
          return await deployer.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'with-role' }));
        } catch (err) {
          if ((err as Error).name === 'AccessDeniedException') return undefined;
          throw err;
        }
      }, 10_000);
      taskArns.push(out.tasks![0]!.taskArn!);
    } finally {
      deployer.destroy();
      iam.destroy();
    }
  });

  it('fetches secrets as the execution role: a role that may read them starts the task, one that may not stops it', async () => {
    await register('exec-allowed', { executionRoleArn: roleArn('exec-allowed') }, [{ name: 'APP_SECRET', valueFrom: secretArn }]);
    await register('exec-denied', { executionRoleArn: roleArn('exec-denied') }, [{ name: 'APP_SECRET', valueFrom: secretArn }]);
    const ok = await runTask('exec-allowed');
    const denied = await runTask('exec-denied');
    await running(ok);
    const id = await containerOf(ok);
    const line = await waitFor('the container to print its secret', async () => {
      const { stdout } = await run('docker', ['logs', id]);
      return stdout.includes('S=') ? stdout.trim() : undefined;
    }, 60_000);
    assert.equal(line, 'S=secret-canary-31c7');

    const task = await stopped(denied);
    assert.equal(task.stopCode, 'TaskFailedToStart');
    const reason = task.stoppedReason ?? '';
    const taskId = denied.slice(denied.lastIndexOf('/') + 1);
    const full =
      `ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): ` +
      `failed to fetch secret ${secretArn} from secrets manager: AccessDeniedException: User: arn:aws:sts::${ACCOUNT}:assumed-role/exec-denied/${taskId} is not authorized to perform: secretsmanager:GetSecretValue`;
    // Cut, as ECS cuts it, to 255 characters; the agent's log has it whole, naming what was denied.
    assert.ok(reason.length <= 255 && full.startsWith(reason.replace(/\.\.\.$/, '')), reason);
    assert.ok(agentOutput.includes(full.slice('ResourceInitializationError: '.length)), 'the agent logs the whole reason');
  });
});

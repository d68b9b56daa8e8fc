// The agent pulls images from the server's own registry with credentials it
// gets itself (GetAuthorizationToken signed with its keys): no `docker login`
// on the host, and the image is not on the host before the task runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { describeTaskOn, spawnAgent, spawnServerWithCluster, stopServerAndAgent, tempDir, waitFor, type AgentProcess, type ServerProcess, runContainerOn } from './helpers.js';
import { ecrClient } from './registry-helpers.js';

function command(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<{ status: number; out: string }> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, out })));
}

/** The agent under test, with no docker credentials of the host's own (DOCKER_CONFIG points nowhere). */
function startAgent(endpoint: string, dataDir: string): Promise<AgentProcess> {
  return spawnAgent(endpoint, dataDir, { cluster: 'default', cpu: 512, memory: 512, env: { DOCKER_CONFIG: join(dataDir, 'no-docker-config') } });
}

describe('the agent pulls from the Berth registry by itself', { timeout: 300_000 }, () => {
  const dir = tempDir('berth-registry-agent-');
  let server: ServerProcess;
  let agent: AgentProcess;
  let uri = '';
  const built: string[] = [];
  const taskArns: string[] = [];
  const env = () => ({ DOCKER_CONFIG: join(dir.path, 'docker-config') });

  const describeTask = (arn: string) => describeTaskOn(server.url, arn);

  const runTask = (family: string, image: string): Promise<string> => runContainerOn(server.url, family, { image, command: ['sh', '-c', 'cat /built.txt; sleep 60'] }, taskArns);

  before(async () => {
    server = await spawnServerWithCluster(join(dir.path, 'server'));
    const ecr = ecrClient(server.url);
    try {
      uri = (await ecr.send(new CreateRepositoryCommand({ repositoryName: `berth-regagent-${process.pid}/app` }))).repository!.repositoryUri!;
      const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
      const password = Buffer.from(token, 'base64').toString().slice('AWS:'.length);
      const host = uri.split('/')[0]!;
      const login = await command('docker', ['login', '--username', 'AWS', '--password-stdin', host], env(), password);
      assert.equal(login.status, 0, login.out);
    } finally {
      ecr.destroy();
    }
    const ctx = join(dir.path, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'data.bin'), randomBytes(200_000));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM berth-test/busybox:latest\nCOPY data.bin /data.bin\nRUN echo built-for-agent > /built.txt\n');
    const b = await command('docker', ['build', '-q', '-t', `${uri}:v1`, ctx], env());
    assert.equal(b.status, 0, b.out);
    built.push(/sha256:[a-f0-9]{64}/.exec(b.out)![0]);
    const push = await command('docker', ['push', `${uri}:v1`], env());
    assert.equal(push.status, 0, push.out);
    const rm = await command('docker', ['rmi', `${uri}:v1`], env());
    assert.equal(rm.status, 0, rm.out);
    agent = await startAgent(server.url, join(dir.path, 'agent'));
  });

  after(async () => {
    await stopServerAndAgent(server, agent, taskArns);
    await command('docker', ['rmi', '-f', `${uri}:v1`, ...built], {});
    dir.remove();
  });

  it('runs a task whose image is only in the registry, with real pull times', async () => {
    assert.notEqual((await command('docker', ['image', 'inspect', `${uri}:v1`], {})).status, 0, 'the host does not have the image');
    const arn = await runTask('regagent-ok', `${uri}:v1`);
    const task = await waitFor('the task to run', async () => {
      const t = await describeTask(arn);
      if (t.lastStatus === 'STOPPED') throw new Error(`task stopped: ${t.stoppedReason} ${t.containers?.[0]?.reason ?? ''}`);
      return t.lastStatus === 'RUNNING' ? t : undefined;
    }, 120_000);
    assert.ok(task.pullStartedAt && task.pullStoppedAt, 'pull times are reported');
    assert.ok(task.pullStoppedAt.getTime() >= task.pullStartedAt.getTime());
    assert.equal((await command('docker', ['image', 'inspect', `${uri}:v1`], {})).status, 0, 'the agent pulled the image');
  });

  it('stops a task whose tag is not in the registry with CannotPullContainerError and the registry\'s reason', async () => {
    const arn = await runTask('regagent-missing', `${uri}:no-such-tag`);
    const task = await waitFor('the task to stop', async () => {
      const t = await describeTask(arn);
      return t.lastStatus === 'STOPPED' ? t : undefined;
    }, 120_000);
    const reason = task.containers?.[0]?.reason ?? '';
    assert.match(reason, /^CannotPullContainerError: /);
    assert.match(reason, /manifest unknown|Requested image not found|not found/i);
    assert.equal(task.stopCode, 'TaskFailedToStart');
  });
});

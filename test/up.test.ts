// `berth up`: the one command for a local cluster, on the real Docker Engine.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CreateClusterCommand, DeregisterContainerInstanceCommand, DescribeContainerInstancesCommand, DescribeTasksCommand, ListContainerInstancesCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { BERTH_BIN, ecsClient, freePort, spawnServer, spawnUp, TEST_CREDENTIALS, tempDir, waitFor, type ServerProcess } from './helpers.js';

const run = promisify(execFile);

async function containersOf(taskArn: string): Promise<string[]> {
  const { stdout } = await run('docker', ['ps', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${taskArn}`]);
  return stdout.split('\n').filter(Boolean);
}

describe('berth up', { timeout: 120_000 }, () => {
  const dir = tempDir('berth-up-');
  let up: ServerProcess | undefined;
  let taskArn = '';

  after(async () => {
    await up?.kill('SIGKILL');
    if (taskArn) {
      // Stopped containers stay on the host for the clean-up wait: remove them too.
      const { stdout } = await run('docker', ['ps', '-a', '-q', '--filter', `label=com.amazonaws.ecs.task-arn=${taskArn}`]).catch(() => ({ stdout: '' }));
      const ids = stdout.split('\n').filter(Boolean);
      if (ids.length) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
    }
    dir.remove();
  });

  it('starts a server and an agent, runs a task, stops on Ctrl-C leaving it running, and reconciles it on the next start', async () => {
    const port = await freePort();
    up = await spawnUp(dir.path, {}, port);
    const ecs = ecsClient(up.url);
    try {
      const instances = await ecs.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
      assert.equal(instances.containerInstanceArns?.length, 1, 'one connected container instance in the default cluster');
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'up-web',
          containerDefinitions: [
            {
              name: 'web',
              image: 'berth-test/busybox:latest',
              memory: 32,
              command: ['sh', '-c', 'echo up > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'],
              portMappings: [{ containerPort: 8080, hostPort: 0 }],
              stopTimeout: 1,
            },
          ],
        }),
      );
      const r = await ecs.send(new RunTaskCommand({ cluster: 'default', taskDefinition: 'up-web' }));
      assert.deepEqual(r.failures, []);
      taskArn = r.tasks![0]!.taskArn!;
      const describe = async (): Promise<Task> => (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [taskArn] }))).tasks![0]!;
      const running = await waitFor('RUNNING', async () => {
        const t = await describe();
        return t.lastStatus === 'RUNNING' ? t : undefined;
      });
      const hostPort = running.containers![0]!.networkBindings![0]!.hostPort!;
      const answer = () => waitFor('HTTP', async () => {
        const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`);
        return res.ok ? res.text() : undefined;
      });
      assert.equal((await answer()).trim(), 'up');
      const before = await containersOf(taskArn);
      assert.equal(before.length, 1);

      // Ctrl-C: both stop cleanly; the task's container keeps running.
      const t0 = Date.now();
      assert.equal(await up.kill('SIGINT'), 0, 'exits 0 on Ctrl-C');
      assert.ok(Date.now() - t0 < 15_000, 'stops promptly');
      up = undefined;
      assert.deepEqual(await containersOf(taskArn), before, 'running tasks keep running while Berth is stopped');

      up = await spawnUp(dir.path, {}, port);
      const again = ecsClient(up.url);
      try {
        const t = await describe();
        assert.equal(t.lastStatus, 'RUNNING');
        // Once the agent is back on its channel it has been given the task again: still the one container.
        await waitFor('the agent to reconnect', async () => {
          const l = await again.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
          return l.containerInstanceArns?.length === 1 ? true : undefined;
        });
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(await containersOf(taskArn), before, 'adopted, not started twice');
        assert.equal((await answer()).trim(), 'up');
        await again.send(new StopTaskCommand({ cluster: 'default', task: taskArn }));
        await waitFor('STOPPED', async () => ((await describe()).lastStatus === 'STOPPED' ? true : undefined));
        assert.deepEqual(await containersOf(taskArn), []);
      } finally {
        again.destroy();
      }
    } finally {
      ecs.destroy();
    }
  });
});

/** Runs `berth agent ...` to its exit (bounded); returns the exit code and stderr. */
function agentExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BERTH_BIN, 'agent', ...args], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, BERTH_LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berth agent ${args.join(' ')} did not exit within 40 s: ${stderr}`));
    }, 40_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('berth up and berth agent outside us-east-1', { timeout: 120_000 }, () => {
  const dir = tempDir('berth-region-');
  after(() => dir.remove());

  it('berth up --region signs the agent for that region', async () => {
    const up = await spawnUp(join(dir.path, 'up'), {}, 0, ['--region', 'eu-west-1']);
    try {
      const ecs = ecsClient(up.url, TEST_CREDENTIALS, 'eu-west-1');
      const list = await ecs.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
      assert.equal(list.containerInstanceArns?.length, 1);
      assert.match(list.containerInstanceArns![0]!, /^arn:aws:ecs:eu-west-1:/);
      ecs.destroy();
    } finally {
      assert.equal(await up.kill('SIGINT'), 0);
    }
  });

  it('berth agent stops with a message saying what happened when its container instance is deregistered', async () => {
    const server = await spawnServer(join(dir.path, 'server-dereg'));
    const ecs = ecsClient(server.url);
    try {
      await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
      const exited = agentExit([
        '--endpoint', server.url, '--data-dir', join(dir.path, 'agent-dereg'), '--memory', '512', '--cpu', '768',
        '--availability-zone', 'rack-7', '--instance-type', 'box.large', '--attribute', 'team=storage', '--attribute', 'disk=ssd',
        '--docker-host', 'unix:///var/run/docker.sock',
      ]);
      const [arn] = await waitFor('the agent to register', async () => {
        const l = await ecs.send(new ListContainerInstancesCommand({ cluster: 'default', filter: 'agentConnected == true' }));
        return l.containerInstanceArns?.length ? l.containerInstanceArns : undefined;
      });
      const inst = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'default', containerInstances: [arn!] }))).containerInstances![0]!;
      const attr = (name: string) => inst.attributes?.find((a) => a.name === name)?.value;
      assert.deepEqual(
        [attr('ecs.availability-zone'), attr('ecs.instance-type'), attr('team'), attr('disk')],
        ['rack-7', 'box.large', 'storage', 'ssd'],
        'the flags become the instance attributes',
      );
      const resource = (name: string) => inst.registeredResources?.find((r) => r.name === name)?.integerValue;
      assert.deepEqual([resource('CPU'), resource('MEMORY')], [768, 512]);
      await ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'default', containerInstance: arn!, force: true }));
      const { code, stderr } = await exited;
      assert.equal(code, 1);
      assert.match(stderr, /is no longer registered in cluster default: it was deregistered\. .*Start it again to register this machine as a new container instance/s);
    } finally {
      ecs.destroy();
      await server.kill('SIGTERM');
    }
  });

  it('berth agent stops with a message naming the region when the server refuses its signature, and refuses bad flags', async () => {
    const server = await spawnServer(join(dir.path, 'server'), ['--region', 'eu-west-1']);
    try {
      const wrong = await agentExit(['--endpoint', server.url, '--data-dir', join(dir.path, 'agent'), '--region', 'us-east-1']);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /refused the agent's signed request .*region \(us-east-1; --region or AWS_REGION\) is the server's/s);
      const duration = await agentExit(['--endpoint', server.url, '--task-cleanup-wait', 'soon']);
      assert.equal(duration.code, 1);
      assert.match(duration.stderr, /--task-cleanup-wait takes a duration such as 3h/);
      const pull = await agentExit(['--endpoint', server.url, '--image-pull-behavior', 'sometimes']);
      assert.equal(pull.code, 1);
      assert.match(pull.stderr, /--image-pull-behavior must be one of default, always, once, prefer-cached/);
    } finally {
      await server.kill('SIGTERM');
    }
  });
});

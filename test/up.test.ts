// `berth up`: the one command for a local cluster, on the real Docker Engine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DescribeTasksCommand, ListContainerInstancesCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { ecsClient, freePort, spawnUp, tempDir, type ServerProcess } from './helpers.js';

const run = promisify(execFile);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
      const ids = await containersOf(taskArn).catch(() => []);
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

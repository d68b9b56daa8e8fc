import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../core/log.js';
import type { AgentTaskCredentials } from '../../protocol/agent.js';
import { CREDENTIALS_HOST, CredentialsEndpoint, TaskRoleCredentials } from './taskRoles.js';

const creds = (task: string, role: 'task' | 'execution', key: string): AgentTaskCredentials => ({
  taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${task}`,
  role,
  roleArn: `arn:aws:iam::000000000000:role/${task}-${role}`,
  accessKeyId: key,
  secretAccessKey: `secret-${key}`,
  sessionToken: `token-${key}`,
  expiration: Date.UTC(2026, 11, 2, 6, 0, 0, 123),
});

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: CREDENTIALS_HOST, port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('task credentials endpoint', () => {
  const held = new TaskRoleCredentials(Buffer.alloc(32, 1));
  const endpoint = new CredentialsEndpoint({ credentials: held, log: silentLogger(), forwardPort80: false });
  let listening = false;

  before(async () => {
    // Any port, not forwarded from port 80: as when another agent holds that, so the token is required.
    listening = await endpoint.listen(0);
  });
  after(() => endpoint.close());

  it('derives one stable, distinct id and token per task', () => {
    const other = new TaskRoleCredentials(Buffer.alloc(32, 2));
    const a = 'arn:aws:ecs:us-east-1:000000000000:task/c/a';
    const b = 'arn:aws:ecs:us-east-1:000000000000:task/c/b';
    assert.equal(held.idFor(a), new TaskRoleCredentials(Buffer.alloc(32, 1)).idFor(a));
    assert.notEqual(held.idFor(a), held.idFor(b));
    assert.notEqual(held.idFor(a), other.idFor(a));
    assert.notEqual(held.tokenFor(a), held.tokenFor(b));
    assert.match(held.idFor(a), /^[0-9a-f]{64}$/);
  });

  it("serves a task's role credentials as ECS does, and nothing to a wrong id or token", async (t) => {
    if (!listening) return t.skip('cannot add 169.254.170.2 here (needs root and iproute2)');
    held.replace([creds('a', 'task', 'ASIAA'), creds('a', 'execution', 'ASIAX'), creds('b', 'task', 'ASIAB'), creds('c', 'execution', 'ASIAC')]);
    const a = 'arn:aws:ecs:us-east-1:000000000000:task/c/a';
    const env = endpoint.environmentFor(a);
    assert.deepEqual(Object.keys(env).sort(), ['AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']);
    const url = new URL(env['AWS_CONTAINER_CREDENTIALS_FULL_URI']!);
    assert.equal(url.hostname, CREDENTIALS_HOST);
    const auth = { authorization: env['AWS_CONTAINER_AUTHORIZATION_TOKEN']! };

    const ok = await get(Number(url.port), url.pathname, auth);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), {
      RoleArn: 'arn:aws:iam::000000000000:role/a-task',
      AccessKeyId: 'ASIAA',
      SecretAccessKey: 'secret-ASIAA',
      Token: 'token-ASIAA',
      Expiration: '2026-12-02T06:00:00Z',
    });
    // Another task's token does not open this task's credentials; nor does none.
    const bToken = endpoint.environmentFor('arn:aws:ecs:us-east-1:000000000000:task/c/b')['AWS_CONTAINER_AUTHORIZATION_TOKEN']!;
    assert.equal((await get(Number(url.port), url.pathname, { authorization: bToken })).status, 401);
    assert.equal((await get(Number(url.port), url.pathname)).status, 401);
    // Unknown ids, missing ids, and tasks with only an execution role.
    assert.deepEqual(JSON.parse((await get(Number(url.port), `/v2/credentials/${'0'.repeat(64)}`, auth)).body), { code: 'InvalidIdInRequest', message: 'CredentialsV2Request: Credentials not found' });
    assert.equal((await get(Number(url.port), '/v2/credentials/', auth)).status, 400);
    const c = endpoint.environmentFor('arn:aws:ecs:us-east-1:000000000000:task/c/c');
    assert.equal((await get(Number(url.port), new URL(c['AWS_CONTAINER_CREDENTIALS_FULL_URI']!).pathname, { authorization: c['AWS_CONTAINER_AUTHORIZATION_TOKEN']! })).status, 400);
    assert.equal(held.execution(a)?.accessKeyId, 'ASIAX');

    // A new set replaces the old one: credentials withdrawn are no longer served.
    held.replace([creds('b', 'task', 'ASIAB2')]);
    assert.equal((await get(Number(url.port), url.pathname, auth)).status, 400);
    assert.equal(held.execution(a), undefined);
  });
});

describe('task credentials on port 80', () => {
  it('forwards 169.254.170.2:80 to the endpoint, leaves port 80 free for containers, and removes the forwarding on close', async (t) => {
    const held = new TaskRoleCredentials(Buffer.alloc(32, 3));
    const endpoint = new CredentialsEndpoint({ credentials: held, log: silentLogger() });
    if (!(await endpoint.listen(0))) return t.skip('cannot add 169.254.170.2 here (needs root and iproute2)');
    try {
      const a = 'arn:aws:ecs:us-east-1:000000000000:task/c/a';
      const env = endpoint.environmentFor(a);
      if (env['AWS_CONTAINER_CREDENTIALS_FULL_URI']) return t.skip('another agent on this host holds the forwarding, or iptables is missing');
      assert.deepEqual(Object.keys(env), ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']);
      held.replace([creds('a', 'task', 'ASIA80')]);
      // Port 80 of every address is free for a container's host port while the endpoint answers there.
      const hostPort80 = createServer();
      await new Promise<void>((resolve, reject) => hostPort80.once('error', reject).listen(80, '0.0.0.0', () => resolve()));
      try {
        const ok = await get(80, env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']!);
        assert.equal(ok.status, 200);
        assert.equal(JSON.parse(ok.body).AccessKeyId, 'ASIA80');
      } finally {
        hostPort80.close();
      }
    } finally {
      await endpoint.close();
    }
    const { stdout } = await promisify(execFile)('iptables', ['-w', '-t', 'nat', '-S']);
    assert.ok(!stdout.includes(`--to-destination ${CREDENTIALS_HOST}:${endpoint.port}`), 'the forwarding is gone');
  });
});

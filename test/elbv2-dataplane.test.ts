import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  DeregisterTargetsCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  TargetGroupNotFoundException,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { TEST_CREDENTIALS, freePort, spawnServer, tempDir, type ServerProcess, httpGet, healthCheckedTargetGroup } from './helpers.js';

interface Backend {
  server: Server;
  port: number;
}

/** A backend answering `<name> <path>` to every request, `/health` included. */
async function backend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name} ${req.url ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function stopBackend(b: Backend): Promise<void> {
  return new Promise((resolve) => {
    b.server.close(() => resolve());
    b.server.closeAllConnections();
  });
}

/** One request through the load balancer; status and body, or status 0 when the connection failed. */
const get = (port: number, path: string, host = 'edge.test') => httpGet(port, path, host);

/** Polls `probe` until it returns a value (bounded by `ms`); fails with the last thing seen. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<{ done: T } | { seen: unknown }>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const r = await probe();
    if ('done' in r) return r.done;
    last = r.seen;
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('ELBv2 load balancers served by the HAProxy data plane (end to end)', () => {
  const dir = tempDir();
  let server: ServerProcess;
  let elb: ElasticLoadBalancingV2Client;
  let a: Backend;
  let b: Backend;
  let listenerPort: number;
  let lbArn: string;
  let tgA: string;
  let tgB: string;

  before(async () => {
    server = await spawnServer(dir.path);
    elb = new ElasticLoadBalancingV2Client({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    a = await backend('A');
    b = await backend('B');
    listenerPort = await freePort();
  });
  after(async () => {
    elb.destroy();
    await server.kill('SIGTERM');
    await stopBackend(a);
    await stopBackend(b);
    dir.remove();
  });

  const health = async (tg: string): Promise<TargetHealthDescription[]> => (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? [];

  it('routes by path and host to two target groups of ip targets, and answers the fixed response otherwise', async () => {
    const group = async (Name: string, port: number): Promise<string> => {
      const arn = await healthCheckedTargetGroup(elb, { Name, Port: port, TargetType: 'ip' }, 2);
      await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '127.0.0.1', Port: port }] }));
      return arn;
    };
    tgA = await group('api', a.port);
    tgB = await group('web', b.port);
    lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'edge' }))).LoadBalancers![0]!.LoadBalancerArn!;
    const listenerArn = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lbArn,
          Protocol: 'HTTP',
          Port: listenerPort,
          DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'no route' } }],
        }),
      )
    ).Listeners![0]!.ListenerArn!;
    await elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 10, Conditions: [{ Field: 'path-pattern', Values: ['/api/*'] }], Actions: [{ Type: 'forward', TargetGroupArn: tgA }] }));
    await elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 20, Conditions: [{ Field: 'host-header', Values: ['b.example.test'] }], Actions: [{ Type: 'forward', TargetGroupArn: tgB }] }));

    await eventually('the load balancer goes active', 30_000, async () => {
      const lb = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] }))).LoadBalancers![0]!;
      return lb.State?.Code === 'active' ? { done: true } : { seen: lb.State };
    });
    // Both rules are in place once requests for each reach their backend.
    await eventually('requests reach both backends', 30_000, async () => {
      const [x, y] = [await get(listenerPort, '/api/users'), await get(listenerPort, '/', 'b.example.test')];
      return x.body === 'A /api/users' && y.body === 'B /' ? { done: true } : { seen: [x, y] };
    });
    assert.deepEqual(await get(listenerPort, '/api/orders?id=7'), { status: 200, body: 'A /api/orders?id=7' });
    assert.deepEqual(await get(listenerPort, '/index.html', 'B.Example.Test'), { status: 200, body: 'B /index.html' }, 'host names match case-insensitively');
    assert.deepEqual(await get(listenerPort, '/index.html'), { status: 404, body: 'no route' });
  });

  it('reports targets healthy from the data plane health checks', async () => {
    for (const tg of [tgA, tgB]) {
      await eventually('DescribeTargetHealth says healthy', 60_000, async () => {
        const h = await health(tg);
        return h.length === 1 && h[0]!.TargetHealth?.State === 'healthy' ? { done: h[0]! } : { seen: h };
      });
    }
  });

  it('turns a stopped backend unhealthy with the reason', async () => {
    await stopBackend(b);
    const h = await eventually<TargetHealthDescription>('DescribeTargetHealth says unhealthy', 60_000, async () => {
      const h = await health(tgB);
      const first = h[0];
      if (first && first.TargetHealth?.State === 'unhealthy') return { done: first };
      return { seen: h };
    });
    assert.match(h.TargetHealth?.Reason ?? '', /^Target\.(FailedHealthChecks|Timeout|ResponseCodeMismatch)$/);
    assert.ok(h.TargetHealth?.Description, 'a description says why');
    const r = await get(listenerPort, '/', 'b.example.test');
    assert.equal(r.status, 503, 'no healthy target: the load balancer answers 503');
  });

  it('drains a deregistered target, then stops sending it requests', async () => {
    await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tgA, Targets: [{ Id: '127.0.0.1', Port: a.port }] }));
    const h = await health(tgA);
    assert.equal(h[0]?.TargetHealth?.State, 'draining');
    assert.equal(h[0]?.TargetHealth?.Reason, 'Target.DeregistrationInProgress');
    await eventually('the drained target gets no requests', 30_000, async () => {
      const r = await get(listenerPort, '/api/users');
      return r.status === 503 ? { done: true } : { seen: r };
    });
    await eventually('the target is gone after its deregistration delay', 15_000, async () => {
      const h = await health(tgA);
      return h.length === 0 ? { done: true } : { seen: h };
    });
  });

  it('still answers bad input with ELBv2 errors', async () => {
    await assert.rejects(elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgA.replace(/[0-9a-f]{16}$/, '0000000000000000') })), TargetGroupNotFoundException);
    await assert.rejects(
      elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: 0, DefaultActions: [{ Type: 'forward', TargetGroupArn: tgA }] })),
      (err: Error) => err.name === 'ValidationError' && /port/i.test(err.message),
    );
  });

  it('serves its load balancers again after the server was killed, replacing the HAProxy it left running', async () => {
    await server.kill('SIGKILL');
    elb.destroy();
    server = await spawnServer(dir.path);
    elb = new ElasticLoadBalancingV2Client({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    await eventually('the load balancer is active again', 30_000, async () => {
      const lb = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] }))).LoadBalancers![0]!;
      return lb.State?.Code === 'active' ? { done: true } : { seen: lb.State };
    });
    await eventually('the listener answers', 30_000, async () => {
      const r = await get(listenerPort, '/index.html');
      return r.status === 404 && r.body === 'no route' ? { done: true } : { seen: r };
    });
    assert.doesNotMatch(server.stderr(), /cannot be served|could not apply/);
  });
});

describe('ELBv2 load balancers without HAProxy', () => {
  const dir = tempDir();
  let server: ServerProcess;
  let elb: ElasticLoadBalancingV2Client;

  before(async () => {
    server = await spawnServer(dir.path, [], { BERTH_HAPROXY: '/nonexistent/haproxy' });
    elb = new ElasticLoadBalancingV2Client({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    elb.destroy();
    await server.kill('SIGTERM');
    dir.remove();
  });

  it('marks load balancers failed with the reason, and the server keeps answering', async () => {
    const arn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'orphan' }))).LoadBalancers![0]!.LoadBalancerArn!;
    const state = await eventually<{ Code?: string; Reason?: string }>('the load balancer fails', 30_000, async () => {
      const lb = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }))).LoadBalancers![0]!;
      return lb.State && lb.State.Code === 'failed' ? { done: lb.State } : { seen: lb.State };
    });
    assert.match(state.Reason ?? '', /data plane could not start/);
    const again = await elb.send(new DescribeLoadBalancersCommand({}));
    assert.equal(again.LoadBalancers?.length, 1);
    assert.match(server.stderr(), /data plane \(HAProxy\) could not start/);
  });
});

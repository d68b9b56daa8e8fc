import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import type { DataPlane, TargetHealth } from './dataplane.js';
import { DataPlaneConfigError, targetGroup, type DataPlaneConfig, type Listener, type Rule, type TargetGroup } from './model.js';
import { freePort, get, startBackend, startLoad, startTcpBackend, tcpExchange, waitFor, type Backend } from './testing.js';

/** What a contract run needs from an implementation. */
export interface DataPlaneUnderTest {
  plane: DataPlane;
  /** Kills the proxy the hard way (SIGKILL), as a crash would. */
  crash(): Promise<void>;
}

/** Fast health checks so tests see state changes within seconds. */
const FAST_CHECKS = { intervalSeconds: 1, timeoutSeconds: 0.5, healthyThreshold: 2, unhealthyThreshold: 2, path: '/health', matcher: '200-299' };

/**
 * The contract every DataPlane satisfies, against real HTTP and TCP backends
 * on loopback. Each implementation's test file calls this with a factory
 * returning a fresh, unstarted data plane.
 */
export function dataPlaneContract(name: string, open: () => DataPlaneUnderTest): void {
  describe(`data plane contract: ${name}`, () => {
    const backends: Backend[] = [];
    let a: Backend, b: Backend, c: Backend;
    let current: DataPlaneUnderTest | undefined;

    before(async () => {
      for (const n of ['a', 'b', 'c', 'd']) backends.push(await startBackend(n));
      [a, b, c] = backends as [Backend, Backend, Backend];
    });
    after(async () => {
      await Promise.all(backends.map((x) => x.close()));
    });
    afterEach(async () => {
      for (const x of backends) x.setHealth(200);
      await current?.plane.stop();
      current = undefined;
    });

    async function started(): Promise<DataPlaneUnderTest> {
      current = open();
      await current.plane.start();
      return current;
    }

    const tg = (id: string, targets: Backend[], extra: Partial<TargetGroup> = {}) =>
      targetGroup({ id, targets: targets.map((t) => ({ host: '127.0.0.1', port: t.port })), healthCheck: FAST_CHECKS, deregistrationDelaySeconds: 2, ...extra });

    function alb(port: number, rules: Rule[], defaultGroup: string, groups: TargetGroup[], listener: Partial<Listener> = {}): DataPlaneConfig {
      return {
        targetGroups: groups,
        loadBalancers: [
          {
            id: 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1',
            type: 'application',
            idleTimeoutSeconds: 60,
            listeners: [{ id: 'http', port, protocol: 'HTTP', bindHost: '127.0.0.1', rules, defaultAction: { type: 'forward', targetGroups: [{ targetGroupId: defaultGroup }] }, ...listener }],
          },
        ],
      };
    }

    it('routes by path, host, header, method, query string and source address, by rule priority, with fixed responses, redirects and a default', async () => {
      const { plane } = await started();
      const port = await freePort();
      const rules: Rule[] = [
        { priority: 10, conditions: [{ field: 'path-pattern', values: ['/api/*'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-b' }] } },
        // Priority 5 wins over 10 for /api/v?/admin.
        { priority: 5, conditions: [{ field: 'path-pattern', values: ['/api/v?/admin'] }], action: { type: 'fixed-response', statusCode: 403, contentType: 'text/plain', messageBody: 'admins only' } },
        { priority: 20, conditions: [{ field: 'host-header', values: ['*.example.com'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-c' }] } },
        { priority: 30, conditions: [{ field: 'http-header', headerName: 'X-Canary', values: ['yes'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-c' }] } },
        { priority: 40, conditions: [{ field: 'http-request-method', values: ['DELETE'] }], action: { type: 'fixed-response', statusCode: 405, messageBody: 'no deletes' } },
        { priority: 50, conditions: [{ field: 'query-string', values: [{ key: 'version', value: 'v2*' }] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-b' }] } },
        { priority: 60, conditions: [{ field: 'source-ip', values: ['127.0.0.2/32'] }], action: { type: 'fixed-response', statusCode: 200, contentType: 'text/plain', messageBody: 'from .2' } },
        {
          priority: 70,
          conditions: [{ field: 'path-pattern', values: ['/old/*'] }],
          action: { type: 'redirect', statusCode: 'HTTP_301', protocol: 'HTTPS', port: '443', host: 'new.#{host}', path: '/moved/#{path}' },
        },
        { priority: 80, conditions: [{ field: 'path-pattern', values: ['/temp'] }, { field: 'http-request-method', values: ['GET'] }], action: { type: 'redirect', statusCode: 'HTTP_302', path: '/elsewhere', query: 'from=#{path}&#{query}' } },
      ];
      await plane.apply(alb(port, rules, 'tg-a', [tg('tg-a', [a]), tg('tg-b', [b]), tg('tg-c', [c])]));
      const url = `http://127.0.0.1:${port}`;

      assert.equal((await get(`${url}/`)).body, 'a', 'no rule matches: the default action');
      assert.equal((await get(`${url}/api/users`)).body, 'b', 'path-pattern');
      assert.equal((await get(`${url}/API/users`)).body, 'a', 'path-pattern is case-sensitive');
      const admin = await get(`${url}/api/v1/admin`);
      assert.deepEqual([admin.status, admin.body, admin.headers['content-type']], [403, 'admins only', 'text/plain'], 'lower priority number wins');
      assert.equal((await get(`${url}/api/v12/admin`)).body, 'b', '? matches exactly one character');
      assert.equal((await get(`${url}/`, { headers: { host: 'shop.EXAMPLE.com:8080' } })).body, 'c', 'host-header: case-insensitive, port ignored');
      assert.equal((await get(`${url}/`, { headers: { host: 'example.com' } })).body, 'a', 'host-header wildcard needs the dot');
      assert.equal((await get(`${url}/`, { headers: { 'x-canary': 'YES' } })).body, 'c', 'http-header values are case-insensitive');
      assert.equal((await get(`${url}/`, { headers: { 'x-canary': 'no' } })).body, 'a');
      const del = await get(`${url}/`, { method: 'DELETE' });
      assert.deepEqual([del.status, del.body], [405, 'no deletes'], 'http-request-method');
      assert.equal((await get(`${url}/api/x`, { method: 'DELETE' })).body, 'b', 'a forward of higher priority beats a later fixed response');
      assert.equal((await get(`${url}/?a=1&VERSION=V2beta`)).body, 'b', 'query-string: key and value case-insensitive, wildcard');
      assert.equal((await get(`${url}/?version=v1`)).body, 'a');
      const fromTwo = await get(`${url}/`, { localAddress: '127.0.0.2' });
      assert.deepEqual([fromTwo.status, fromTwo.body], [200, 'from .2'], 'source-ip');

      const moved = await get(`${url}/old/page?x=1`, { headers: { host: 'shop.test' } });
      assert.equal(moved.status, 301);
      assert.equal(moved.headers.location, 'https://new.shop.test/moved/old/page?x=1', 'redirect with #{host}, #{path}, #{query}; default port left out');
      const temp = await get(`${url}/temp?q=2`, { headers: { host: 'h.test' } });
      assert.equal(temp.status, 302);
      assert.equal(temp.headers.location, `http://h.test:${port}/elsewhere?from=temp&q=2`);
      assert.equal((await get(`${url}/temp`, { method: 'POST' })).body, 'a', 'all conditions of a rule must match');
    });

    it('splits weighted forwards roughly as configured and keeps lb_cookie clients on one target', async () => {
      const { plane } = await started();
      const port = await freePort();
      const rules: Rule[] = [
        { priority: 1, conditions: [{ field: 'path-pattern', values: ['/split'] }], action: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-a', weight: 80 }, { targetGroupId: 'tg-b', weight: 20 }] } },
      ];
      const sticky = tg('tg-sticky', [b, c], { stickiness: { type: 'lb_cookie', durationSeconds: 600 } });
      await plane.apply(alb(port, rules, 'tg-sticky', [tg('tg-a', [a]), tg('tg-b', [b]), sticky]));
      const counts = { a: 0, b: 0 } as Record<string, number>;
      for (let i = 0; i < 400; i++) {
        const body = (await get(`http://127.0.0.1:${port}/split`)).body;
        counts[body] = (counts[body] ?? 0) + 1;
      }
      assert.ok((counts.a ?? 0) >= 280 && (counts.a ?? 0) <= 360, `80/20 split gave ${JSON.stringify(counts)}`);

      const first = await get(`http://127.0.0.1:${port}/`);
      const cookie = String(first.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
      assert.match(cookie, /^AWSALB=./, 'stickiness sets the AWSALB cookie');
      for (let i = 0; i < 10; i++) assert.equal((await get(`http://127.0.0.1:${port}/`, { headers: { cookie } })).body, first.body, 'a sticky client stays on its target');
      const plain = new Set<string>();
      for (let i = 0; i < 10; i++) plain.add((await get(`http://127.0.0.1:${port}/`)).body);
      assert.equal(plain.size, 2, 'clients without the cookie are balanced');
    });

    it('terminates HTTPS with the listener certificate', async () => {
      const { plane } = await started();
      const port = await freePort();
      const pems = await generate([{ name: 'commonName', value: 'lb.berth.test' }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'lb.berth.test' }] }] } as Parameters<typeof generate>[1]);
      await plane.apply(
        alb(port, [{ priority: 1, conditions: [{ field: 'path-pattern', values: ['/secure'] }], action: { type: 'fixed-response', statusCode: 200, messageBody: 'tls' } }], 'tg-a', [tg('tg-a', [a])], {
          protocol: 'HTTPS',
          certificate: { certificatePem: pems.cert, privateKeyPem: pems.private },
        }),
      );
      const r = await get(`https://127.0.0.1:${port}/`, { ca: pems.cert, servername: 'lb.berth.test' });
      assert.equal(r.body, 'a', 'verified against the generated certificate');
      assert.equal((await get(`https://127.0.0.1:${port}/secure`, { ca: pems.cert, servername: 'lb.berth.test' })).body, 'tls');
      await assert.rejects(get(`http://127.0.0.1:${port}/`), 'plain HTTP is not served on an HTTPS listener');
    });

    it('serves the certificate of the list that SNI names, and the listener certificate to every other name', async () => {
      const { plane } = await started();
      const port = await freePort();
      const cert = (name: string) =>
        generate([{ name: 'commonName', value: name }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }] } as Parameters<typeof generate>[1]);
      const [one, two] = [await cert('one.berth.test'), await cert('two.berth.test')];
      await plane.apply(
        alb(port, [], 'tg-a', [tg('tg-a', [a])], {
          protocol: 'HTTPS',
          certificate: { certificatePem: one.cert, privateKeyPem: one.private },
          sniCertificates: [{ certificatePem: two.cert, privateKeyPem: two.private }],
        }),
      );
      const url = `https://127.0.0.1:${port}/`;
      assert.equal((await get(url, { ca: two.cert, servername: 'two.berth.test' })).body, 'a', 'verified against the second certificate');
      assert.equal((await get(url, { ca: one.cert, servername: 'one.berth.test' })).body, 'a', 'verified against the default certificate');
      await assert.rejects(get(url, { ca: two.cert, servername: 'three.berth.test' }), 'a name no certificate of the list covers gets the default certificate');
    });

    it('counts requests, responses and connections per listener, target group and target, across configuration reloads', async () => {
      const { plane } = await started();
      const port = await freePort();
      const lbId = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/1';
      await plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a])]));
      for (let i = 0; i < 5; i++) assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
      const counted = async () => {
        const t = await plane.traffic();
        const l = t.listeners.find((x) => x.loadBalancerId === lbId && x.listenerId === 'http');
        const g = t.targetGroups.find((x) => x.targetGroupId === 'tg-a');
        return { generation: t.generation, listener: l?.requests, ok: l?.responses['2xx'], connections: l?.connections, group: g?.requests, target: g?.targets[0]?.requests, state: g?.targets[0]?.state, bytes: (l?.bytesIn ?? 0) > 0 && (l?.bytesOut ?? 0) > 0 };
      };
      const before = await counted();
      assert.deepEqual({ ...before, generation: undefined }, { generation: undefined, listener: 5, ok: 5, connections: 5, group: 5, target: 5, state: 'up', bytes: true });
      // A new rule is a structural change (a reload on HAProxy); the counts go on.
      await plane.apply(alb(port, [{ priority: 1, conditions: [{ field: 'path-pattern', values: ['/teapot'] }], action: { type: 'fixed-response', statusCode: 418 } }], 'tg-a', [tg('tg-a', [a])]));
      assert.equal((await get(`http://127.0.0.1:${port}/teapot`)).status, 418);
      for (let i = 0; i < 3; i++) assert.equal((await get(`http://127.0.0.1:${port}/`)).status, 200);
      const later = await counted();
      assert.equal(later.generation, before.generation);
      assert.deepEqual([later.listener, later.ok, later.group, later.target], [9, 8, 8, 8]);
    });

    it('forwards TCP on a network load balancer', async () => {
      const { plane } = await started();
      const port = await freePort();
      const echo = await startTcpBackend('echo');
      try {
        await plane.apply({
          targetGroups: [targetGroup({ id: 'tg-tcp', protocol: 'TCP', targets: [{ host: '127.0.0.1', port: echo.port }], healthCheck: { intervalSeconds: 1, timeoutSeconds: 0.5 } })],
          loadBalancers: [{ id: 'nlb', type: 'network', idleTimeoutSeconds: 350, listeners: [{ id: 'tcp', port, protocol: 'TCP', bindHost: '127.0.0.1', rules: [], defaultAction: { type: 'forward', targetGroups: [{ targetGroupId: 'tg-tcp' }] } }] }],
        });
        assert.equal(await tcpExchange(port, 'hello over tcp'), 'echo:hello over tcp');
      } finally {
        await echo.close();
      }
    });

    it('reports health as ELB does and takes an unhealthy target out and back in', async () => {
      const { plane } = await started();
      const port = await freePort();
      const seen: TargetHealth[] = [];
      const unsubscribe = plane.onHealthChange((changes) => seen.push(...changes));
      await plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a, b])]));
      const stateOf = async (backend: Backend) => (await plane.targetHealth()).find((h) => h.port === backend.port);
      await waitFor('both targets healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined));

      b.setHealth(500);
      const sick = await waitFor('b unhealthy', async () => {
        const h = await stateOf(b);
        return h?.state === 'unhealthy' ? h : undefined;
      });
      assert.equal(sick.reason, 'Target.ResponseCodeMismatch');
      assert.equal(sick.description, 'Health checks failed with these codes: [500]');
      const bodies = new Set<string>();
      for (let i = 0; i < 20; i++) bodies.add((await get(`http://127.0.0.1:${port}/`)).body);
      assert.deepEqual([...bodies], ['a'], 'an unhealthy target gets no requests');

      b.setHealth(200);
      await waitFor('b healthy again', async () => ((await stateOf(b))?.state === 'healthy' ? true : undefined));
      for (let i = 0; i < 20; i++) bodies.add((await get(`http://127.0.0.1:${port}/`)).body);
      assert.deepEqual([...bodies].sort(), ['a', 'b'], 'a recovered target gets requests again');
      await waitFor('the listener to hear b go unhealthy and come back', () =>
        seen.some((h) => h.port === b.port && h.state === 'unhealthy') && seen.some((h, i) => h.port === b.port && h.state === 'healthy' && seen.slice(0, i).some((x) => x.port === b.port && x.state === 'unhealthy')) ? true : undefined,
      );
      unsubscribe();

      // A target added later is initial until it passes its healthy threshold.
      await plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a, b, c])]));
      const fresh = await stateOf(c);
      assert.equal(fresh?.state, 'initial');
      assert.equal(fresh?.reason, 'Elb.InitialHealthChecking');
      await waitFor('c healthy', async () => ((await stateOf(c))?.state === 'healthy' ? true : undefined));
    });

    it('fails open: with every target unhealthy it routes to all of them, draining ones aside, and back to the healthy once one recovers', async () => {
      const { plane } = await started();
      const port = await freePort();
      const bodies = async (n: number) => {
        const seen = new Map<string, number>();
        for (let i = 0; i < n; i++) {
          const r = await get(`http://127.0.0.1:${port}/`);
          const key = r.status === 200 ? r.body : `status ${r.status}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        return [...seen.keys()].sort();
      };
      await plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a, b, c])]));
      await waitFor('every target healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined));
      for (const x of [a, b, c]) x.setHealth(500);
      await waitFor('every target unhealthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'unhealthy') ? true : undefined));
      assert.deepEqual(await bodies(30), ['a', 'b', 'c'], 'every unhealthy target takes requests');

      // A deregistered (draining) target takes no part in failing open.
      await plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a, b], { deregistrationDelaySeconds: 30 })]));
      assert.equal((await plane.targetHealth()).find((h) => h.port === c.port)?.state, 'draining');
      assert.deepEqual(await bodies(20), ['a', 'b']);

      // One healthy target: it alone serves again.
      a.setHealth(200);
      await waitFor('a healthy again', async () => ((await plane.targetHealth()).find((h) => h.port === a.port)?.state === 'healthy' ? true : undefined));
      assert.deepEqual(await bodies(20), ['a']);
    });

    it('drains a deregistered target: requests in flight finish, no new ones, gone after the delay', async () => {
      const { plane } = await started();
      const port = await freePort();
      const withRule = (targets: Backend[], extraRule: boolean) =>
        alb(port, extraRule ? [{ priority: 1, conditions: [{ field: 'path-pattern', values: ['/teapot'] }], action: { type: 'fixed-response', statusCode: 418 } }] : [], 'tg-a', [
          tg('tg-a', targets, { deregistrationDelaySeconds: 4 }),
        ]);
      await plane.apply(withRule([a, b], false));
      await waitFor('a and b healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined));
      // Two slow requests: round robin puts one on each target.
      const inFlight = [get(`http://127.0.0.1:${port}/slow?ms=1500`), get(`http://127.0.0.1:${port}/slow?ms=1500`)];
      await new Promise((r) => setTimeout(r, 300));
      const outcome = await plane.apply(withRule([b], false));
      assert.deepEqual([outcome.reloaded, outcome.runtimeChanges > 0], [false, true], 'deregistration goes through the runtime API');
      const health = await plane.targetHealth();
      const drainingA = health.find((h) => h.port === a.port);
      assert.deepEqual([drainingA?.state, drainingA?.reason], ['draining', 'Target.DeregistrationInProgress']);
      assert.equal(health.find((h) => h.port === b.port)?.state, 'healthy');
      const slow = await Promise.all(inFlight);
      assert.deepEqual(slow.map((r) => [r.status, r.body]).sort(), [[200, 'a'], [200, 'b']], 'the request in flight finished on the draining target');
      for (let i = 0; i < 10; i++) assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'b', 'a draining target takes no new requests');

      // A reload while a target drains keeps it draining.
      const reload = await plane.apply(withRule([b], true));
      assert.equal(reload.reloaded, true, 'a new rule is a structural change');
      assert.equal((await plane.targetHealth()).find((h) => h.port === a.port)?.state, 'draining');
      for (let i = 0; i < 10; i++) assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'b', 'still no new requests after the reload');
      await waitFor('the drained target to be gone', async () => ((await plane.targetHealth()).some((h) => h.port === a.port) ? undefined : true), 15_000);

      const same = await plane.apply(withRule([b], true));
      assert.deepEqual(same, { reloaded: false, runtimeChanges: 0 }, 'the same configuration changes nothing');
    });

    it('makes 100 target and rule changes under steady load without one failed request', async () => {
      const { plane } = await started();
      const port = await freePort();
      const pool = backends;
      const baseRules = (n: number): Rule[] =>
        Array.from({ length: n }, (_, i) => ({ priority: i + 1, conditions: [{ field: 'path-pattern' as const, values: [`/never/${i}/*`] }], action: { type: 'fixed-response' as const, statusCode: 404 } }));
      const config = (targets: Backend[], ruleCount: number) => alb(port, baseRules(ruleCount), 'tg-a', [tg('tg-a', targets, { deregistrationDelaySeconds: 1 })]);
      await plane.apply(config([a, b], 1));
      await waitFor('targets healthy', async () => ((await plane.targetHealth()).every((h) => h.state === 'healthy') ? true : undefined));
      const load = startLoad(`http://127.0.0.1:${port}/`, 8);
      let reloads = 0;
      let inPlace = 0;
      try {
        let targets = [a, b];
        let ruleCount = 1;
        for (let i = 0; i < 100; i++) {
          // Two of three steps change targets (a always stays), the third the rules.
          if (i % 3 !== 2) targets = [a, ...pool.slice(1).filter((_, k) => (((i + 1) >> k) & 1) === 1)];
          else ruleCount = (ruleCount % 7) + 1;
          const outcome = await plane.apply(config(targets, ruleCount));
          if (outcome.reloaded) reloads++;
          else inPlace++;
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        const report = await load.stop();
        assert.equal(report.failed, 0, `failed requests: ${report.failures.join(' | ')}`);
        assert.ok(report.ok > 200, `only ${report.ok} requests went through`);
      }
      assert.ok(reloads >= 30 && inPlace >= 50, `expected both kinds of change, got ${reloads} reloads and ${inPlace} in place`);
    });

    it('refuses an invalid configuration and keeps serving the last one', async () => {
      const { plane } = await started();
      const port = await freePort();
      const good = alb(port, [], 'tg-a', [tg('tg-a', [a])]);
      await plane.apply(good);
      const bad = alb(port, [{ priority: 1, conditions: [], action: { type: 'forward', targetGroups: [{ targetGroupId: 'missing' }] } }], 'tg-a', [tg('tg-a', [a])]);
      await assert.rejects(plane.apply(bad), (err: unknown) => err instanceof DataPlaneConfigError && err.problems.some((p) => p.includes('target group missing does not exist')));
      assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'a');
      assert.deepEqual(await plane.apply(good), { reloaded: false, runtimeChanges: 0 }, 'the refused configuration left nothing behind');
    });

    it('comes back by itself after the proxy is killed', async () => {
      const under = await started();
      const port = await freePort();
      await under.plane.apply(alb(port, [], 'tg-a', [tg('tg-a', [a])]));
      assert.equal((await get(`http://127.0.0.1:${port}/`)).body, 'a');
      await under.crash();
      // The listener goes down with the proxy (unless it is back already).
      await waitFor('the listener to go down', () => get(`http://127.0.0.1:${port}/`).then(() => undefined, () => true), 5000, 10).catch(() => undefined);
      const back = await waitFor('the listener to answer again', async () => {
        const r = await get(`http://127.0.0.1:${port}/`);
        return r.status === 200 ? r : undefined;
      }, 20_000, 200);
      assert.equal(back.body, 'a');
      // And it still takes changes.
      await under.plane.apply(alb(port, [{ priority: 1, conditions: [{ field: 'path-pattern', values: ['/x'] }], action: { type: 'fixed-response', statusCode: 201, messageBody: 'after crash' } }], 'tg-a', [tg('tg-a', [a])]));
      assert.deepEqual([(await get(`http://127.0.0.1:${port}/x`)).status], [201]);
    });
  });
}

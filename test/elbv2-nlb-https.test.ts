// Network and application load balancers end to end: real containers on the
// Docker Engine as targets, the AWS SDK and the AWS CLI as clients, real TLS
// with certificates made by openssl and imported into ACM, and the load
// balancers' CloudWatch metrics read back through CloudWatch.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ACMClient, ImportCertificateCommand } from '@aws-sdk/client-acm';
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import {
  AddListenerCertificatesCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeListenerCertificatesCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  RemoveListenerCertificatesCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { TEST_CREDENTIALS, freePort, spawnServer, tempDir, waitFor, type ServerProcess } from './helpers.js';
import { cliRunner } from './registry-helpers.js';

const execFileAsync = promisify(execFile);
const IMAGE = 'berth-test/busybox:latest';
const AWS_CLI = '/usr/bin/aws';

interface Backend {
  name: string;
  port: number;
}

/** A busybox httpd container answering its own name on a loopback port Docker picks. */
async function startContainer(name: string, body: string): Promise<Backend> {
  await execFileAsync('docker', ['run', '-d', '--name', name, '--label', 'berth-test=elbv2-nlb-https', '-p', '127.0.0.1::8080', IMAGE, 'sh', '-c', `echo ${body} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp`], { timeout: 60_000 });
  const { stdout } = await execFileAsync('docker', ['port', name, '8080/tcp'], { timeout: 30_000 });
  const m = /127\.0\.0\.1:(\d+)/.exec(stdout);
  assert.ok(m, `docker port answered ${stdout}`);
  return { name, port: Number(m[1]) };
}

/** One HTTP/1.0 exchange over a raw TCP connection (what a network load balancer carries); the body, or '' when it failed. */
function tcpGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('connect', () => socket.write('GET /index.html HTTP/1.0\r\nHost: nlb\r\n\r\n'));
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('close', () => resolve(/^HTTP\/1\.[01] 200/.test(data) ? data.slice(data.indexOf('\r\n\r\n') + 4).trim() : ''));
    socket.on('error', () => undefined);
  });
}

interface TlsAnswer {
  status: number;
  body: string;
  /** The certificate's DNS names. */
  names: string;
  authorized: boolean;
  error?: string;
}

/** An HTTPS request to the listener, verified with `ca`; `servername` is the SNI name (none when empty). */
function tlsGet(port: number, servername: string, ca: string, verify = true): Promise<TlsAnswer> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/index.html',
        ca,
        servername,
        headers: { host: servername || 'edge', connection: 'close' },
        rejectUnauthorized: verify,
        timeout: 5000,
        agent: false,
        ...(verify ? {} : { checkServerIdentity: () => undefined }),
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert: PeerCertificate = socket.getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim(), names: cert.subjectaltname ?? '', authorized: socket.authorized }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: '', names: '', authorized: false, error: err.message }));
    req.end();
  });
}

function httpGet(port: number, path: string, host: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, connection: 'close' }, timeout: 5000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/** A test CA and two server certificates it signs, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; a: { cert: string; key: string }; b: { cert: string; key: string } }> {
  const openssl = (...args: string[]) => execFileAsync('openssl', args, { cwd: dir, timeout: 60_000 });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Berth Test CA');
  const leaf = async (name: string) => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
    return { cert: readFileSync(join(dir, `${name}.pem`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  };
  const a = await leaf('a.example.test');
  const b = await leaf('b.example.test');
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), a, b };
}

describe('network and application load balancers on real containers, over TCP and TLS', { timeout: 400_000 }, () => {
  const dir = tempDir('berth-nlb-https-');
  const prefix = `berth-lbtest-${randomBytes(4).toString('hex')}`;
  const containers: string[] = [];
  const { run, ok } = cliRunner(() => dir.path);
  let server: ServerProcess;
  let elb: ElasticLoadBalancingV2Client;
  let acm: ACMClient;
  let cw: CloudWatchClient;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  let c1: Backend;
  let c2: Backend;

  const cli = async (...args: string[]): Promise<Record<string, unknown>> => JSON.parse(await ok(AWS_CLI, [...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'])) as Record<string, unknown>;
  const health = async (tg: string): Promise<TargetHealthDescription[]> => (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? [];
  /** The Sum (or another statistic) of a metric over the last ten minutes, undefined without data. */
  const statistic = async (namespace: string, metricName: string, dims: Record<string, string>, stat: 'Sum' | 'Maximum' | 'Minimum' = 'Sum'): Promise<number | undefined> => {
    const end = new Date(Date.now() + 60_000);
    const r = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: metricName,
        Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
        StartTime: new Date(end.getTime() - 11 * 60_000),
        EndTime: end,
        Period: 600,
        Statistics: [stat],
      }),
    );
    const points = r.Datapoints ?? [];
    if (points.length === 0) return undefined;
    return points.reduce((acc, p) => (stat === 'Sum' ? acc + (p.Sum ?? 0) : stat === 'Maximum' ? Math.max(acc, p.Maximum ?? -Infinity) : Math.min(acc, p.Minimum ?? Infinity)), stat === 'Sum' ? 0 : stat === 'Maximum' ? -Infinity : Infinity);
  };
  const lbDimension = (arn: string) => arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
  const tgDimension = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);

  before(async () => {
    certs = await makeCertificates(dir.path);
    server = await spawnServer(join(dir.path, 'data'), [], { BERTH_ELB_METRICS_INTERVAL_MS: '1000' });
    const client = { endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    elb = new ElasticLoadBalancingV2Client(client);
    acm = new ACMClient(client);
    cw = new CloudWatchClient(client);
    for (const n of ['c1', 'c2']) containers.push(`${prefix}-${n}`);
    c1 = await startContainer(containers[0]!, 'from-c1');
    c2 = await startContainer(containers[1]!, 'from-c2');
  });

  after(async () => {
    elb?.destroy();
    acm?.destroy();
    cw?.destroy();
    await server?.kill('SIGTERM');
    if (containers.length) await run('docker', ['rm', '-f', ...containers]);
    dir.remove();
  });

  let nlbArn: string;
  let tcpGroup: string;
  let nlbPort: number;

  it('a network load balancer made with the AWS CLI forwards TCP to both containers', async () => {
    tcpGroup = (
      await elb.send(
        new CreateTargetGroupCommand({ Name: 'tcp-web', Protocol: 'TCP', Port: 8080, TargetType: 'ip', HealthCheckProtocol: 'TCP', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tcpGroup, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tcpGroup, Targets: [{ Id: '127.0.0.1', Port: c1.port }, { Id: '127.0.0.1', Port: c2.port }] }));
    const created = (await cli('elbv2', 'create-load-balancer', '--name', 'tcp-edge', '--type', 'network')) as { LoadBalancers: { LoadBalancerArn: string; Type: string }[] };
    nlbArn = created.LoadBalancers[0]!.LoadBalancerArn;
    assert.equal(created.LoadBalancers[0]!.Type, 'network');
    assert.match(nlbArn, /:loadbalancer\/net\/tcp-edge\/[0-9a-f]{16}$/);
    nlbPort = await freePort();
    const listener = (await cli('elbv2', 'create-listener', '--load-balancer-arn', nlbArn, '--protocol', 'TCP', '--port', String(nlbPort), '--default-actions', `Type=forward,TargetGroupArn=${tcpGroup}`)) as {
      Listeners: { Protocol: string }[];
    };
    assert.equal(listener.Listeners[0]!.Protocol, 'TCP');

    await waitFor(
      'the network load balancer to go active',
      async () => ((await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [nlbArn] }))).LoadBalancers![0]!.State?.Code === 'active' ? true : undefined),
      30_000,
    );
    const seen = new Set<string>();
    await waitFor(
      'TCP connections to reach both containers',
      async () => {
        seen.add(await tcpGet(nlbPort));
        return seen.has('from-c1') && seen.has('from-c2') ? true : undefined;
      },
      60_000,
    );
    await waitFor(
      'both targets healthy',
      async () => {
        const h = (await cli('elbv2', 'describe-target-health', '--target-group-arn', tcpGroup)) as { TargetHealthDescriptions: TargetHealthDescription[] };
        return h.TargetHealthDescriptions.length === 2 && h.TargetHealthDescriptions.every((t) => t.TargetHealth?.State === 'healthy') ? true : undefined;
      },
      60_000,
    );
  });

  it('marks a stopped container unhealthy, and keeps traffic flowing to the other', async () => {
    await ok('docker', ['stop', '-t', '1', c2.name]);
    const down = await waitFor(
      'the stopped container to be unhealthy',
      async () => {
        const h = await health(tcpGroup);
        const t = h.find((x) => x.Target?.Port === c2.port);
        return t?.TargetHealth?.State === 'unhealthy' ? t : undefined;
      },
      60_000,
    );
    assert.match(down.TargetHealth?.Reason ?? '', /^Target\.(FailedHealthChecks|Timeout)$/);
    assert.equal((await health(tcpGroup)).find((x) => x.Target?.Port === c1.port)?.TargetHealth?.State, 'healthy');
    const bodies: string[] = [];
    for (let i = 0; i < 12; i++) bodies.push(await tcpGet(nlbPort));
    assert.deepEqual(new Set(bodies), new Set(['from-c1']), 'every connection reaches the running container');
  });

  it('publishes AWS/NetworkELB metrics with the load balancer and target group dimensions', async () => {
    const lb = { LoadBalancer: lbDimension(nlbArn) };
    assert.match(lb.LoadBalancer, /^net\/tcp-edge\/[0-9a-f]{16}$/);
    const lbTg = { ...lb, TargetGroup: tgDimension(tcpGroup) };
    assert.match(lbTg.TargetGroup, /^targetgroup\/tcp-web\/[0-9a-f]{16}$/);
    await waitFor('NewFlowCount to count the connections', async () => ((await statistic('AWS/NetworkELB', 'NewFlowCount', lb)) ?? 0) >= 12 ? true : undefined, 30_000);
    assert.ok(((await statistic('AWS/NetworkELB', 'ProcessedBytes', lb)) ?? 0) > 12 * 100, 'requests and answers are counted in bytes');
    await waitFor('UnHealthyHostCount to show the stopped container', async () => ((await statistic('AWS/NetworkELB', 'UnHealthyHostCount', lbTg, 'Maximum')) === 1 ? true : undefined), 30_000);
    assert.equal(await statistic('AWS/NetworkELB', 'HealthyHostCount', lbTg, 'Maximum'), 2);
    const listed = await cw.send(new ListMetricsCommand({ Namespace: 'AWS/NetworkELB', MetricName: 'HealthyHostCount' }));
    assert.deepEqual(
      listed.Metrics?.map((m) => Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value]))),
      [lbTg],
    );
  });

  let httpsPort: number;
  let redirectPort: number;
  let httpsListener: string;
  let redirectListener: string;
  let albArn: string;
  let webGroup: string;
  let certA: string;
  let certB: string;

  it('an application load balancer answers HTTPS with the imported certificate, chosen by SNI, and redirects HTTP to HTTPS', async () => {
    certA = (await acm.send(new ImportCertificateCommand({ Certificate: Buffer.from(certs.a.cert), PrivateKey: Buffer.from(certs.a.key), CertificateChain: Buffer.from(certs.ca) }))).CertificateArn!;
    for (const [f, text] of [
      ['b.pem', certs.b.cert],
      ['b.key', certs.b.key],
    ] as const)
      writeFileSync(join(dir.path, f), text);
    const imported = (await cli('acm', 'import-certificate', '--certificate', `fileb://${join(dir.path, 'b.pem')}`, '--private-key', `fileb://${join(dir.path, 'b.key')}`)) as { CertificateArn: string };
    certB = imported.CertificateArn;
    assert.match(certB, /^arn:aws:acm:us-east-1:000000000000:certificate\//);

    webGroup = (
      await elb.send(new CreateTargetGroupCommand({ Name: 'https-web', Protocol: 'HTTP', Port: 8080, TargetType: 'ip', HealthCheckPath: '/index.html', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2 }))
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: webGroup, Targets: [{ Id: '127.0.0.1', Port: c1.port }] }));
    albArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'tls-edge' }))).LoadBalancers![0]!.LoadBalancerArn!;
    httpsPort = await freePort();
    redirectPort = await freePort();
    httpsListener = (
      await elb.send(
        new CreateListenerCommand({ LoadBalancerArn: albArn, Protocol: 'HTTPS', Port: httpsPort, Certificates: [{ CertificateArn: certA }], DefaultActions: [{ Type: 'forward', TargetGroupArn: webGroup }] }),
      )
    ).Listeners![0]!.ListenerArn!;
    const added = await elb.send(new AddListenerCertificatesCommand({ ListenerArn: httpsListener, Certificates: [{ CertificateArn: certB }] }));
    assert.deepEqual(added.Certificates, [{ CertificateArn: certB, IsDefault: false }]);
    redirectListener = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: albArn,
          Protocol: 'HTTP',
          Port: redirectPort,
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: String(httpsPort), StatusCode: 'HTTP_301' } }],
        }),
      )
    ).Listeners![0]!.ListenerArn!;
    const listed = await elb.send(new DescribeListenerCertificatesCommand({ ListenerArn: httpsListener }));
    assert.deepEqual(listed.Certificates, [
      { CertificateArn: certA, IsDefault: true },
      { CertificateArn: certB, IsDefault: false },
    ]);

    const a = await waitFor(
      'HTTPS requests to reach the container',
      async () => {
        const r = await tlsGet(httpsPort, 'a.example.test', certs.ca);
        return r.status === 200 && r.body === 'from-c1' ? r : undefined;
      },
      60_000,
    );
    assert.equal(a.authorized, true, 'the certificate verifies with the test CA');
    assert.equal(a.names, 'DNS:a.example.test');
    // The listener's certificate list reaches the data plane a moment after the listener itself.
    const b = await waitFor(
      'b.example.test to get its own certificate',
      async () => {
        const r = await tlsGet(httpsPort, 'b.example.test', certs.ca, false);
        return r.names === 'DNS:b.example.test' ? tlsGet(httpsPort, 'b.example.test', certs.ca) : undefined;
      },
      30_000,
    );
    assert.deepEqual([b.status, b.body, b.names, b.authorized], [200, 'from-c1', 'DNS:b.example.test', true], `SNI picks the certificate of the list that covers the name (${b.error ?? ''})`);
    const other = await tlsGet(httpsPort, 'other.example.test', certs.ca, false);
    assert.equal(other.names, 'DNS:a.example.test', 'a name no certificate covers gets the default certificate');
    const noSni = await tlsGet(httpsPort, '', certs.ca, false);
    assert.equal(noSni.names, 'DNS:a.example.test', 'a client without SNI gets the default certificate');
    const refused = await tlsGet(httpsPort, 'other.example.test', certs.ca);
    assert.equal(refused.status, 0, 'a client verifying the host name refuses the default certificate for another name');

    const r = await httpGet(redirectPort, '/index.html?x=1', `a.example.test:${redirectPort}`);
    assert.deepEqual(r, { status: 301, location: `https://a.example.test:${httpsPort}/index.html?x=1` });
    const followed = await tlsGet(httpsPort, new URL(r.location!).hostname, certs.ca);
    assert.equal(followed.body, 'from-c1');
  });

  it('stops serving a certificate taken off the list', async () => {
    await elb.send(new RemoveListenerCertificatesCommand({ ListenerArn: httpsListener, Certificates: [{ CertificateArn: certB }] }));
    await waitFor(
      'b.example.test to get the default certificate',
      async () => ((await tlsGet(httpsPort, 'b.example.test', certs.ca, false)).names === 'DNS:a.example.test' ? true : undefined),
      30_000,
    );
    await assert.rejects(
      elb.send(new RemoveListenerCertificatesCommand({ ListenerArn: httpsListener, Certificates: [{ CertificateArn: certA }] })),
      (err: Error) => err.name === 'OperationNotPermittedException',
    );
    await assert.rejects(
      elb.send(new AddListenerCertificatesCommand({ ListenerArn: redirectListener, Certificates: [{ CertificateArn: certB }] })),
      (err: Error) => err.name === 'ValidationError' && err.message === "Certificates are not supported for listeners with the protocol 'HTTP'",
    );
    await assert.rejects(
      elb.send(new AddListenerCertificatesCommand({ ListenerArn: httpsListener, Certificates: [{ CertificateArn: certB.replace(/[0-9a-f]{4}$/, '0000') }] })),
      (err: Error) => err.name === 'CertificateNotFoundException',
    );
  });

  it('publishes AWS/ApplicationELB metrics for the requests, responses and targets', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await tlsGet(httpsPort, 'a.example.test', certs.ca)).status, 200);
    const lb = { LoadBalancer: lbDimension(albArn) };
    assert.match(lb.LoadBalancer, /^app\/tls-edge\/[0-9a-f]{16}$/);
    const tg = { TargetGroup: tgDimension(webGroup) };
    await waitFor('RequestCount to count the requests', async () => (((await statistic('AWS/ApplicationELB', 'RequestCount', lb)) ?? 0) >= 14 ? true : undefined), 30_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await statistic('AWS/ApplicationELB', 'RequestCount', lb)}; ${server.stderr().slice(-2000)}`);
    });
    assert.ok(((await statistic('AWS/ApplicationELB', 'HTTPCode_Target_2XX_Count', lb)) ?? 0) >= 13);
    const elb3xx = await statistic('AWS/ApplicationELB', 'HTTPCode_ELB_3XX_Count', lb);
    assert.ok((elb3xx ?? 0) >= 1, `the redirect is the load balancer’s own response (HTTPCode_ELB_3XX_Count ${elb3xx})`);
    assert.ok(((await statistic('AWS/ApplicationELB', 'RequestCountPerTarget', tg)) ?? 0) >= 13, 'one target takes every request');
    assert.ok(((await statistic('AWS/ApplicationELB', 'RequestCount', { ...lb, ...tg })) ?? 0) >= 13);
    assert.ok(((await statistic('AWS/ApplicationELB', 'ProcessedBytes', lb)) ?? 0) > 0);
    const rt = await statistic('AWS/ApplicationELB', 'TargetResponseTime', lb, 'Maximum');
    assert.ok(rt !== undefined && rt >= 0 && rt < 5, `TargetResponseTime in seconds: ${rt}`);
    assert.equal(await statistic('AWS/ApplicationELB', 'HealthyHostCount', { ...lb, ...tg }, 'Minimum'), 1);
    assert.equal(await statistic('AWS/ApplicationELB', 'UnHealthyHostCount', { ...lb, ...tg }, 'Maximum'), 0);
    assert.equal(await statistic('AWS/ApplicationELB', 'HTTPCode_ELB_5XX_Count', lb), 0);
  });
});

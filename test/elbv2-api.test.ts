import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  ACMClient,
  AddTagsToCertificateCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  GetCertificateCommand,
  ImportCertificateCommand,
  InvalidArnException,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  ResourceInUseException as AcmResourceInUseException,
  ResourceNotFoundException as AcmResourceNotFoundException,
  ValidationException as AcmValidationException,
} from '@aws-sdk/client-acm';
import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeAccountLimitsCommand,
  DescribeListenerAttributesCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  DuplicateListenerException,
  DuplicateLoadBalancerNameException,
  DuplicateTagKeysException,
  ElasticLoadBalancingV2Client,
  IncompatibleProtocolsException,
  InvalidLoadBalancerActionException,
  ListenerNotFoundException,
  LoadBalancerNotFoundException,
  ModifyListenerAttributesCommand,
  ModifyListenerCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  OperationNotPermittedException,
  PriorityInUseException,
  RegisterTargetsCommand,
  RemoveTagsCommand,
  ResourceInUseException,
  RuleNotFoundException,
  SetIpAddressTypeCommand,
  SetRulePrioritiesCommand,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
  TargetGroupAssociationLimitException,
  TargetGroupNotFoundException,
  waitUntilLoadBalancerAvailable,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CA_CERT, EC_CERT, EC_KEY, LEAF_CERT, LEAF_KEY, RSA_CERT, RSA_KEY } from './certificates.js';
import { TEST_CREDENTIALS, spawnServer, tempDir, type ServerProcess, signedPostHeaders } from './helpers.js';

const run = promisify(execFile);
const REGION = 'us-east-1';

async function rejectsWith(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String((err as Error)?.name)}: ${String(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The SDK's error name and message for errors the ELBv2 model does not declare (ValidationError). */
async function rejectsNamed(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as Error).name, name, String(err));
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

const pem = (s: string): Uint8Array => Buffer.from(s);

describe('ELBv2 and ACM APIs (@aws-sdk clients, AWS CLI, raw query protocol)', () => {
  const dir = tempDir();
  let server: ServerProcess;
  let elb: ElasticLoadBalancingV2Client;
  let acm: ACMClient;
  let certArn: string;

  before(async () => {
    server = await spawnServer(dir.path);
    elb = new ElasticLoadBalancingV2Client({ endpoint: server.url, region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    acm = new ACMClient({ endpoint: server.url, region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    elb.destroy();
    acm.destroy();
    await server.kill('SIGTERM');
    dir.remove();
  });

  describe('ACM', () => {
    it('imports a PEM certificate and reports its domain, names, serial, validity and key, never the private key', async () => {
      const out = await acm.send(new ImportCertificateCommand({ Certificate: pem(RSA_CERT), PrivateKey: pem(RSA_KEY), Tags: [{ Key: 'team', Value: 'web' }] }));
      certArn = out.CertificateArn!;
      assert.match(certArn, /^arn:aws:acm:us-east-1:000000000000:certificate\/[0-9a-f-]{36}$/);
      const x509 = new X509Certificate(RSA_CERT);
      const c = (await acm.send(new DescribeCertificateCommand({ CertificateArn: certArn }))).Certificate!;
      assert.equal(c.DomainName, 'www.example.test');
      assert.deepEqual(c.SubjectAlternativeNames, ['www.example.test', 'example.test']);
      assert.equal(c.Serial, x509.serialNumber.toLowerCase().match(/../g)!.join(':'));
      assert.equal(c.Subject, 'CN=www.example.test, O=Berth Test');
      assert.equal(c.KeyAlgorithm, 'RSA_2048');
      assert.equal(c.Type, 'IMPORTED');
      assert.equal(c.Status, 'ISSUED');
      assert.equal(c.NotAfter!.getTime(), Date.parse(x509.validTo));
      assert.equal(c.NotBefore!.getTime(), Date.parse(x509.validFrom));
      assert.deepEqual(c.InUseBy, []);
      const got = await acm.send(new GetCertificateCommand({ CertificateArn: certArn }));
      assert.equal(got.Certificate!.trim(), RSA_CERT.trim());
      assert.doesNotMatch(JSON.stringify({ c, got }), /PRIVATE KEY/);
      assert.deepEqual((await acm.send(new ListTagsForCertificateCommand({ CertificateArn: certArn }))).Tags, [{ Key: 'team', Value: 'web' }]);
      await acm.send(new AddTagsToCertificateCommand({ CertificateArn: certArn, Tags: [{ Key: 'env', Value: 'prod' }] }));
      assert.deepEqual((await acm.send(new ListTagsForCertificateCommand({ CertificateArn: certArn }))).Tags?.map((t) => t.Key), ['team', 'env']);
    });

    it('keeps the chain, lists RSA 2048 certificates by default and EC ones when asked', async () => {
      const leaf = (await acm.send(new ImportCertificateCommand({ Certificate: pem(LEAF_CERT), PrivateKey: pem(LEAF_KEY), CertificateChain: pem(CA_CERT) }))).CertificateArn!;
      const got = await acm.send(new GetCertificateCommand({ CertificateArn: leaf }));
      assert.equal(got.CertificateChain!.trim(), CA_CERT.trim());
      assert.equal((await acm.send(new DescribeCertificateCommand({ CertificateArn: leaf }))).Certificate!.Issuer, 'Berth Test CA');
      const ec = (await acm.send(new ImportCertificateCommand({ Certificate: pem(EC_CERT), PrivateKey: pem(EC_KEY) }))).CertificateArn!;
      const byDefault = (await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList!.map((s) => s.CertificateArn);
      assert.deepEqual(new Set(byDefault), new Set([certArn, leaf]));
      const all = await acm.send(new ListCertificatesCommand({ Includes: { keyTypes: ['RSA_2048', 'EC_prime256v1'] }, MaxItems: 2 }));
      assert.equal(all.CertificateSummaryList!.length, 2);
      const rest = await acm.send(new ListCertificatesCommand({ Includes: { keyTypes: ['RSA_2048', 'EC_prime256v1'] }, MaxItems: 2, NextToken: all.NextToken! }));
      assert.deepEqual(new Set([...all.CertificateSummaryList!, ...rest.CertificateSummaryList!].map((s) => s.CertificateArn)), new Set([certArn, leaf, ec]));
      assert.equal(rest.NextToken, undefined);
      const ecSummary = [...all.CertificateSummaryList!, ...rest.CertificateSummaryList!].find((s) => s.CertificateArn === ec)!;
      assert.equal(ecSummary.KeyAlgorithm, 'EC_prime256v1');
      assert.equal(ecSummary.DomainName, 'ec.example.test');
      await acm.send(new DeleteCertificateCommand({ CertificateArn: ec }));
      await rejectsWith(acm.send(new DescribeCertificateCommand({ CertificateArn: ec })), AcmResourceNotFoundException);
      // Reimport: new material under the same ARN.
      await acm.send(new AddTagsToCertificateCommand({ CertificateArn: leaf, Tags: [{ Key: 'kept', Value: 'yes' }] }));
      assert.equal((await acm.send(new ImportCertificateCommand({ CertificateArn: leaf, Certificate: pem(EC_CERT), PrivateKey: pem(EC_KEY) }))).CertificateArn, leaf);
      const reimported = (await acm.send(new DescribeCertificateCommand({ CertificateArn: leaf }))).Certificate!;
      assert.deepEqual([reimported.DomainName, reimported.KeyAlgorithm], ['ec.example.test', 'EC_prime256v1']);
      assert.equal((await acm.send(new GetCertificateCommand({ CertificateArn: leaf }))).CertificateChain, undefined);
      assert.deepEqual((await acm.send(new ListTagsForCertificateCommand({ CertificateArn: leaf }))).Tags, [{ Key: 'kept', Value: 'yes' }]);
    });

    it("refuses a key that does not match, two certificates in one, an invalid ARN and a missing certificate with ACM's errors", async () => {
      await rejectsWith(acm.send(new ImportCertificateCommand({ Certificate: pem(RSA_CERT), PrivateKey: pem(LEAF_KEY) })), AcmValidationException, /private key does not match/);
      await rejectsWith(acm.send(new ImportCertificateCommand({ Certificate: pem(RSA_CERT + LEAF_CERT), PrivateKey: pem(RSA_KEY) })), AcmValidationException, /more than one certificate/);
      await rejectsWith(acm.send(new ImportCertificateCommand({ Certificate: pem('not a certificate'), PrivateKey: pem(RSA_KEY) })), AcmValidationException);
      await rejectsWith(acm.send(new DescribeCertificateCommand({ CertificateArn: 'nope' })), InvalidArnException);
      await rejectsWith(acm.send(new GetCertificateCommand({ CertificateArn: 'arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000' })), AcmResourceNotFoundException);
    });
  });

  describe('load balancers', () => {
    let lbArn: string;

    it('creates an application load balancer that becomes active, with a DNS name under elb.localhost', async () => {
      const out = await elb.send(new CreateLoadBalancerCommand({ Name: 'web', Subnets: ['subnet-a', 'subnet-b'], Tags: [{ Key: 'team', Value: 'web' }] }));
      const lb = out.LoadBalancers![0]!;
      lbArn = lb.LoadBalancerArn!;
      assert.match(lbArn, /^arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer\/app\/web\/[0-9a-f]{16}$/);
      assert.match(lb.DNSName!, /^web-[0-9a-f]{16}\.us-east-1\.elb\.localhost$/);
      assert.equal(lb.State?.Code, 'provisioning');
      assert.equal(lb.Type, 'application');
      assert.equal(lb.Scheme, 'internet-facing');
      assert.deepEqual(lb.AvailabilityZones?.map((z) => [z.ZoneName, z.SubnetId]), [['us-east-1a', 'subnet-a'], ['us-east-1b', 'subnet-b']]);
      assert.ok(lb.CreatedTime instanceof Date && Math.abs(lb.CreatedTime.getTime() - Date.now()) < 60_000);
      await waitUntilLoadBalancerAvailable({ client: elb, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { LoadBalancerArns: [lbArn] });
      const again = await elb.send(new CreateLoadBalancerCommand({ Name: 'web' }));
      assert.equal(again.LoadBalancers![0]!.LoadBalancerArn, lbArn, 'the same name and settings return the same load balancer');
      await rejectsWith(elb.send(new CreateLoadBalancerCommand({ Name: 'web', Type: 'network' })), DuplicateLoadBalancerNameException, /A load balancer with the same name 'web' exists, but with different settings/);
      await rejectsNamed(elb.send(new CreateLoadBalancerCommand({ Name: '-bad-' })), 'ValidationError', /cannot begin or end with '-'/);
    });

    it('describes load balancers by name and ARN, page by page, and says which are missing', async () => {
      await elb.send(new CreateLoadBalancerCommand({ Name: 'net', Type: 'network', Scheme: 'internal' }));
      await elb.send(new CreateLoadBalancerCommand({ Name: 'api' }));
      const names: string[] = [];
      let marker: string | undefined;
      for (let i = 0; i < 5; i++) {
        const page = await elb.send(new DescribeLoadBalancersCommand({ PageSize: 2, ...(marker ? { Marker: marker } : {}) }));
        names.push(...page.LoadBalancers!.map((l) => l.LoadBalancerName!));
        marker = page.NextMarker;
        if (!marker) break;
      }
      assert.deepEqual(names.sort(), ['api', 'net', 'web']);
      const net = (await elb.send(new DescribeLoadBalancersCommand({ Names: ['net'] }))).LoadBalancers![0]!;
      assert.equal(net.Type, 'network');
      assert.match(net.DNSName!, /^internal-net-[0-9a-f]{16}\.us-east-1\.elb\.localhost$/);
      assert.equal((await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] }))).LoadBalancers![0]!.LoadBalancerName, 'web');
      await rejectsWith(elb.send(new DescribeLoadBalancersCommand({ Names: ['web', 'nope'] })), LoadBalancerNotFoundException, /Load balancers '\[nope\]' not found/);
      await rejectsNamed(elb.send(new DescribeLoadBalancersCommand({ Marker: 'garbage' })), 'ValidationError', /Invalid Marker/);
    });

    it("lists ELBv2's attribute defaults, changes them, refuses unknown keys, and honours deletion protection", async () => {
      const attrs = async (): Promise<Record<string, string>> =>
        Object.fromEntries((await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn }))).Attributes!.map((a) => [a.Key!, a.Value!]));
      const defaults = await attrs();
      assert.equal(defaults['idle_timeout.timeout_seconds'], '60');
      assert.equal(defaults['deletion_protection.enabled'], 'false');
      assert.equal(defaults['routing.http2.enabled'], 'true');
      await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '120' }, { Key: 'deletion_protection.enabled', Value: 'true' }] }));
      assert.equal((await attrs())['idle_timeout.timeout_seconds'], '120');
      await rejectsNamed(elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'bogus.key', Value: '1' }] })), 'ValidationError', /Load balancer attribute key 'bogus.key' is not recognized/);
      await rejectsWith(elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lbArn })), OperationNotPermittedException, /deletion protection is enabled/);
      await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'deletion_protection.enabled', Value: 'false' }] }));
    });
  });

  describe('target groups, listeners, rules and target health', () => {
    let lbArn: string;
    let tgArn: string;
    let tg2Arn: string;
    let listenerArn: string;
    let ruleArn: string;

    before(async () => {
      lbArn = (await elb.send(new DescribeLoadBalancersCommand({ Names: ['web'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    });

    it("creates target groups with ELBv2's health check defaults per protocol", async () => {
      const http = (await elb.send(new CreateTargetGroupCommand({ Name: 'web-tg', Protocol: 'HTTP', Port: 8080, TargetType: 'ip' }))).TargetGroups![0]!;
      tgArn = http.TargetGroupArn!;
      assert.match(tgArn, /^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup\/web-tg\/[0-9a-f]{16}$/);
      assert.deepEqual(
        [http.HealthCheckProtocol, http.HealthCheckPort, http.HealthCheckPath, http.HealthCheckIntervalSeconds, http.HealthCheckTimeoutSeconds, http.HealthyThresholdCount, http.UnhealthyThresholdCount, http.Matcher?.HttpCode, http.ProtocolVersion],
        ['HTTP', 'traffic-port', '/', 30, 5, 5, 2, '200', 'HTTP1'],
      );
      const tcp = (await elb.send(new CreateTargetGroupCommand({ Name: 'tcp-tg', Protocol: 'TCP', Port: 5432 }))).TargetGroups![0]!;
      assert.deepEqual([tcp.HealthCheckProtocol, tcp.HealthCheckPath, tcp.HealthCheckTimeoutSeconds, tcp.Matcher, tcp.TargetType], ['TCP', undefined, 10, undefined, 'instance']);
      tg2Arn = (await elb.send(new CreateTargetGroupCommand({ Name: 'web-canary', Protocol: 'HTTP', Port: 8080, TargetType: 'ip', Matcher: { HttpCode: '200-299' } }))).TargetGroups![0]!.TargetGroupArn!;
      const modified = (await elb.send(new ModifyTargetGroupCommand({ TargetGroupArn: tgArn, HealthCheckPath: '/healthz', HealthCheckIntervalSeconds: 10 }))).TargetGroups![0]!;
      assert.deepEqual([modified.HealthCheckPath, modified.HealthCheckIntervalSeconds], ['/healthz', 10]);
      await rejectsNamed(elb.send(new ModifyTargetGroupCommand({ TargetGroupArn: tgArn, HealthCheckTimeoutSeconds: 20 })), 'ValidationError', /interval must be greater than the timeout/);
      await rejectsWith(elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [tgArn.replace(/[0-9a-f]{16}$/, '0000000000000000')] })), TargetGroupNotFoundException, /One or more target groups not found/);
    });

    it('keeps target group attributes with their defaults and checks new values', async () => {
      const attrs = async (): Promise<Record<string, string>> =>
        Object.fromEntries((await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tgArn }))).Attributes!.map((a) => [a.Key!, a.Value!]));
      const d = await attrs();
      assert.deepEqual(
        [d['deregistration_delay.timeout_seconds'], d['stickiness.enabled'], d['stickiness.type'], d['slow_start.duration_seconds'], d['load_balancing.algorithm.type']],
        ['300', 'false', 'lb_cookie', '0', 'round_robin'],
      );
      await elb.send(
        new ModifyTargetGroupAttributesCommand({
          TargetGroupArn: tgArn,
          Attributes: [
            { Key: 'deregistration_delay.timeout_seconds', Value: '5' },
            { Key: 'stickiness.enabled', Value: 'true' },
            { Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' },
          ],
        }),
      );
      const after = await attrs();
      assert.deepEqual([after['deregistration_delay.timeout_seconds'], after['stickiness.enabled'], after['load_balancing.algorithm.type']], ['5', 'true', 'least_outstanding_requests']);
      await rejectsNamed(elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tgArn, Attributes: [{ Key: 'load_balancing.algorithm.type', Value: 'random' }] })), 'ValidationError', /must be one of/);
    });

    it('reports targets of an unused target group as unused, then initial once a listener forwards to it', async () => {
      await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tgArn, Targets: [{ Id: '127.0.0.1', Port: 9001 }, { Id: '127.0.0.1', Port: 9002 }] }));
      const before = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions!;
      assert.deepEqual(before.map((d) => [d.Target?.Port, d.HealthCheckPort, d.TargetHealth?.State, d.TargetHealth?.Reason]), [
        [9001, '9001', 'unused', 'Target.NotInUse'],
        [9002, '9002', 'unused', 'Target.NotInUse'],
      ]);
      const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }] }))).Listeners![0]!;
      listenerArn = listener.ListenerArn!;
      assert.match(listenerArn, /^arn:aws:elasticloadbalancing:us-east-1:000000000000:listener\/app\/web\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
      assert.deepEqual(listener.DefaultActions, [
        { Type: 'forward', TargetGroupArn: tgArn, Order: 1, ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgArn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } } },
      ]);
      const health = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions!;
      assert.deepEqual(health.map((d) => [d.TargetHealth?.State, d.TargetHealth?.Reason, d.TargetHealth?.Description]), [
        ['initial', 'Elb.RegistrationInProgress', 'Target registration is in progress'],
        ['initial', 'Elb.RegistrationInProgress', 'Target registration is in progress'],
      ]);
      const described = (await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: lbArn }))).TargetGroups!;
      assert.deepEqual(described.map((t) => [t.TargetGroupName, t.LoadBalancerArns]), [['web-tg', [lbArn]]]);
      await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tgArn, Targets: [{ Id: '127.0.0.1', Port: 9002 }] }));
      const draining = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn, Targets: [{ Id: '127.0.0.1', Port: 9002 }] }))).TargetHealthDescriptions!;
      assert.deepEqual([draining[0]!.TargetHealth?.State, draining[0]!.TargetHealth?.Reason], ['draining', 'Target.DeregistrationInProgress']);
    });

    it('refuses a second listener on a port, a protocol the load balancer does not speak, and an HTTPS listener without a certificate', async () => {
      const forward = [{ Type: 'forward' as const, TargetGroupArn: tgArn }];
      await rejectsWith(elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: 80, DefaultActions: forward })), DuplicateListenerException, /A listener already exists on this port for this load balancer/);
      await rejectsNamed(elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'TCP', Port: 81, DefaultActions: forward })), 'ValidationError', /Listener protocol 'TCP' must be one of 'HTTPS, HTTP'/);
      await rejectsNamed(elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTPS', Port: 443, DefaultActions: forward })), 'ValidationError', /certificate must be specified/);
      const tcpTg = (await elb.send(new DescribeTargetGroupsCommand({ Names: ['tcp-tg'] }))).TargetGroups![0]!.TargetGroupArn!;
      await rejectsWith(elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: 81, DefaultActions: [{ Type: 'forward', TargetGroupArn: tcpTg }] })), IncompatibleProtocolsException);
      await rejectsWith(elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn.replace(/[0-9a-f]{16}$/, '0000000000000000'), Protocol: 'HTTP', Port: 81, DefaultActions: forward })), LoadBalancerNotFoundException);
    });

    it('gives network load balancers TCP listeners that only forward, to target groups no other load balancer uses', async () => {
      const net = (await elb.send(new DescribeLoadBalancersCommand({ Names: ['net'] }))).LoadBalancers![0]!.LoadBalancerArn!;
      const tcpTg = (await elb.send(new DescribeTargetGroupsCommand({ Names: ['tcp-tg'] }))).TargetGroups![0]!.TargetGroupArn!;
      const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: net, Protocol: 'TCP', Port: 5432, DefaultActions: [{ Type: 'forward', TargetGroupArn: tcpTg }] }))).Listeners![0]!;
      assert.match(listener.ListenerArn!, /:listener\/net\/net\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
      assert.equal(listener.Protocol, 'TCP');
      await rejectsWith(
        elb.send(new CreateListenerCommand({ LoadBalancerArn: net, Protocol: 'TCP', Port: 80, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200' } }] })),
        InvalidLoadBalancerActionException,
      );
      const other = (await elb.send(new CreateLoadBalancerCommand({ Name: 'net2', Type: 'network' }))).LoadBalancers![0]!.LoadBalancerArn!;
      await rejectsWith(
        elb.send(new CreateListenerCommand({ LoadBalancerArn: other, Protocol: 'TCP', Port: 5432, DefaultActions: [{ Type: 'forward', TargetGroupArn: tcpTg }] })),
        TargetGroupAssociationLimitException,
      );
      await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: other }));
      assert.deepEqual((await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [tcpTg] }))).TargetGroups![0]!.LoadBalancerArns, [net]);
    });

    it('serves HTTPS with an imported certificate, which ACM then reports in use and refuses to delete', async () => {
      const https = (
        await elb.send(
          new CreateListenerCommand({
            LoadBalancerArn: lbArn,
            Protocol: 'HTTPS',
            Port: 443,
            Certificates: [{ CertificateArn: certArn }],
            DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'maintenance' } }],
          }),
        )
      ).Listeners![0]!;
      assert.equal(https.SslPolicy, 'ELBSecurityPolicy-TLS13-1-2-2021-06');
      assert.deepEqual(https.Certificates, [{ CertificateArn: certArn }]);
      assert.deepEqual((await acm.send(new DescribeCertificateCommand({ CertificateArn: certArn }))).Certificate!.InUseBy, [lbArn]);
      await rejectsWith(acm.send(new DeleteCertificateCommand({ CertificateArn: certArn })), AcmResourceInUseException);
      const redirected = (
        await elb.send(new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] }))
      ).Listeners![0]!;
      assert.deepEqual(redirected.DefaultActions![0]!.RedirectConfig, { Protocol: 'HTTPS', Port: '443', Host: '#{host}', Path: '/#{path}', Query: '#{query}', StatusCode: 'HTTP_301' });
      await elb.send(new DeleteListenerCommand({ ListenerArn: https.ListenerArn! }));
      assert.deepEqual((await acm.send(new DescribeCertificateCommand({ CertificateArn: certArn }))).Certificate!.InUseBy, []);
      await rejectsWith(elb.send(new DescribeListenersCommand({ ListenerArns: [https.ListenerArn!] })), ListenerNotFoundException, /One or more listeners not found/);
    });

    it('changes security groups, subnets, IP address type and listener attributes', async () => {
      assert.deepEqual((await elb.send(new SetSecurityGroupsCommand({ LoadBalancerArn: lbArn, SecurityGroups: ['sg-1', 'sg-2'] }))).SecurityGroupIds, ['sg-1', 'sg-2']);
      const subnets = await elb.send(new SetSubnetsCommand({ LoadBalancerArn: lbArn, Subnets: ['subnet-x', 'subnet-y', 'subnet-z'] }));
      assert.deepEqual(subnets.AvailabilityZones?.map((z) => z.ZoneName), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
      assert.equal((await elb.send(new SetIpAddressTypeCommand({ LoadBalancerArn: lbArn, IpAddressType: 'dualstack' }))).IpAddressType, 'dualstack');
      const lb = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] }))).LoadBalancers![0]!;
      assert.deepEqual([lb.SecurityGroups, lb.AvailabilityZones?.length, lb.IpAddressType], [['sg-1', 'sg-2'], 3, 'dualstack']);
      const attrs = async (): Promise<Record<string, string>> =>
        Object.fromEntries((await elb.send(new DescribeListenerAttributesCommand({ ListenerArn: listenerArn }))).Attributes!.map((a) => [a.Key!, a.Value!]));
      assert.deepEqual(await attrs(), { 'routing.http.response.server.enabled': 'true' });
      await elb.send(new ModifyListenerAttributesCommand({ ListenerArn: listenerArn, Attributes: [{ Key: 'routing.http.response.server.enabled', Value: 'false' }] }));
      assert.deepEqual(await attrs(), { 'routing.http.response.server.enabled': 'false' });
      await rejectsNamed(elb.send(new ModifyListenerAttributesCommand({ ListenerArn: listenerArn, Attributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '100' }] })), 'ValidationError', /not recognized/);
      assert.deepEqual((await elb.send(new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn }))).Certificates, []);
    });

    it('adds rules with conditions and weighted forwards, keeps priorities unique, and lists the default rule last', async () => {
      const rule = (
        await elb.send(
          new CreateRuleCommand({
            ListenerArn: listenerArn,
            Priority: 10,
            Conditions: [
              { Field: 'path-pattern', Values: ['/api/*'] },
              { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['GET', 'POST'] } },
            ],
            Actions: [
              {
                Type: 'forward',
                ForwardConfig: {
                  TargetGroups: [
                    { TargetGroupArn: tgArn, Weight: 90 },
                    { TargetGroupArn: tg2Arn, Weight: 10 },
                  ],
                  TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 },
                },
              },
            ],
          }),
        )
      ).Rules![0]!;
      ruleArn = rule.RuleArn!;
      assert.equal(rule.Priority, '10');
      assert.equal(rule.IsDefault, false);
      assert.deepEqual(rule.Conditions![0], { Field: 'path-pattern', Values: ['/api/*'], PathPatternConfig: { Values: ['/api/*'] } });
      assert.deepEqual(rule.Actions![0]!.ForwardConfig?.TargetGroupStickinessConfig, { Enabled: true, DurationSeconds: 300 });
      await rejectsWith(
        elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 10, Conditions: [{ Field: 'host-header', Values: ['a.example.test'] }], Actions: [{ Type: 'forward', TargetGroupArn: tgArn }] })),
        PriorityInUseException,
        /Priority '10' is currently in use/,
      );
      const second = (
        await elb.send(
          new CreateRuleCommand({
            ListenerArn: listenerArn,
            Priority: 20,
            Conditions: [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8'] } }, { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'v', Value: '2' }] } }],
            Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403' } }],
          }),
        )
      ).Rules![0]!;
      await rejectsNamed(
        elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 30, Conditions: [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/99'] } }], Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403' } }] })),
        'ValidationError',
        /not a valid CIDR block/,
      );
      const rules = (await elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules!;
      assert.deepEqual(rules.map((r) => [r.Priority, r.IsDefault]), [['10', false], ['20', false], ['default', true]]);
      const defaultRule = rules[2]!;
      assert.deepEqual(defaultRule.Conditions, []);
      await rejectsWith(elb.send(new DeleteRuleCommand({ RuleArn: defaultRule.RuleArn! })), OperationNotPermittedException);
      assert.equal((await elb.send(new DescribeRulesCommand({ RuleArns: [defaultRule.RuleArn!] }))).Rules![0]!.IsDefault, true);

      const swapped = (await elb.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: 20 }, { RuleArn: second.RuleArn!, Priority: 5 }] }))).Rules!;
      assert.deepEqual(swapped.map((r) => [r.RuleArn, r.Priority]), [[second.RuleArn, '5'], [ruleArn, '20']]);
      await rejectsWith(elb.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ruleArn, Priority: 5 }] })), PriorityInUseException);
      const modified = (await elb.send(new ModifyRuleCommand({ RuleArn: ruleArn, Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['api.example.test'] } }] }))).Rules![0]!;
      assert.deepEqual(modified.Conditions, [{ Field: 'host-header', Values: ['api.example.test'], HostHeaderConfig: { Values: ['api.example.test'] } }]);
      await elb.send(new DeleteRuleCommand({ RuleArn: second.RuleArn! }));
      await rejectsWith(elb.send(new DeleteRuleCommand({ RuleArn: second.RuleArn! })), RuleNotFoundException, /One or more rules not found/);
    });

    it('refuses to delete a target group a listener or rule uses', async () => {
      await rejectsWith(elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: tg2Arn })), ResourceInUseException, /is currently in use by a listener or a rule/);
      const both = (await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [tgArn, tg2Arn] }))).TargetGroups!;
      assert.deepEqual(both.map((t) => t.LoadBalancerArns), [[lbArn], [lbArn]]);
    });

    it('tags load balancers, target groups, listeners and rules', async () => {
      await elb.send(new AddTagsCommand({ ResourceArns: [lbArn, tgArn, listenerArn, ruleArn], Tags: [{ Key: 'env', Value: 'prod' }] }));
      const described = (await elb.send(new DescribeTagsCommand({ ResourceArns: [lbArn, tgArn, listenerArn, ruleArn] }))).TagDescriptions!;
      assert.deepEqual(described.map((d) => d.Tags?.map((t) => `${t.Key}=${t.Value}`)), [['team=web', 'env=prod'], ['env=prod'], ['env=prod'], ['env=prod']]);
      await elb.send(new RemoveTagsCommand({ ResourceArns: [lbArn], TagKeys: ['team'] }));
      assert.deepEqual((await elb.send(new DescribeTagsCommand({ ResourceArns: [lbArn] }))).TagDescriptions![0]!.Tags, [{ Key: 'env', Value: 'prod' }]);
      await rejectsWith(elb.send(new AddTagsCommand({ ResourceArns: [lbArn], Tags: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] })), DuplicateTagKeysException);
    });

    it('reports account limits', async () => {
      const limits = Object.fromEntries((await elb.send(new DescribeAccountLimitsCommand({}))).Limits!.map((l) => [l.Name!, l.Max!]));
      assert.equal(limits['target-groups'], '3000');
      assert.equal(limits['listeners-per-application-load-balancer'], '50');
    });

    it('deletes a load balancer with its listeners and rules, freeing its target groups', async () => {
      await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lbArn }));
      await rejectsWith(elb.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn })), LoadBalancerNotFoundException);
      await rejectsWith(elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })), RuleNotFoundException);
      await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lbArn }));
      await elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: tg2Arn }));
      const health = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }))).TargetHealthDescriptions!;
      assert.equal(health[0]!.TargetHealth?.State, 'unused');
      await acm.send(new DeleteCertificateCommand({ CertificateArn: certArn }));
    });
  });

  describe('the query wire', () => {
    const aws = async (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => {
      try {
        const { stdout, stderr } = await run('aws', ['elbv2', ...args, '--endpoint-url', server.url, '--region', REGION, '--output', 'json'], {
          env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_PAGER: '' },
        });
        return { stdout, stderr, code: 0 };
      } catch (err) {
        const e = err as { stdout: string; stderr: string; code: number };
        return { stdout: e.stdout, stderr: e.stderr, code: e.code };
      }
    };

    it('works with the AWS CLI as a second client', async () => {
      const created = await aws('create-target-group', '--name', 'cli-tg', '--protocol', 'HTTP', '--port', '80', '--health-check-path', '/ping');
      assert.equal(created.code, 0, created.stderr);
      const tg = (JSON.parse(created.stdout) as { TargetGroups: { TargetGroupArn: string; HealthCheckPath: string }[] }).TargetGroups[0]!;
      assert.equal(tg.HealthCheckPath, '/ping');
      assert.equal((await aws('register-targets', '--target-group-arn', tg.TargetGroupArn, '--targets', 'Id=i-0123456789abcdef0', 'Id=i-0fedcba9876543210,Port=8080')).code, 0);
      const health = JSON.parse((await aws('describe-target-health', '--target-group-arn', tg.TargetGroupArn)).stdout) as { TargetHealthDescriptions: { Target: { Id: string; Port: number } }[] };
      assert.deepEqual(health.TargetHealthDescriptions.map((d) => `${d.Target.Id}:${d.Target.Port}`), ['i-0123456789abcdef0:80', 'i-0fedcba9876543210:8080']);
      const missing = await aws('describe-load-balancers', '--names', 'does-not-exist');
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /An error occurred \(LoadBalancerNotFound\) when calling the DescribeLoadBalancers operation: Load balancers '\[does-not-exist\]' not found/);
    });

    const post = async (body: string): Promise<{ status: number; type: string; text: string }> => {
      const headers = await signedPostHeaders(server.url, 'elasticloadbalancing', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body, REGION);
      const res = await fetch(`${server.url}/`, { method: 'POST', headers, body });
      return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
    };

    it('answers raw query requests in XML: results, unknown and missing actions, bad input', async () => {
      const ok = await post('Action=DescribeTargetGroups&Version=2015-12-01&Names.member.1=cli-tg');
      assert.equal(ok.status, 200);
      assert.equal(ok.type, 'text/xml');
      assert.match(ok.text, /^<DescribeTargetGroupsResponse xmlns="http:\/\/elasticloadbalancing\.amazonaws\.com\/doc\/2015-12-01\/"><DescribeTargetGroupsResult><TargetGroups><member><TargetGroupArn>arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup\/cli-tg\/[0-9a-f]{16}<\/TargetGroupArn><TargetGroupName>cli-tg<\/TargetGroupName>/);
      assert.match(ok.text, /<LoadBalancerArns><\/LoadBalancerArns>/);
      assert.match(ok.text, /<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DescribeTargetGroupsResponse>$/);

      const unknown = await post('Action=Frobnicate&Version=2015-12-01');
      assert.equal(unknown.status, 400);
      assert.match(unknown.text, /^<ErrorResponse xmlns="http:\/\/elasticloadbalancing\.amazonaws\.com\/doc\/2015-12-01\/"><Error><Type>Sender<\/Type><Code>InvalidAction<\/Code><Message>Could not find operation Frobnicate for version 2015-12-01<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/);
      const missing = await post('Version=2015-12-01');
      assert.match(missing.text, /<Code>MissingAction<\/Code>/);
      const invalid = await post('Action=CreateLoadBalancer&Version=2015-12-01');
      assert.equal(invalid.status, 400);
      assert.match(invalid.text, /<Code>ValidationError<\/Code><Message>1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null<\/Message>/);
    });

    it('answers an unsigned query request with an XML error', async () => {
      const res = await fetch(`${server.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeLoadBalancers&Version=2015-12-01' });
      assert.equal(res.status, 403);
      assert.match(await res.text(), /^<ErrorResponse><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>Missing Authentication Token<\/Message>/);
      const badSecret = new ElasticLoadBalancingV2Client({ endpoint: server.url, region: REGION, credentials: { ...TEST_CREDENTIALS, secretAccessKey: 'wrong' }, maxAttempts: 1 });
      await rejectsNamed(badSecret.send(new DescribeLoadBalancersCommand({})), 'SignatureDoesNotMatch', /signature we calculated does not match/);
      badSecret.destroy();
    });
  });
});

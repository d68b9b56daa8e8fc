import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ListClustersCommand } from '@aws-sdk/client-ecs';
import { ecsClient, startTestServer, TEST_CREDENTIALS, signedPostHeaders } from './helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Sends a raw ECS request, signed (or not) exactly as the test needs. */
async function rawCall(
  server: Server,
  opts: {
    target?: string;
    body?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string } | null;
    signingDate?: Date;
    region?: string;
    tamper?: (headers: Record<string, string>) => void;
  },
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const url = new URL(server.url);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': opts.target ?? 'AmazonEC2ContainerServiceV20141113.ListClusters',
  };
  const body = opts.body ?? '{}';
  let signedHeaders = headers;
  if (opts.credentials !== null) {
    const signer = new SignatureV4({
      credentials: opts.credentials ?? TEST_CREDENTIALS,
      region: opts.region ?? 'us-east-1',
      service: 'ecs',
      sha256: Hash.bind(null, 'sha256'),
    });
    const req = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body });
    const signed = await signer.sign(req, { signingDate: opts.signingDate ?? new Date() });
    signedHeaders = signed.headers as Record<string, string>;
  }
  const sendHeaders = { ...signedHeaders };
  delete sendHeaders.host;
  opts.tamper?.(sendHeaders);
  const res = await fetch(server.url + '/', { method: 'POST', headers: sendHeaders, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

describe('API protocol and authentication', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('accepts a correctly signed request and answers with AWS JSON 1.1', async () => {
    const r = await rawCall(server, {});
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { clusterArns: [] });
    assert.equal(r.headers.get('content-type'), 'application/x-amz-json-1.1');
    assert.match(r.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('refuses an unsigned request with MissingAuthenticationTokenException', async () => {
    const r = await rawCall(server, { credentials: null });
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'MissingAuthenticationTokenException');
  });

  it('refuses an unknown access key with UnrecognizedClientException', async () => {
    const r = await rawCall(server, { credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'UnrecognizedClientException');
  });

  it('refuses a wrong secret with InvalidSignatureException', async () => {
    const r = await rawCall(server, { credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'InvalidSignatureException');
    assert.match(String(r.body.message), /signature we calculated does not match/);
  });

  it('refuses a body changed after signing', async () => {
    const headers = await signedPostHeaders(server.url, 'ecs', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.CreateCluster' }, '{"clusterName":"a"}');
    delete headers.host;
    const res = await fetch(server.url, { method: 'POST', headers, body: '{"clusterName":"b"}' });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { __type: string }).__type, 'InvalidSignatureException');
  });

  it('refuses a request dated more than 15 minutes ago, saying the signature expired', async () => {
    const r = await rawCall(server, { signingDate: new Date(Date.now() - 20 * 60 * 1000) });
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'InvalidSignatureException');
    assert.match(String(r.body.message), /Signature expired/);
  });

  it('refuses a request dated in the future beyond the skew', async () => {
    const r = await rawCall(server, { signingDate: new Date(Date.now() + 20 * 60 * 1000) });
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'InvalidSignatureException');
  });

  it('accepts a request within the allowed skew', async () => {
    const r = await rawCall(server, { signingDate: new Date(Date.now() - 10 * 60 * 1000) });
    assert.equal(r.status, 200);
  });

  it('refuses credentials scoped to another region, naming the region', async () => {
    const r = await rawCall(server, { region: 'eu-west-1' });
    assert.equal(r.status, 403);
    assert.match(String(r.body.message), /eu-west-1/);
  });

  it('answers malformed JSON with SerializationException', async () => {
    const r = await rawCall(server, { target: 'AmazonEC2ContainerServiceV20141113.CreateCluster', body: '{"clusterName": ' });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'SerializationException');
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const r = await rawCall(server, { target: 'AmazonEC2ContainerServiceV20141113.LaunchRockets' });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'UnknownOperationException');
  });

  it('answers a request for no known service with UnknownOperationException', async () => {
    const r = await rawCall(server, { target: 'SomethingElse_20200101.Do' });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'UnknownOperationException');
  });

  it('names the member when a request has the wrong type', async () => {
    const r = await rawCall(server, { target: 'AmazonEC2ContainerServiceV20141113.CreateCluster', body: '{"clusterName": 42}' });
    assert.equal(r.status, 400);
    assert.match(String(r.body.message), /clusterName/);
  });

  it('survives hostile bodies: deep nesting, huge arrays, prototype keys, binary', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const bodies = [
      deep,
      JSON.stringify({ clusters: Array.from({ length: 50_000 }, (_, i) => `c${i}`) }),
      '{"__proto__": {"polluted": true}, "clusterName": "x"}',
      '\u0000\u0001\u0002',
      'null',
      '"string"',
    ];
    for (const body of bodies) {
      const r = await rawCall(server, { target: 'AmazonEC2ContainerServiceV20141113.DescribeClusters', body });
      assert.ok(r.status === 400 || r.status === 200, `status ${r.status} for a hostile body`);
      assert.notEqual(r.body.__type, 'ServerException');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const ok = await rawCall(server, {});
    assert.equal(ok.status, 200, 'the server still serves after hostile input');
  });

  it('refuses a body over 10 MiB without falling over', async () => {
    const r = await rawCall(server, { body: JSON.stringify({ pad: 'x'.repeat(11 * 1024 * 1024) }) });
    assert.ok(r.status === 413 || r.status === 400 || r.status === 403);
    assert.equal((await rawCall(server, {})).status, 200);
  });

  it('serves /healthz and Prometheus /metrics with per-operation counts', async () => {
    const h = await fetch(server.url + '/healthz');
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { status: string }).status, 'ok');
    await server.ecs.send(new ListClustersCommand({}));
    const m = await (await fetch(server.url + '/metrics')).text();
    assert.match(m, /berth_api_requests_total\{service="ecs",operation="ListClusters",outcome="ok"\} \d+/);
    assert.match(m, /berth_api_request_duration_seconds_bucket/);
  });

  it('works with the AWS SDK out of the box', async () => {
    const client = ecsClient(server.url);
    const out = await client.send(new ListClustersCommand({}));
    assert.deepEqual(out.clusterArns, []);
    client.destroy();
  });
});

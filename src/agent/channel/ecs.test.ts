/**
 * The agent's ECS client against a small HTTP server in the test that
 * checks the SigV4 signature like the real server does, and answers as the
 * AWS JSON 1.1 protocol does.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SigV4Verifier } from '../../api/auth/sigv4.js';
import { EcsApiError, EcsClient } from './ecs.js';
import { isPermanentRejection } from './reporter.js';
import { signRequest } from './sign.js';

const CREDS = { accessKeyId: 'AKIAECSCLIENTTEST001', secretAccessKey: 'ecs-client-test-secret' };
const verifier = new SigV4Verifier({ secretFor: (id) => (id === CREDS.accessKeyId ? CREDS.secretAccessKey : undefined) }, 'us-east-1');

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let handler: Handler = (_req, _body, res) => res.end('{}');
const seen: { target: string | undefined; body: unknown }[] = [];

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    verifier.verify({ method: req.method ?? '', path: url.pathname, query: url.search.slice(1), headers: req.headers, body }).then(
      () => {
        seen.push({ target: req.headers['x-amz-target'] as string | undefined, body: JSON.parse(body.toString('utf8')) });
        handler(req, body, res);
      },
      (err: unknown) => {
        res.writeHead(403, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidSignatureException', message: String(err) }));
      },
    );
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => server.close(() => r())));

describe('ECS client', () => {
  it('signs each call so the server accepts it, and returns the answer', async () => {
    const ecs = new EcsClient({ endpoint, region: 'us-east-1', credentials: CREDS });
    handler = (_req, _body, res) => res.end(JSON.stringify({ containerInstance: { containerInstanceArn: 'arn:ci' } }));
    const out = await ecs.call('RegisterContainerInstance', { cluster: 'default', attributes: [{ name: 'ecs.os-type', value: 'linux' }] });
    assert.deepEqual(out, { containerInstance: { containerInstanceArn: 'arn:ci' } });
    // Keep-alive: a second call on the same client works too.
    await ecs.call('SubmitTaskStateChange', { task: 'arn:t', status: 'RUNNING', pullStartedAt: 1.5 });
    assert.deepEqual(seen.slice(-2), [
      { target: 'AmazonEC2ContainerServiceV20141113.RegisterContainerInstance', body: { cluster: 'default', attributes: [{ name: 'ecs.os-type', value: 'linux' }] } },
      { target: 'AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange', body: { task: 'arn:t', status: 'RUNNING', pullStartedAt: 1.5 } },
    ]);
    ecs.close();
  });

  it('turns error answers into EcsApiError named after the ECS exception', async () => {
    const ecs = new EcsClient({ endpoint, region: 'us-east-1', credentials: CREDS });
    handler = (_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.ecs#InvalidParameterException', message: 'no such task' }));
    };
    await assert.rejects(ecs.call('SubmitTaskStateChange', {}), (err: unknown) => {
      assert.ok(err instanceof EcsApiError);
      assert.equal(err.name, 'InvalidParameterException');
      assert.equal(err.message, 'no such task');
      assert.equal(err.statusCode, 400);
      assert.equal(isPermanentRejection(err), true);
      return true;
    });
    const wrongKey = new EcsClient({ endpoint, region: 'us-east-1', credentials: { ...CREDS, secretAccessKey: 'wrong' } });
    await assert.rejects(wrongKey.call('SubmitTaskStateChange', {}), (err: unknown) => {
      assert.ok(err instanceof EcsApiError && err.name === 'InvalidSignatureException' && err.statusCode === 403);
      assert.equal(isPermanentRejection(err), false, 'credentials can be fixed; the report is kept');
      return true;
    });
    ecs.close();
    wrongKey.close();
  });

  it('gives up on a server that does not answer in time', async () => {
    const ecs = new EcsClient({ endpoint, region: 'us-east-1', credentials: CREDS, timeoutMs: 200 });
    handler = () => undefined;
    const t0 = Date.now();
    await assert.rejects(ecs.call('SubmitTaskStateChange', {}), /no answer within 200 ms/);
    assert.ok(Date.now() - t0 < 2000);
    ecs.close();
  });

  it('signs queries with reserved characters the way the server checks them', async () => {
    const url = new URL(`${endpoint}/v1/agent/connect?cluster=${encodeURIComponent('arn:aws:ecs:us-east-1:000000000000:cluster/a b')}&x=it's(1)*`);
    const headers = await signRequest({ method: 'GET', url, region: 'us-east-1', credentials: { ...CREDS, sessionToken: 'token/+=' } });
    assert.equal(headers['x-amz-security-token'], 'token/+=');
    const principal = await new SigV4Verifier({ secretFor: () => CREDS.secretAccessKey }, 'us-east-1').verify({
      method: 'GET',
      path: url.pathname,
      query: url.search.slice(1),
      headers,
      body: Buffer.alloc(0),
    });
    assert.equal(principal.accessKeyId, CREDS.accessKeyId);
  });
});

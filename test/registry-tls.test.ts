import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ListClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { generate } from 'selfsigned';
import { startServer, type RunningServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import { TEST_CREDENTIALS, tempDir } from './helpers.js';
import { sha256 } from './registry-helpers.js';

function start(dataDir: string, tls: { certFile?: string; keyFile?: string }): Promise<RunningServer> {
  process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
  return startServer({ host: '127.0.0.1', port: 0, dataDir, region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal', tls });
}

/** One HTTPS request trusting only `ca`; resolves with the status, body and the certificate the server presented. */
function get(url: string, ca: string | undefined, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<{ status: number; body: Buffer; cert: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, ...(ca !== undefined ? { ca } : {}) }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), cert }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTPS endpoint', () => {
  const dirs: { remove(): void }[] = [];
  after(() => dirs.forEach((d) => d.remove()));

  it('serves the API and the registry over HTTPS with a generated certificate that the AWS SDK and a raw client trust as their CA', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const server = await start(dir.path, {});
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const certFile = join(dir.path, 'tls', 'registry.crt');
      assert.equal(server.tls?.certFile, certFile);
      const ca = readFileSync(certFile, 'utf8');
      const x509 = new X509Certificate(ca);
      assert.ok(x509.ca && x509.checkIP('127.0.0.1') && x509.checkHost('localhost'));

      // The AWS SDK, trusting the certificate as its CA.
      const requestHandler = { httpsAgent: new Agent({ ca }) };
      const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler });
      const ecs = new ECSClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler });
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'tls/app' }));
      const auth = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
      assert.equal(auth.proxyEndpoint, server.url, 'docker logs in to the https endpoint');
      assert.deepEqual((await ecs.send(new ListClustersCommand({}))).clusterArns, []);
      ecr.destroy();
      ecs.destroy();

      // A raw client: the registry protocol over TLS, a blob pushed and read back.
      const authorization = `Basic ${auth.authorizationToken!}`;
      const base = await get(`${server.url}/v2/`, ca, { authorization });
      assert.equal(base.status, 200);
      assert.equal(base.cert, x509.fingerprint256);
      const anonymous = await get(`${server.url}/v2/`, ca);
      assert.equal(anonymous.status, 401);
      const content = Buffer.from('a layer served over TLS');
      const push = await get(`${server.url}/v2/tls/app/blobs/uploads/?digest=${sha256(content)}`, ca, { authorization, 'content-type': 'application/octet-stream', 'content-length': String(content.length) }, 'POST', content);
      assert.equal(push.status, 201, push.body.toString());
      const blob = await get(`${server.url}/v2/tls/app/blobs/${sha256(content)}`, ca, { authorization });
      assert.ok(blob.body.equals(content));

      // A client that does not trust the certificate refuses the connection.
      await assert.rejects(get(`${server.url}/v2/`, undefined), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      await server.close();
    }
    // A restart keeps the same certificate (Docker hosts trust it once).
    const again = await start(dir.path, {});
    try {
      const ca = readFileSync(join(dir.path, 'tls', 'registry.crt'), 'utf8');
      assert.equal((await get(`${again.url}/v2/`, ca)).cert, new X509Certificate(ca).fingerprint256);
    } finally {
      await again.close();
    }
  });

  it("serves the operator's certificate and key when given", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pems = await generate([{ name: 'commonName', value: 'registry.test' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'registry.test' }] },
      ],
    });
    const certFile = join(dir.path, 'operator.crt');
    const keyFile = join(dir.path, 'operator.key');
    writeFileSync(certFile, pems.cert);
    writeFileSync(keyFile, pems.private);
    const server = await start(dir.path, { certFile, keyFile });
    try {
      assert.equal(server.tls?.selfSigned, false);
      const res = await get(`${server.url}/healthz`, pems.cert);
      assert.equal(res.status, 200);
      assert.equal(res.cert, new X509Certificate(pems.cert).fingerprint256);
    } finally {
      await server.close();
    }
  });
});

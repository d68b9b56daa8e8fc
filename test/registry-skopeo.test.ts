import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { Agent } from 'node:https';
import { startServer, type RunningServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import { TEST_CREDENTIALS, tempDir } from './helpers.js';
import { RegistryClient, ecrClient, sha256 } from './registry-helpers.js';

const run = promisify(execFile);
const IMAGE = 'berth-test/busybox:latest';

/** Registry requests by operation with outcome ok, from the server's Prometheus metrics. */
async function registryCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^berth_api_requests_total\{service="registry",operation="([^"]+)",outcome="ok"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function delta(before: Record<string, number>, after: Record<string, number>, op: string): number {
  return (after[op] ?? 0) - (before[op] ?? 0);
}

async function start(dataDir: string, tls?: Record<string, never>): Promise<RunningServer> {
  process.env.BERTH_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
  process.env.BERTH_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
  return startServer({ host: '127.0.0.1', port: 0, dataDir, region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal', ...(tls ? { tls } : {}) });
}

/** `AWS:<password>` from GetAuthorizationToken, as skopeo's --creds takes it. */
async function creds(ecr: ECRClient): Promise<string> {
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
  return Buffer.from(token, 'base64').toString('utf8');
}

describe('skopeo against the registry', () => {
  const dir = tempDir();
  let server: RunningServer;
  let ecr: ECRClient;
  let host: string;
  let login: string;

  before(async () => {
    server = await start(join(dir.path, 'plain'));
    ecr = ecrClient(server.url);
    host = new URL(server.url).host;
    for (const name of ['skopeo/src', 'skopeo/dst', 'skopeo/oci']) await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    login = await creds(ecr);
    // Plain HTTP on loopback: skopeo needs --tls-verify=false to speak HTTP.
    await run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', login, `docker-daemon:${IMAGE}`, `docker://${host}/skopeo/src:v1`], { timeout: 120_000 });
  });
  after(async () => {
    ecr.destroy();
    await server.close();
    dir.remove();
  });

  it('skopeo inspect shows the pushed image, with the digest and layers the registry holds', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', login, `docker://${host}/skopeo/src:v1`], { timeout: 60_000 });
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Os: string };
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'skopeo/src', imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(info.Digest, described.imageDetails![0]!.imageDigest);
    assert.equal(info.Os, 'linux');
    assert.ok(info.Layers.length >= 1);
    const { stdout: raw } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', login, `docker://${host}/skopeo/src:v1`], { timeout: 60_000 });
    assert.equal(sha256(raw), info.Digest);
  });

  it('skopeo copy between two repositories mounts the blobs instead of uploading them again', async () => {
    const before = await registryCounts(server.url);
    await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', login, '--dest-creds', login, `docker://${host}/skopeo/src:v1`, `docker://${host}/skopeo/dst:v1`], {
      timeout: 120_000,
    });
    const after = await registryCounts(server.url);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', login, `docker://${host}/skopeo/src:v1`], { timeout: 60_000 });
    const layers = (JSON.parse(stdout) as { Layers: string[] }).Layers;
    assert.ok(delta(before, after, 'MountBlob') >= layers.length, `mounted ${delta(before, after, 'MountBlob')} blobs for ${layers.length} layers`);
    // skopeo always sends an image's small config blob; every layer must come by mount.
    assert.equal(delta(before, after, 'CompleteUpload') + delta(before, after, 'PutBlob'), 1, 'only the config was uploaded');
    const reg = await RegistryClient.login(server.url, ecr);
    const src = await reg.fetch('/v2/skopeo/src/manifests/v1');
    const dst = await reg.fetch('/v2/skopeo/dst/manifests/v1');
    assert.equal(dst.headers.get('docker-content-digest'), src.headers.get('docker-content-digest'), 'the same image');
    for (const l of layers) assert.equal((await reg.fetch(`/v2/skopeo/dst/blobs/${l}`, { method: 'HEAD' })).status, 200);
  });

  it('skopeo copy --format oci stores an OCI image manifest that reads back as such', async () => {
    await run('skopeo', ['copy', '--format', 'oci', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', login, '--dest-creds', login, `docker://${host}/skopeo/src:v1`, `docker://${host}/skopeo/oci:v1`], {
      timeout: 120_000,
    });
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'skopeo/oci', imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(described.imageDetails![0]!.imageManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', login, `docker://${host}/skopeo/oci:v1`], { timeout: 60_000 });
    const manifest = JSON.parse(stdout) as { mediaType: string; layers: { digest: string }[] };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const reg = await RegistryClient.login(server.url, ecr);
    for (const l of manifest.layers) {
      const blob = await reg.fetch(`/v2/skopeo/oci/blobs/${l.digest}`);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), l.digest);
    }
  });

  it('skopeo verifies the HTTPS endpoint with the generated certificate as the CA of --cert-dir', async () => {
    const secure = await start(join(dir.path, 'tls'), {});
    const ca = readFileSync(secure.tls!.certFile, 'utf8');
    const secureEcr = new ECRClient({ endpoint: secure.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: { httpsAgent: new Agent({ ca }) } });
    try {
      await secureEcr.send(new CreateRepositoryCommand({ repositoryName: 'skopeo/tls' }));
      const secureLogin = await creds(secureEcr);
      // As on a Docker host: the CA in a directory of its own (/etc/docker/certs.d/<host:port>/ca.crt).
      const certDir = join(dir.path, 'certs.d', new URL(secure.url).host);
      mkdirSync(certDir, { recursive: true });
      writeFileSync(join(certDir, 'ca.crt'), ca);
      const target = `docker://${new URL(secure.url).host}/skopeo/tls:v1`;
      await assert.rejects(run('skopeo', ['copy', '--dest-creds', secureLogin, `docker-daemon:${IMAGE}`, target], { timeout: 60_000 }), /certificate|x509/i, 'without the CA, TLS is refused');
      await run('skopeo', ['copy', '--dest-cert-dir', certDir, '--dest-creds', secureLogin, `docker-daemon:${IMAGE}`, target], { timeout: 120_000 });
      const { stdout } = await run('skopeo', ['inspect', '--cert-dir', certDir, '--creds', secureLogin, target], { timeout: 60_000 });
      const described = await secureEcr.send(new DescribeImagesCommand({ repositoryName: 'skopeo/tls', imageIds: [{ imageTag: 'v1' }] }));
      assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, described.imageDetails![0]!.imageDigest);
    } finally {
      secureEcr.destroy();
      await secure.close();
    }
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CreateRepositoryCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { freePort, spawnServer, tempDir, waitFor, type ServerProcess } from './helpers.js';
import { RegistryClient, ecrClient, sha256 } from './registry-helpers.js';

const MiB = 1024 * 1024;

/** PATCHes `body` to an upload in 1 MiB writes, one every 20 ms; `onProgress` sees the bytes written so far. Resolves with the status, or the error when the connection breaks. */
function slowPatch(url: string, authorization: string, body: Buffer, headers: Record<string, string>, onProgress: (written: number) => void): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'PATCH', headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(body.length), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err) => resolve(err));
    let offset = 0;
    const next = (): void => {
      if (offset >= body.length) return void req.end();
      const chunk = body.subarray(offset, offset + MiB);
      offset += chunk.length;
      req.write(chunk);
      onProgress(offset);
      setTimeout(next, 20);
    };
    next();
  });
}

describe('registry: the server killed mid-push', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'server');
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill('SIGKILL');
    dir.remove();
  });

  it('serves nothing half-written, and the push resumes and completes after a restart', async () => {
    const port = await freePort();
    server = await spawnServer(dataDir, [], {}, port);
    let ecr = ecrClient(server.url);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'crash/app' }));
    let reg = await RegistryClient.login(server.url, ecr);
    let authorization = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!}`;

    const layer = randomBytes(40 * MiB);
    const layerDigest = sha256(layer);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
    const configDigest = await reg.pushBlob('crash/app', config);
    const start = await reg.fetch('/v2/crash/app/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location')!;

    // Killed with SIGKILL once 12 MiB of the 40 are on the wire.
    const killed = server;
    let kill: Promise<number | null> | undefined;
    const outcome = await slowPatch(server.url + location, authorization, layer, {}, (written) => {
      if (written >= 12 * MiB && kill === undefined) kill = killed.kill('SIGKILL');
    });
    await kill;
    assert.ok(outcome instanceof Error, `the upload broke off with the server (got ${String(outcome)})`);
    const blobFile = join(dataDir, 'registry', 'blobs', 'sha256', layerDigest.slice(7, 9), layerDigest.slice(7));
    assert.equal(existsSync(blobFile), false, 'no part of the layer is a blob');

    server = await spawnServer(dataDir, [], {}, port);
    ecr.destroy();
    ecr = ecrClient(server.url);
    reg = await RegistryClient.login(server.url, ecr);
    authorization = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!}`;
    assert.equal((await reg.fetch(`/v2/crash/app/blobs/${layerDigest}`, { method: 'HEAD' })).status, 404, 'the half-pushed layer is not served');

    // The session survived: the client asks where it stands and sends the rest.
    const status = await reg.fetch(location);
    assert.equal(status.status, 204);
    const received = Number(/^0-(\d+)$/.exec(status.headers.get('range') ?? '')?.[1] ?? -1) + 1;
    assert.ok(received >= 0 && received < layer.length, `the server kept ${received} bytes`);
    const rest = await slowPatch(server.url + location, authorization, layer.subarray(received), { 'content-range': `${received}-${layer.length - 1}` }, () => undefined);
    assert.equal(rest, 202);
    const done = await reg.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${layerDigest}`, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    };
    const put = await reg.putManifest('crash/app', 'v1', manifest, manifest.mediaType);
    assert.equal(put.status, 201, await put.text());

    // Every blob and the manifest read back with verified content; no leftovers of the session.
    const got = await reg.fetch('/v2/crash/app/manifests/v1', { headers: { accept: manifest.mediaType } });
    const text = Buffer.from(await got.arrayBuffer());
    assert.equal(sha256(text), got.headers.get('docker-content-digest'));
    for (const d of [configDigest, layerDigest]) {
      const blob = await reg.fetch(`/v2/crash/app/blobs/${d}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), d);
    }
    assert.deepEqual(readdirSync(join(dataDir, 'registry', 'uploads')), []);
    await waitFor('the server to answer health checks', async () => ((await fetch(`${server!.url}/healthz`)).ok ? true : undefined), 5_000);
    ecr.destroy();
  });
});

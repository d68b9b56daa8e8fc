import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchDeleteImageCommand, CreateRepositoryCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { startTestServer, waitFor } from './helpers.js';
import { RegistryClient, ecrClient, sha256 } from './registry-helpers.js';

const GRACE_MS = 4000;
const blobFile = (dataDir: string, digest: string) => join(dataDir, 'registry', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

describe('registry garbage collection (end to end)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let ecr: ECRClient;
  let reg: RegistryClient;

  before(async () => {
    server = await startTestServer({
      options: {
        // No scheduled pass during the test: only the one an image delete triggers.
        registryGc: { graceMs: GRACE_MS, afterDeleteMs: 1, intervalMs: 3_600_000 },
      },
    });
    ecr = ecrClient(server.url);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'gc/app' }));
    reg = await RegistryClient.login(server.url, ecr);
  });
  after(async () => {
    ecr.destroy();
    await server.stop();
  });

  it('deleting an image removes its blobs from disk, while a push in progress keeps everything it uploaded', async () => {
    const old = await reg.pushImage('gc/app', 'old', ['layer only the old image has', 'layer both images have']);
    assert.equal(old.response.status, 201);
    const oldOnly = sha256('layer only the old image has');
    const shared = sha256('layer both images have');
    await new Promise((r) => setTimeout(r, GRACE_MS + 500));

    // A push under way: one layer complete (linked, named by no manifest yet), the next one half uploaded.
    const fresh = await reg.pushBlob('gc/app', 'layer of the push under way');
    const start = await reg.fetch('/v2/gc/app/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location')!;
    const second = Buffer.from('second layer of the push under way, sent in two parts');
    const patch = await reg.fetch(location, { method: 'PATCH', body: second.subarray(0, 20), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(patch.status, 202);

    const passes = server.registryGc;
    const removed = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'gc/app', imageIds: [{ imageTag: 'old' }] }));
    assert.equal(removed.imageIds?.length, 1);
    await waitFor('the old image\'s own layer to leave the disk', async () => (existsSync(blobFile(server.dataDir, oldOnly)) ? undefined : true), 20_000);
    await passes.idle();
    assert.equal((await reg.fetch(`/v2/gc/app/blobs/${oldOnly}`, { method: 'HEAD' })).status, 404);
    // The shared layer and the config are old and now unreferenced too: they go as well.
    assert.equal(existsSync(blobFile(server.dataDir, shared)), false);
    assert.equal(existsSync(blobFile(server.dataDir, fresh)), true, 'a blob uploaded within the grace period stays');

    // The push under way completes and its manifest finds every blob.
    const rest = await reg.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha256(second)}`, { method: 'PUT', body: second.subarray(20), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(rest.status, 201, await rest.text());
    const config = await reg.pushBlob('gc/app', '{"architecture":"amd64","os":"linux"}');
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 37 },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: fresh, size: 27 },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(second), size: second.length },
      ],
    };
    const put = await reg.putManifest('gc/app', 'new', manifest, manifest.mediaType);
    assert.equal(put.status, 201, await put.text());
    for (const [digest, content] of [[fresh, 'layer of the push under way'], [sha256(second), second.toString()]] as const) {
      const get = await reg.fetch(`/v2/gc/app/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.equal(sha256(Buffer.from(await get.arrayBuffer())), digest);
      assert.equal(sha256(content), digest);
    }
  });
});

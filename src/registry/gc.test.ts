import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyedLock } from '../core/keyedLock.js';
import { LayersNotFoundException } from '../core/errors.js';
import type { RegistryTokens } from '../ecr/authorization.js';
import type { EcrContext } from '../ecr/context.js';
import { deleteImage, digestOf, linkLayer, putManifest, type LayerDoc } from '../ecr/images.js';
import { createRepository } from '../ecr/repositories.js';
import { openSqliteStore } from '../store/sqlite.js';
import { collectGarbage } from './gc.js';
import { chunked } from './storage/blobStore.contract.js';
import { BlobNotFoundError } from './storage/blobStore.js';
import { FsBlobStore } from './storage/fs.js';
import { PullTimeRecorder } from '../ecr/pullTimes.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A registry context over a real SQLite store and a real filesystem blob store (no tokens: nothing here authenticates). */
async function registry(): Promise<{ ctx: EcrContext; root: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-gc-'));
  dirs.push(dir);
  const store = await openSqliteStore({ path: join(dir, 'berth.db'), synchronous: 'normal' });
  const root = join(dir, 'registry');
  const ctx: EcrContext = {
    store,
    region: 'us-east-1',
    accountId: '000000000000',
    registryHost: '127.0.0.1:1',
    registryScheme: 'http',
    blobs: await FsBlobStore.open(root),
    blobLocks: new KeyedLock(),
    tokens: undefined as unknown as RegistryTokens,
    pulls: new PullTimeRecorder(),
    now: Date.now,
  };
  await createRepository(ctx, { repositoryName: 'app' });
  return { ctx, root, close: () => store.close() };
}

/** Uploads `content` as a blob and links it to `repo`, as a blob push does. */
async function push(ctx: EcrContext, repo: string, content: string): Promise<string> {
  const digest = digestOf(Buffer.from(content));
  const id = await ctx.blobs.createUpload({ repository: repo, startedAt: ctx.now() });
  await ctx.blobs.append(id, chunked(Buffer.from(content)));
  await ctx.blobs.completeUpload(id, digest);
  await linkLayer(ctx, repo, digest, Buffer.byteLength(content));
  return digest;
}

function manifest(config: string, layers: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
      layers: layers.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 1 })),
    }),
  );
}

const blobFile = (root: string, digest: string) => join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('registry garbage collection', () => {
  it('removes the blobs of a deleted image, keeps those another image still names', async () => {
    const { ctx, root, close } = await registry();
    const config = await push(ctx, 'app', '{}');
    const shared = await push(ctx, 'app', 'shared layer');
    const own = await push(ctx, 'app', 'layer of v1 only');
    await putManifest(ctx, { repositoryName: 'app', manifest: manifest(config, [shared, own]), tag: 'v1' });
    await putManifest(ctx, { repositoryName: 'app', manifest: manifest(config, [shared]), tag: 'v2' });
    await sleep(20);
    assert.deepEqual(await collectGarbage(ctx, { graceMs: 10, uploadExpiryMs: 60_000 }), { links: 0, blobs: 0, bytes: 0, uploads: 0 }, 'everything is referenced');

    await deleteImage(ctx, 'app', { imageTag: 'v1' });
    const result = await collectGarbage(ctx, { graceMs: 10, uploadExpiryMs: 60_000 });
    assert.deepEqual(result, { links: 1, blobs: 1, bytes: Buffer.byteLength('layer of v1 only'), uploads: 0 });
    assert.equal(existsSync(blobFile(root, own)), false, 'the unreferenced layer is gone from disk');
    assert.equal(existsSync(blobFile(root, shared)), true);
    assert.equal(existsSync(blobFile(root, config)), true);
    assert.equal(await ctx.blobs.stat(own), undefined);
    await close();
  });

  it('keeps what a push in progress has uploaded during the grace period, and the session still receiving bytes', async () => {
    const { ctx, root, close } = await registry();
    const layer = await push(ctx, 'app', 'pushed, manifest not yet');
    const id = await ctx.blobs.createUpload({ repository: 'app', startedAt: ctx.now() });
    await ctx.blobs.append(id, chunked(Buffer.from('half of a layer')));
    assert.deepEqual(await collectGarbage(ctx, { graceMs: 60_000, uploadExpiryMs: 60_000 }), { links: 0, blobs: 0, bytes: 0, uploads: 0 });
    assert.equal(existsSync(blobFile(root, layer)), true);
    assert.equal((await ctx.blobs.uploadStatus(id))?.size, 15);
    // The manifest arrives within the grace period and finds its blob.
    await putManifest(ctx, { repositoryName: 'app', manifest: manifest(layer, [layer]), tag: 'late' });
    await sleep(20);
    assert.equal((await collectGarbage(ctx, { graceMs: 10, uploadExpiryMs: 60_000 })).blobs, 0);
    // An abandoned session goes once idle past its expiry.
    assert.equal((await collectGarbage(ctx, { graceMs: 10, uploadExpiryMs: 1 })).uploads, 1);
    assert.equal(await ctx.blobs.uploadStatus(id), undefined);
    await close();
  });

  it('a manifest PUT racing the removal of its links either keeps its blobs or is refused, never stored naming a missing blob', async () => {
    const { ctx, close } = await registry();
    let stored = 0;
    let refused = 0;
    for (let round = 0; round < 30; round++) {
      const layer = await push(ctx, 'app', `race layer ${round}`);
      await sleep(3);
      const [put, gc] = await Promise.allSettled([
        putManifest(ctx, { repositoryName: 'app', manifest: manifest(layer, [layer]), tag: `r${round}` }),
        collectGarbage(ctx, { graceMs: 1, uploadExpiryMs: 60_000 }),
      ]);
      assert.equal(gc.status, 'fulfilled');
      if (put.status === 'fulfilled') {
        stored++;
        assert.ok(await ctx.blobs.stat(layer), `round ${round}: the image was stored, so its blob must be there`);
        assert.ok(await ctx.store.get<LayerDoc>('layer', `arn:aws:ecr:us-east-1:000000000000:repository/app/blob/${layer}`));
      } else {
        refused++;
        assert.ok(put.reason instanceof LayersNotFoundException, String(put.reason));
      }
    }
    assert.equal(stored + refused, 30);
    // Whatever the interleaving, every surviving image names only stored blobs.
    assert.equal((await collectGarbage(ctx, { graceMs: 1, uploadExpiryMs: 60_000 })).blobs, 0);
    await close();
  });

  it('a link racing the deletion of its blob either finds the blob kept or fails with BlobNotFoundError', async () => {
    const { ctx, close } = await registry();
    await createRepository(ctx, { repositoryName: 'other' });
    for (let round = 0; round < 30; round++) {
      const content = `orphan ${round}`;
      const digest = await push(ctx, 'other', content);
      // Unlinked and old: the collector's to delete, unless the link wins.
      const link = await ctx.store.get<LayerDoc>('layer', `arn:aws:ecr:us-east-1:000000000000:repository/other/blob/${digest}`);
      await ctx.store.transaction((tx) => tx.remove('layer', link!.arn, link!.version));
      await sleep(3);
      const [linked] = await Promise.allSettled([linkLayer(ctx, 'app', digest, content.length), collectGarbage(ctx, { graceMs: 1, uploadExpiryMs: 60_000 })]);
      const hasLink = (await ctx.store.count('layer', { name: digest })) > 0;
      const hasBlob = (await ctx.blobs.stat(digest)) !== undefined;
      if (linked.status === 'fulfilled') assert.ok(hasLink && hasBlob, `round ${round}: a link was made, its blob must stay`);
      else {
        assert.ok(linked.reason instanceof BlobNotFoundError, String(linked.reason));
        assert.ok(!hasLink && !hasBlob);
      }
    }
    await close();
  });

  it('never deletes a blob completed again after the pass decided to delete it', async () => {
    const { ctx, root, close } = await registry();
    const content = Buffer.from('pushed twice');
    const digest = digestOf(content);
    const id = await ctx.blobs.createUpload({ repository: 'app', startedAt: 1 });
    await ctx.blobs.append(id, chunked(content));
    await ctx.blobs.completeUpload(id, digest);
    await sleep(20);
    const cutoff = Date.now();
    // Pushed again after the cutoff: the conditional delete must spare it.
    const again = await ctx.blobs.createUpload({ repository: 'app', startedAt: 2 });
    await ctx.blobs.append(again, chunked(content));
    await ctx.blobs.completeUpload(again, digest);
    assert.equal(await ctx.blobs.delete(digest, { unmodifiedSince: cutoff }), false);
    assert.equal(existsSync(blobFile(root, digest)), true);
    assert.equal(await ctx.blobs.delete(digest, { unmodifiedSince: Date.now() + 1000 }), true);
    assert.equal(existsSync(blobFile(root, digest)), false);
    await close();
  });
});

/**
 * Garbage collection of registry blobs: what no image needs any more.
 *
 * A pass, as of `now`, with `horizon = now - graceMs`:
 * 1. Links: a repository's link to a blob (made by an upload or a mount) is
 *    removed when no image of that repository names the blob (as config or
 *    layer) and the link was made before the horizon. The check and the
 *    removal are one store transaction, so a manifest PUT either commits
 *    first (the link is kept) or finds the link gone and is refused with
 *    MANIFEST_BLOB_UNKNOWN; it never succeeds naming a removed link.
 * 2. Blobs: a stored blob no link names, last written before the horizon, is
 *    deleted, under the blob's lock (`EcrContext.blobLocks`) that linking also
 *    holds: a link is made only to a blob that exists, and a blob goes only
 *    while no link names it. The delete is conditional on the blob's write
 *    time, so a copy completed at that very moment survives.
 * 3. Uploads: sessions that received nothing for `uploadExpiryMs` are
 *    cancelled; sessions in progress are never touched by 1 and 2 (their
 *    bytes are not blobs until complete).
 *
 * The grace period is what keeps a push in progress safe: its blobs are
 * linked, but no manifest names them until the push ends.
 */
import type { EcrContext } from '../ecr/context.js';
import { parseManifest, type ImageDoc, type LayerDoc } from '../ecr/images.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';

export interface GcOptions {
  /** Links and blobs younger than this are kept, referenced or not (ms). */
  graceMs: number;
  /** Upload sessions idle for longer than this are cancelled (ms). */
  uploadExpiryMs: number;
}

export interface GcResult {
  /** Repository links removed. */
  links: number;
  /** Blobs deleted, and their bytes. */
  blobs: number;
  bytes: number;
  /** Abandoned upload sessions cancelled. */
  uploads: number;
}

const PAGE = 500;

/** Every link row, page by page. */
async function* allLinks(reader: StoreReader): AsyncIterable<Row<LayerDoc>> {
  let after: { name: string; seq: number; arn: string } | undefined;
  for (;;) {
    const rows = await reader.find<LayerDoc>('layer', { limit: PAGE, ...(after ? { after } : {}) });
    yield* rows;
    const last = rows[rows.length - 1];
    if (rows.length < PAGE || !last) return;
    after = { name: last.name, seq: last.seq, arn: last.arn };
  }
}

/** Digests of the blobs the images of one repository name; undefined when a manifest cannot be read (keep everything). */
async function referencedBlobs(reader: StoreReader, repoArn: string): Promise<Set<string> | undefined> {
  const out = new Set<string>();
  for (const image of await reader.find<ImageDoc>('image', { cluster: repoArn })) {
    try {
      for (const b of parseManifest(Buffer.from(image.doc.manifest, 'utf8'), image.doc.mediaType).blobs) out.add(b.digest);
    } catch {
      return undefined;
    }
  }
  return out;
}

/** One garbage collection pass (see the module comment). */
export async function collectGarbage(ctx: EcrContext, opts: GcOptions): Promise<GcResult> {
  const now = ctx.now();
  const horizon = now - opts.graceMs;
  const result: GcResult = { links: 0, blobs: 0, bytes: 0, uploads: 0 };

  // 1. Links no image of their repository names.
  const candidates = new Map<string, string[]>();
  for await (const link of allLinks(ctx.store)) {
    if (link.seq >= horizon) continue;
    const list = candidates.get(link.cluster) ?? [];
    list.push(link.arn);
    candidates.set(link.cluster, list);
  }
  for (const [repoArn, arns] of candidates) {
    const seen = await referencedBlobs(ctx.store, repoArn);
    if (!seen) continue;
    const unreferenced: string[] = [];
    for (const arn of arns) {
      const link = await ctx.store.get<LayerDoc>('layer', arn);
      if (link && !seen.has(link.doc.digest)) unreferenced.push(arn);
    }
    if (unreferenced.length === 0) continue;
    result.links += await withRetry(ctx.store, async (tx) => {
      // Checked again inside the transaction: a manifest committed since the read above keeps its blobs.
      const referenced = await referencedBlobs(tx, repoArn);
      if (!referenced) return 0;
      let removed = 0;
      for (const arn of unreferenced) {
        const link = await tx.get<LayerDoc>('layer', arn);
        if (!link || link.seq >= horizon || referenced.has(link.doc.digest)) continue;
        await tx.remove('layer', link.arn, link.version);
        removed++;
      }
      return removed;
    });
  }

  // 2. Blobs no link names.
  const linked = new Set<string>();
  for await (const link of allLinks(ctx.store)) linked.add(link.doc.digest);
  for await (const blob of ctx.blobs.list()) {
    if (linked.has(blob.digest) || blob.modifiedAt >= horizon) continue;
    const deleted = await ctx.blobLocks.run(blob.digest, async () => {
      if ((await ctx.store.count('layer', { name: blob.digest })) > 0) return false;
      return ctx.blobs.delete(blob.digest, { unmodifiedSince: horizon });
    });
    if (deleted) {
      result.blobs++;
      result.bytes += blob.size;
    }
  }

  // 3. Abandoned uploads.
  for await (const upload of ctx.blobs.uploads()) {
    if (upload.modifiedAt >= now - opts.uploadExpiryMs) continue;
    await ctx.blobs.cancelUpload(upload.id);
    result.uploads++;
  }
  return result;
}

import type { Readable, Writable } from 'node:stream';

/**
 * Content-addressed blob storage for the registry.
 *
 * Contract (checked by `blobStore.contract.ts` for every implementation):
 * - A blob is visible under its digest only once its whole content is stored
 *   and verified: a reader never sees part of a blob, whatever crashes.
 * - Content is stored once per digest, however many repositories link it.
 * - An upload session survives a restart of the server: its id, its owner's
 *   metadata and the bytes received so far are durable, and appending resumes
 *   at the offset reported by `uploadStatus`.
 * - `completeUpload` refuses (with `DigestMismatchError`) content whose
 *   SHA-256 differs from the digest the client names, and then keeps the
 *   session so the client may cancel it. Completing an upload of content
 *   already stored writes it again: its `modifiedAt` becomes now.
 * - `delete(digest, { unmodifiedSince })` never removes a blob written (or
 *   written again) at or after `unmodifiedSince`, even when the write races
 *   the delete: garbage collection relies on this to spare fresh uploads.
 */
export interface BlobStore {
  /** Size of a stored blob, or undefined when there is none. */
  stat(digest: string): Promise<{ size: number } | undefined>;
  /** Streams a stored blob, optionally the inclusive byte range [start, end]. */
  read(digest: string, range?: { start: number; end: number }): Readable;
  /**
   * Writes a stored blob (or the inclusive range [start, end]) into `out`,
   * keeping to its backpressure, without ending it; resolves once every byte
   * is handed over, or early when `out` is destroyed. The way to serve a blob:
   * a store may reuse a chunk's memory once `out` calls that chunk's write
   * callback, so `out` must be done with the bytes by then (a socket or a file
   * is; a PassThrough, which hands the chunk itself on, is not).
   */
  copyTo(digest: string, out: Writable, range?: { start: number; end: number }): Promise<void>;
  /** Stores a small blob given whole (manifests); returns its size. */
  put(digest: string, content: Buffer): Promise<void>;
  /**
   * Removes a blob; with `unmodifiedSince` (epoch ms), only if it was last
   * written before then. Resolves true when a blob was removed.
   */
  delete(digest: string, opts?: { unmodifiedSince?: number }): Promise<boolean>;
  /** Every stored blob, in no particular order (garbage collection). */
  list(): AsyncIterable<BlobInfo>;

  /** Starts an upload session; `meta` is kept with it (for example the repository). */
  createUpload(meta: UploadMeta): Promise<string>;
  /** The session's metadata and bytes received so far, or undefined when there is no such session. */
  uploadStatus(id: string): Promise<UploadStatus | undefined>;
  /**
   * Appends `body` to the session, hashing as bytes arrive. `offset`, when
   * given, must equal the bytes received so far (`RangeNotSatisfiableError`
   * otherwise). Returns the new size.
   */
  append(id: string, body: Readable, offset?: number): Promise<number>;
  /** Verifies the session's content against `digest` and makes it visible as that blob. */
  completeUpload(id: string, digest: string): Promise<{ size: number }>;
  cancelUpload(id: string): Promise<void>;
  /** Every upload session, with the time it last received bytes (epoch ms). */
  uploads(): AsyncIterable<{ id: string; meta: UploadMeta; size: number; modifiedAt: number }>;
}

export interface BlobInfo {
  digest: string;
  size: number;
  /** When the blob was last written (epoch ms). */
  modifiedAt: number;
}

export interface UploadMeta {
  repository: string;
  startedAt: number;
}

export interface UploadStatus {
  meta: UploadMeta;
  size: number;
}

export class UploadNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`upload ${id} does not exist`);
  }
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content digest ${actual} does not match digest ${expected}`);
  }
}

export class RangeNotSatisfiableError extends Error {
  constructor(readonly size: number) {
    super(`upload has ${size} bytes`);
  }
}

export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} does not exist`);
  }
}

/** `sha256:<64 hex>`: the only digest algorithm Berth stores (as ECR). */
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

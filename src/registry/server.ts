import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '../core/log.js';
import type { EcrContext } from '../ecr/context.js';
import {
  DIGEST_RE,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  TAG_RE,
  deleteImage,
  findImage,
  layerArn,
  linkLayer,
  putManifest,
  referrers,
  tagArn,
  type LayerDoc,
  type TagDoc,
} from '../ecr/images.js';
import { REPOSITORY_NAME_RE, getRepository, repositoryArn } from '../ecr/repositories.js';
import { blobThroughCache, pullThroughCache, refreshCachedTag } from '../ecr/pullThrough.js';
import { BlobNotFoundError, DigestMismatchError, RangeNotSatisfiableError, UploadNotFoundError } from './storage/blobStore.js';
import { RegistryError, toRegistryError } from './errors.js';

export interface RegistryServerOptions {
  log: Logger;
  /** Records one request for metrics (operation, outcome, seconds). */
  observe?(operation: string, outcome: string, seconds: number): void;
  /**
   * Throws (an AWS AccessDenied error, answered as DENIED) unless the signer
   * of `accessKeyId` may perform the ECR `action` on the repository.
   */
  authorize?(accessKeyId: string, action: string, repositoryName: string): Promise<void>;
}

/** The ECR action a `/v2/` request stands for, as ECR's own registry authorizes it. */
export function registryAction(method: string, path: string): string | undefined {
  const m = ROUTE_RE.exec(path);
  if (!m) return undefined;
  const [, , kind, uploadId, blobDigest, reference] = m;
  if (kind === 'blobs/uploads/' || kind === 'blobs/uploads') return 'ecr:InitiateLayerUpload';
  if (uploadId !== undefined) return method === 'PUT' ? 'ecr:CompleteLayerUpload' : method === 'PATCH' ? 'ecr:UploadLayerPart' : 'ecr:InitiateLayerUpload';
  if (blobDigest !== undefined) return method === 'HEAD' ? 'ecr:BatchCheckLayerAvailability' : method === 'DELETE' ? 'ecr:BatchDeleteImage' : 'ecr:GetDownloadUrlForLayer';
  if (reference !== undefined) return method === 'PUT' ? 'ecr:PutImage' : method === 'DELETE' ? 'ecr:BatchDeleteImage' : 'ecr:BatchGetImage';
  return kind === 'tags/list' ? 'ecr:ListImages' : 'ecr:BatchGetImage';
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const ROUTE_RE = /^\/v2\/(.+)\/(blobs\/uploads\/?|blobs\/uploads\/([^/]+)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/;

/** Header names this protocol relies on, as sent by Node (lower case). */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a small body (manifests, token forms) up to `limit` bytes. */
async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new RegistryError('SIZE_INVALID', 413, `The body exceeds ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseRange(value: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

/**
 * The OCI Distribution Specification v1.1 at `/v2/`, backed by ECR's
 * repositories and images and by the blob store. Every request is
 * authenticated (Basic with an ECR authorization token's password, or the
 * Bearer token from `/v2/token`). Blob bodies stream to the blob store.
 */
export function createRegistryServer(ctx: EcrContext, opts: RegistryServerOptions): Handler {
  const { log } = opts;

  function challenge(req: IncomingMessage, scope?: string): Record<string, string> {
    const host = header(req, 'host') ?? ctx.registryHost;
    const realm = `${ctx.registryScheme}://${host}/v2/token`;
    return { 'www-authenticate': `Bearer realm="${realm}",service="${host}"${scope ? `,scope="${scope}"` : ''}` };
  }

  function unauthorized(req: IncomingMessage, scope?: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', 401, 'authentication required', scope ? [{ Type: 'repository', Name: scope.split(':')[1], Action: scope.split(':')[2] }] : undefined, challenge(req, scope));
  }

  /** The access key of the caller, from Basic (user AWS + password) or Bearer credentials; undefined when there are none valid. */
  function authenticate(req: IncomingMessage): string | undefined {
    const auth = header(req, 'authorization');
    if (!auth) return undefined;
    const sp = auth.indexOf(' ');
    const scheme = auth.slice(0, sp).toLowerCase();
    const value = auth.slice(sp + 1).trim();
    if (scheme === 'bearer') return ctx.tokens.verifyToken(value);
    if (scheme === 'basic') {
      const text = Buffer.from(value, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      return colon < 0 ? undefined : ctx.tokens.verifyLogin(text.slice(0, colon), text.slice(colon + 1));
    }
    return undefined;
  }

  function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string | Buffer): void {
    const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', 'content-length': String(buf?.length ?? 0), ...headers });
    res.end(buf);
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify(body));
  }

  /** The token endpoint: the same credentials as Basic auth, exchanged for a bearer token (GET, or OAuth2 POST with grant_type=password). */
  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let key = authenticate(req);
    if (key === undefined && req.method === 'POST') {
      const form = new URLSearchParams((await readSmallBody(req, 64 * 1024)).toString('utf8'));
      if (form.get('grant_type') === 'password') key = ctx.tokens.verifyLogin(form.get('username') ?? '', form.get('password') ?? '');
    }
    if (key === undefined) {
      const host = header(req, 'host') ?? ctx.registryHost;
      throw new RegistryError('UNAUTHORIZED', 401, 'authentication required', undefined, {
        'www-authenticate': `Basic realm="${ctx.registryScheme}://${host}/v2/token"`,
      });
    }
    const issued = ctx.tokens.issue(key);
    const now = ctx.now();
    json(res, 200, {
      token: issued.authorizationToken,
      access_token: issued.authorizationToken,
      expires_in: Math.floor((issued.expiresAt - now) / 1000),
      issued_at: new Date(now).toISOString(),
    });
  }

  async function repositoryExists(name: string): Promise<{ arn: string; name: string }> {
    return getRepository(ctx, ctx.store, name);
  }

  async function blobLinked(repoArn: string, digest: string): Promise<{ size: number } | undefined> {
    const link = await ctx.store.get<LayerDoc>('layer', layerArn(repoArn, digest));
    if (!link) return undefined;
    return ctx.blobs.stat(digest);
  }

  function uploadHeaders(name: string, id: string, size: number): Record<string, string> {
    return {
      location: `/v2/${name}/blobs/uploads/${id}`,
      'docker-upload-uuid': id,
      range: `0-${Math.max(0, size - 1)}`,
    };
  }

  async function session(name: string, id: string): Promise<{ size: number }> {
    const status = await ctx.blobs.uploadStatus(id);
    if (!status || status.meta.repository !== name) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 404, 'blob upload unknown to registry', { uuid: id });
    return status;
  }

  /** Verifies and publishes an upload, then links the blob to the repository. */
  async function finishUpload(name: string, id: string, digest: string | null): Promise<{ size: number; digest: string }> {
    if (digest === null || !DIGEST_RE.test(digest)) {
      throw new RegistryError('DIGEST_INVALID', 400, 'provided digest did not match uploaded content', { digest: digest ?? null, reason: 'a sha256 digest parameter is required' });
    }
    try {
      const { size } = await ctx.blobs.completeUpload(id, digest);
      await linkLayer(ctx, name, digest, size);
      return { size, digest };
    } catch (err) {
      if (err instanceof DigestMismatchError) {
        throw new RegistryError('DIGEST_INVALID', 400, 'provided digest did not match uploaded content', { expected: err.expected, actual: err.actual });
      }
      throw err;
    }
  }

  async function append(id: string, req: IncomingMessage, offset?: number): Promise<number> {
    try {
      return await ctx.blobs.append(id, req, offset);
    } catch (err) {
      if (err instanceof RangeNotSatisfiableError) {
        req.resume();
        throw new RegistryError('BLOB_UPLOAD_INVALID', 416, 'the Content-Range does not start where the upload ends', { size: err.size }, { range: `0-${Math.max(0, err.size - 1)}` });
      }
      if (err instanceof UploadNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 404, 'blob upload unknown to registry', { uuid: id });
      throw err;
    }
  }

  /** Pipes a blob's bytes into the response; rejects (the connection is then dropped) when the stream fails. */
  function sendStream(res: ServerResponse, stream: Readable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, setOp: (op: string) => void): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/v2/token' || path === '/v2/token/') {
      setOp('Token');
      return token(req, res);
    }
    const m = ROUTE_RE.exec(path);
    const name = m?.[1];
    const scope = name !== undefined ? `repository:${name}:${method === 'GET' || method === 'HEAD' ? 'pull' : 'pull,push'}` : undefined;
    // A blob read may instead carry the pre-authorized query of GetDownloadUrlForLayer.
    const presigned = name !== undefined && m?.[4] !== undefined && (method === 'GET' || method === 'HEAD') && ctx.tokens.verifyDownload(name, m[4], query);
    const caller = presigned ? undefined : authenticate(req);
    if (!presigned && caller === undefined) throw unauthorized(req, scope);
    const action = name !== undefined ? registryAction(method, path) : undefined;
    if (caller !== undefined && action !== undefined && name !== undefined && opts.authorize) {
      await opts.authorize(caller, action, name);
    }

    if (path === '/v2/' || path === '/v2') {
      setOp('Base');
      if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
      return json(res, 200, {});
    }
    if (!m || name === undefined) throw new RegistryError('NAME_UNKNOWN', 404, 'repository name not known to registry');
    if (name.length < 2 || name.length > 256 || !REPOSITORY_NAME_RE.test(name)) {
      throw new RegistryError('NAME_INVALID', 400, 'invalid repository name', { name });
    }
    const [, , kind, uploadId, blobDigest, reference, subject] = m;

    if (kind === 'blobs/uploads/' || kind === 'blobs/uploads') {
      setOp('StartUpload');
      if (method !== 'POST') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
      const repo = await repositoryExists(name);
      const mount = query.get('mount');
      const from = query.get('from');
      if (mount !== null && DIGEST_RE.test(mount)) {
        setOp('MountBlob');
        const fromRepo = from !== null && REPOSITORY_NAME_RE.test(from) ? await ctx.store.get('repository', repo.arn.replace(/repository\/.*$/, `repository/${from}`)) : undefined;
        const found = fromRepo ? await blobLinked(fromRepo.arn, mount) : undefined;
        if (found) {
          try {
            await linkLayer(ctx, name, mount, found.size);
            req.resume();
            return send(res, 201, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount });
          } catch (err) {
            // Collected since it was found: the client uploads it instead, as for any failed mount.
            if (!(err instanceof BlobNotFoundError)) throw err;
          }
        }
      }
      const id = await ctx.blobs.createUpload({ repository: name, startedAt: ctx.now() });
      const digest = query.get('digest');
      if (digest !== null) {
        setOp('PutBlob');
        try {
          await append(id, req);
          const done = await finishUpload(name, id, digest);
          return send(res, 201, { location: `/v2/${name}/blobs/${done.digest}`, 'docker-content-digest': done.digest });
        } catch (err) {
          await ctx.blobs.cancelUpload(id);
          throw err;
        }
      }
      req.resume();
      return send(res, 202, uploadHeaders(name, id, 0));
    }

    if (uploadId !== undefined) {
      const status = await session(name, uploadId);
      if (method === 'GET') {
        setOp('UploadStatus');
        return send(res, 204, uploadHeaders(name, uploadId, status.size));
      }
      if (method === 'DELETE') {
        setOp('CancelUpload');
        await ctx.blobs.cancelUpload(uploadId);
        return send(res, 204, {});
      }
      if (method === 'PATCH') {
        setOp('PatchUpload');
        const range = header(req, 'content-range');
        let offset: number | undefined;
        if (range !== undefined) {
          const r = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(range.trim());
          if (!r) throw new RegistryError('BLOB_UPLOAD_INVALID', 416, 'invalid Content-Range', { range }, { range: `0-${Math.max(0, status.size - 1)}` });
          offset = Number(r[1]);
          const declared = Number(r[2]) - offset + 1;
          const length = header(req, 'content-length');
          if (length !== undefined && Number(length) !== declared) {
            throw new RegistryError('BLOB_UPLOAD_INVALID', 416, 'Content-Range and Content-Length disagree', { range, length }, { range: `0-${Math.max(0, status.size - 1)}` });
          }
        }
        const size = await append(uploadId, req, offset);
        return send(res, 202, uploadHeaders(name, uploadId, size));
      }
      if (method === 'PUT') {
        setOp('CompleteUpload');
        await append(uploadId, req);
        const done = await finishUpload(name, uploadId, query.get('digest'));
        return send(res, 201, { location: `/v2/${name}/blobs/${done.digest}`, 'docker-content-digest': done.digest });
      }
      throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
    }

    if (blobDigest !== undefined) {
      // Reads (the hot path) look the link up first: a link implies its repository, which is read only on a miss.
      const read = (method === 'GET' || method === 'HEAD') && DIGEST_RE.test(blobDigest);
      const link = read ? await ctx.store.get<LayerDoc>('layer', layerArn(repositoryArn(ctx, name), blobDigest)) : undefined;
      const repo = link ? { arn: link.cluster } : await repositoryExists(name);
      if (!DIGEST_RE.test(blobDigest)) throw new RegistryError('DIGEST_INVALID', 400, 'provided digest did not match uploaded content', { digest: blobDigest });
      if (method === 'DELETE') {
        setOp('DeleteBlob');
        const link = await ctx.store.get('layer', layerArn(repo.arn, blobDigest));
        if (!link) throw new RegistryError('BLOB_UNKNOWN', 404, 'blob unknown to registry', { digest: blobDigest });
        await ctx.store.transaction((tx) => tx.remove('layer', link.arn, link.version));
        return send(res, 202, {});
      }
      if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
      setOp(method === 'HEAD' ? 'HeadBlob' : 'GetBlob');
      let found = link ? await ctx.blobs.stat(blobDigest) : await blobLinked(repo.arn, blobDigest);
      const base = { 'docker-content-digest': blobDigest, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${blobDigest}"` };
      if (!found) {
        // A blob of an image cached through a pull-through cache rule is fetched when first read.
        const through = await blobThroughCache(ctx, name, blobDigest);
        if (through?.kind === 'stream') {
          if (method === 'HEAD' || header(req, 'range') !== undefined) {
            // Stored first, then answered as a stored blob.
            through.body.destroy();
            found = { size: await through.done };
          } else {
            res.writeHead(200, { ...base, 'docker-distribution-api-version': 'registry/2.0', ...(through.size !== undefined ? { 'content-length': String(through.size) } : {}) });
            return sendStream(res, through.body);
          }
        } else if (through) {
          found = { size: through.size };
        }
      }
      if (!found) throw new RegistryError('BLOB_UNKNOWN', 404, 'blob unknown to registry', { digest: blobDigest });
      const range = parseRange(header(req, 'range'), found.size);
      if (range === 'invalid') {
        throw new RegistryError('RANGE_INVALID', 416, 'the requested range is not satisfiable', { size: found.size }, { 'content-range': `bytes */${found.size}` });
      }
      const length = range ? range.end - range.start + 1 : found.size;
      const headers: Record<string, string> = { ...base, 'content-length': String(length), 'docker-distribution-api-version': 'registry/2.0' };
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${found.size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      await ctx.blobs.copyTo(blobDigest, res, range);
      res.end();
      return;
    }

    if (reference !== undefined) {
      const isDigest = reference.startsWith('sha256:') || reference.includes(':');
      if (isDigest && !DIGEST_RE.test(reference)) throw new RegistryError('DIGEST_INVALID', 400, 'invalid digest', { digest: reference });
      if (!isDigest && !TAG_RE.test(reference)) throw new RegistryError('TAG_INVALID', 400, 'manifest tag did not match URI', { tag: reference });
      const ref = isDigest ? { imageDigest: reference } : { imageTag: reference };
      if (method === 'PUT') {
        setOp('PutManifest');
        const body = await readSmallBody(req, MAX_MANIFEST_BYTES);
        const contentType = header(req, 'content-type');
        const r = await putManifest(ctx, {
          repositoryName: name,
          manifest: body,
          ...(contentType !== undefined && contentType !== 'application/octet-stream' ? { mediaType: contentType } : {}),
          ...(isDigest ? { digest: reference } : { tag: reference }),
        });
        return send(res, 201, {
          location: `/v2/${name}/manifests/${r.digest}`,
          'docker-content-digest': r.digest,
          ...(r.subject !== undefined ? { 'oci-subject': r.subject } : {}),
        });
      }
      const pulling = method === 'GET' || method === 'HEAD';
      // A tag cached through a pull-through cache rule is re-checked upstream now and then.
      if (pulling && !isDigest) await refreshCachedTag(ctx, name, reference);
      const hit = pulling ? await findImage(ctx.store, repositoryArn(ctx, name), ref) : undefined;
      // A pull that misses may be served through a pull-through cache rule (which creates the repository).
      const repo = hit
        ? undefined
        : await repositoryExists(name).catch(async (err: unknown) => {
            if (pulling && (await pullThroughCache(ctx, name, reference))) return repositoryExists(name);
            throw err;
          });
      if (method === 'DELETE') {
        setOp('DeleteManifest');
        const deleted = await deleteImage(ctx, name, ref);
        if (deleted.length === 0) throw new RegistryError('MANIFEST_UNKNOWN', 404, 'manifest unknown to registry', ref);
        return send(res, 202, {});
      }
      if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
      setOp(method === 'HEAD' ? 'HeadManifest' : 'GetManifest');
      let image = hit ?? (repo ? await findImage(ctx.store, repo.arn, ref) : undefined);
      if (!image && repo && (await pullThroughCache(ctx, name, reference))) image = await findImage(ctx.store, repo.arn, ref);
      if (!image) throw new RegistryError('MANIFEST_UNKNOWN', 404, `Requested image not found`, ref);
      if (method === 'GET') ctx.pulls.record(repositoryArn(ctx, name), image.doc.imageDigest, ctx.now());
      const body = Buffer.from(image.doc.manifest, 'utf8');
      res.writeHead(200, {
        'docker-distribution-api-version': 'registry/2.0',
        'content-type': image.doc.mediaType,
        'docker-content-digest': image.doc.imageDigest,
        'content-length': String(body.length),
        etag: `"${image.doc.imageDigest}"`,
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }

    if (subject !== undefined) {
      setOp('Referrers');
      if (method !== 'GET') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
      if (!DIGEST_RE.test(subject)) throw new RegistryError('DIGEST_INVALID', 400, 'invalid digest', { digest: subject });
      const artifactType = query.get('artifactType') ?? undefined;
      const manifests = await referrers(ctx, name, subject, artifactType);
      return send(
        res,
        200,
        { 'content-type': MEDIA_TYPES.ociIndex, ...(artifactType !== undefined ? { 'oci-filters-applied': 'artifactType' } : {}) },
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }),
      );
    }

    // tags/list
    setOp('ListTags');
    if (method !== 'GET') throw new RegistryError('UNSUPPORTED', 405, 'The operation is unsupported.');
    const repo = await repositoryExists(name);
    const nText = query.get('n');
    const n = nText === null ? 1000 : Number(nText);
    if (!Number.isInteger(n) || n < 0) throw new RegistryError('UNSUPPORTED', 400, 'n must be a non-negative integer', { n: nText });
    const last = query.get('last');
    const rows = n === 0 ? [] : await ctx.store.find<TagDoc>('imageTag', {
      cluster: repo.arn,
      limit: n + 1,
      ...(last !== null ? { after: { name: last, seq: Number.MAX_SAFE_INTEGER, arn: tagArn(repo.arn, last) + '\uffff' } } : {}),
    });
    const tags = rows.slice(0, n).map((r) => r.name);
    const headers: Record<string, string> = {};
    if (rows.length > n && tags.length > 0) {
      headers.link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"`;
    }
    return json(res, 200, { name, tags }, headers);
  }

  return async (req, res) => {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    let operation = 'unknown';
    let outcome = 'ok';
    try {
      await route(req, res, path, query, (op) => {
        operation = op;
      });
    } catch (err) {
      const wire = toRegistryError(err);
      if (!wire) log.error({ err, operation, path: path.slice(0, 200) }, 'registry fault');
      const e = wire ?? new RegistryError('UNKNOWN', 500, 'Berth encountered an internal error. It has been logged; retry the request.');
      outcome = e.code;
      if (!res.headersSent) {
        // A refused upload body is not read: close the connection rather than read what we refuse.
        if (!req.readableEnded) res.setHeader('connection', 'close');
        send(res, e.status, { 'content-type': 'application/json', ...e.headers }, req.method === 'HEAD' ? undefined : e.body());
        if (!req.readableEnded) req.resume();
      } else {
        res.destroy();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      opts.observe?.(operation, outcome, seconds);
      if (log.isLevelEnabled('debug')) log.debug({ method: req.method, path: path.slice(0, 200), operation, outcome, status: res.statusCode, ms: Math.round(seconds * 1e5) / 100 }, 'registry request');
    }
  };
}

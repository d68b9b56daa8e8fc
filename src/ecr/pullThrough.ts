import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import {
  AwsError,
  InvalidParameterException,
  PullThroughCacheRuleAlreadyExistsException,
  PullThroughCacheRuleNotFoundException,
  RepositoryAlreadyExistsException,
  UnableToGetUpstreamImageException,
  UnableToGetUpstreamLayerException,
  SecretNotFoundException,
  UnableToDecryptSecretValueException,
  UnsupportedUpstreamRegistryException,
  ValidationException,
} from '../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { drained, eachChunk } from '../core/streams.js';
import { BlobNotFoundError } from '../registry/storage/blobStore.js';
import { AlreadyExistsError, withRetry, type Row } from '../store/store.js';
import type { EcrContext } from './context.js';
import { DIGEST_RE, MEDIA_TYPES, digestOf, findImage, linkLayer, parseManifest, putManifest, tagArn, type TagDoc } from './images.js';
import { REPOSITORY_NAME_RE, createRepository, getRepository, repositoryArn } from './repositories.js';

/**
 * Pull-through cache rules (CreatePullThroughCacheRule and friends) and the
 * cache itself: a pull from `/v2/` of `<ecrRepositoryPrefix>/<repository>`
 * that misses locally fetches the manifest and its blobs from the rule's
 * upstream registry, stores them in the repository (created on the first
 * pull, as ECR does) and serves them from then on.
 *
 * Upstreams are OCI Distribution registries named by URL: `https://host[:port]`
 * (or `host[:port]`, https implied), or `http://` for a loopback host.
 * Anonymous access and anonymous bearer tokens (the `WWW-Authenticate`
 * challenge) are supported; `credentialArn` is recorded but not used yet.
 */

export interface PullThroughCacheRuleDoc {
  ecrRepositoryPrefix: string;
  upstreamRegistryUrl: string;
  /** Epoch ms. */
  createdAt: number;
  updatedAt?: number;
  upstreamRegistry?: string;
  credentialArn?: string;
  customRoleArn?: string;
  upstreamRepositoryPrefix?: string;
}

const PREFIX_RE = /^((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*|ROOT)$/;
const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');
/** How long a manifest or token fetch from an upstream may take before the pull fails. */
const UPSTREAM_TIMEOUT_MS = 30_000;
/** Blobs of one image copied at once (docker's default for layer downloads is 3). */
const BLOB_COPIES = 4;
/** How long one blob may take to copy from an upstream (layers can be large). */
const BLOB_TIMEOUT_MS = 15 * 60_000;

function ruleArn(ctx: EcrContext, prefix: string): string {
  return `arn:aws:ecr:${ctx.region}:${ctx.accountId}:pull-through-cache-rule/${prefix}`;
}

function checkRegistryId(ctx: EcrContext, registryId: string | undefined): void {
  if (registryId !== undefined && registryId !== ctx.accountId) {
    throw new InvalidParameterException(`Invalid parameter at 'registryId' failed to satisfy constraint: 'registry ${registryId} is not served here; this registry's id is ${ctx.accountId}'`);
  }
}

function checkPrefix(prefix: string, member = 'ecrRepositoryPrefix'): void {
  if (prefix.length < 2 || prefix.length > 30 || !PREFIX_RE.test(prefix)) {
    throw new InvalidParameterException(
      `Invalid parameter at '${member}' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and have length between 2 and 30'`,
    );
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The upstream's base URL (`scheme://host[:port]`), or UnsupportedUpstreamRegistryException. */
export function upstreamBase(url: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `https://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new UnsupportedUpstreamRegistryException(`The upstream registry URL '${url}' is not a registry URL.`);
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || path !== '' || parsed.search !== '' || parsed.username !== '') {
    throw new UnsupportedUpstreamRegistryException(`The upstream registry URL '${url}' is not supported: give https://host[:port], or http://host[:port] for a loopback host.`);
  }
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) {
    throw new UnsupportedUpstreamRegistryException(`The upstream registry URL '${url}' is not supported: plain http is allowed only for a loopback host.`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}

function describeRule(ctx: EcrContext, d: PullThroughCacheRuleDoc): Record<string, unknown> {
  return {
    ecrRepositoryPrefix: d.ecrRepositoryPrefix,
    upstreamRegistryUrl: d.upstreamRegistryUrl,
    createdAt: d.createdAt / 1000,
    registryId: ctx.accountId,
    ...(d.upstreamRegistry !== undefined ? { upstreamRegistry: d.upstreamRegistry } : {}),
    ...(d.credentialArn !== undefined ? { credentialArn: d.credentialArn } : {}),
    ...(d.customRoleArn !== undefined ? { customRoleArn: d.customRoleArn } : {}),
    ...(d.upstreamRepositoryPrefix !== undefined ? { upstreamRepositoryPrefix: d.upstreamRepositoryPrefix } : {}),
    ...(d.updatedAt !== undefined ? { updatedAt: d.updatedAt / 1000 } : {}),
  };
}

function ruleNotFound(ctx: EcrContext, prefix: string): Error {
  return new PullThroughCacheRuleNotFoundException(`The pull through cache rule with prefix '${prefix}' does not exist in the registry with id '${ctx.accountId}'`);
}

async function getRule(ctx: EcrContext, prefix: string, registryId?: string): Promise<Row<PullThroughCacheRuleDoc>> {
  checkRegistryId(ctx, registryId);
  const row = await ctx.store.get<PullThroughCacheRuleDoc>('pullThroughCacheRule', ruleArn(ctx, prefix));
  if (!row) throw ruleNotFound(ctx, prefix);
  return row;
}

export async function createPullThroughCacheRule(
  ctx: EcrContext,
  input: {
    ecrRepositoryPrefix: string;
    upstreamRegistryUrl: string;
    registryId?: string;
    upstreamRegistry?: string;
    credentialArn?: string;
    customRoleArn?: string;
    upstreamRepositoryPrefix?: string;
  },
): Promise<unknown> {
  checkRegistryId(ctx, input.registryId);
  checkPrefix(input.ecrRepositoryPrefix);
  if (input.upstreamRepositoryPrefix !== undefined) checkPrefix(input.upstreamRepositoryPrefix, 'upstreamRepositoryPrefix');
  upstreamBase(input.upstreamRegistryUrl);
  await checkCredentialArn(ctx, input.credentialArn);
  const doc: PullThroughCacheRuleDoc = {
    ecrRepositoryPrefix: input.ecrRepositoryPrefix,
    upstreamRegistryUrl: input.upstreamRegistryUrl,
    createdAt: ctx.now(),
    ...(input.upstreamRegistry !== undefined ? { upstreamRegistry: input.upstreamRegistry } : {}),
    ...(input.credentialArn !== undefined ? { credentialArn: input.credentialArn } : {}),
    ...(input.customRoleArn !== undefined ? { customRoleArn: input.customRoleArn } : {}),
    ...(input.upstreamRepositoryPrefix !== undefined ? { upstreamRepositoryPrefix: input.upstreamRepositoryPrefix } : {}),
  };
  try {
    await ctx.store.transaction((tx) =>
      tx.insert('pullThroughCacheRule', { arn: ruleArn(ctx, doc.ecrRepositoryPrefix), cluster: '', name: doc.ecrRepositoryPrefix, status: 'ACTIVE', seq: doc.createdAt, doc }),
    );
  } catch (err) {
    if (err instanceof AlreadyExistsError) {
      throw new PullThroughCacheRuleAlreadyExistsException(
        `A pull through cache rule with prefix '${doc.ecrRepositoryPrefix}' already exists in the registry with id '${ctx.accountId}'`,
      );
    }
    throw err;
  }
  return describeRule(ctx, doc);
}

export async function describePullThroughCacheRules(
  ctx: EcrContext,
  input: { registryId?: string; ecrRepositoryPrefixes?: string[]; nextToken?: string; maxResults?: number },
): Promise<unknown> {
  checkRegistryId(ctx, input.registryId);
  if (input.ecrRepositoryPrefixes !== undefined) {
    const out: Record<string, unknown>[] = [];
    for (const p of input.ecrRepositoryPrefixes) out.push(describeRule(ctx, (await getRule(ctx, p)).doc));
    return { pullThroughCacheRules: out };
  }
  const limit = pageSize(input.maxResults, 1000, 100);
  const after = decodeToken<string>('ecr:DescribePullThroughCacheRules', input.nextToken);
  const rows = await ctx.store.find<PullThroughCacheRuleDoc>('pullThroughCacheRule', {
    limit: limit + 1,
    ...(after !== undefined ? { after: { name: after, seq: Number.MAX_SAFE_INTEGER, arn: '\uffff' } } : {}),
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    pullThroughCacheRules: page.map((r) => describeRule(ctx, r.doc)),
    ...(rows.length > limit && last ? { nextToken: encodeToken('ecr:DescribePullThroughCacheRules', last.name) } : {}),
  };
}

export async function deletePullThroughCacheRule(ctx: EcrContext, input: { registryId?: string; ecrRepositoryPrefix: string }): Promise<unknown> {
  const row = await getRule(ctx, input.ecrRepositoryPrefix, input.registryId);
  await ctx.store.transaction((tx) => tx.remove('pullThroughCacheRule', row.arn, row.version));
  const { updatedAt: _u, upstreamRegistry: _r, ...rest } = row.doc;
  return describeRule(ctx, rest);
}

export async function updatePullThroughCacheRule(
  ctx: EcrContext,
  input: { registryId?: string; ecrRepositoryPrefix: string; credentialArn?: string; customRoleArn?: string },
): Promise<unknown> {
  const row = await getRule(ctx, input.ecrRepositoryPrefix, input.registryId);
  await checkCredentialArn(ctx, input.credentialArn);
  const doc: PullThroughCacheRuleDoc = {
    ...row.doc,
    updatedAt: ctx.now(),
    ...(input.credentialArn !== undefined ? { credentialArn: input.credentialArn } : {}),
    ...(input.customRoleArn !== undefined ? { customRoleArn: input.customRoleArn } : {}),
  };
  await ctx.store.transaction((tx) => tx.update('pullThroughCacheRule', { ...row, doc }));
  return {
    ecrRepositoryPrefix: doc.ecrRepositoryPrefix,
    registryId: ctx.accountId,
    updatedAt: doc.updatedAt! / 1000,
    ...(doc.credentialArn !== undefined ? { credentialArn: doc.credentialArn } : {}),
    ...(doc.customRoleArn !== undefined ? { customRoleArn: doc.customRoleArn } : {}),
    ...(doc.upstreamRepositoryPrefix !== undefined ? { upstreamRepositoryPrefix: doc.upstreamRepositoryPrefix } : {}),
  };
}

export async function validatePullThroughCacheRule(ctx: EcrContext, input: { registryId?: string; ecrRepositoryPrefix: string }): Promise<unknown> {
  const { doc } = await getRule(ctx, input.ecrRepositoryPrefix, input.registryId);
  let failure: string | undefined;
  try {
    const client = new UpstreamClient(upstreamBase(doc.upstreamRegistryUrl), '', await upstreamCredentials(ctx, doc));
    const res = await client.ping(10_000);
    await res.body?.cancel();
    if (res.status === 401 && doc.credentialArn !== undefined) failure = `The upstream registry refused the credentials in '${doc.credentialArn}' (HTTP 401).`;
    // Without credentials, 401 is a registry asking for a token: it answers, and anonymous tokens are fetched per pull.
    else if (res.status !== 200 && res.status !== 401) failure = `The upstream registry answered ${res.status} at /v2/.`;
  } catch (err) {
    failure = err instanceof AwsError ? err.message : `The upstream registry could not be reached: ${(err as Error).message}`;
  }
  return {
    ecrRepositoryPrefix: doc.ecrRepositoryPrefix,
    registryId: ctx.accountId,
    upstreamRegistryUrl: doc.upstreamRegistryUrl,
    ...(doc.credentialArn !== undefined ? { credentialArn: doc.credentialArn } : {}),
    ...(doc.customRoleArn !== undefined ? { customRoleArn: doc.customRoleArn } : {}),
    ...(doc.upstreamRepositoryPrefix !== undefined ? { upstreamRepositoryPrefix: doc.upstreamRepositoryPrefix } : {}),
    isValid: failure === undefined,
    ...(failure !== undefined ? { failure } : {}),
  };
}

// ---- the cache ----

/** The rule whose prefix starts `repositoryName` (the longest such), and the upstream repository it maps to. */
async function ruleFor(ctx: EcrContext, repositoryName: string): Promise<{ rule: PullThroughCacheRuleDoc; upstreamRepository: string } | undefined> {
  const rules = await ctx.store.find<PullThroughCacheRuleDoc>('pullThroughCacheRule', {});
  let best: PullThroughCacheRuleDoc | undefined;
  for (const r of rules) {
    const p = r.doc.ecrRepositoryPrefix;
    const matches = p === 'ROOT' || repositoryName.startsWith(`${p}/`);
    if (matches && (!best || best.ecrRepositoryPrefix === 'ROOT' || p.length > best.ecrRepositoryPrefix.length)) best = r.doc;
  }
  if (!best) return undefined;
  const rest = best.ecrRepositoryPrefix === 'ROOT' ? repositoryName : repositoryName.slice(best.ecrRepositoryPrefix.length + 1);
  const upPrefix = best.upstreamRepositoryPrefix;
  return { rule: best, upstreamRepository: upPrefix !== undefined && upPrefix !== 'ROOT' ? `${upPrefix}/${rest}` : rest };
}

/** One GET with node:http(s) (the global agents keep connections alive). */
function httpGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers, signal }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Basic credentials for an upstream registry (from the rule's Secrets Manager secret). */
export interface UpstreamCredentials {
  username: string;
  accessToken: string;
}

/**
 * A client of one upstream repository. The first request goes out
 * anonymously; an upstream answering 401 says how to authenticate: a Basic
 * challenge is answered with the rule's credentials, a Bearer challenge with a
 * token from its realm (asked for with the credentials when there are some,
 * anonymously otherwise). A token that stops working is fetched again once.
 */
class UpstreamClient {
  private token: string | undefined;
  private useBasic = false;

  constructor(
    private readonly base: string,
    private readonly repository: string,
    private readonly credentials?: UpstreamCredentials,
  ) {}

  private basic(): string | undefined {
    return this.credentials ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.accessToken}`).toString('base64')}` : undefined;
  }

  /** GETs `/v2/<repository>/<path>`; `timeoutMs` bounds the request and the reading of its body. */
  get(path: string, accept?: string, timeoutMs = UPSTREAM_TIMEOUT_MS, method = 'GET'): Promise<Response> {
    return this.request(`${this.base}/v2/${this.repository}/${path}`, accept, timeoutMs, method);
  }

  /** GETs `/v2/`, the registry's version check (which also checks the credentials). */
  ping(timeoutMs: number): Promise<Response> {
    return this.request(`${this.base}/v2/`, undefined, timeoutMs, 'GET', false);
  }

  private authorization(): Record<string, string> {
    const auth = this.token !== undefined ? `Bearer ${this.token}` : this.useBasic ? this.basic() : undefined;
    return auth !== undefined ? { authorization: auth } : {};
  }

  /** Answers a 401's challenge; false when there is nothing to try again with. */
  private async authenticate(challenge: string, scoped: boolean): Promise<boolean> {
    if (/^basic /i.test(challenge) && this.credentials && !this.useBasic) {
      this.useBasic = true;
      return true;
    }
    const token = await this.bearerToken(challenge, scoped);
    if (token === undefined) return false;
    this.token = token;
    return true;
  }

  private async request(url: string, accept: string | undefined, timeoutMs: number, method: string, scoped = true): Promise<Response> {
    const headers = (): Record<string, string> => ({ ...(accept ? { accept } : {}), ...this.authorization() });
    let res = await fetch(url, { method, headers: headers(), signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401 && (await this.authenticate(res.headers.get('www-authenticate') ?? '', scoped))) {
      await res.body?.cancel();
      res = await fetch(url, { method, headers: headers(), signal: AbortSignal.timeout(timeoutMs) });
    }
    return res;
  }

  /**
   * GETs a blob as a Node stream (node:http: blobs are large, and a Node
   * stream costs less per byte than a fetch body), following the redirects
   * registries answer blob reads with (credentials go only to the upstream
   * itself). `timeoutMs` bounds the request and the reading of its body.
   */
  async blob(digest: string, timeoutMs: number): Promise<IncomingMessage> {
    const signal = AbortSignal.timeout(timeoutMs);
    let url = new URL(`${this.base}/v2/${this.repository}/blobs/${digest}`);
    let res = await httpGet(url, this.authorization(), signal);
    if (res.statusCode === 401 && (await this.authenticate(String(res.headers['www-authenticate'] ?? ''), true))) {
      res.resume();
      res = await httpGet(url, this.authorization(), signal);
    }
    for (let hops = 0; hops < 5 && [301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && res.headers.location; hops++) {
      res.resume();
      url = new URL(res.headers.location, url);
      res = await httpGet(url, url.origin === this.base ? this.authorization() : {}, signal);
    }
    return res;
  }

  private async bearerToken(challenge: string, scoped: boolean): Promise<string | undefined> {
    if (!/^bearer /i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (scoped) url.searchParams.set('scope', `repository:${this.repository}:pull`);
    const auth = this.basic();
    const res = await fetch(url, { ...(auth !== undefined ? { headers: { authorization: auth } } : {}), signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token;
  }
}

interface UpstreamManifest {
  body: Buffer;
  mediaType: string | undefined;
}

/** Fetches a manifest by tag or digest (checking a digest reference against the content). */
async function fetchManifest(client: UpstreamClient, reference: string): Promise<UpstreamManifest> {
  const res = await client.get(`manifests/${reference}`, MANIFEST_ACCEPT);
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new UnableToGetUpstreamImageException(`The image '${reference}' could not be fetched from the upstream registry (HTTP ${res.status}).`);
  }
  const body = Buffer.from(await res.arrayBuffer());
  if (DIGEST_RE.test(reference) && digestOf(body) !== reference) {
    throw new UnableToGetUpstreamImageException(`The upstream registry's manifest for '${reference}' has digest ${digestOf(body)}.`);
  }
  return { body, mediaType: res.headers.get('content-type') ?? undefined };
}

/**
 * Stores an upstream manifest (first, for an index, its manifests) under
 * `tag` when given. Blobs are not copied here: each is fetched when first
 * read (`blobThroughCache`). Returns the digests of the blobs an image
 * manifest names (none for an index).
 */
async function storeManifest(ctx: EcrContext, client: UpstreamClient, repositoryName: string, m: UpstreamManifest, tag: string | undefined, depth = 0): Promise<string[]> {
  const askedAt = ctx.now();
  const parsed = parseManifest(m.body, m.mediaType);
  const repo = await getRepository(ctx, ctx.store, repositoryName);
  for (const child of parsed.children) {
    if (depth > 2) break;
    if (await findImage(ctx.store, repo.arn, { imageDigest: child.digest })) continue;
    await storeManifest(ctx, client, repositoryName, await fetchManifest(client, child.digest), undefined, depth + 1);
  }
  await putManifest(ctx, {
    repositoryName,
    manifest: m.body,
    blobsFromUpstream: true,
    ...(tag !== undefined ? { upstreamCheckedAt: askedAt } : {}),
    ...(m.mediaType !== undefined && m.mediaType !== 'application/octet-stream' ? { mediaType: m.mediaType } : {}),
    ...(tag !== undefined ? { tag } : { digest: digestOf(m.body) }),
  });
  return [...new Set(parsed.blobs.map((b) => b.digest))];
}

/** In-flight work of one registry: image fetches by `<repository>@<reference>`, blob fetches by digest. */
interface Inflight {
  images: Map<string, Promise<boolean>>;
  blobs: Map<string, Promise<number>>;
  clients: Map<string, { client: UpstreamClient; at: number }>;
  refreshes: Map<string, Promise<void>>;
  /** Tags whose refresh failed (upstream unreachable), by when to try again (epoch ms). */
  refreshRetryAt: Map<string, number>;
}
const inflight = new WeakMap<EcrContext, Inflight>();

function inflightOf(ctx: EcrContext): Inflight {
  let f = inflight.get(ctx);
  if (!f) inflight.set(ctx, (f = { images: new Map(), blobs: new Map(), clients: new Map(), refreshes: new Map(), refreshRetryAt: new Map() }));
  return f;
}

/** The upstream client of a repository under a rule (one per upstream repository, keeping its bearer token). */
async function clientFor(ctx: EcrContext, rule: PullThroughCacheRuleDoc, upstreamRepository: string): Promise<UpstreamClient> {
  const base = upstreamBase(rule.upstreamRegistryUrl);
  const key = `${base}/${upstreamRepository}#${rule.credentialArn ?? ''}`;
  const clients = inflightOf(ctx).clients;
  const known = clients.get(key);
  // Reused a minute at most: a rotated secret is read again soon after.
  if (known && ctx.now() - known.at < CLIENT_REUSE_MS) return known.client;
  const client = new UpstreamClient(base, upstreamRepository, await upstreamCredentials(ctx, rule));
  clients.delete(key);
  if (clients.size >= 1000) clients.delete(clients.keys().next().value!);
  clients.set(key, { client, at: ctx.now() });
  return client;
}

/** How long an upstream client (its credentials and bearer token) is reused. */
const CLIENT_REUSE_MS = 60_000;

/** How long after a pull-through of an image its blobs not read by then are fetched (the client's own reads go first). */
const FILL_DELAY_MS = 5_000;

/** Fetches the blobs of a freshly cached image that no client has read yet, one at a time, best effort. */
function fillLater(ctx: EcrContext, repositoryName: string, digests: string[]): void {
  if (digests.length === 0) return;
  const timer = setTimeout(() => {
    void (async () => {
      for (const digest of digests) {
        try {
          const got = await blobThroughCache(ctx, repositoryName, digest);
          if (got?.kind === 'stream') {
            got.body.destroy();
            await got.done;
          }
        } catch {
          // Best effort: a later read fetches what is still missing.
        }
      }
    })();
  }, FILL_DELAY_MS);
  timer.unref();
}

/**
 * Fetches `<repositoryName>:<reference>` through the pull-through cache rule
 * whose prefix the name starts with. Resolves false when no rule applies;
 * true once the image's manifest is stored locally (its blobs follow as they
 * are read, and the rest shortly after). Concurrent pulls of one image share
 * one fetch. Upstream failures throw UnableToGetUpstreamImageException or
 * UnableToGetUpstreamLayerException.
 */
export async function pullThroughCache(ctx: EcrContext, repositoryName: string, reference: string): Promise<boolean> {
  if (!REPOSITORY_NAME_RE.test(repositoryName)) return false;
  const images = inflightOf(ctx).images;
  const key = `${repositoryName}@${reference}`;
  const running = images.get(key);
  if (running) return running;
  const p = (async () => {
    const found = await ruleFor(ctx, repositoryName);
    if (!found) return false;
    try {
      const client = await clientFor(ctx, found.rule, found.upstreamRepository);
      // The repository is created only once the upstream has the image.
      const manifest = await fetchManifest(client, reference);
      try {
        await createRepository(ctx, { repositoryName });
      } catch (err) {
        if (!(err instanceof RepositoryAlreadyExistsException)) throw err;
      }
      const tag = DIGEST_RE.test(reference) ? undefined : reference;
      fillLater(ctx, repositoryName, await storeManifest(ctx, client, repositoryName, manifest, tag));
    } catch (err) {
      throw asUpstreamError(err);
    }
    return true;
  })();
  images.set(key, p);
  try {
    return await p;
  } finally {
    images.delete(key);
  }
}

function asUpstreamError(err: unknown): unknown {
  if (err instanceof TypeError || (err as Error).name === 'TimeoutError') {
    return new UnableToGetUpstreamImageException(`The upstream registry could not be reached: ${(err as Error).message}`);
  }
  return err;
}

/** A blob read through the cache: either stored already, or streaming from the upstream while it is stored. */
export type BlobThrough =
  | { kind: 'stored'; size: number }
  | {
      kind: 'stream';
      /** The upstream's Content-Length, when it sent one. */
      size: number | undefined;
      /**
       * The blob's bytes as they arrive. Its last chunk is held back until the
       * whole content matched the digest: a client of a corrupt or truncated
       * upstream blob sees the stream fail, never a complete wrong blob.
       * Destroying it does not stop the blob from being stored.
       */
      body: Readable;
      /** Resolves with the size once the blob is stored and linked; rejects when nothing was stored. */
      done: Promise<number>;
    };

/**
 * Reads a blob of `repositoryName` that is not linked to it, through the
 * pull-through cache rule covering the repository: undefined when no rule
 * covers it. A blob stored already (another repository's) is linked; a blob
 * being fetched for another reader is waited for (one upstream fetch per
 * blob, however many readers); otherwise it is fetched from the upstream and
 * streamed to the reader while it is written to storage, and kept only when
 * its content matches `digest`.
 */
export async function blobThroughCache(ctx: EcrContext, repositoryName: string, digest: string): Promise<BlobThrough | undefined> {
  if (!DIGEST_RE.test(digest)) return undefined;
  const found = await ruleFor(ctx, repositoryName);
  if (!found) return undefined;
  await getRepository(ctx, ctx.store, repositoryName);
  const blobs = inflightOf(ctx).blobs;
  for (let attempt = 0; ; attempt++) {
    const stored = await ctx.blobs.stat(digest);
    if (stored) {
      try {
        await linkLayer(ctx, repositoryName, digest, stored.size);
        return { kind: 'stored', size: stored.size };
      } catch (err) {
        // Collected in between: fetch it again.
        if (!(err instanceof BlobNotFoundError) || attempt > 0) throw err;
        continue;
      }
    }
    const running = blobs.get(digest);
    if (!running) break;
    const size = await running.catch(() => undefined);
    if (size === undefined) throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be fetched from the upstream registry.`);
    if (attempt > 2) throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be stored.`);
  }
  let settle!: { resolve(n: number): void; reject(e: unknown): void };
  const done = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined);
  blobs.set(digest, done);
  void done.finally(() => blobs.delete(digest)).catch(() => undefined);
  try {
    const client = await clientFor(ctx, found.rule, found.upstreamRepository);
    const res = await client.blob(digest, BLOB_TIMEOUT_MS);
    if (res.statusCode !== 200) {
      res.resume();
      throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be fetched from the upstream registry (HTTP ${res.statusCode}).`);
    }
    const length = res.headers['content-length'];
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    void teeToStorage(ctx, { repositoryName, digest, size, source: res, body }).then(settle.resolve, (err: unknown) => {
      body.destroy(err as Error);
      settle.reject(err);
    });
    return { kind: 'stream', size, body, done };
  } catch (err) {
    const e = asUpstreamError(err);
    settle.reject(e);
    if (e instanceof UnableToGetUpstreamImageException) throw new UnableToGetUpstreamLayerException(e.message);
    throw e;
  }
}

/**
 * Bytes of an upstream blob held in memory for storage when the disk is
 * slower than the reader: up to this much, the reader is not held back by
 * the disk.
 */
const STORAGE_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * Copies `source` into a new upload session and into `body` (the reader's
 * stream, skipped once destroyed), verifying size and digest before the last
 * chunk reaches the reader; completes the upload and links the blob, or
 * cancels the upload. Resolves with the blob's size.
 */
async function teeToStorage(
  ctx: EcrContext,
  t: { repositoryName: string; digest: string; size: number | undefined; source: Readable; body: PassThrough },
): Promise<number> {
  const { digest, source, body } = t;
  const toStore = new PassThrough({ highWaterMark: STORAGE_BUFFER_BYTES });
  // The session is created while the first bytes already flow to the reader.
  const id = ctx.blobs.createUpload({ repository: t.repositoryName, startedAt: ctx.now() });
  const appended = id.then((i) => ctx.blobs.append(i, toStore));
  appended.catch(() => undefined);
  const hash = createHash('sha256');
  let received = 0;
  /** Hands a chunk to storage and to the reader; a promise when either must drain first. */
  const write = (chunk: Buffer): Promise<void> | undefined => {
    const waits: Promise<unknown>[] = [];
    if (!toStore.write(chunk)) waits.push(drained(toStore));
    if (!body.destroyed && !body.write(chunk)) waits.push(drained(body));
    return waits.length > 0 ? Promise.race([Promise.all(waits), appended]).then(() => undefined) : undefined;
  };
  try {
    let held: Buffer | undefined;
    await eachChunk(source, (b) => {
      hash.update(b);
      received += b.length;
      const previous = held;
      held = b;
      return previous ? write(previous) : undefined;
    });
    // Checked here rather than by the storage, so that the reader does not wait for the disk.
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest || (t.size !== undefined && t.size !== received)) {
      throw new UnableToGetUpstreamLayerException(`The upstream registry's layer '${digest}' has digest ${actual} (${received} bytes).`);
    }
    toStore.end(held);
    if (!body.destroyed) body.end(held);
    await appended;
    const { size } = await ctx.blobs.completeUpload(await id, digest);
    await linkLayer(ctx, t.repositoryName, digest, size);
    return size;
  } catch (err) {
    source.destroy();
    toStore.destroy();
    await appended.catch(() => undefined);
    await id.then((i) => ctx.blobs.cancelUpload(i)).catch(() => undefined);
    if (err instanceof UnableToGetUpstreamLayerException) throw err;
    throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be copied from the upstream registry: ${(err as Error).message}`);
  }
}

/** Notes that the upstream was just asked where `tag` points (the refresh interval starts again). */
async function markChecked(ctx: EcrContext, repositoryName: string, tag: string): Promise<void> {
  const repo = await getRepository(ctx, ctx.store, repositoryName);
  await withRetry(ctx.store, async (tx) => {
    const row = await tx.get<TagDoc>('imageTag', tagArn(repo.arn, tag));
    if (row) await tx.update<TagDoc>('imageTag', { ...row, doc: { ...row.doc, upstreamCheckedAt: ctx.now() } });
  });
}

const CREDENTIAL_ARN_PATTERN = '^arn:aws:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\\-pullthroughcache\\/[a-zA-Z0-9\\/_+=.@-]+$';
const CREDENTIAL_ARN_RE = new RegExp(CREDENTIAL_ARN_PATTERN);

/** The secret's current value; SecretNotFoundException or UnableToDecryptSecretValueException as ECR answers. */
async function readSecret(ctx: EcrContext, arn: string): Promise<string> {
  let value: string | undefined;
  try {
    value = await ctx.secretString?.(arn);
  } catch (err) {
    if (err instanceof AwsError && err.type === 'DecryptionFailure') throw new UnableToDecryptSecretValueException(`The secret '${arn}' could not be decrypted.`);
    throw err;
  }
  if (value === undefined) throw new SecretNotFoundException(`The secret '${arn}' does not exist in the registry's account and Region.`);
  return value;
}

/**
 * Checks a rule's `credentialArn` as ECR does: a Secrets Manager secret ARN
 * whose name starts with `ecr-pullthroughcache/`, naming a secret that exists.
 */
async function checkCredentialArn(ctx: EcrContext, arn: string | undefined): Promise<void> {
  if (arn === undefined) return;
  const violation =
    arn.length < 50
      ? 'Member must have length greater than or equal to 50'
      : arn.length > 612
        ? 'Member must have length less than or equal to 612'
        : !CREDENTIAL_ARN_RE.test(arn)
          ? `Member must satisfy regular expression pattern: ${CREDENTIAL_ARN_PATTERN}`
          : undefined;
  if (violation !== undefined) throw new ValidationException(`1 validation error detected: Value '${arn}' at 'credentialArn' failed to satisfy constraint: ${violation}`);
  await readSecret(ctx, arn);
}

/**
 * The credentials of a rule's `credentialArn` (a secret holding
 * `{"username": ..., "accessToken": ...}`), or undefined for a rule without
 * one. A missing or malformed secret fails the pull.
 */
async function upstreamCredentials(ctx: EcrContext, rule: PullThroughCacheRuleDoc): Promise<UpstreamCredentials | undefined> {
  if (rule.credentialArn === undefined) return undefined;
  let value: string;
  try {
    value = await readSecret(ctx, rule.credentialArn);
  } catch (err) {
    if (err instanceof AwsError) throw new UnableToGetUpstreamImageException(`The credentials of the pull through cache rule could not be read: ${err.message}`);
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const { username, accessToken } = (parsed ?? {}) as { username?: unknown; accessToken?: unknown };
  if (typeof username !== 'string' || typeof accessToken !== 'string') {
    throw new UnableToGetUpstreamImageException(`The secret '${rule.credentialArn}' must hold a JSON object with the string members username and accessToken.`);
  }
  return { username, accessToken };
}

/** ECR re-checks a cached tag against its upstream at most once every 24 hours. */
export const DEFAULT_REFRESH_MS = 24 * 60 * 60_000;
/** How long a refresh may wait for the upstream before the cached image is served. */
const REFRESH_TIMEOUT_MS = 10_000;
/** After a failed refresh (upstream unreachable), pulls serve the cached image without asking again for this long. */
const REFRESH_RETRY_MS = 60_000;

/**
 * Called before a tag is served: when `tag` was cached through a pull-through
 * cache rule and the upstream was last asked where it points more than the
 * refresh interval ago (`pullThroughRefreshMs`, 24 hours by default), asks
 * again and, when the tag moved upstream, caches the image it points to now
 * and moves the tag there. An upstream that cannot be reached, or no longer
 * has the tag, leaves the cached image served. Concurrent pulls share one
 * refresh.
 */
export async function refreshCachedTag(ctx: EcrContext, repositoryName: string, tag: string): Promise<void> {
  const repoArn = repositoryArn(ctx, repositoryName);
  const row = await ctx.store.get<TagDoc>('imageTag', tagArn(repoArn, tag));
  const checkedAt = row?.doc.upstreamCheckedAt;
  if (!row || checkedAt === undefined) return;
  const now = ctx.now();
  if (now - checkedAt < (ctx.pullThroughRefreshMs ?? DEFAULT_REFRESH_MS)) return;
  const f = inflightOf(ctx);
  const key = `${repositoryName}:${tag}`;
  if ((f.refreshRetryAt.get(key) ?? 0) > now) return;
  const running = f.refreshes.get(key);
  if (running) return running;
  const p = (async () => {
    try {
      const found = await ruleFor(ctx, repositoryName);
      if (!found) return;
      const client = await clientFor(ctx, found.rule, found.upstreamRepository);
      const head = await client.get(`manifests/${tag}`, MANIFEST_ACCEPT, REFRESH_TIMEOUT_MS, 'HEAD');
      await head.body?.cancel();
      const upstreamDigest = head.headers.get('docker-content-digest');
      if (head.status !== 200) throw new Error(`the upstream answered ${head.status}`);
      if (upstreamDigest !== row.doc.digest) {
        const manifest = await fetchManifest(client, tag);
        if (digestOf(manifest.body) !== row.doc.digest) {
          fillLater(ctx, repositoryName, await storeManifest(ctx, client, repositoryName, manifest, tag));
          f.refreshRetryAt.delete(key);
          return;
        }
      }
      await markChecked(ctx, repositoryName, tag);
      f.refreshRetryAt.delete(key);
    } catch {
      // The cached image is served; the upstream is asked again a little later.
      if (f.refreshRetryAt.size >= 10_000) f.refreshRetryAt.clear();
      f.refreshRetryAt.set(key, ctx.now() + REFRESH_RETRY_MS);
    }
  })();
  f.refreshes.set(key, p);
  try {
    await p;
  } finally {
    f.refreshes.delete(key);
  }
}

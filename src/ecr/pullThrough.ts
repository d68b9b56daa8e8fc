import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  InvalidParameterException,
  PullThroughCacheRuleAlreadyExistsException,
  PullThroughCacheRuleNotFoundException,
  RepositoryAlreadyExistsException,
  UnableToGetUpstreamImageException,
  UnableToGetUpstreamLayerException,
  UnsupportedUpstreamRegistryException,
} from '../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { AlreadyExistsError, type Row } from '../store/store.js';
import type { EcrContext } from './context.js';
import { DIGEST_RE, MEDIA_TYPES, digestOf, findImage, layerArn, linkLayer, parseManifest, putManifest } from './images.js';
import { REPOSITORY_NAME_RE, createRepository, getRepository } from './repositories.js';

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
    const res = await fetch(`${upstreamBase(doc.upstreamRegistryUrl)}/v2/`, { signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    // 401 is a registry asking for a token: it answers, and anonymous tokens are fetched per pull.
    if (res.status !== 200 && res.status !== 401) failure = `The upstream registry answered ${res.status} at /v2/.`;
  } catch (err) {
    failure = `The upstream registry could not be reached: ${(err as Error).message}`;
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

/** A client of one upstream repository: anonymous, taking a bearer token when the upstream challenges for one. */
class UpstreamClient {
  private token: string | undefined;

  constructor(
    private readonly base: string,
    private readonly repository: string,
  ) {}

  /** GETs `/v2/<repository>/<path>`; `timeoutMs` bounds the request and the reading of its body. */
  async get(path: string, accept?: string, timeoutMs = UPSTREAM_TIMEOUT_MS): Promise<Response> {
    const url = `${this.base}/v2/${this.repository}/${path}`;
    const headers = (): Record<string, string> => ({ ...(accept ? { accept } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) });
    let res = await fetch(url, { headers: headers(), signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401 && this.token === undefined) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      await res.body?.cancel();
      this.token = await this.anonymousToken(challenge);
      if (this.token === undefined) return res;
      res = await fetch(url, { headers: headers(), signal: AbortSignal.timeout(timeoutMs) });
    }
    return res;
  }

  private async anonymousToken(challenge: string): Promise<string | undefined> {
    if (!/^bearer /i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', `repository:${this.repository}:pull`);
    const res = await fetch(url, { signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token;
  }
}

/** Copies one blob from the upstream into the blob store (verifying its digest) and links it to the repository. */
async function copyBlob(ctx: EcrContext, client: UpstreamClient, repositoryName: string, digest: string): Promise<void> {
  const repo = await getRepository(ctx, ctx.store, repositoryName);
  if (await ctx.store.get('layer', layerArn(repo.arn, digest))) return;
  const stored = await ctx.blobs.stat(digest);
  if (stored) return linkLayer(ctx, repositoryName, digest, stored.size);
  const res = await client.get(`blobs/${digest}`, undefined, BLOB_TIMEOUT_MS);
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be fetched from the upstream registry (HTTP ${res.status}).`);
  }
  const id = await ctx.blobs.createUpload({ repository: repositoryName, startedAt: ctx.now() });
  try {
    await ctx.blobs.append(id, Readable.fromWeb(res.body as WebReadableStream<Uint8Array>));
    const { size } = await ctx.blobs.completeUpload(id, digest);
    await linkLayer(ctx, repositoryName, digest, size);
  } catch (err) {
    await ctx.blobs.cancelUpload(id);
    if (err instanceof UnableToGetUpstreamLayerException) throw err;
    throw new UnableToGetUpstreamLayerException(`The layer '${digest}' could not be copied from the upstream registry: ${(err as Error).message}`);
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

/** Stores an upstream manifest (first, for an index, its manifests) with every blob it names; under `tag` when given. */
async function storeManifest(ctx: EcrContext, client: UpstreamClient, repositoryName: string, m: UpstreamManifest, tag: string | undefined, depth = 0): Promise<void> {
  const parsed = parseManifest(m.body, m.mediaType);
  const repo = await getRepository(ctx, ctx.store, repositoryName);
  for (const child of parsed.children) {
    if (depth > 2) break;
    if (await findImage(ctx.store, repo.arn, { imageDigest: child.digest })) continue;
    await storeManifest(ctx, client, repositoryName, await fetchManifest(client, child.digest), undefined, depth + 1);
  }
  // Blobs are copied a few at a time, as docker pulls layers.
  const queue = [...new Set(parsed.blobs.map((b) => b.digest))];
  await Promise.all(
    Array.from({ length: Math.min(BLOB_COPIES, queue.length) }, async () => {
      for (let digest = queue.shift(); digest !== undefined; digest = queue.shift()) await copyBlob(ctx, client, repositoryName, digest);
    }),
  );
  await putManifest(ctx, {
    repositoryName,
    manifest: m.body,
    ...(m.mediaType !== undefined && m.mediaType !== 'application/octet-stream' ? { mediaType: m.mediaType } : {}),
    ...(tag !== undefined ? { tag } : { digest: digestOf(m.body) }),
  });
}

const inflight = new WeakMap<EcrContext, Map<string, Promise<boolean>>>();

/**
 * Fetches `<repositoryName>:<reference>` through the pull-through cache rule
 * whose prefix the name starts with. Resolves false when no rule applies;
 * true once the image is stored locally. Concurrent pulls of one image share
 * one fetch. Upstream failures throw UnableToGetUpstreamImageException or
 * UnableToGetUpstreamLayerException.
 */
export async function pullThroughCache(ctx: EcrContext, repositoryName: string, reference: string): Promise<boolean> {
  if (!REPOSITORY_NAME_RE.test(repositoryName)) return false;
  let byKey = inflight.get(ctx);
  if (!byKey) inflight.set(ctx, (byKey = new Map()));
  const key = `${repositoryName}@${reference}`;
  const running = byKey.get(key);
  if (running) return running;
  const p = (async () => {
    const found = await ruleFor(ctx, repositoryName);
    if (!found) return false;
    const client = new UpstreamClient(upstreamBase(found.rule.upstreamRegistryUrl), found.upstreamRepository);
    try {
      // The repository is created only once the upstream has the image.
      const manifest = await fetchManifest(client, reference);
      try {
        await createRepository(ctx, { repositoryName });
      } catch (err) {
        if (!(err instanceof RepositoryAlreadyExistsException)) throw err;
      }
      await storeManifest(ctx, client, repositoryName, manifest, DIGEST_RE.test(reference) ? undefined : reference);
    } catch (err) {
      if (err instanceof UnableToGetUpstreamImageException || err instanceof UnableToGetUpstreamLayerException) throw err;
      if (err instanceof TypeError || (err as Error).name === 'TimeoutError') {
        throw new UnableToGetUpstreamImageException(`The upstream registry could not be reached: ${(err as Error).message}`);
      }
      throw err;
    }
    return true;
  })();
  byKey.set(key, p);
  try {
    return await p;
  } finally {
    byKey.delete(key);
  }
}

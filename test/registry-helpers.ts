import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { freePort, startTestServer, TEST_CREDENTIALS } from './helpers.js';

export function ecrClient(endpoint: string, credentials = TEST_CREDENTIALS, region = 'us-east-1'): ECRClient {
  return new ECRClient({ endpoint, region, credentials, maxAttempts: 1 });
}

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/** A registry client speaking the OCI Distribution protocol with plain fetch, as a test needs it. */
export class RegistryClient {
  constructor(
    readonly base: string,
    private readonly authorization: string | undefined,
  ) {}

  /** Logs in as `docker login` would: user AWS and the password from GetAuthorizationToken, sent as Basic. */
  static async login(endpoint: string, ecr: ECRClient): Promise<RegistryClient> {
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    return new RegistryClient(endpoint, `Basic ${out.authorizationData![0]!.authorizationToken!}`);
  }

  anonymous(): RegistryClient {
    return new RegistryClient(this.base, undefined);
  }

  fetch(path: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Response> {
    const url = path.startsWith('http') ? path : this.base + path;
    return fetch(url, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : new Uint8Array(init.body) } : {}),
      headers: { ...(this.authorization ? { authorization: this.authorization } : {}), ...init.headers },
      redirect: 'manual',
    });
  }

  /** Pushes a blob in one request (POST ?digest=); returns its digest. */
  async pushBlob(repo: string, content: Buffer | string): Promise<string> {
    const digest = sha256(content);
    const res = await this.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content, headers: { 'content-type': 'application/octet-stream' } });
    if (res.status !== 201) throw new Error(`blob push answered ${res.status}: ${await res.text()}`);
    return digest;
  }

  async putManifest(repo: string, ref: string, manifest: unknown, mediaType: string): Promise<Response> {
    const body = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
    return this.fetch(`/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  }

  /** Pushes a config and layers and an OCI image manifest naming them; returns the manifest, its text and digest. */
  async pushImage(repo: string, ref: string, layers: string[], extra: Record<string, unknown> = {}): Promise<{ digest: string; text: string; response: Response }> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed: layers }));
    const configDigest = await this.pushBlob(repo, config);
    const layerDescs = [];
    for (const l of layers) layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await this.pushBlob(repo, l), size: Buffer.byteLength(l) });
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layerDescs,
      ...extra,
    };
    const text = JSON.stringify(manifest);
    const response = await this.putManifest(repo, ref, text, manifest.mediaType);
    return { digest: sha256(text), text, response };
  }
}

/**
 * A test server with `repositories` created, an ECR client, and a registry
 * client logged in as `docker login` would be; `host` is the registry host of
 * image references. `stop` releases all of them.
 */
export async function startRegistryServer(repositories: string[] = []): Promise<{
  server: Awaited<ReturnType<typeof startTestServer>>;
  ecr: ECRClient;
  reg: RegistryClient;
  host: string;
  stop(): Promise<void>;
}> {
  const server = await startTestServer();
  const ecr = ecrClient(server.url);
  for (const name of repositories) await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
  const reg = await RegistryClient.login(server.url, ecr);
  return {
    server,
    ecr,
    reg,
    host: new URL(server.url).host,
    async stop() {
      ecr.destroy();
      await server.stop();
    },
  };
}

export async function registryError(res: Response): Promise<{ code: string; message: string; detail?: unknown }> {
  const body = (await res.json()) as { errors: { code: string; message: string; detail?: unknown }[] };
  return body.errors[0]!;
}

/** The docker and AWS CLIs run as a test needs them: their config in `workDir`, the test credentials, output captured. */
export function cliRunner(workDir: () => string) {
  /** Runs a command without blocking this process (the server under test lives in it); killed after 3 minutes. */
  function run(cmd: string, args: string[], input?: string): Promise<{ status: number; out: string }> {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DOCKER_CONFIG: join(workDir(), 'docker-config'),
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_REGION: 'us-east-1',
        AWS_CONFIG_FILE: join(workDir(), 'aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(workDir(), 'aws-credentials'),
        AWS_PAGER: '',
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    return new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ status: code ?? -1, out });
      }),
    );
  }
  /** Runs a command that must succeed; its output. */
  async function ok(cmd: string, args: string[], input?: string): Promise<string> {
    const r = await run(cmd, args, input);
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.out}`);
    return r.out;
  }
  return { run, ok };
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Debian's docker-registry as the upstream of a pull-through cache rule, serving on a free loopback port. */
export interface UpstreamRegistry {
  /** host:port it listens on. */
  host: string;
  /** Its storage root (blobs under docker/registry/v2/blobs). */
  dataDir: string;
  /** What it logged so far: at log level info, its access log names every request it served. */
  log(): string;
  /** Pushes a blob (POST, then PUT with the content); returns its descriptor. */
  pushBlob(repository: string, content: string, mediaType: string): Promise<Descriptor>;
  putManifest(repository: string, ref: string, body: string, mediaType: string): Promise<void>;
  /** Pushes an OCI image of `layers` whose config holds `seed`; returns the manifest's text. */
  pushImage(repository: string, tag: string, layers: string[], seed: unknown): Promise<string>;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `/usr/bin/docker-registry` with its configuration and data in `dir`:
 * anonymous unless `user` is given (then htpasswd with bcrypt, and every
 * request of this helper sends that user's Basic credentials).
 */
export async function startUpstreamRegistry(
  dir: string,
  opts: { logLevel: 'info' | 'warn'; deleteEnabled?: boolean; user?: { name: string; password: string } },
): Promise<UpstreamRegistry> {
  const host = `127.0.0.1:${await freePort()}`;
  const dataDir = join(dir, 'upstream-data');
  const lines = ['version: 0.1', 'log:', `  level: ${opts.logLevel}`, 'storage:', '  filesystem:', `    rootdirectory: ${dataDir}`];
  if (opts.deleteEnabled) lines.push('  delete:', '    enabled: true');
  if (opts.user) {
    writeFileSync(join(dir, 'htpasswd'), `${opts.user.name}:${bcrypt.hashSync(opts.user.password, 8)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: berth-upstream', `    path: ${join(dir, 'htpasswd')}`);
  }
  lines.push('http:', `  addr: ${host}`, '');
  const config = join(dir, 'upstream.yml');
  writeFileSync(config, lines.join('\n'));
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const headers: Record<string, string> = opts.user ? { authorization: `Basic ${Buffer.from(`${opts.user.name}:${opts.user.password}`).toString('base64')}` } : {};
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  };
  const ready = opts.user ? 401 : 200;
  const until = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
    if (res?.status === ready) break;
    if (Date.now() > until) {
      await stop();
      assert.fail(`docker-registry did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pushBlob = async (repository: string, content: string, mediaType: string): Promise<Descriptor> => {
    const digest = sha256(content);
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
    assert.equal(started.status, 202, await started.text());
    const location = new URL(started.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', digest);
    const res = await fetch(location, { method: 'PUT', body: content, headers: { ...headers, 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 201, await res.text());
    return { mediaType, digest, size: Buffer.byteLength(content) };
  };
  const putManifest = async (repository: string, ref: string, body: string, mediaType: string): Promise<void> => {
    const res = await fetch(`http://${host}/v2/${repository}/manifests/${ref}`, { method: 'PUT', body, headers: { ...headers, 'content-type': mediaType } });
    assert.equal(res.status, 201, await res.text());
  };
  return {
    host,
    dataDir,
    log: () => log,
    pushBlob,
    putManifest,
    async pushImage(repository, tag, layers, seed) {
      const config = await pushBlob(repository, JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }), 'application/vnd.oci.image.config.v1+json');
      const descriptors = [];
      for (const l of layers) descriptors.push(await pushBlob(repository, l, 'application/vnd.oci.image.layer.v1.tar'));
      const text = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: descriptors });
      await putManifest(repository, tag, text, OCI_MANIFEST);
      return text;
    },
    stop,
  };
}

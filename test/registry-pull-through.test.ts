import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BatchCheckLayerAvailabilityCommand,
  CreatePullThroughCacheRuleCommand,
  DeletePullThroughCacheRuleCommand,
  DescribeImagesCommand,
  DescribePullThroughCacheRulesCommand,
  DescribeRepositoriesCommand,
  InvalidParameterException,
  PullThroughCacheRuleAlreadyExistsException,
  PullThroughCacheRuleNotFoundException,
  RepositoryNotFoundException,
  UnsupportedUpstreamRegistryException,
  UpdatePullThroughCacheRuleCommand,
  ValidatePullThroughCacheRuleCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { freePort, rejectsWith, startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';
import { RegistryClient, cliRunner, ecrClient, registryError, sha256, startUpstreamRegistry, type UpstreamRegistry } from './registry-helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('pull-through cache from an upstream registry (Debian docker-registry) with the docker CLI', () => {
  let server: Server;
  let ecr: ECRClient;
  let host: string;
  let upstream: UpstreamRegistry | undefined;
  let upstreamHost: string;
  /** The upstream's log: its access log names every request it served. */
  const upstreamLog = () => upstream!.log();
  let work: { path: string; remove(): void };
  const suffix = `${process.pid}`;
  /** Image references this test created, removed at the end (never anything else). */
  const refs: string[] = [];
  const ids: string[] = [];

  const { run, ok } = cliRunner(() => work.path);

  /** Pushes an OCI image of `layers` to the upstream (docker-registry takes blobs as POST then PUT); returns the manifest's text. */
  const pushUpstreamImage = (repository: string, tag: string, layers: string[]): Promise<string> => upstream!.pushImage(repository, tag, layers, repository);

  before(async () => {
    work = tempDir('berth-pull-through-');
    server = await startTestServer();
    ecr = ecrClient(server.url);
    host = new URL(server.url).host;

    // The upstream: Debian's docker-registry on a free loopback port, storing under the temp dir, no auth.
    upstream = await startUpstreamRegistry(work.path, { logLevel: 'info', deleteEnabled: true });
    upstreamHost = upstream.host;
  });

  after(async () => {
    for (const ref of [...refs, ...ids]) await run('docker', ['rmi', '-f', ref]);
    await run('docker', ['logout', host]);
    await upstream?.stop();
    ecr.destroy();
    await server.stop();
    work.remove();
  });

  it('manages pull-through cache rules with ECR’s errors', async () => {
    const created = await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'upstream', upstreamRegistryUrl: `http://${upstreamHost}` }));
    assert.equal(created.ecrRepositoryPrefix, 'upstream');
    assert.equal(created.upstreamRegistryUrl, `http://${upstreamHost}`);
    assert.equal(created.registryId, '000000000000');
    assert.ok(created.createdAt instanceof Date);
    await rejectsWith(ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'upstream', upstreamRegistryUrl: `http://${upstreamHost}` })), PullThroughCacheRuleAlreadyExistsException);
    await rejectsWith(ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'plain', upstreamRegistryUrl: 'http://registry.example.com' })), UnsupportedUpstreamRegistryException, /only for a loopback host/);
    await rejectsWith(ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'Bad_Prefix', upstreamRegistryUrl: 'registry.example.com' })), InvalidParameterException, /ecrRepositoryPrefix/);

    const valid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'upstream' }));
    assert.equal(valid.isValid, true);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nowhere', upstreamRegistryUrl: `http://127.0.0.1:${await freePort()}` }));
    const invalid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nowhere' }));
    assert.equal(invalid.isValid, false);
    assert.match(invalid.failure ?? '', /could not be reached/);

    const sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    const secretArn = (await sm.send(new CreateSecretCommand({ Name: 'ecr-pullthroughcache/x', SecretString: '{"username":"u","accessToken":"t"}' }))).ARN!;
    sm.destroy();
    const updated = await ecr.send(new UpdatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nowhere', credentialArn: secretArn }));
    assert.ok(updated.updatedAt instanceof Date);
    const described = await ecr.send(new DescribePullThroughCacheRulesCommand({}));
    assert.deepEqual(described.pullThroughCacheRules!.map((r) => r.ecrRepositoryPrefix), ['nowhere', 'upstream']);
    assert.equal(described.pullThroughCacheRules![0]!.credentialArn, secretArn);
    const viaCli = JSON.parse(
      await ok('aws', ['ecr', 'describe-pull-through-cache-rules', '--ecr-repository-prefixes', 'upstream', '--endpoint-url', server.url, '--output', 'json']),
    ) as { pullThroughCacheRules: { upstreamRegistryUrl: string }[] };
    assert.equal(viaCli.pullThroughCacheRules[0]!.upstreamRegistryUrl, `http://${upstreamHost}`);

    await ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nowhere' }));
    await rejectsWith(ecr.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'nowhere' })), PullThroughCacheRuleNotFoundException);
    await rejectsWith(ecr.send(new DescribePullThroughCacheRulesCommand({ ecrRepositoryPrefixes: ['nowhere'] })), PullThroughCacheRuleNotFoundException);
  });

  it('docker pull through Berth fetches an image missing locally from the upstream, creates its repository and serves it', async () => {
    // An image with fresh content, pushed to the upstream and then removed from the Docker Engine.
    const ctx = join(work.path, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'data.bin'), randomBytes(600_000));
    writeFileSync(join(ctx, 'app.txt'), `through the cache ${suffix}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM berth-test/busybox:latest\nCOPY data.bin /data.bin\nCOPY app.txt /app.txt\n');
    const upstreamRef = `${upstreamHost}/team/tool-${suffix}:v1`;
    refs.push(upstreamRef);
    const built = await ok('docker', ['build', '-q', '-t', upstreamRef, ctx]);
    const id = /sha256:[a-f0-9]{64}/.exec(built)?.[0];
    assert.ok(id, built);
    ids.push(id);
    const push = await ok('docker', ['push', upstreamRef]);
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(push)?.[1];
    assert.ok(digest, push);
    await ok('docker', ['rmi', upstreamRef]);

    const password = (await ok('aws', ['ecr', 'get-login-password', '--endpoint-url', server.url])).trim();
    await ok('docker', ['login', '--username', 'AWS', '--password-stdin', host], password);
    const fetchesBefore = upstreamLog().split('\n').filter((l) => l.includes('/blobs/sha256:') && l.includes('response completed')).length;
    const repositoryName = `upstream/team/tool-${suffix}`;
    const cachedRef = `${host}/${repositoryName}:v1`;
    refs.push(cachedRef);
    const pull = await ok('docker', ['pull', cachedRef]);
    assert.ok(pull.includes(digest), pull);
    const fetches = upstreamLog().split('\n').filter((l) => l.includes('/blobs/sha256:') && l.includes('response completed')).length - fetchesBefore;
    assert.ok(fetches > 0, 'the blobs came from the upstream');
    assert.equal((await ok('docker', ['run', '--rm', cachedRef, 'cat', '/app.txt'])).trim(), `through the cache ${suffix}`);

    const repos = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] }));
    assert.equal(repos.repositories![0]!.repositoryUri, `${host}/${repositoryName}`);
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName }));
    assert.deepEqual(images.imageDetails!.map((i) => [i.imageDigest, i.imageTags]), [[digest, ['v1']]]);

    // Every blob of the image is now held by Berth, byte for byte what the upstream has.
    const reg = await RegistryClient.login(server.url, ecr);
    const manifest = (await (await reg.fetch(`/v2/${repositoryName}/manifests/v1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).json()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      const blob = Buffer.from(await (await reg.fetch(`/v2/${repositoryName}/blobs/${d}`)).arrayBuffer());
      assert.equal(sha256(blob), d);
    }
  });

  it('answers a tag or repository the upstream lacks with MANIFEST_UNKNOWN, creating nothing, and a name no rule covers with NAME_UNKNOWN', async () => {
    const reg = await RegistryClient.login(server.url, ecr);
    const missingTag = await reg.fetch(`/v2/upstream/team/tool-${suffix}/manifests/no-such-tag`);
    assert.equal(missingTag.status, 404);
    assert.equal((await registryError(missingTag)).code, 'MANIFEST_UNKNOWN');
    const absent = await reg.fetch(`/v2/upstream/team/absent-${suffix}/manifests/v1`);
    assert.equal(absent.status, 404);
    assert.equal((await registryError(absent)).code, 'MANIFEST_UNKNOWN');
    await rejectsWith(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [`upstream/team/absent-${suffix}`] })), RepositoryNotFoundException);
    const noRule = await reg.fetch(`/v2/elsewhere/team/tool-${suffix}/manifests/v1`);
    assert.equal(noRule.status, 404);
    assert.equal((await registryError(noRule)).code, 'NAME_UNKNOWN');
  });
  it('caches an image index with every manifest it lists, so each platform is pullable by digest', async () => {
    const blob = (content: string, mediaType: string) => upstream!.pushBlob(`multi/app-${suffix}`, content, mediaType);
    const putManifest = (ref: string, body: string, mediaType: string) => upstream!.putManifest(`multi/app-${suffix}`, ref, body, mediaType);
    const children: { mediaType: string; digest: string; size: number; platform: { architecture: string; os: string } }[] = [];
    for (const architecture of ['amd64', 'arm64']) {
      const config = await blob(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), 'application/vnd.oci.image.config.v1+json');
      const layer = await blob(`layer for ${architecture} ${suffix}`, 'application/vnd.oci.image.layer.v1.tar');
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] });
      await putManifest(sha256(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
      children.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: Buffer.byteLength(manifest), platform: { architecture, os: 'linux' } });
    }
    const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children });
    await putManifest('multi', index, 'application/vnd.oci.image.index.v1+json');

    const reg = await RegistryClient.login(server.url, ecr);
    const repositoryName = `upstream/multi/app-${suffix}`;
    const got = await reg.fetch(`/v2/${repositoryName}/manifests/multi`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('docker-content-digest'), sha256(index));
    assert.equal(await got.text(), index);
    for (const child of children) {
      const m = await reg.fetch(`/v2/${repositoryName}/manifests/${child.digest}`, { method: 'HEAD' });
      assert.equal(m.status, 200, `platform ${child.platform.architecture} is cached`);
    }
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName }));
    assert.equal(images.imageDetails!.length, 3);
    assert.deepEqual(images.imageDetails!.find((i) => i.imageDigest === sha256(index))?.imageTags, ['multi']);

    // upstreamRepositoryPrefix maps the rule's prefix onto another one upstream: mapped/<name> is multi/<name> there.
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'mapped', upstreamRegistryUrl: `http://${upstreamHost}`, upstreamRepositoryPrefix: 'multi' }));
    const mapped = await reg.fetch(`/v2/mapped/app-${suffix}/manifests/multi`, { method: 'HEAD' });
    assert.equal(mapped.status, 200);
    assert.equal(mapped.headers.get('docker-content-digest'), sha256(index));
  });

  it('streams a blob missing locally from the upstream once, however many clients read it at the same time, and keeps it', async () => {
    const big = randomBytes(3_000_000).toString('base64');
    const pushedText = await pushUpstreamImage(`stream/app-${suffix}`, 'v1', [big, `small ${suffix}`]);
    const layer = sha256(big);

    const reg = await RegistryClient.login(server.url, ecr);
    const repositoryName = `upstream/stream/app-${suffix}`;
    const manifest = await reg.fetch(`/v2/${repositoryName}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    assert.equal(await manifest.text(), pushedText);

    const reads = await Promise.all(
      [0, 1, 2].map(async () => {
        const res = await reg.fetch(`/v2/${repositoryName}/blobs/${layer}`);
        assert.equal(res.status, 200);
        return sha256(Buffer.from(await res.arrayBuffer()));
      }),
    );
    assert.deepEqual(reads, [layer, layer, layer]);
    const upstreamGets = upstreamLog().split('\n').filter((l) => l.includes(`/blobs/${layer}`) && l.includes('response completed') && l.includes('method=GET'));
    assert.equal(upstreamGets.length, 1, `one upstream fetch of the layer:\n${upstreamGets.join('\n')}`);

    const check = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: [layer] }));
    assert.equal(check.layers?.[0]?.layerAvailability, 'AVAILABLE');
    // Served from Berth from now on, even by a range request.
    const ranged = await reg.fetch(`/v2/${repositoryName}/blobs/${layer}`, { headers: { range: 'bytes=0-9' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), big.slice(0, 10));
  });

  it('refuses an upstream blob whose content does not match its digest: the reader sees an error and nothing is stored', async () => {
    const content = randomBytes(400_000).toString('hex');
    await pushUpstreamImage(`corrupt/app-${suffix}`, 'v1', [content]);
    const layer = sha256(content);
    // The upstream's stored copy goes bad (same length, other bytes); docker-registry serves it as it is.
    const hex = layer.slice('sha256:'.length);
    writeFileSync(join(upstream!.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), content.replace(/^./, content[0] === 'a' ? 'b' : 'a'));

    const reg = await RegistryClient.login(server.url, ecr);
    const repositoryName = `upstream/corrupt/app-${suffix}`;
    assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/v1`, { method: 'HEAD' })).status, 200);
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await reg
        .fetch(`/v2/${repositoryName}/blobs/${layer}`)
        .then(async (res) => (res.status === 200 ? sha256(Buffer.from(await res.arrayBuffer())) : `HTTP ${res.status}`))
        .catch((err: unknown) => `failed: ${String(err)}`);
      assert.ok(outcome !== layer && outcome !== sha256(content.replace(/^./, content[0] === 'a' ? 'b' : 'a')), `read ${attempt + 1} must not deliver a whole blob: ${outcome}`);
    }
    const check = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: [layer] }));
    assert.equal(check.failures?.[0]?.failureCode, 'MissingLayerDigest');
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreatePullThroughCacheRuleCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  GetAuthorizationTokenCommand,
  SecretNotFoundException,
  UpdatePullThroughCacheRuleCommand,
  ValidatePullThroughCacheRuleCommand,
  ValidationException,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { rejectsWith, startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';
import { OCI_MANIFEST, RegistryClient, ecrClient, registryError, sha256, startUpstreamRegistry, type UpstreamRegistry } from './registry-helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** The refresh interval of cached tags in this file's server (ECR's is 24 hours). */
const REFRESH_MS = 4000;

describe('pull-through cache with upstream credentials and refreshed tags', () => {
  let server: Server;
  let ecr: ECRClient;
  let sm: SecretsManagerClient;
  let upstream: UpstreamRegistry | undefined;
  let upstreamHost: string;
  let work: { path: string; remove(): void };
  const suffix = `${process.pid}`;
  const user = 'puller';
  const password = `pull-secret-${suffix}`;

  /** Pushes an OCI image of `layers` to the upstream with its htpasswd credentials; returns the manifest's text. */
  const pushUpstreamImage = (repository: string, tag: string, layers: string[]): Promise<string> => upstream!.pushImage(repository, tag, layers, layers);

  async function secret(name: string, value: unknown): Promise<string> {
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
    return created.ARN!;
  }

  before(async () => {
    work = tempDir('berth-pull-through-auth-');
    process.env.BERTH_ECR_PULL_THROUGH_REFRESH_MS = String(REFRESH_MS);
    try {
      server = await startTestServer();
    } finally {
      delete process.env.BERTH_ECR_PULL_THROUGH_REFRESH_MS;
    }
    ecr = ecrClient(server.url);
    sm = new SecretsManagerClient({ endpoint: server.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });

    // The upstream: Debian's docker-registry with htpasswd (bcrypt) authentication.
    upstream = await startUpstreamRegistry(work.path, { logLevel: 'warn', user: { name: user, password } });
    upstreamHost = upstream.host;
  });

  after(async () => {
    await upstream?.stop();
    ecr.destroy();
    sm.destroy();
    await server.stop();
    work.remove();
  });

  it('takes as credentialArn only an existing secret named ecr-pullthroughcache/..., with ECR’s errors', async () => {
    const url = `http://${upstreamHost}`;
    const other = await secret(`other/creds-${suffix}`, { username: user, accessToken: password });
    await rejectsWith(
      ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'badarn', upstreamRegistryUrl: url, credentialArn: other })),
      ValidationException,
      /at 'credentialArn' failed to satisfy constraint: Member must satisfy regular expression pattern: \^arn:aws:secretsmanager:.*ecr\\-pullthroughcache/,
    );
    const missing = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/missing';
    await rejectsWith(ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'badarn', upstreamRegistryUrl: url, credentialArn: missing })), SecretNotFoundException);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'later', upstreamRegistryUrl: url }));
    await rejectsWith(ecr.send(new UpdatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'later', credentialArn: missing })), SecretNotFoundException);
  });

  it('pulls from an upstream with htpasswd authentication with the credentials of the rule’s secret, and refuses without them', async () => {
    const url = `http://${upstreamHost}`;
    const good = await secret(`ecr-pullthroughcache/upstream-${suffix}`, { username: user, accessToken: password });
    const wrong = await secret(`ecr-pullthroughcache/wrong-${suffix}`, { username: user, accessToken: 'not-the-password' });
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'private', upstreamRegistryUrl: url, credentialArn: good }));
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'anonymous', upstreamRegistryUrl: url }));
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'wrong', upstreamRegistryUrl: url, credentialArn: wrong }));

    const valid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'private' }));
    assert.equal(valid.isValid, true, valid.failure);
    assert.equal(valid.credentialArn, good);
    const invalid = await ecr.send(new ValidatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'wrong' }));
    assert.equal(invalid.isValid, false);
    assert.match(invalid.failure ?? '', /refused the credentials/);

    const layer = randomBytes(200_000).toString('hex');
    const text = await pushUpstreamImage(`team/secret-${suffix}`, 'v1', [layer]);
    const reg = await RegistryClient.login(server.url, ecr);
    for (const prefix of ['anonymous', 'wrong']) {
      const refused = await reg.fetch(`/v2/${prefix}/team/secret-${suffix}/manifests/v1`);
      assert.equal(refused.status, 404, `${prefix}: the upstream refuses the pull`);
      assert.equal((await registryError(refused)).code, 'MANIFEST_UNKNOWN');
    }
    const got = await reg.fetch(`/v2/private/team/secret-${suffix}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(got.status, 200);
    assert.equal(await got.text(), text);
    const blob = await reg.fetch(`/v2/private/team/secret-${suffix}/blobs/${sha256(layer)}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sha256(layer));
  });

  it('answers an upstream’s Bearer challenge with a token asked for with the rule’s credentials (Berth itself as the upstream)', async () => {
    const reg = await RegistryClient.login(server.url, ecr);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: `origin/app-${suffix}` }));
    const pushed = await reg.pushImage(`origin/app-${suffix}`, 'v1', [`bearer layer ${suffix}`]);
    assert.equal(pushed.response.status, 201);
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    const login = Buffer.from(token, 'base64').toString().slice('AWS:'.length);
    const creds = await secret(`ecr-pullthroughcache/self-${suffix}`, { username: 'AWS', accessToken: login });
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'self', upstreamRegistryUrl: server.url, credentialArn: creds }));
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'selfanon', upstreamRegistryUrl: server.url }));

    const refused = await reg.fetch(`/v2/selfanon/origin/app-${suffix}/manifests/v1`);
    assert.equal(refused.status, 404);
    const got = await reg.fetch(`/v2/self/origin/app-${suffix}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('docker-content-digest'), pushed.digest);
    const blob = await reg.fetch(`/v2/self/origin/app-${suffix}/blobs/${sha256(`bearer layer ${suffix}`)}`);
    assert.equal(await blob.text(), `bearer layer ${suffix}`);
  });

  it('re-checks a cached tag upstream once the refresh interval passed, follows it when it moved, and serves the cached image when the upstream is gone', async () => {
    const reg = await RegistryClient.login(server.url, ecr);
    const repositoryName = `private/team/moving-${suffix}`;
    const digestOf = async (): Promise<string | null> => {
      const res = await reg.fetch(`/v2/${repositoryName}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      return res.headers.get('docker-content-digest');
    };
    const first = sha256(await pushUpstreamImage(`team/moving-${suffix}`, 'v1', [`first ${suffix}`]));
    assert.equal(await digestOf(), first);

    const secondLayer = `second ${suffix}`;
    const second = sha256(await pushUpstreamImage(`team/moving-${suffix}`, 'v1', [secondLayer]));
    assert.equal(await digestOf(), first, 'within the refresh interval the cached tag is served as it is');

    await new Promise((r) => setTimeout(r, REFRESH_MS + 200));
    assert.equal(await digestOf(), second, 'after the interval the tag follows the upstream');
    const blob = await reg.fetch(`/v2/${repositoryName}/blobs/${sha256(secondLayer)}`);
    assert.equal(await blob.text(), secondLayer);
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName }));
    assert.deepEqual(images.imageDetails!.find((i) => i.imageDigest === second)?.imageTags, ['v1']);

    await upstream!.stop();
    await new Promise((r) => setTimeout(r, REFRESH_MS + 200));
    const started = Date.now();
    assert.equal(await digestOf(), second, 'the upstream is gone: the cached image is served');
    assert.ok(Date.now() - started < 10_000, 'without waiting for the upstream');
  });
});

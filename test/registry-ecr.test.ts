import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchCheckLayerAvailabilityCommand,
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  ImageAlreadyExistsException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  LayersNotFoundException,
  ListImagesCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotEmptyException,
  RepositoryNotFoundException,
  StartImageScanCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { rejectsWith } from './helpers.js';
import { RegistryClient, sha256, startRegistryServer } from './registry-helpers.js';

describe('ECR API (@aws-sdk/client-ecr)', () => {
  let ecr: ECRClient;
  let reg: RegistryClient;
  let host: string;
  let stop: () => Promise<void>;

  before(async () => ({ ecr, reg, host, stop } = await startRegistryServer()));
  after(() => stop());

  it('creates repositories with their settings and a URI on the registry host, and refuses a second with the same name', async () => {
    const out = await ecr.send(
      new CreateRepositoryCommand({
        repositoryName: 'team/web',
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/berth' },
        tags: [{ Key: 'team', Value: 'web' }],
      }),
    );
    const repo = out.repository!;
    assert.equal(repo.repositoryArn, 'arn:aws:ecr:us-east-1:000000000000:repository/team/web');
    assert.equal(repo.repositoryUri, `${host}/team/web`);
    assert.equal(repo.registryId, '000000000000');
    assert.equal(repo.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
    assert.deepEqual(repo.encryptionConfiguration, { encryptionType: 'KMS', kmsKey: 'alias/berth' });
    assert.ok(repo.createdAt instanceof Date && Math.abs(repo.createdAt.getTime() - Date.now()) < 60_000);
    await rejectsWith(ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/web' })), RepositoryAlreadyExistsException, /already exists in the registry with id '000000000000'/);
    await assert.rejects(ecr.send(new CreateRepositoryCommand({ repositoryName: 'Bad_Name!' })), { name: 'InvalidParameterException' });
  });

  it('describes repositories by name and page by page, and names the missing one', async () => {
    for (const n of ['list/a', 'list/b', 'list/c']) await ecr.send(new CreateRepositoryCommand({ repositoryName: n }));
    const named = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['list/b'] }));
    assert.deepEqual(named.repositories?.map((r) => r.repositoryName), ['list/b']);
    await rejectsWith(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['list/none'] })), RepositoryNotFoundException, /'list\/none' does not exist/);
    const names: string[] = [];
    let nextToken: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 2, ...(nextToken ? { nextToken } : {}) }));
      assert.ok(page.repositories!.length <= 2);
      names.push(...page.repositories!.map((r) => r.repositoryName!));
      nextToken = page.nextToken;
      if (!nextToken) break;
    }
    assert.deepEqual(names.filter((n) => n.startsWith('list/')), ['list/a', 'list/b', 'list/c']);
  });

  it('issues an authorization token that decodes to AWS:<password> for the registry endpoint, valid 12 hours', async () => {
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = out.authorizationData![0]!;
    const decoded = Buffer.from(data.authorizationToken!, 'base64').toString();
    assert.match(decoded, /^AWS:[^:]+$/);
    assert.equal(data.proxyEndpoint, `http://${host}`);
    const hours = (data.expiresAt!.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
  });

  describe('images', () => {
    let image: { digest: string; text: string };
    let layers: string[];

    before(async () => {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'images/app' }));
      const pushed = await reg.pushImage('images/app', 'v1', ['layer-a content', 'layer-b content, longer']);
      assert.equal(pushed.response.status, 201);
      image = pushed;
      layers = (JSON.parse(pushed.text) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    });

    it('reports which layers a repository holds', async () => {
      const missing = sha256('no such layer');
      const out = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'images/app', layerDigests: [layers[0]!, missing] }));
      assert.deepEqual(out.layers, [{ layerDigest: layers[0], layerAvailability: 'AVAILABLE', layerSize: 15 }]);
      assert.deepEqual(out.failures, [{ layerDigest: missing, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' }]);
    });

    it('describes a pushed image: digest, tags, size, push time and media type', async () => {
      const out = await ecr.send(new DescribeImagesCommand({ repositoryName: 'images/app', imageIds: [{ imageTag: 'v1' }] }));
      const d = out.imageDetails![0]!;
      assert.equal(d.imageDigest, image.digest);
      assert.deepEqual(d.imageTags, ['v1']);
      assert.equal(d.imageSizeInBytes, 'layer-a content'.length + 'layer-b content, longer'.length);
      assert.equal(d.imageManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.ok(d.imagePushedAt instanceof Date);
      await rejectsWith(ecr.send(new DescribeImagesCommand({ repositoryName: 'images/app', imageIds: [{ imageTag: 'nope' }] })), ImageNotFoundException, /imageTag:'nope'/);
    });

    it('re-tags by manifest with PutImage, refuses the same image and tag again, and returns manifests with BatchGetImage', async () => {
      const out = await ecr.send(new PutImageCommand({ repositoryName: 'images/app', imageManifest: image.text, imageTag: 'stable' }));
      assert.equal(out.image?.imageId?.imageDigest, image.digest);
      await rejectsWith(ecr.send(new PutImageCommand({ repositoryName: 'images/app', imageManifest: image.text, imageTag: 'stable' })), ImageAlreadyExistsException);
      const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'images/app', imageIds: [{ imageTag: 'stable' }, { imageTag: 'missing' }] }));
      assert.equal(got.images?.[0]?.imageManifest, image.text);
      assert.equal(got.images?.[0]?.imageManifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(got.failures, [{ imageId: { imageTag: 'missing' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }]);
      const viaRegistry = await reg.fetch('/v2/images/app/manifests/stable', { method: 'HEAD' });
      assert.equal(viaRegistry.headers.get('docker-content-digest'), image.digest);
    });

    it('refuses a PutImage whose layers the repository lacks', async () => {
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256('absent config'), size: 13 },
        layers: [],
      });
      await rejectsWith(ecr.send(new PutImageCommand({ repositoryName: 'images/app', imageManifest: manifest, imageTag: 'x' })), LayersNotFoundException);
      await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: 'images/app', imageManifest: '{not json', imageTag: 'x' })), { name: 'InvalidParameterException' });
      await rejectsWith(ecr.send(new PutImageCommand({ repositoryName: 'images/nothing', imageManifest: manifest })), RepositoryNotFoundException);
    });

    it('lists images by tag status, page by page', async () => {
      const untagged = await reg.pushImage('images/app', sha256('placeholder'), ['untagged layer']);
      assert.equal(untagged.response.status, 400, 'a digest reference that is not the manifest\'s digest is refused');
      const text = (await reg.pushImage('images/app', 'tmp', ['untagged layer'])).text;
      await reg.fetch('/v2/images/app/manifests/tmp', { method: 'DELETE' });
      assert.equal((await reg.putManifest('images/app', sha256(text), text, 'application/vnd.oci.image.manifest.v1+json')).status, 201);

      const tagged = await ecr.send(new ListImagesCommand({ repositoryName: 'images/app', filter: { tagStatus: 'TAGGED' } }));
      assert.deepEqual(tagged.imageIds?.map((i) => i.imageTag).sort(), ['stable', 'v1']);
      const untaggedIds = await ecr.send(new ListImagesCommand({ repositoryName: 'images/app', filter: { tagStatus: 'UNTAGGED' } }));
      assert.deepEqual(untaggedIds.imageIds, [{ imageDigest: sha256(text) }]);
      const seen: string[] = [];
      let nextToken: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await ecr.send(new ListImagesCommand({ repositoryName: 'images/app', maxResults: 1, ...(nextToken ? { nextToken } : {}) }));
        assert.equal(page.imageIds!.length, 1);
        seen.push(page.imageIds![0]!.imageTag ?? page.imageIds![0]!.imageDigest!);
        nextToken = page.nextToken;
        if (!nextToken) break;
      }
      assert.equal(seen.length, 3);
      const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'images/app', filter: { tagStatus: 'UNTAGGED' } }));
      assert.deepEqual(described.imageDetails?.map((d) => d.imageDigest), [sha256(text)]);
    });

    it('deletes images by tag and by digest, reporting what it could not find', async () => {
      const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'images/app', imageIds: [{ imageTag: 'stable' }, { imageTag: 'never' }] }));
      assert.deepEqual(out.imageIds, [{ imageDigest: image.digest, imageTag: 'stable' }]);
      assert.deepEqual(out.failures, [{ imageId: { imageTag: 'never' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }]);
      const left = await ecr.send(new DescribeImagesCommand({ repositoryName: 'images/app', imageIds: [{ imageDigest: image.digest }] }));
      assert.deepEqual(left.imageDetails?.[0]?.imageTags, ['v1']);
      await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'images/app', imageIds: [{ imageDigest: image.digest }] }));
      assert.equal((await reg.fetch('/v2/images/app/manifests/v1')).status, 404);
    });
  });

  it('enforces immutable tags on PutImage with ImageTagAlreadyExistsException, and lets them move once mutable', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'immutable/app', imageTagMutability: 'IMMUTABLE' }));
    await reg.pushImage('immutable/app', 'prod', ['prod v1']);
    const v2 = await reg.pushImage('immutable/app', 'candidate', ['prod v2']);
    await rejectsWith(
      ecr.send(new PutImageCommand({ repositoryName: 'immutable/app', imageManifest: v2.text, imageTag: 'prod' })),
      ImageTagAlreadyExistsException,
      /^The image tag 'prod' already exists in the 'immutable\/app' repository and cannot be overwritten because the repository is immutable\.$/,
    );
    const changed = await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'immutable/app', imageTagMutability: 'MUTABLE' }));
    assert.equal(changed.imageTagMutability, 'MUTABLE');
    await ecr.send(new PutImageCommand({ repositoryName: 'immutable/app', imageManifest: v2.text, imageTag: 'prod' }));
    const now = await reg.fetch('/v2/immutable/app/manifests/prod', { method: 'HEAD' });
    assert.equal(now.headers.get('docker-content-digest'), v2.digest);
  });

  it('deletes a repository only when empty unless forced, with everything in it', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'gone/app' }));
    await reg.pushImage('gone/app', 'latest', ['soon gone']);
    await rejectsWith(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'gone/app' })), RepositoryNotEmptyException, /still contains images/);
    const out = await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'gone/app', force: true }));
    assert.equal(out.repository?.repositoryName, 'gone/app');
    const res = await reg.fetch('/v2/gone/app/manifests/latest');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, 'NAME_UNKNOWN');
    await rejectsWith(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'gone/app' })), RepositoryNotFoundException);
  });

  it('answers an ECR operation Berth does not serve yet with ValidationException naming it', async () => {
    await assert.rejects(ecr.send(new StartImageScanCommand({ repositoryName: 'team/web', imageId: { imageTag: 'v1' } })), (err: Error) => {
      assert.equal(err.name, 'ValidationException');
      assert.match(err.message, /does not implement StartImageScan/);
      return true;
    });
  });
});

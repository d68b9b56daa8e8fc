import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DeleteLifecyclePolicyCommand,
  DeleteRepositoryPolicyCommand,
  DescribeImagesCommand,
  EmptyUploadException,
  GetDownloadUrlForLayerCommand,
  GetLifecyclePolicyCommand,
  GetLifecyclePolicyPreviewCommand,
  GetRepositoryPolicyCommand,
  InitiateLayerUploadCommand,
  InvalidLayerException,
  InvalidLayerPartException,
  InvalidParameterException,
  LayerAlreadyExistsException,
  LayerPartTooSmallException,
  LayersNotFoundException,
  LifecyclePolicyNotFoundException,
  LifecyclePolicyPreviewNotFoundException,
  ListImagesCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  RepositoryPolicyNotFoundException,
  SetRepositoryPolicyCommand,
  StartLifecyclePolicyPreviewCommand,
  UploadLayerPartCommand,
  UploadNotFoundException,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';
import { RegistryClient, ecrClient, sha256 } from './registry-helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function rejectsWith(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error, message?: RegExp): Promise<Error> {
  let caught: Error | undefined;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    caught = err;
    return true;
  });
  return caught!;
}

/** Polls `probe` every 100 ms until it returns a value, for at most `ms`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ECR API: layer uploads, repository policies, lifecycle policies, pull times', () => {
  let server: Server;
  let ecr: ECRClient;
  let reg: RegistryClient;
  const previousInterval = process.env.BERTH_ECR_LIFECYCLE_INTERVAL_MS;

  before(async () => {
    process.env.BERTH_ECR_LIFECYCLE_INTERVAL_MS = '1000';
    server = await startTestServer();
    ecr = ecrClient(server.url);
    reg = await RegistryClient.login(server.url, ecr);
  });
  after(async () => {
    if (previousInterval === undefined) delete process.env.BERTH_ECR_LIFECYCLE_INTERVAL_MS;
    else process.env.BERTH_ECR_LIFECYCLE_INTERVAL_MS = previousInterval;
    ecr.destroy();
    await server.stop();
  });

  describe('layer uploads', () => {
    const repositoryName = 'upload/app';
    before(async () => {
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
    });

    /** Uploads `content` in parts of `partSize` bytes; returns the upload id. */
    async function upload(content: Buffer, partSize: number): Promise<string> {
      const { uploadId, partSize: suggested } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
      assert.ok(uploadId && suggested && suggested > 0);
      for (let first = 0; first < content.length; first += partSize) {
        const part = content.subarray(first, first + partSize);
        const out: { lastByteReceived?: number; uploadId?: string } = await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: first, partLastByte: first + part.length - 1, layerPartBlob: part }));
        assert.equal(out.lastByteReceived, first + part.length - 1);
        assert.equal(out.uploadId, uploadId);
      }
      return uploadId;
    }

    it('takes a layer in parts, verifies its digest, and makes it usable by PutImage and pullable via /v2/', async () => {
      // Two parts: ECR's 5 MiB minimum and the rest.
      const layer = Buffer.concat([randomBytes(5 * 1024 * 1024), Buffer.from('the last part of a layer uploaded through the ECR API')]);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
      const layerId = await upload(layer, 5 * 1024 * 1024);
      const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: layerId, layerDigests: [sha256(layer)] }));
      assert.equal(done.layerDigest, sha256(layer));
      assert.equal(done.registryId, '000000000000');
      const configId = await upload(config, 1024);
      await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: configId, layerDigests: [sha256(config)] }));

      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      });
      const put = await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: 'v1' }));
      assert.equal(put.image?.imageId?.imageDigest, sha256(manifest));
      const m = await reg.fetch(`/v2/${repositoryName}/manifests/v1`);
      assert.equal(m.status, 200);
      assert.equal(await m.text(), manifest);
      const blob = await reg.fetch(`/v2/${repositoryName}/blobs/${sha256(layer)}`);
      assert.equal(blob.status, 200);
      assert.deepEqual(Buffer.from(await blob.arrayBuffer()), layer);
    });

    it('refuses a part that does not continue the upload, saying the last valid byte', async () => {
      const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
      await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 0, partLastByte: 3, layerPartBlob: Buffer.from('abcd') }));
      const gap = (await rejectsWith(
        ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 10, partLastByte: 13, layerPartBlob: Buffer.from('efgh') })),
        InvalidLayerPartException,
      )) as InvalidLayerPartException;
      assert.equal(gap.lastValidByteReceived, 3);
      assert.equal(gap.uploadId, uploadId);
      assert.equal(gap.repositoryName, repositoryName);
      // A range that disagrees with the part's length is refused too; the upload is unchanged.
      await rejectsWith(ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 4, partLastByte: 9, layerPartBlob: Buffer.from('ef') })), InvalidLayerPartException);
      const next = await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 4, partLastByte: 5, layerPartBlob: Buffer.from('ef') }));
      assert.equal(next.lastByteReceived, 5);
      // A part under 5 MiB that is not the last one: the upload cannot complete.
      await rejectsWith(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256('abcdef')] })), LayerPartTooSmallException, /at least 5 MiB/);
      const whole = await upload(Buffer.from('abcdef'), 100);
      const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: whole, layerDigests: [sha256('abcdef')] }));
      assert.equal(done.layerDigest, sha256('abcdef'));
    });

    it('answers a wrong digest, an empty upload, a layer already there and an unknown upload with ECR’s exceptions', async () => {
      const wrong = await upload(Buffer.from('some bytes'), 100);
      await rejectsWith(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: wrong, layerDigests: [sha256('other bytes')] })), InvalidLayerException);
      const empty = (await ecr.send(new InitiateLayerUploadCommand({ repositoryName }))).uploadId!;
      await rejectsWith(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: empty, layerDigests: [sha256('')] })), EmptyUploadException);
      const again = await upload(Buffer.from('abcdef'), 100);
      await rejectsWith(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: again, layerDigests: [sha256('abcdef')] })), LayerAlreadyExistsException, /already exists in the repository with name 'upload\/app'/);
      await rejectsWith(
        ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId: '00000000-0000-4000-8000-000000000000', partFirstByte: 0, partLastByte: 0, layerPartBlob: Buffer.from('x') })),
        UploadNotFoundException,
      );
      await rejectsWith(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: 'not-an-upload', layerDigests: [sha256('x')] })), UploadNotFoundException);
    });

    it('gives a pre-authorized, expiring download URL for a layer, and LayersNotFoundException for one the repository lacks', async () => {
      const out = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName, layerDigest: sha256('abcdef') }));
      assert.equal(out.layerDigest, sha256('abcdef'));
      const url = new URL(out.downloadUrl!);
      assert.equal(url.host, new URL(server.url).host);
      const res = await fetch(url); // no credentials: the URL itself authorizes
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'abcdef');
      const expires = Number(url.searchParams.get('X-Berth-Expires'));
      assert.ok(expires * 1000 > Date.now() + 50 * 60_000 && expires * 1000 <= Date.now() + 61 * 60_000, 'valid about an hour');
      url.searchParams.set('X-Berth-Signature', 'forged');
      assert.equal((await fetch(url)).status, 401);
      const other = new URL(out.downloadUrl!.replace(sha256('abcdef'), sha256('some bytes')));
      assert.equal((await fetch(other)).status, 401, 'the URL is for one blob only');
      await rejectsWith(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName, layerDigest: sha256('never uploaded') })), LayersNotFoundException);
    });
  });

  describe('repository policies', () => {
    const repositoryName = 'policy/app';
    const allowPull = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
    });
    before(async () => {
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
    });

    it('sets, gets and deletes a repository policy, and says when there is none', async () => {
      await rejectsWith(ecr.send(new GetRepositoryPolicyCommand({ repositoryName })), RepositoryPolicyNotFoundException, /^Repository policy does not exist for the repository with name 'policy\/app' in the registry with id '000000000000'$/);
      const set = await ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: allowPull }));
      assert.deepEqual({ ...set, $metadata: undefined }, { $metadata: undefined, registryId: '000000000000', repositoryName, policyText: allowPull });
      assert.equal((await ecr.send(new GetRepositoryPolicyCommand({ repositoryName }))).policyText, allowPull);
      assert.equal((await ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName }))).policyText, allowPull);
      await rejectsWith(ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName })), RepositoryPolicyNotFoundException);
    });

    it('refuses malformed policies with ECR’s message, and a policy that locks out policy changes unless forced', async () => {
      const invalid = /^Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'$/;
      await rejectsWith(ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: '{"Statement": [' })), InvalidParameterException, invalid);
      await rejectsWith(ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: '{"Version":"2012-10-17","Statement":[]}' })), InvalidParameterException, invalid);
      const withResource = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Resource: '*' }] });
      await rejectsWith(ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: withResource })), InvalidParameterException, invalid);
      const lockout = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'ecr:*' }] });
      await rejectsWith(ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: lockout })), InvalidParameterException, /force/);
      await rejectsWith(ecr.send(new GetRepositoryPolicyCommand({ repositoryName })), RepositoryPolicyNotFoundException);
      await ecr.send(new SetRepositoryPolicyCommand({ repositoryName, policyText: lockout, force: true }));
      assert.equal((await ecr.send(new GetRepositoryPolicyCommand({ repositoryName }))).policyText, lockout);
    });
  });

  describe('lifecycle policies', () => {
    const keepTwoUntagged = JSON.stringify({
      rules: [
        { rulePriority: 1, description: 'keep the newest release', selection: { tagStatus: 'tagged', tagPrefixList: ['release'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
        { rulePriority: 2, description: 'keep two untagged', selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 2 }, action: { type: 'expire' } },
      ],
    });

    /**
     * Pushes images oldest first: two releases, four untagged, one dev image;
     * returns their digests and manifests by name. Untagged images are pushed
     * under a placeholder tag that the next push takes away; the dev image
     * keeps it last.
     */
    async function pushImages(repositoryName: string): Promise<{ d: Record<string, string>; text: Record<string, string> }> {
      const d: Record<string, string> = {};
      const text: Record<string, string> = {};
      const images: [string, string][] = [['r1', 'release-1'], ['r2', 'release-2'], ['u1', 'placeholder'], ['u2', 'placeholder'], ['u3', 'placeholder'], ['u4', 'placeholder'], ['d1', 'dev-1']];
      for (const [name, tag] of images) {
        const pushed = await reg.pushImage(repositoryName, tag, [`${repositoryName} ${name}`]);
        assert.equal(pushed.response.status, 201);
        d[name] = pushed.digest;
        text[name] = pushed.text;
        await sleep(15);
      }
      await movePlaceholder(repositoryName, text.d1!);
      return { d, text };
    }

    async function movePlaceholder(repositoryName: string, manifest: string): Promise<void> {
      const res = await reg.putManifest(repositoryName, 'placeholder', manifest, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(res.status, 201);
    }

    it('validates lifecycle policies with ECR’s messages, and stores, returns and deletes one', async () => {
      const repositoryName = 'lifecycle/crud';
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
      await rejectsWith(ecr.send(new GetLifecyclePolicyCommand({ repositoryName })), LifecyclePolicyNotFoundException, /^Lifecycle policy does not exist for the repository with name 'lifecycle\/crud' in the registry with id '000000000000'$/);
      const anyFirst = JSON.stringify({
        rules: [
          { rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 5 }, action: { type: 'expire' } },
          { rulePriority: 2, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } },
        ],
      });
      await rejectsWith(ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: anyFirst })), InvalidParameterException, /^Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: .*must have the highest rulePriority'$/);
      const missing = keepTwoUntagged.replace('"countNumber":2', '"count":2');
      await rejectsWith(ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: missing })), InvalidParameterException, /object has missing required properties \(\["countNumber"\]\)/);
      const put = await ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: keepTwoUntagged }));
      assert.equal(put.lifecyclePolicyText, keepTwoUntagged);
      const got = await ecr.send(new GetLifecyclePolicyCommand({ repositoryName }));
      assert.equal(got.lifecyclePolicyText, keepTwoUntagged);
      assert.equal(got.repositoryName, repositoryName);
      const deleted = await ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName }));
      assert.equal(deleted.lifecyclePolicyText, keepTwoUntagged);
      await rejectsWith(ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName })), LifecyclePolicyNotFoundException);
      await rejectsWith(ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName })), LifecyclePolicyNotFoundException);
      await rejectsWith(ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName })), LifecyclePolicyPreviewNotFoundException);
    });

    it('previews what a policy would expire (IN_PROGRESS, then COMPLETE with results and a summary) without expiring anything', async () => {
      const repositoryName = 'lifecycle/preview';
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
      const { d } = await pushImages(repositoryName);
      const started = await ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName, lifecyclePolicyText: keepTwoUntagged }));
      assert.equal(started.status, 'IN_PROGRESS');
      const preview = await eventually('the preview to complete', async () => {
        const p = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName }));
        return p.status === 'COMPLETE' ? p : undefined;
      });
      const byDigest = Object.fromEntries(preview.previewResults!.map((r) => [r.imageDigest, r]));
      // release-1 (older release) by rule 1; u1 and u2 (all but the two newest untagged) by rule 2.
      assert.deepEqual(Object.keys(byDigest).sort(), [d.r1, d.u1, d.u2].sort());
      assert.equal(byDigest[d.r1!]!.appliedRulePriority, 1);
      assert.deepEqual(byDigest[d.r1!]!.imageTags, ['release-1']);
      assert.equal(byDigest[d.u1!]!.appliedRulePriority, 2);
      assert.deepEqual(byDigest[d.u1!]!.action, { type: 'EXPIRE' });
      assert.ok(byDigest[d.u1!]!.imagePushedAt instanceof Date);
      assert.equal(preview.summary?.expiringImageTotalCount, 3);
      const untaggedOnly = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName, filter: { tagStatus: 'UNTAGGED' } }));
      assert.deepEqual(untaggedOnly.previewResults!.map((r) => r.imageDigest).sort(), [d.u1, d.u2].sort());
      // A preview is a dry run: every image is still there.
      const listed = await ecr.send(new ListImagesCommand({ repositoryName, filter: { tagStatus: 'ANY' } }));
      assert.equal(new Set(listed.imageIds!.map((i) => i.imageDigest)).size, 7);
    });

    it('expires images on schedule: they leave DescribeImages and ListImages, their tags 404 on /v2/, and lastEvaluatedAt is set', async () => {
      const repositoryName = 'lifecycle/apply';
      await ecr.send(new CreateRepositoryCommand({ repositoryName }));
      const { d, text } = await pushImages(repositoryName);
      // A signature of release-1, tagged so that no rule selects it: it goes with its subject.
      const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d.r1, size: Buffer.byteLength(text.r1!) };
      const signature = await reg.pushImage(repositoryName, 'sig-r1', ['signature of release-1'], { subject });
      assert.equal(signature.response.status, 201);
      await ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: keepTwoUntagged }));
      const left = await eventually(
        'the lifecycle policy to expire images',
        async () => {
          const out = await ecr.send(new DescribeImagesCommand({ repositoryName }));
          return out.imageDetails!.length === 4 ? out.imageDetails! : undefined;
        },
        30_000,
      );
      assert.deepEqual(left.map((i) => i.imageDigest).sort(), [d.r2, d.u3, d.u4, d.d1].sort());
      const listed = await ecr.send(new ListImagesCommand({ repositoryName }));
      assert.ok(!listed.imageIds!.some((i) => i.imageDigest === d.r1 || i.imageDigest === d.u1 || i.imageDigest === d.u2));
      assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/release-1`)).status, 404);
      assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/${d.u1}`)).status, 404);
      assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/sig-r1`)).status, 404, 'the expired image’s referrer is gone too');
      assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/release-2`)).status, 200);
      const policy = await ecr.send(new GetLifecyclePolicyCommand({ repositoryName }));
      assert.ok(policy.lastEvaluatedAt instanceof Date && Math.abs(policy.lastEvaluatedAt.getTime() - Date.now()) < 60_000);
      // Later passes keep the policy's count: a new untagged image pushes out the oldest kept one.
      const newer = await reg.pushImage(repositoryName, 'placeholder', ['one more untagged']);
      await movePlaceholder(repositoryName, text.d1!);
      await eventually('the next pass', async () => {
        const out = await ecr.send(new DescribeImagesCommand({ repositoryName, filter: { tagStatus: 'UNTAGGED' } }));
        const digests = out.imageDetails!.map((i) => i.imageDigest).sort();
        return digests.length === 2 && digests.includes(newer.digest) && digests.includes(d.u4) ? digests : undefined;
      });
    });
  });

  it('records lastRecordedPullTime when a manifest is pulled via /v2/, coalescing pulls', async () => {
    const repositoryName = 'pulls/app';
    await ecr.send(new CreateRepositoryCommand({ repositoryName }));
    const pushed = await reg.pushImage(repositoryName, 'v1', ['pulled layer']);
    const before = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(before.imageDetails![0]!.lastRecordedPullTime, undefined, 'a push is not a pull');
    // A HEAD is not a pull either.
    assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/v1`, { method: 'HEAD' })).status, 200);
    await sleep(2500);
    assert.equal((await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: 'v1' }] }))).imageDetails![0]!.lastRecordedPullTime, undefined);
    const pulledAt = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await reg.fetch(`/v2/${repositoryName}/manifests/${i % 2 ? 'v1' : pushed.digest}`)).status, 200);
    const recorded = await eventually('lastRecordedPullTime', async () => {
      const out = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: 'v1' }] }));
      return out.imageDetails![0]!.lastRecordedPullTime;
    });
    assert.ok(recorded.getTime() >= pulledAt - 1000 && recorded.getTime() <= Date.now() + 1000, `recorded ${recorded.toISOString()}`);
  });
  it('serves the AWS CLI: a layer uploaded from a file, a lifecycle policy put and read back, and ECR’s error for a bad one', async () => {
    const work = tempDir('berth-ecr-cli-');
    try {
      const aws = (...args: string[]): Promise<{ code: number; out: string }> =>
        new Promise((resolve) => {
          execFile(
            'aws',
            ['ecr', ...args, '--endpoint-url', server.url, '--output', 'json'],
            {
              timeout: 120_000,
              env: {
                ...process.env,
                AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
                AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
                AWS_DEFAULT_REGION: 'us-east-1',
                AWS_CONFIG_FILE: join(work.path, 'config'),
                AWS_SHARED_CREDENTIALS_FILE: join(work.path, 'credentials'),
                AWS_PAGER: '',
              },
            },
            (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, out: stdout + stderr }),
          );
        });
      const json = async (...args: string[]): Promise<Record<string, unknown>> => {
        const r = await aws(...args);
        assert.equal(r.code, 0, r.out);
        return JSON.parse(r.out) as Record<string, unknown>;
      };
      await json('create-repository', '--repository-name', 'cli/app');
      const part = Buffer.from('a layer part sent by the AWS CLI from a file');
      writeFileSync(join(work.path, 'part.bin'), part);
      const { uploadId } = (await json('initiate-layer-upload', '--repository-name', 'cli/app')) as { uploadId: string };
      const up = await json('upload-layer-part', '--repository-name', 'cli/app', '--upload-id', uploadId, '--part-first-byte', '0', '--part-last-byte', String(part.length - 1), '--layer-part-blob', `fileb://${join(work.path, 'part.bin')}`);
      assert.equal(up.lastByteReceived, part.length - 1);
      const done = await json('complete-layer-upload', '--repository-name', 'cli/app', '--upload-id', uploadId, '--layer-digests', sha256(part));
      assert.equal(done.layerDigest, sha256(part));

      const policy = JSON.stringify({ rules: [{ rulePriority: 1, description: 'untagged after a day', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } }] });
      await json('put-lifecycle-policy', '--repository-name', 'cli/app', '--lifecycle-policy-text', policy);
      assert.equal((await json('get-lifecycle-policy', '--repository-name', 'cli/app')).lifecyclePolicyText, policy);
      const bad = await aws('put-lifecycle-policy', '--repository-name', 'cli/app', '--lifecycle-policy-text', policy.replace('"days"', '"weeks"'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.out, /InvalidParameterException.*Lifecycle policy validation failure: instance value \("weeks"\) not found in enum/);
    } finally {
      work.remove();
    }
  });
});

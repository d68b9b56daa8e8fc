import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, tempDir, TEST_CREDENTIALS } from './helpers.js';
import { cliRunner } from './registry-helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Uploads the registry has taken so far, from the server's own metrics. */
async function uploadRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^berth_api_requests_total\{service="registry",operation="(StartUpload|PutBlob|PatchUpload|CompleteUpload)".*\} (\d+)$/.exec(line);
    if (m) n += Number(m[2]);
  }
  return n;
}

describe('registry with the docker CLI and the AWS CLI', () => {
  let server: Server;
  let host: string;
  let work: { path: string; remove(): void };
  const prefix = `berth-regtest-${process.pid}`;
  const images: string[] = [];
  /** Image ids built here: a rebuilt tag leaves the earlier image untagged, still ours to remove. */
  const ids: string[] = [];

  const { run, ok } = cliRunner(() => work.path);
  const aws = async (...args: string[]): Promise<Record<string, any>> =>
    JSON.parse(await ok('aws', ['ecr', ...args, '--endpoint-url', server.url, '--output', 'json'])) as Record<string, any>;

  /** Builds a three-layer image from a local Dockerfile on berth-test/busybox with fresh random content. */
  async function build(tag: string): Promise<void> {
    const ctx = join(work.path, `ctx-${images.length}`);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'data.bin'), randomBytes(1_500_000));
    writeFileSync(join(ctx, 'app.txt'), `app ${tag}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM berth-test/busybox:latest\nCOPY data.bin /data.bin\nCOPY app.txt /app.txt\nRUN echo built > /built.txt\n');
    images.push(tag);
    const out = await ok('docker', ['build', '-q', '-t', tag, ctx]);
    const id = /sha256:[a-f0-9]{64}/.exec(out)?.[0];
    assert.ok(id, out);
    ids.push(id);
  }

  before(async () => {
    work = tempDir('berth-registry-docker-');
    server = await startTestServer();
    host = new URL(server.url).host;
  });
  after(async () => {
    for (const ref of [...images, ...ids]) await run('docker', ['rmi', '-f', ref]);
    await run('docker', ['logout', host]);
    await server.stop();
    work.remove();
  });

  it('logs in with aws ecr get-login-password, pushes a multi-layer build, pulls it back after removal, and re-pushes uploading nothing', async () => {
    const created = await aws('create-repository', '--repository-name', `${prefix}/app`);
    const uri = created.repository.repositoryUri as string;
    assert.equal(uri, `${host}/${prefix}/app`);

    const password = (await ok('aws', ['ecr', 'get-login-password', '--endpoint-url', server.url])).trim();
    assert.ok(password.length > 20 && !password.includes(':'));
    assert.match(await ok('docker', ['login', '--username', 'AWS', '--password-stdin', host], password), /Login Succeeded/);

    await build(`${uri}:v1`);
    const push = await ok('docker', ['push', `${uri}:v1`]);
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(push)?.[1];
    assert.ok(digest, push);
    assert.ok((push.match(/: Pushed/g) ?? []).length >= 4, `base layer and three new layers pushed:\n${push}`);

    const described = await aws('describe-images', '--repository-name', `${prefix}/app`);
    assert.equal(described.imageDetails[0].imageDigest, digest);
    assert.deepEqual(described.imageDetails[0].imageTags, ['v1']);
    assert.equal(described.imageDetails[0].imageManifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.ok(described.imageDetails[0].imageSizeInBytes > 1_500_000);

    await ok('docker', ['rmi', `${uri}:v1`]);
    assert.notEqual((await run('docker', ['image', 'inspect', `${uri}:v1`])).status, 0);
    const pull = await ok('docker', ['pull', `${uri}:v1`]);
    assert.ok(pull.includes(digest), pull);
    assert.equal((await ok('docker', ['run', '--rm', `${uri}:v1`, 'cat', '/built.txt'])).trim(), 'built');

    const before = await uploadRequests(server.url);
    const again = await ok('docker', ['push', `${uri}:v1`]);
    assert.ok((again.match(/Layer already exists/g) ?? []).length >= 4, again);
    assert.ok(!again.includes(': Pushed'), again);
    assert.equal(await uploadRequests(server.url), before, 'the re-push uploaded nothing');
  });

  it('refuses to overwrite a tag in an immutable repository with ECR\'s message', async () => {
    const uri = (await aws('create-repository', '--repository-name', `${prefix}/locked`, '--image-tag-mutability', 'IMMUTABLE')).repository.repositoryUri as string;
    await build(`${uri}:release`);
    await ok('docker', ['push', `${uri}:release`]);
    await build(`${uri}:release`);
    const refused = await run('docker', ['push', `${uri}:release`]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.out, /The image tag 'release' already exists in the '[^']+\/locked' repository and cannot be overwritten because the repository is immutable/);
  });

  it('refuses pushes to a repository that does not exist, and anything without credentials', async () => {
    const missing = `${host}/${prefix}/missing:v1`;
    await ok('docker', ['tag', images[0]!, missing]);
    images.push(missing);
    const push = await run('docker', ['push', missing]);
    assert.notEqual(push.status, 0);
    assert.match(push.out, /does not exist|name unknown/i);

    await ok('docker', ['logout', host]);
    const pull = await run('docker', ['pull', images[0]!]);
    assert.notEqual(pull.status, 0);
    assert.match(pull.out, /no basic auth credentials|unauthorized|authentication required/i);
  });

  it('answers the AWS CLI: list-images, batch-delete-image, and a missing repository with RepositoryNotFoundException', async () => {
    const listed = await aws('list-images', '--repository-name', `${prefix}/app`);
    assert.deepEqual(listed.imageIds.map((i: { imageTag: string }) => i.imageTag), ['v1']);
    const deleted = await aws('batch-delete-image', '--repository-name', `${prefix}/app`, '--image-ids', 'imageTag=v1');
    assert.equal(deleted.imageIds[0].imageTag, 'v1');
    const missing = await run('aws', ['ecr', 'describe-repositories', '--repository-names', `${prefix}/none`, '--endpoint-url', server.url]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.out, /RepositoryNotFoundException/);
  });
});

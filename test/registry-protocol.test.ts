import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateRepositoryCommand, PutImageTagMutabilityCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { startServer } from '../src/server/app.js';
import { silentLogger } from '../src/core/log.js';
import { startTestServer } from './helpers.js';
import { RegistryClient, ecrClient, registryError, sha256, startRegistryServer } from './registry-helpers.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

describe('registry protocol (/v2/)', () => {
  let server: Server;
  let ecr: ECRClient;
  let reg: RegistryClient;
  let host: string;
  let stop: () => Promise<void>;

  before(async () => ({ server, ecr, reg, host, stop } = await startRegistryServer(['proto/app', 'proto/other', 'proto/immutable'])));
  after(() => stop());

  describe('authentication', () => {
    it('refuses anonymous requests with UNAUTHORIZED and a Bearer challenge naming the token endpoint', async () => {
      const res = await reg.anonymous().fetch('/v2/');
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Bearer realm="http://${host}/v2/token",service="${host}"`);
      assert.equal((await registryError(res)).code, 'UNAUTHORIZED');
      const pull = await reg.anonymous().fetch('/v2/proto/app/manifests/latest');
      assert.equal(pull.status, 401);
      assert.match(pull.headers.get('www-authenticate') ?? '', /scope="repository:proto\/app:pull"/);
    });

    it('refuses a wrong password, another user name and a forged token', async () => {
      const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
      for (const authorization of [basic('AWS', 'not-a-token'), basic('admin', 'x'), 'Bearer ' + Buffer.from('AWS:forged.sig').toString('base64')]) {
        const res = await reg.anonymous().fetch('/v2/', { headers: { authorization } });
        assert.equal(res.status, 401, authorization);
      }
    });

    it('accepts Basic AWS:<password> and answers /v2/ with the API version header', async () => {
      const res = await reg.fetch('/v2/');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    });

    it('exchanges the same credentials for a bearer token at the token endpoint (GET and OAuth2 POST)', async () => {
      const res = await reg.fetch(`/v2/token?service=${host}&scope=repository:proto/app:pull,push`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
      assert.equal(body.token, body.access_token);
      assert.ok(body.expires_in > 11 * 3600 && body.expires_in <= 12 * 3600);
      assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
      assert.ok(Buffer.from(body.token, 'base64').toString().startsWith('AWS:'));
      const withBearer = await reg.anonymous().fetch('/v2/', { headers: { authorization: `Bearer ${body.token}` } });
      assert.equal(withBearer.status, 200);

      const password = Buffer.from(body.token, 'base64').toString().slice(4);
      const form = new URLSearchParams({ grant_type: 'password', username: 'AWS', password, service: host });
      const posted = await reg.anonymous().fetch('/v2/token', { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(posted.status, 200);
      assert.ok(((await posted.json()) as { access_token: string }).access_token);

      const anonymous = await reg.anonymous().fetch('/v2/token');
      assert.equal(anonymous.status, 401);
    });
  });

  describe('blobs', () => {
    it('takes a monolithic upload, serves it with its digest, and answers byte ranges', async () => {
      const content = Buffer.from('0123456789abcdef'.repeat(1000));
      const digest = sha256(content);
      const res = await reg.fetch(`/v2/proto/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/proto/app/blobs/${digest}`);
      assert.equal(res.headers.get('docker-content-digest'), digest);

      const head = await reg.fetch(`/v2/proto/app/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(content.length));
      assert.equal(head.headers.get('docker-content-digest'), digest);

      const get = await reg.fetch(`/v2/proto/app/blobs/${digest}`);
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));

      const part = await reg.fetch(`/v2/proto/app/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 10-19/${content.length}`);
      assert.equal(await part.text(), 'abcdef0123');

      const beyond = await reg.fetch(`/v2/proto/app/blobs/${digest}`, { headers: { range: `bytes=${content.length}-` } });
      assert.equal(beyond.status, 416);
    });

    it('refuses an upload whose content does not match its digest, and keeps nothing', async () => {
      const wrong = sha256('something else');
      const res = await reg.fetch(`/v2/proto/app/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: 'the real content' });
      assert.equal(res.status, 400);
      const err = await registryError(res);
      assert.equal(err.code, 'DIGEST_INVALID');
      assert.equal((await reg.fetch(`/v2/proto/app/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
      assert.equal((await reg.fetch(`/v2/proto/app/blobs/${sha256('the real content')}`, { method: 'HEAD' })).status, 404);
    });

    it('takes a chunked upload: POST, PATCH with Content-Range, status, a refused out-of-order chunk, PUT with the last chunk', async () => {
      const content = Buffer.alloc(3000);
      for (let i = 0; i < content.length; i++) content[i] = i % 251;
      const start = await reg.fetch('/v2/proto/app/blobs/uploads/', { method: 'POST' });
      assert.equal(start.status, 202);
      const location = start.headers.get('location')!;
      const uuid = start.headers.get('docker-upload-uuid')!;
      assert.equal(location, `/v2/proto/app/blobs/uploads/${uuid}`);
      assert.equal(start.headers.get('range'), '0-0');

      const p1 = await reg.fetch(location, { method: 'PATCH', body: content.subarray(0, 1000), headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' } });
      assert.equal(p1.status, 202);
      assert.equal(p1.headers.get('range'), '0-999');
      assert.equal(p1.headers.get('docker-upload-uuid'), uuid);

      const skip = await reg.fetch(location, { method: 'PATCH', body: content.subarray(2000, 2500), headers: { 'content-range': '2000-2499' } });
      assert.equal(skip.status, 416);
      assert.equal(skip.headers.get('range'), '0-999');

      const status = await reg.fetch(location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-999');

      const p2 = await reg.fetch(location, { method: 'PATCH', body: content.subarray(1000, 2000), headers: { 'content-range': '1000-1999' } });
      assert.equal(p2.headers.get('range'), '0-1999');
      const digest = sha256(content);
      const done = await reg.fetch(`${location}?digest=${digest}`, { method: 'PUT', body: content.subarray(2000) });
      assert.equal(done.status, 201);
      assert.equal(done.headers.get('docker-content-digest'), digest);
      const get = await reg.fetch(`/v2/proto/app/blobs/${digest}`);
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
      assert.equal((await reg.fetch(location)).status, 404, 'the finished session is gone');
    });

    it('cancels an upload with DELETE', async () => {
      const start = await reg.fetch('/v2/proto/app/blobs/uploads/', { method: 'POST' });
      const location = start.headers.get('location')!;
      await reg.fetch(location, { method: 'PATCH', body: 'abc' });
      assert.equal((await reg.fetch(location, { method: 'DELETE' })).status, 204);
      const gone = await reg.fetch(location);
      assert.equal(gone.status, 404);
      assert.equal((await registryError(gone)).code, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('streams a blob larger than the API body limit', async () => {
      const big = Buffer.alloc(12 * 1024 * 1024, 3);
      const digest = await reg.pushBlob('proto/app', big);
      const head = await reg.fetch(`/v2/proto/app/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.headers.get('content-length'), String(big.length));
    });

    it('mounts a blob from another repository without uploading it, and opens an upload when the source lacks it', async () => {
      const digest = await reg.pushBlob('proto/app', 'shared layer');
      assert.equal((await reg.fetch(`/v2/proto/other/blobs/${digest}`, { method: 'HEAD' })).status, 404, 'blobs are per repository');
      const mount = await reg.fetch(`/v2/proto/other/blobs/uploads/?mount=${digest}&from=proto/app`, { method: 'POST' });
      assert.equal(mount.status, 201);
      assert.equal(mount.headers.get('location'), `/v2/proto/other/blobs/${digest}`);
      assert.equal((await reg.fetch(`/v2/proto/other/blobs/${digest}`, { method: 'HEAD' })).status, 200);

      const missing = await reg.fetch(`/v2/proto/other/blobs/uploads/?mount=${sha256('nowhere')}&from=proto/app`, { method: 'POST' });
      assert.equal(missing.status, 202);
      assert.ok(missing.headers.get('docker-upload-uuid'));
    });

    it('answers unknown blobs with BLOB_UNKNOWN and unknown repositories with NAME_UNKNOWN', async () => {
      const res = await reg.fetch(`/v2/proto/app/blobs/${sha256('never pushed')}`);
      assert.equal(res.status, 404);
      assert.equal((await registryError(res)).code, 'BLOB_UNKNOWN');
      const noRepo = await reg.fetch('/v2/proto/nothing/blobs/uploads/', { method: 'POST' });
      assert.equal(noRepo.status, 404);
      const err = await registryError(noRepo);
      assert.equal(err.code, 'NAME_UNKNOWN');
      assert.match(err.message, /The repository with name 'proto\/nothing' does not exist/);
    });
  });

  describe('manifests', () => {
    it('stores an OCI image manifest by tag and serves it by tag and digest with its media type and digest', async () => {
      const { digest, text, response } = await reg.pushImage('proto/app', 'v1', ['layer one', 'layer two']);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      assert.equal(response.headers.get('location'), `/v2/proto/app/manifests/${digest}`);
      for (const ref of ['v1', digest]) {
        const res = await reg.fetch(`/v2/proto/app/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
        assert.equal(res.headers.get('docker-content-digest'), digest);
        assert.equal(await res.text(), text);
      }
      const head = await reg.fetch('/v2/proto/app/manifests/v1', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(text)));
    });

    it('stores Docker manifest lists and OCI indexes naming manifests already pushed', async () => {
      const a = await reg.pushImage('proto/app', 'arch-a', ['amd64 layer']);
      const b = await reg.pushImage('proto/app', 'arch-b', ['arm64 layer']);
      const list = {
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [
          { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: a.digest, size: a.text.length, platform: { architecture: 'amd64', os: 'linux' } },
          { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: b.digest, size: b.text.length, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      };
      const res = await reg.putManifest('proto/app', 'multi', list, DOCKER_LIST);
      assert.equal(res.status, 201);
      const get = await reg.fetch('/v2/proto/app/manifests/multi');
      assert.equal(get.headers.get('content-type'), DOCKER_LIST);
      const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: a.digest, size: a.text.length }] };
      assert.equal((await reg.putManifest('proto/app', 'oci-index', index, OCI_INDEX)).status, 201);
    });

    it('refuses manifests naming missing blobs or child manifests, malformed ones, and a digest reference that does not match', async () => {
      const layer = await reg.pushBlob('proto/app', 'present');
      const missing = sha256('absent blob');
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer, size: 7 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: missing, size: 11 }],
      };
      const r1 = await reg.putManifest('proto/app', 'broken', manifest, OCI_MANIFEST);
      assert.equal(r1.status, 400);
      const e1 = await registryError(r1);
      assert.equal(e1.code, 'MANIFEST_BLOB_UNKNOWN');
      assert.ok(e1.message.includes(missing));

      const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no such manifest'), size: 10 }] };
      const r2 = await reg.putManifest('proto/app', 'broken-index', index, OCI_INDEX);
      assert.equal((await registryError(r2)).code, 'MANIFEST_UNKNOWN');

      const r3 = await reg.putManifest('proto/app', 'garbage', '{"schemaVersion": 2, "layers": [', OCI_MANIFEST);
      assert.equal(r3.status, 400);
      assert.equal((await registryError(r3)).code, 'MANIFEST_INVALID');

      const good = JSON.stringify({ ...manifest, layers: [] });
      const r4 = await reg.putManifest('proto/app', sha256('not this'), good, OCI_MANIFEST);
      assert.equal(r4.status, 400);
      assert.equal((await registryError(r4)).code, 'DIGEST_INVALID');
      const r5 = await reg.putManifest('proto/app', sha256(good), good, OCI_MANIFEST);
      assert.equal(r5.status, 201, 'the same manifest under its true digest is accepted');

      for (const ref of ['broken', 'broken-index', 'garbage']) {
        const res = await reg.fetch(`/v2/proto/app/manifests/${ref}`);
        assert.equal(res.status, 404);
        assert.equal((await registryError(res)).code, 'MANIFEST_UNKNOWN');
      }
    });

    it('keeps an immutable repository\'s tags: a different manifest under a taken tag gets TAG_INVALID with ECR\'s message', async () => {
      await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'proto/immutable', imageTagMutability: 'IMMUTABLE' }));
      const first = await reg.pushImage('proto/immutable', 'release', ['v1 content']);
      assert.equal(first.response.status, 201);
      const again = await reg.putManifest('proto/immutable', 'release', first.text, OCI_MANIFEST);
      assert.equal(again.status, 201, 'pushing the same image again is fine');
      const second = await reg.pushImage('proto/immutable', 'release', ['v2 content']);
      assert.equal(second.response.status, 400);
      const err = await registryError(second.response);
      assert.equal(err.code, 'TAG_INVALID');
      assert.equal(err.message, "The image tag 'release' already exists in the 'proto/immutable' repository and cannot be overwritten because the repository is immutable.");
      const still = await reg.fetch('/v2/proto/immutable/manifests/release', { method: 'HEAD' });
      assert.equal(still.headers.get('docker-content-digest'), first.digest);
    });

    it('deletes a tag, then the manifest by digest', async () => {
      const img = await reg.pushImage('proto/app', 'doomed', ['doomed layer']);
      await reg.putManifest('proto/app', 'doomed-too', img.text, OCI_MANIFEST);
      assert.equal((await reg.fetch('/v2/proto/app/manifests/doomed', { method: 'DELETE' })).status, 202);
      assert.equal((await reg.fetch('/v2/proto/app/manifests/doomed')).status, 404);
      assert.equal((await reg.fetch('/v2/proto/app/manifests/doomed-too')).status, 200, 'the other tag stays');
      assert.equal((await reg.fetch(`/v2/proto/app/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      assert.equal((await reg.fetch(`/v2/proto/app/manifests/${img.digest}`)).status, 404);
      assert.equal((await reg.fetch('/v2/proto/app/manifests/doomed-too')).status, 404, 'deleting by digest removes its tags');
    });
  });

  describe('tags and referrers', () => {
    it('lists tags in order, n at a time, with a Link header to the next page', async () => {
      const img = await reg.pushImage('proto/other', 't-a', ['tag listing']);
      for (const t of ['t-b', 't-c', 't-d', 't-e']) await reg.putManifest('proto/other', t, img.text, OCI_MANIFEST);
      const seen: string[] = [];
      let next: string | undefined = '/v2/proto/other/tags/list?n=2';
      for (let page = 0; next && page < 10; page++) {
        const res = await reg.fetch(next);
        assert.equal(res.status, 200);
        const body = (await res.json()) as { name: string; tags: string[] };
        assert.equal(body.name, 'proto/other');
        assert.ok(body.tags.length <= 2);
        seen.push(...body.tags);
        next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
      }
      assert.deepEqual(seen, ['t-a', 't-b', 't-c', 't-d', 't-e']);
      const all = (await (await reg.fetch('/v2/proto/other/tags/list')).json()) as { tags: string[] };
      assert.deepEqual(all.tags, seen);
      const last = (await (await reg.fetch('/v2/proto/other/tags/list?last=t-c')).json()) as { tags: string[] };
      assert.deepEqual(last.tags, ['t-d', 't-e']);
    });

    it('records the subject of a pushed artifact (OCI-Subject) and lists it among the subject\'s referrers', async () => {
      const subject = await reg.pushImage('proto/app', 'signed', ['signed content']);
      const emptyConfig = await reg.pushBlob('proto/app', '{}');
      const sigLayer = await reg.pushBlob('proto/app', 'signature bytes');
      const artifact = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.signature',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyConfig, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: sigLayer, size: 15 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.text.length },
        annotations: { 'org.example.signer': 'ci' },
      };
      const text = JSON.stringify(artifact);
      const res = await reg.putManifest('proto/app', sha256(text), text, OCI_MANIFEST);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject.digest);

      const refs = await reg.fetch(`/v2/proto/app/referrers/${subject.digest}`);
      assert.equal(refs.status, 200);
      assert.equal(refs.headers.get('content-type'), OCI_INDEX);
      const index = (await refs.json()) as { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
      assert.equal(index.mediaType, OCI_INDEX);
      assert.deepEqual(index.manifests, [
        { mediaType: OCI_MANIFEST, digest: sha256(text), size: Buffer.byteLength(text), artifactType: 'application/vnd.example.signature', annotations: { 'org.example.signer': 'ci' } },
      ]);
      const filtered = await reg.fetch(`/v2/proto/app/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(((await filtered.json()) as { manifests: unknown[] }).manifests, []);
      const none = (await (await reg.fetch(`/v2/proto/app/referrers/${sha256('unreferenced')}`)).json()) as { manifests: unknown[] };
      assert.deepEqual(none.manifests, []);
    });
  });

  it('resumes an upload after the server restarts', async () => {
    const dataDir = server.dataDir;
    const first = await startServer({ host: '127.0.0.1', port: 0, dataDir: dataDir + '-resume', region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal' });
    const client1 = ecrClient(first.url);
    await client1.send(new CreateRepositoryCommand({ repositoryName: 'proto/resume' }));
    const r1 = await RegistryClient.login(first.url, client1);
    const content = Buffer.alloc(200_000, 9);
    const start = await r1.fetch('/v2/proto/resume/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location')!;
    await r1.fetch(location, { method: 'PATCH', body: content.subarray(0, 120_000), headers: { 'content-range': '0-119999' } });
    client1.destroy();
    await first.close();

    const second = await startServer({ host: '127.0.0.1', port: 0, dataDir: dataDir + '-resume', region: 'us-east-1', accountId: '000000000000', log: silentLogger(), synchronous: 'normal' });
    try {
      const client2 = ecrClient(second.url);
      const r2 = await RegistryClient.login(second.url, client2);
      client2.destroy();
      const status = await r2.fetch(location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-119999');
      await r2.fetch(location, { method: 'PATCH', body: content.subarray(120_000), headers: { 'content-range': `120000-${content.length - 1}` } });
      const done = await r2.fetch(`${location}?digest=${sha256(content)}`, { method: 'PUT' });
      assert.equal(done.status, 201);
      const get = await r2.fetch(`/v2/proto/resume/blobs/${sha256(content)}`);
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
    } finally {
      await second.close();
      const { rmSync } = await import('node:fs');
      rmSync(dataDir + '-resume', { recursive: true, force: true });
    }
  });
});

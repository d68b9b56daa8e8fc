import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from '../core/errors.js';
import { MEDIA_TYPES, digestOf, parseManifest } from './images.js';
import { tagIsImmutable, type RepositoryDoc } from './repositories.js';

const d = (s: string) => digestOf(Buffer.from(s));

describe('manifest parsing', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 1 };

  it('takes the media type from the manifest, else the one given, else its shape', () => {
    const body = { schemaVersion: 2, config, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('l'), size: 5 }] };
    assert.equal(parseManifest(Buffer.from(JSON.stringify(body)), undefined).mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(parseManifest(Buffer.from(JSON.stringify(body)), MEDIA_TYPES.dockerManifest + '; charset=utf-8').mediaType, MEDIA_TYPES.dockerManifest);
    const index = { schemaVersion: 2, manifests: [{ digest: d('m'), size: 3, mediaType: MEDIA_TYPES.ociManifest }] };
    const parsed = parseManifest(Buffer.from(JSON.stringify(index)), undefined);
    assert.equal(parsed.mediaType, MEDIA_TYPES.ociIndex);
    assert.deepEqual(parsed.children.map((c) => c.digest), [d('m')]);
  });

  it('names the config and distributable layers as the blobs to check, and sums the layer sizes', () => {
    const body = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config,
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('a'), size: 10 },
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('f'), size: 7, urls: ['https://example.invalid/f'] },
      ],
    };
    const parsed = parseManifest(Buffer.from(JSON.stringify(body)), undefined);
    assert.deepEqual(parsed.blobs.map((b) => b.digest), [d('c'), d('a')]);
    assert.equal(parsed.layersSize, 17);
  });

  it('refuses malformed JSON, a wrong schema version, unknown media types, a conflicting media type and bad descriptors', () => {
    const cases: [string, string | undefined, string][] = [
      ['{"schemaVersion":2,', undefined, 'InvalidParameterException'],
      ['[1,2]', undefined, 'InvalidParameterException'],
      [JSON.stringify({ schemaVersion: 1, config, layers: [] }), undefined, 'UnsupportedImageTypeException'],
      [JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example+json', config, layers: [] }), undefined, 'UnsupportedImageTypeException'],
      [JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config, layers: [] }), MEDIA_TYPES.dockerManifest, 'InvalidParameterException'],
      [JSON.stringify({ schemaVersion: 2, config: { digest: 'md5:abc', size: 1 }, layers: [] }), undefined, 'InvalidParameterException'],
      [JSON.stringify({ schemaVersion: 2, config }), undefined, 'InvalidParameterException'],
    ];
    for (const [text, type, error] of cases) {
      assert.throws(() => parseManifest(Buffer.from(text), type), (err: unknown) => err instanceof AwsError && err.type === error, text);
    }
  });

  it('keeps the subject and artifact type of an artifact manifest', () => {
    const body = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: 'application/x.sig', config, layers: [], subject: { digest: d('s'), size: 9 } };
    const parsed = parseManifest(Buffer.from(JSON.stringify(body)), undefined);
    assert.equal(parsed.subject?.digest, d('s'));
    assert.equal(parsed.artifactType, 'application/x.sig');
  });
});

describe('tag mutability', () => {
  const repo = (imageTagMutability: RepositoryDoc['imageTagMutability'], filters?: string[]): RepositoryDoc => ({
    repositoryArn: 'arn',
    registryId: '000000000000',
    repositoryName: 'r',
    createdAt: 0,
    imageTagMutability,
    ...(filters ? { imageTagMutabilityExclusionFilters: filters.map((filter) => ({ filterType: 'WILDCARD' as const, filter })) } : {}),
    imageScanningConfiguration: { scanOnPush: false },
    encryptionConfiguration: { encryptionType: 'AES256' },
    tags: [],
  });

  it('follows the repository setting, with wildcard exclusions turning it around for matching tags', () => {
    assert.equal(tagIsImmutable(repo('IMMUTABLE'), 'v1'), true);
    assert.equal(tagIsImmutable(repo('MUTABLE'), 'v1'), false);
    const mostlyImmutable = repo('IMMUTABLE_WITH_EXCLUSION', ['latest', 'dev-*']);
    assert.equal(tagIsImmutable(mostlyImmutable, 'v1.2'), true);
    assert.equal(tagIsImmutable(mostlyImmutable, 'latest'), false);
    assert.equal(tagIsImmutable(mostlyImmutable, 'dev-feature'), false);
    assert.equal(tagIsImmutable(mostlyImmutable, 'xdev-feature'), true);
    const mostlyMutable = repo('MUTABLE_WITH_EXCLUSION', ['release-*']);
    assert.equal(tagIsImmutable(mostlyMutable, 'release-1'), true);
    assert.equal(tagIsImmutable(mostlyMutable, 'latest'), false);
    assert.equal(tagIsImmutable(repo('MUTABLE_WITH_EXCLUSION', ['v1.0']), 'v1x0'), false, 'a dot matches only a dot');
  });
});

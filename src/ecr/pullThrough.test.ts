import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { upstreamBase } from './pullThrough.js';

describe('pull-through upstream URLs', () => {
  it('takes https registries, with or without the scheme, and plain http only on loopback', () => {
    assert.equal(upstreamBase('registry-1.docker.io'), 'https://registry-1.docker.io');
    assert.equal(upstreamBase('https://quay.io/'), 'https://quay.io');
    assert.equal(upstreamBase('http://127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(upstreamBase('http://localhost:5000'), 'http://localhost:5000');
    assert.equal(upstreamBase('http://[::1]:5000'), 'http://[::1]:5000');
  });

  it('refuses plain http elsewhere, other schemes, paths, queries and credentials with UnsupportedUpstreamRegistryException', () => {
    for (const url of ['http://registry.example.com', 'http://10.0.0.1:5000', 'ftp://registry.example.com', 'https://registry.example.com/v2/library', 'https://registry.example.com?x=1', 'https://user:pw@registry.example.com', 'https://']) {
      assert.throws(() => upstreamBase(url), (err: Error) => err.constructor.name === 'UnsupportedUpstreamRegistryException', url);
    }
  });
});

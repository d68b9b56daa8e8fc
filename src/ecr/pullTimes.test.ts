import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import { imageArn, type ImageDoc } from './images.js';
import { PullTimeRecorder } from './pullTimes.js';

describe('pull time recorder', () => {
  it('coalesces many pulls into one write per image per flush, keeps the latest time, and skips deleted images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-pulls-'));
    const store = await openSqliteStore({ path: join(dir, 'berth.db'), synchronous: 'normal' });
    try {
      const repo = 'arn:aws:ecr:us-east-1:000000000000:repository/app';
      const doc = (digest: string): ImageDoc => ({ imageDigest: digest, mediaType: 'm', manifest: '{}', size: 0, tags: [], pushedAt: 1 });
      await store.transaction(async (tx) => {
        for (const d of ['sha256:a', 'sha256:b']) await tx.insert('image', { arn: imageArn(repo, d), cluster: repo, name: d, status: 'ACTIVE', seq: 1, doc: doc(d) });
      });
      const before = await store.lastChangeSeq();
      const pulls = new PullTimeRecorder();
      for (let i = 0; i < 1000; i++) pulls.record(repo, 'sha256:a', 5000 + (i % 7 === 0 ? -i : i));
      pulls.record(repo, 'sha256:gone', 9000);
      assert.equal(pulls.size, 2);
      assert.equal(await pulls.flush(store), 1);
      assert.equal((await store.lastChangeSeq()) - before, 1, 'one write for a thousand pulls');
      assert.equal((await store.get<ImageDoc>('image', imageArn(repo, 'sha256:a')))!.doc.lastRecordedPullTime, 5999);
      assert.equal((await store.get<ImageDoc>('image', imageArn(repo, 'sha256:b')))!.doc.lastRecordedPullTime, undefined);
      assert.equal(pulls.size, 0);
      assert.equal(await pulls.flush(store), 0, 'nothing noted, nothing written');
      pulls.record(repo, 'sha256:a', 10);
      assert.equal(await pulls.flush(store), 0, 'an older time never replaces a newer one');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

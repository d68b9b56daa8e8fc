import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { blockTest, bloomOf } from './blooms.js';
import { compileFilterPattern } from './filterPattern.js';
import * as ops from './ops.js';
import { LogStore } from './storage.js';
import { openSqliteDatabase } from '../store/sqlite.js';

const NOW = 1_800_000_000_000;

describe('term search skip index', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('never rules out a block that holds the term', () => {
    const messages = ['GET /api/items/1 200', 'POST /api/orders 503 upstream timed out', 'déjà vu ✓ done', '€', 'é✓'];
    const bloom = bloomOf(messages);
    for (const term of ['upstream timed', 'orders 503', 'déjà', '✓ do', 'items/1 2', '€', '✓']) {
      assert.equal(blockTest(compileFilterPattern(`"${term}"`).prefilter!)!(bloom), true, term);
    }
    assert.equal(blockTest(compileFilterPattern('"out of memory"').prefilter!)!(bloom), false);
    assert.equal(blockTest(compileFilterPattern('ab').prefilter!), undefined, 'two bytes say nothing');
  });

  it('FilterLogEvents finds exactly what a full scan finds, across streams, pages, retention and an index built on open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-blooms-'));
    dirs.push(dir);
    const path = join(dir, 'logs.db');
    const ctx: ops.LogsContext = { logs: LogStore.open({ path }), region: 'us-east-1', accountId: '000000000000', now: () => NOW };
    await ops.createLogGroup(ctx, { logGroupName: 'g' });
    const all: { stream: string; timestamp: number; message: string }[] = [];
    // Three streams written in turns with overlapping times; a rare term, a common one, one in every message.
    for (let s = 0; s < 3; s++) await ops.createLogStream(ctx, { logGroupName: 'g', logStreamName: `s${s}` });
    for (let round = 0; round < 12; round++) {
      for (let s = 0; s < 3; s++) {
        const logEvents = Array.from({ length: 150 }, (_, i) => {
          const n = round * 450 + s * 150 + i;
          const message = `${n % 97 === 5 ? 'ERROR disk full' : 'INFO ok'} request=${n} stream=s${s}`;
          return { timestamp: NOW - 3_600_000 + round * 1000 + i * 5, message };
        });
        await ops.putLogEvents(ctx, { logGroupName: 'g', logStreamName: `s${s}`, logEvents });
        for (const e of logEvents) all.push({ stream: `s${s}`, ...e });
      }
    }
    const expected = (pattern: string) => {
      const f = compileFilterPattern(pattern);
      return all
        .filter((e) => f.matches(e.message))
        .sort((a, b) => a.timestamp - b.timestamp)
        .map((e) => e.message);
    };
    const filter = async (c: ops.LogsContext, pattern: string, limit?: number) => {
      const found: { message: string; timestamp: number }[] = [];
      let token: string | undefined;
      do {
        const page = (await ops.filterLogEvents(c, { logGroupName: 'g', filterPattern: pattern, ...(limit ? { limit } : {}), ...(token ? { nextToken: token } : {}) })) as {
          events: { message: string; timestamp: number }[];
          nextToken?: string;
        };
        found.push(...page.events);
        token = page.nextToken;
      } while (token);
      // Events of equal timestamps keep arrival order; compare as sorted by time, then as sets.
      return found.map((e) => e.message);
    };
    for (const pattern of ['"disk full"', 'ERROR', 'request=1', 'request=1234', '"request=4321 stream"', '"stream=s1" ERROR', '?"disk full" ?nothing-here', 'INFO -ERROR', 'absent']) {
      const want = expected(pattern);
      const got = await filter(ctx, pattern);
      assert.deepEqual([...got].sort(), [...want].sort(), pattern);
      assert.equal(got.length, want.length, pattern);
    }
    const paged = await filter(ctx, 'ERROR', 7);
    assert.deepEqual([...paged].sort(), [...expected('ERROR')].sort(), 'pages of 7 add up to the whole');

    // Retention removes the oldest events: what is left is still found, and nothing else.
    const cut = NOW - 3_600_000 + 6 * 1000;
    while (ctx.logs.expire(1, cut, 100) > 0);
    all.splice(0, all.length, ...all.filter((e) => e.timestamp >= cut));
    assert.deepEqual([...(await filter(ctx, '"disk full"'))].sort(), [...expected('"disk full"')].sort());
    ctx.logs.close();

    // A log file written before the index existed gets it on open.
    const raw = openSqliteDatabase({ path, synchronous: 'normal' });
    raw.exec(`DELETE FROM event_blooms`);
    raw.exec(`DELETE FROM meta WHERE key = 'blooms'`);
    raw.database.close();
    const reopened: ops.LogsContext = { logs: LogStore.open({ path }), region: 'us-east-1', accountId: '000000000000', now: () => NOW };
    assert.deepEqual([...(await filter(reopened, '"disk full"'))].sort(), [...expected('"disk full"')].sort());
    reopened.logs.close();
  });
});

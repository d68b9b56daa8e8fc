import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { Logger } from '../../core/log.js';
import { makeTask } from '../engine/fixtures.js';
import { newTaskRecord } from '../engine/spec.js';
import type { TaskRecord } from '../engine/model.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { readJson } from '../state/files.js';
import { LogShipper, type LogsApi } from './shipper.js';

const BASE = 1_796_157_244_000_000_000n;
const stamp = (i: number) => {
  const n = BASE + BigInt(i) * 1_000_000n;
  const ms = Number(n / 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(n % 1_000_000_000n).padStart(9, '0')}Z`;
};
const output = (n: number) => Array.from({ length: n }, (_, i) => `${stamp(i + 1)} line ${i + 1}\n`).join('');

/** A stopped container whose engine output is `text`; reads honour `sinceNanos`. */
function runtimeWith(text: string): ContainerRuntime {
  return {
    followLogs: (_id: string, o: { sinceNanos?: bigint }) => {
      const lines = text.split('\n').filter((l) => l !== '');
      const since = o.sinceNanos;
      const kept = lines.filter((l) => {
        if (since === undefined) return true;
        const [date, frac] = l.slice(0, l.indexOf(' ')).replace('Z', '').split('.') as [string, string];
        const nanos = BigInt(Date.parse(date + 'Z')) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
        return nanos >= since;
      });
      return Promise.resolve(Readable.from([kept.map((l) => l + '\n').join('')]));
    },
    inspect: () => Promise.resolve({ status: 'exited' }),
  } as unknown as ContainerRuntime;
}

class FakeLogs implements LogsApi {
  stored: { timestamp: number; message: string }[] = [];
  failures = 0;
  puts = 0;
  call<T>(op: string, input: unknown): Promise<T> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' }));
    }
    const i = input as { logEvents?: { timestamp: number; message: string }[]; limit?: number };
    if (op === 'PutLogEvents') {
      this.puts++;
      this.stored.push(...i.logEvents!);
    }
    if (op === 'GetLogEvents') return Promise.resolve({ events: this.stored.slice(-(i.limit ?? 10_000)) } as T);
    return Promise.resolve({} as T);
  }
}

function quietLog(warnings: string[] = []): Logger {
  const log = { warn: (_o: unknown, m?: string) => warnings.push(m ?? ''), info: () => undefined, error: () => undefined, debug: () => undefined };
  return log as unknown as Logger;
}

function record(options: Record<string, string> = {}): TaskRecord {
  const task = makeTask({ containers: [{ name: 'app', logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'g', 'awslogs-stream-prefix': 'p', ...options } } }] });
  const r = newTaskRecord(task, () => 'token');
  r.containers[0]!.runtimeId = 'cid';
  r.containers[0]!.startedAt = Date.now();
  return r;
}

describe('log shipper', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-shipper-'));
    dirs.push(d);
    return d;
  };

  async function ship(dir: string, api: FakeLogs, text: string, r = record(), warnings: string[] = []): Promise<void> {
    const shipper = new LogShipper({ runtime: runtimeWith(text), api, dataDir: dir, log: quietLog(warnings), flushIntervalMs: 20, backoff: { baseMs: 5, capMs: 20 } });
    shipper.observe(r);
    try {
      for (let i = 0; i < 500; i++) {
        const state = await readJson<{ done?: boolean }>(join(dir, 'logs', 'cid.json'));
        if (state?.done) return;
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.fail('the shipper did not finish within 10 s');
    } finally {
      await shipper.stop();
    }
  }

  const messages = (api: FakeLogs) => api.stored.map((e) => e.message);
  const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);

  it('ships every line once, in order, with its own timestamp, through a server that is away for a while', async () => {
    const api = new FakeLogs();
    api.failures = 6;
    await ship(dataDir(), api, output(30));
    assert.deepEqual(messages(api), lines(1, 30));
    assert.deepEqual(api.stored.slice(0, 2).map((e) => e.timestamp), [Number((BASE + 1_000_000n) / 1_000_000n), Number((BASE + 2_000_000n) / 1_000_000n)]);
  });

  it('resumes after the acknowledged position, and does not resend an in-flight batch the server had stored', async () => {
    const dir = dataDir();
    await mkdir(join(dir, 'logs'), { recursive: true });
    // Acknowledged up to line 2; lines 3 and 4 were in flight when the agent died, and the server has them.
    await writeFile(join(dir, 'logs', 'cid.json'), JSON.stringify({ acked: { nanos: String(BASE + 2_000_000n), sameNanos: 1 }, pending: 2 }));
    const api = new FakeLogs();
    api.stored = lines(1, 4).map((message, i) => ({ timestamp: i, message }));
    await ship(dir, api, output(6));
    assert.deepEqual(messages(api), lines(1, 6));
  });

  it('resends an in-flight batch the server had not stored', async () => {
    const dir = dataDir();
    await mkdir(join(dir, 'logs'), { recursive: true });
    await writeFile(join(dir, 'logs', 'cid.json'), JSON.stringify({ acked: { nanos: String(BASE + 2_000_000n), sameNanos: 1 }, pending: 2 }));
    const api = new FakeLogs();
    api.stored = lines(1, 2).map((message, i) => ({ timestamp: i, message }));
    await ship(dir, api, output(6));
    assert.deepEqual(messages(api), lines(1, 6));
  });

  it('in non-blocking mode drops lines beyond max-buffer-size while the server is away, and says so', async () => {
    const api = new FakeLogs();
    api.failures = 3;
    const warnings: string[] = [];
    await ship(dataDir(), api, output(200), record({ mode: 'non-blocking', 'max-buffer-size': '300' }), warnings);
    assert.ok(api.stored.length < 200, 'some lines were dropped');
    assert.ok(warnings.some((w) => /max-buffer-size reached/.test(w)), warnings.join('; '));
    assert.ok(warnings.some((w) => /dropped \d+ log lines/.test(w)) || api.stored.length > 0);
  });

  it('in blocking mode keeps every line with the same small buffer', async () => {
    const api = new FakeLogs();
    api.failures = 3;
    await ship(dataDir(), api, output(200), record({ 'max-buffer-size': '300' }));
    assert.deepEqual(messages(api), lines(1, 200));
  });
});

// Authorization benchmark: what checking IAM policies adds to a request.
//
//   node dist/bench/authz.js [--samples 3000] [--rounds 3]
//
// A Berth server (child process) holds an IAM user with 50 inline policies of
// 20 statements each (the last statement of the last policy allows the call).
// The same signed DescribeClusters is replayed on one keep-alive connection by
// that user and by the account root (always allowed, no policy evaluated), in
// alternating rounds so that drift hits both alike. The difference of the
// p50s is the added latency of resolving the principal and evaluating its
// policies (target: <= 0.1 ms).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { Agent } from 'node:http';
import { fmt, printRow, send, signEcs, spawnUntil, stats, type SignedCall } from './lib.js';

const ROOT = { accessKeyId: 'AKIABENCHBERTH000001', secretAccessKey: 'bench-secret-key-0000000000000000000000' };
const POLICIES = 50;
const STATEMENTS = 20;

export interface AuthzBenchResult {
  userP50: number;
  userP99: number;
  rootP50: number;
  rootP99: number;
  addedP50: number;
}

function policy(p: number, account: string): string {
  const statements = Array.from({ length: STATEMENTS }, (_, s) => {
    const last = p === POLICIES - 1 && s === STATEMENTS - 1;
    return {
      Sid: `P${p}S${s}`,
      Effect: 'Allow',
      Action: last ? ['ecs:DescribeClusters'] : [`ecs:Describe${s % 2 ? 'Services' : 'Tasks'}`, `ecr:BatchGet${p}Image${s}`],
      Resource: last ? `arn:aws:ecs:us-east-1:${account}:cluster/bench-*` : `arn:aws:ecs:us-east-1:${account}:cluster/other-${p}-${s}`,
      ...(s % 3 === 0 && !last ? { Condition: { StringEquals: { 'aws:ResourceTag/team': `t${s}` } } } : {}),
    };
  });
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** `n` sequential request latencies on one keep-alive connection, after a warm-up. */
async function samplesOf(url: string, call: SignedCall, n: number, warmup = 200): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < warmup; i++) await send(url, agent, call);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await send(url, agent, call);
      if (r.status !== 200) throw new Error(`HTTP ${r.status} during latency run`);
      out.push(r.ms);
    }
    return out;
  } finally {
    agent.destroy();
  }
}

export async function runAuthzBench(opts: { samples: number; rounds: number }): Promise<AuthzBenchResult> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-authz-'));
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: ROOT.accessKeyId, BERTH_SECRET_ACCESS_KEY: ROOT.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const berth = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', dataDir], /listening on (http:\/\/\S+)/, env);
  const url = berth.match[1]!;
  const iam = new IAMClient({ endpoint: url, region: 'us-east-1', credentials: ROOT, maxAttempts: 1 });
  try {
    const account = '000000000000';
    const agent = new Agent({ keepAlive: true });
    const created = await send(url, agent, await signEcs(url, ROOT, 'CreateCluster', { clusterName: 'bench-authz', tags: [{ key: 'team', value: 'none' }] }));
    agent.destroy();
    if (created.status !== 200) throw new Error(`fixture cluster failed: HTTP ${created.status}`);
    await iam.send(new CreateUserCommand({ UserName: 'bench' }));
    for (let p = 0; p < POLICIES; p++) await iam.send(new PutUserPolicyCommand({ UserName: 'bench', PolicyName: `p${p}`, PolicyDocument: policy(p, account) }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'bench' }))).AccessKey!;
    const user = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };

    const input = { clusters: ['bench-authz'] };
    const asUser = await signEcs(url, user, 'DescribeClusters', input);
    const asRoot = await signEcs(url, ROOT, 'DescribeClusters', input);
    const userSamples: number[] = [];
    const rootSamples: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      rootSamples.push(...(await samplesOf(url, asRoot, opts.samples)));
      userSamples.push(...(await samplesOf(url, asUser, opts.samples)));
    }
    const u = stats(userSamples);
    const o = stats(rootSamples);
    console.log(`Authorization benchmark: DescribeClusters by a user with ${POLICIES} policies x ${STATEMENTS} statements vs the account root (${opts.rounds} x ${opts.samples} samples each)`);
    console.log('  figure                                        Berth             | peer: same request by the root | ratio');
    printRow('DescribeClusters p50 (user, policies checked)', u.p50, o.p50, 'ms', 'root');
    printRow('DescribeClusters p99 (user, policies checked)', u.p99, o.p99, 'ms', 'root');
    const added = u.p50 - o.p50;
    console.log(`  added by authorization at p50: ${fmt(added, 3)} ms (target <= 0.1 ms); at p99: ${fmt(u.p99 - o.p99, 3)} ms`);
    return { userP50: u.p50, userP99: u.p99, rootP50: o.p50, rootP99: o.p99, addedP50: added };
  } finally {
    iam.destroy();
    berth.child.kill('SIGTERM');
    await new Promise((r) => berth.child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' } } });
  await runAuthzBench({ samples: Number(values.samples), rounds: Number(values.rounds) });
}

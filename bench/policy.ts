/**
 * IAM policy evaluation benchmark.
 *
 *   node dist/bench/policy.js        prints the figures
 *   runPolicyBench(opts)             returns them (for the bench runner)
 *
 * A principal with 50 identity policies of 20 statements each (actions over
 * six services with wildcards, ARN patterns with wildcards and policy
 * variables, a third of the statements with conditions) plus a resource
 * policy. Three requests: one that an allow grants, one that no statement
 * allows (every candidate statement is checked), and one where every
 * statement is of the request's service (no bucket pruning helps). Each is
 * reported beside the no-policy root check measured in the same run: the
 * cost of evaluating a request with no policy at all.
 *
 * Evaluation calls are timed in batches of `batch` (a single call is below
 * the timer's resolution); the p50 is the median batch's time per call.
 * Target: p50 at most 0.1 ms (100 µs) per request.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { compilePolicy, evaluate, type AuthorizationRequest, type CompiledPolicy, type PolicySet } from '../src/iam/policy/index.js';
import { fmt, printRow, stats } from './lib.js';

const TARGET_US = 100;
const ACCOUNT = '123456789012';
const SERVICES = ['secretsmanager', 'ssm', 's3', 'ecs', 'ecr', 'logs'];
const VERBS = ['Get', 'Put', 'Describe', 'List', 'Delete', 'Create', 'Update', 'Tag'];

export interface PolicyBenchOptions {
  policies?: number;
  statements?: number;
  samples?: number;
  batch?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildPolicies(count: number, perPolicy: number, sameService: boolean, seed: number): CompiledPolicy[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: CompiledPolicy[] = [];
  for (let p = 0; p < count; p++) {
    const statements = [];
    for (let i = 0; i < perPolicy; i++) {
      const svc = sameService ? 'secretsmanager' : pick(SERVICES);
      const action = r() < 0.5 ? `${svc}:${pick(VERBS)}*` : `${svc}:${pick(VERBS)}Thing${i}`;
      const resource =
        r() < 0.3
          ? `arn:aws:${svc}:*:${ACCOUNT}:team-${p}/\${aws:username}/*`
          : `arn:aws:${svc}:us-*:${ACCOUNT}:project-${p}-${i}/*`;
      const st: Record<string, unknown> = { Sid: `S${i}`, Effect: r() < 0.1 ? 'Deny' : 'Allow', Action: [action, `${svc}:Other${i}`], Resource: [resource] };
      if (r() < 0.33) st.Condition = { StringEquals: { 'aws:RequestTag/env': ['prod', 'staging'] }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } };
      if (st.Effect === 'Deny') st.Resource = [`arn:aws:${svc}:*:*:forbidden-${p}-${i}`];
      statements.push(st);
    }
    out.push(compilePolicy({ Version: '2012-10-17', Statement: statements }, 'identity', `policy-${p}`));
  }
  return out;
}

function time(req: AuthorizationRequest, set: PolicySet, samples: number, batch: number): { p50: number; p95: number; decision: string } {
  const decision = evaluate(req, set).decision;
  for (let i = 0; i < batch * 20; i++) evaluate(req, set);
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) evaluate(req, set);
    per.push(((performance.now() - t0) / batch) * 1000);
  }
  const st = stats(per);
  return { p50: st.p50, p95: st.p95, decision };
}

export function runPolicyBench(opts: PolicyBenchOptions = {}): Record<string, number> {
  const policies = opts.policies ?? 50;
  const statements = opts.statements ?? 20;
  const samples = opts.samples ?? 200;
  const batch = opts.batch ?? 50;
  const mixed = buildPolicies(policies, statements, false, 1);
  const same = buildPolicies(policies, statements, true, 2);
  const grant = compilePolicy(
    { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:app/*' } },
    'identity',
    'grant',
  );
  const resourcePolicy = compilePolicy(
    { Version: '2012-10-17', Statement: { Effect: 'Deny', Principal: '*', Action: 'secretsmanager:DeleteSecret', Resource: '*' } },
    'resource',
    'secret-policy',
  );
  const base: AuthorizationRequest = {
    principal: { type: 'AWS', id: `arn:aws:iam::${ACCOUNT}:user/ana` },
    action: 'secretsmanager:GetSecretValue',
    resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:app/db-AbCdEf`,
    context: { 'aws:RequestTag/env': 'prod', 'aws:SourceIp': '10.1.2.3' },
    now: new Date(),
  };
  const root: AuthorizationRequest = { ...base, principal: { type: 'AWS', id: `arn:aws:iam::${ACCOUNT}:root` } };
  // The peer is measured before and after the cases (the better of the two), so warm-up and load drift favour neither side.
  const peerBefore = time(root, { identity: [] }, samples, batch);
  const cases = {
    allowed: time(base, { identity: [...mixed, grant], resource: resourcePolicy }, samples, batch),
    'implicit deny': time(base, { identity: mixed, resource: resourcePolicy }, samples, batch),
    'one service only': time(base, { identity: same, resource: resourcePolicy }, samples, batch),
  };
  const peerAfter = time(root, { identity: [] }, samples, batch);
  const peer = peerBefore.p50 <= peerAfter.p50 ? peerBefore : peerAfter;
  console.log(`${policies} policies x ${statements} statements (+1 resource policy); p50 per request in µs; peer: the same call with no policy`);
  const out: Record<string, number> = { peerP50Us: peer.p50 };
  for (const [name, c] of Object.entries(cases)) {
    printRow(`${name} (${c.decision}) p50`, c.p50, peer.p50, 'µs', 'no policy');
    out[`${name} p50 µs`] = c.p50;
  }
  const worst = Math.max(...Object.values(cases).map((c) => c.p50));
  console.log(`  target p50 <= ${TARGET_US} µs: ${worst <= TARGET_US ? 'met' : 'MISSED'} (worst p50 ${fmt(worst)} µs)`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runPolicyBench();

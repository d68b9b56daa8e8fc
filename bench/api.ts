// API benchmark: the cost of Berth's layers (SigV4 verification, validation,
// the store) against a bare Node HTTP echo server measured in the same run.
//
//   node dist/bench/api.js [--seconds 5] [--samples 3000]
//
// Both servers run as child processes; the load generator replays pre-signed
// requests (valid for 15 minutes) so that client-side signing does not eat the
// machine's two cores. Berth verifies every request in full.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, latency, printRow, signEcs, spawnUntil, throughput } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000001', secretAccessKey: 'bench-secret-key-0000000000000000000000' };

export interface ApiBenchResult {
  describeTaskDefinition: { p50: number; p99: number; echoP50: number; echoP99: number };
  listClusters: { p50: number; p99: number; echoP50: number; echoP99: number };
  signedReadsPerSecond: number;
  echoReadsPerSecond: number;
  registerTaskDefinitionPerSecond: number;
  echoWritesPerSecond: number;
}

export async function runApiBench(opts: { seconds: number; samples: number }): Promise<ApiBenchResult> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-api-'));
  const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
  const berth = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', dataDir], /listening on (http:\/\/\S+)/, env);
  const echo = await spawnUntil(process.execPath, [join(root, 'dist/bench/echo-server.js')], /listening on (http:\/\/\S+)/);
  const berthUrl = berth.match[1]!;
  const echoUrl = echo.match[1]!;
  try {
    // Fixture: a few clusters and a realistic task definition.
    const { send } = await import('./lib.js');
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    for (let i = 0; i < 20; i++) await send(berthUrl, agent, await signEcs(berthUrl, CREDS, 'CreateCluster', { clusterName: `bench-${i}` }));
    const taskDef = {
      family: 'bench-web',
      containerDefinitions: [
        {
          name: 'web',
          image: 'berth-test/busybox:latest',
          memory: 256,
          cpu: 256,
          portMappings: [{ containerPort: 8080, hostPort: 0 }],
          environment: Array.from({ length: 10 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` })),
          healthCheck: { command: ['CMD-SHELL', 'wget -q -O- http://localhost:8080/ || exit 1'], interval: 10, timeout: 5, retries: 3 },
        },
        { name: 'sidecar', image: 'berth-test/busybox:latest', memory: 64, essential: false, command: ['sleep', '3600'] },
      ],
    };
    const reg = await send(berthUrl, agent, await signEcs(berthUrl, CREDS, 'RegisterTaskDefinition', taskDef));
    if (reg.status !== 200) throw new Error(`fixture registration failed: HTTP ${reg.status}`);
    agent.destroy();

    const describe = await signEcs(berthUrl, CREDS, 'DescribeTaskDefinition', { taskDefinition: 'bench-web' });
    const list = await signEcs(berthUrl, CREDS, 'ListClusters', {});
    const register = await signEcs(berthUrl, CREDS, 'RegisterTaskDefinition', taskDef);

    console.log(`Berth API benchmark (${opts.samples} sequential samples per latency figure, ${opts.seconds}s per rate figure)`);
    console.log('  figure                                        Berth             | peer: bare Node HTTP echo server | ratio');
    const dOurs = await latency(berthUrl, describe, opts.samples);
    const dPeer = await latency(echoUrl, describe, opts.samples);
    printRow('DescribeTaskDefinition p50', dOurs.p50, dPeer.p50, 'ms', 'echo');
    printRow('DescribeTaskDefinition p99', dOurs.p99, dPeer.p99, 'ms', 'echo');
    const lOurs = await latency(berthUrl, list, opts.samples);
    const lPeer = await latency(echoUrl, list, opts.samples);
    printRow('ListClusters p50', lOurs.p50, lPeer.p50, 'ms', 'echo');
    printRow('ListClusters p99', lOurs.p99, lPeer.p99, 'ms', 'echo');
    const rOurs = await throughput(berthUrl, describe, 16, opts.seconds);
    const rPeer = await throughput(echoUrl, describe, 16, opts.seconds);
    printRow('signed reads/s (DescribeTaskDefinition, 16 conns)', rOurs.rate, rPeer.rate, 'req/s', 'echo');
    const wOurs = await throughput(berthUrl, register, 16, opts.seconds);
    const wPeer = await throughput(echoUrl, register, 16, opts.seconds);
    printRow('RegisterTaskDefinition/s (16 conns, fsync)', wOurs.rate, wPeer.rate, 'req/s', 'echo');
    if (rOurs.errors || wOurs.errors) console.log(`  errors: reads ${rOurs.errors}, writes ${wOurs.errors}`);
    console.log(
      `  targets: read p99 < 5 ms -> ${dOurs.p99 < 5 && lOurs.p99 < 5 ? 'met' : 'MISSED'} (${fmt(dOurs.p99)} / ${fmt(lOurs.p99)}); ` +
        `>= 2000 signed reads/s -> ${rOurs.rate >= 2000 ? 'met' : 'MISSED'} (${fmt(rOurs.rate, 0)})`,
    );
    return {
      describeTaskDefinition: { p50: dOurs.p50, p99: dOurs.p99, echoP50: dPeer.p50, echoP99: dPeer.p99 },
      listClusters: { p50: lOurs.p50, p99: lOurs.p99, echoP50: lPeer.p50, echoP99: lPeer.p99 },
      signedReadsPerSecond: rOurs.rate,
      echoReadsPerSecond: rPeer.rate,
      registerTaskDefinitionPerSecond: wOurs.rate,
      echoWritesPerSecond: wPeer.rate,
    };
  } finally {
    berth.child.kill('SIGTERM');
    echo.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, samples: { type: 'string', default: '3000' } } });
  await runApiBench({ seconds: Number(values.seconds), samples: Number(values.samples) });
}

// Registry benchmark: Berth's registry against Debian's docker-registry (the
// reference distribution registry, 2.8) on the same machine in the same run.
//
//   node dist/bench/registry.js [--rounds 3] [--samples 2000] [--seconds 5]
//
// Figures: `docker push` and `docker pull` of a 50 MB image of five layers
// (median of the rounds), manifest GET p50/p99 on one keep-alive connection,
// and blob GET throughput with 16 concurrent clients. Both registries run as
// child processes with their data in a temporary directory; Berth is asked
// with credentials (Basic, as docker sends after login), the reference
// anonymously (its default configuration).
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { BenchWorkspace, cpuSecondsOfTree, fmt, median, printRow, run, stats, timed } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000001', secretAccessKey: 'bench-secret-key-0000000000000000000000' };
const LAYERS = 5;
const LAYER_BYTES = 10 * 1024 * 1024;
const CLIENTS = 16;

interface Target {
  name: string;
  host: string;
  headers: Record<string, string>;
  /** The server's process, for its CPU time. */
  pid: number;
}

function get(host: string, path: string, agent: Agent, headers: Record<string, string>): Promise<{ status: number; bytes: number; headers: Record<string, string | string[] | undefined> }> {
  const [hostname, port] = host.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function runRegistryBench(opts: { rounds: number; samples: number; seconds: number }): Promise<void> {
  const work = new BenchWorkspace('berth-bench-registry-');
  const { dockerEnv, images } = work;
  try {
    const { child: berth, url: berthUrl, host: berthHost } = await work.startBerth(CREDS);
    const { child: ref, host: refHost } = await work.startDockerRegistry('reference', { deleteEnabled: true });

    const ecr = new ECRClient({ endpoint: berthUrl, region: 'us-east-1', credentials: CREDS });
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    for (let i = 0; i < opts.rounds; i++) await ecr.send(new CreateRepositoryCommand({ repositoryName: `bench/app-${i}` }));
    ecr.destroy();
    await work.dockerLogin(berthHost, token);

    // Per round, a 50 MB image of five fresh 10 MB layers on the local busybox image, so that
    // every push uploads all of them (a layer pushed before would be mounted, not uploaded).
    const locals: string[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const ctx = work.imageContext(round, LAYERS, LAYER_BYTES);
      const local = `berth-bench-registry-${process.pid}:round-${round}`;
      await run('docker', ['build', '-q', '-t', local, ctx], dockerEnv);
      images.push(local);
      locals.push(local);
    }

    const targets: Target[] = [
      { name: 'berth', host: berthHost, headers: { authorization: `Basic ${token}` }, pid: berth.pid! },
      { name: 'docker-registry', host: refHost, headers: {}, pid: ref.pid! },
    ];
    const push: Record<string, number[]> = { berth: [], 'docker-registry': [] };
    const pull: Record<string, number[]> = { berth: [], 'docker-registry': [] };
    // Server CPU seconds per push and pull: on two cores the engine's compression competes with the registry for CPU.
    const pushCpu: Record<string, number[]> = { berth: [], 'docker-registry': [] };
    const pullCpu: Record<string, number[]> = { berth: [], 'docker-registry': [] };
    const measured = async (t: Target, into: Record<string, number[]>, cpu: Record<string, number[]>, args: string[]): Promise<void> => {
      const before = cpuSecondsOfTree(t.pid);
      into[t.name]!.push(await timed(() => run('docker', args, dockerEnv)));
      cpu[t.name]!.push(cpuSecondsOfTree(t.pid) - before);
    };
    // Rounds alternate which registry goes first, so that neither always meets a cold or a warm engine.
    const inOrder = (round: number): Target[] => (round % 2 === 0 ? targets : [...targets].reverse());
    for (let i = 0; i < opts.rounds; i++) {
      for (const t of inOrder(i)) {
        const ref = `${t.host}/bench/app-${i}:v1`;
        await run('docker', ['tag', locals[i]!, ref], dockerEnv);
        images.push(ref);
        await measured(t, push, pushCpu, ['push', ref]);
      }
    }
    // Pulls: the pushed images removed locally (the busybox base stays, as on any host that built it).
    await run('docker', ['rmi', '-f', ...images], dockerEnv);
    for (let i = 0; i < opts.rounds; i++) {
      for (const t of inOrder(i)) {
        const ref = `${t.host}/bench/app-${i}:v1`;
        await measured(t, pull, pullCpu, ['pull', ref]);
        await run('docker', ['rmi', '-f', ref], dockerEnv);
      }
    }

    const manifestPath = '/v2/bench/app-0/manifests/v1';
    const accept = { accept: 'application/vnd.docker.distribution.manifest.v2+json' };
    const latency: Record<string, ReturnType<typeof stats>> = {};
    const throughput: Record<string, number> = {};
    for (const t of targets) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const first = await get(t.host, manifestPath, agent, { ...t.headers, ...accept });
      if (first.status !== 200) throw new Error(`${t.name} answered ${first.status} for the manifest`);
      const samples: number[] = [];
      for (let i = 0; i < opts.samples + 200; i++) {
        const ms = await timed(() => get(t.host, manifestPath, agent, { ...t.headers, ...accept }));
        if (i >= 200) samples.push(ms);
      }
      agent.destroy();
      latency[t.name] = stats(samples);
    }
    // The largest layer of the pushed image.
    const manifestText = await new Promise<string>((resolve, reject) => {
      const [hostname, port] = refHost.split(':') as [string, string];
      request({ host: hostname, port, path: manifestPath, headers: accept }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      })
        .on('error', reject)
        .end();
    });
    const layers = (JSON.parse(manifestText) as { layers: { digest: string; size: number }[] }).layers;
    const blob = layers.reduce((a, b) => (b.size > a.size ? b : a));
    /** MB/s of `CLIENTS` clients GETting the blob for `seconds`. */
    const blobRun = async (t: Target, seconds: number): Promise<number> => {
      const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      const deadline = Date.now() + seconds * 1000;
      let bytes = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (Date.now() < deadline) {
            const r = await get(t.host, `/v2/bench/app-0/blobs/${blob.digest}`, agent, t.headers);
            if (r.status !== 200 || r.bytes !== blob.size) throw new Error(`${t.name} blob GET answered ${r.status} with ${r.bytes} bytes`);
            bytes += r.bytes;
          }
        }),
      );
      agent.destroy();
      return bytes / 1024 / 1024 / (Number(process.hrtime.bigint() - started) / 1e9);
    };
    // A short unmeasured run of each first (the client's own warm-up must not count against whichever goes first),
    // then two measured runs each, in the order A B B A, averaged: load that drifts during the run falls on both.
    for (const t of targets) await blobRun(t, 1);
    const runs: Record<string, number[]> = { berth: [], 'docker-registry': [] };
    for (const t of [...targets, ...[...targets].reverse()]) runs[t.name]!.push(await blobRun(t, opts.seconds / 2));
    for (const t of targets) throughput[t.name] = (runs[t.name]![0]! + runs[t.name]![1]!) / 2;

    console.log(`registry: ${LAYERS} x ${LAYER_BYTES / 1024 / 1024} MB layers, ${opts.rounds} rounds, ${opts.samples} manifest GETs, ${CLIENTS} blob clients for ${opts.seconds} s`);
    console.log('  (a time ratio below 1 and a throughput ratio above 1 mean Berth is faster)');
    printRow('docker push, 50 MB (median)', median(push.berth!), median(push['docker-registry']!), 'ms', 'docker-registry');
    printRow('docker pull, 50 MB (median)', median(pull.berth!), median(pull['docker-registry']!), 'ms', 'docker-registry');
    printRow('registry CPU per push (median)', median(pushCpu.berth!) * 1000, median(pushCpu['docker-registry']!) * 1000, 'ms', 'docker-registry');
    printRow('registry CPU per pull (median)', median(pullCpu.berth!) * 1000, median(pullCpu['docker-registry']!) * 1000, 'ms', 'docker-registry');
    printRow('manifest GET p50', latency.berth!.p50, latency['docker-registry']!.p50, 'ms', 'docker-registry');
    printRow('manifest GET p99', latency.berth!.p99, latency['docker-registry']!.p99, 'ms', 'docker-registry');
    printRow(`blob GET, ${CLIENTS} clients`, throughput.berth!, throughput['docker-registry']!, 'MB/s', 'docker-registry');
    // Each round's two pushes (and pulls) ran back to back: their ratio is the steadier figure when the machine's speed drifts.
    const ratios = (xs: Record<string, number[]>) => xs.berth!.map((b, i) => b / xs['docker-registry']![i]!);
    console.log(`  per-round time ratios: push ${ratios(push).map((x) => fmt(x)).join(', ')} (median ${fmt(median(ratios(push)))}); pull ${ratios(pull).map((x) => fmt(x)).join(', ')} (median ${fmt(median(ratios(pull)))})`);
    console.log(`  push rounds (ms): berth ${push.berth!.map((x) => fmt(x, 0)).join(', ')}; docker-registry ${push['docker-registry']!.map((x) => fmt(x, 0)).join(', ')}`);
    console.log(`  pull rounds (ms): berth ${pull.berth!.map((x) => fmt(x, 0)).join(', ')}; docker-registry ${pull['docker-registry']!.map((x) => fmt(x, 0)).join(', ')}`);
  } finally {
    await work.remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, samples: { type: 'string' }, seconds: { type: 'string' } } });
  await runRegistryBench({ rounds: Number(values.rounds ?? 3), samples: Number(values.samples ?? 2000), seconds: Number(values.seconds ?? 5) });
}

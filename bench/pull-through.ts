// Pull-through cache benchmark: `docker pull` through Berth's pull-through
// cache, cold (Berth fetches the image from the upstream while serving it) and
// warm (served from Berth's cache), against `docker pull` straight from the
// upstream, Debian's docker-registry, in the same run on the same machine.
//
//   node dist/bench/pull-through.js [--rounds 3]
//
// Each round pushes a fresh image (three 10 MB layers on the local busybox
// image) to the upstream, then pulls it three ways, removing it from the
// Docker Engine after each pull. Figures are medians over the rounds.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreatePullThroughCacheRuleCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { fmt, printRow, run, spawnUntil, timed } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000002', secretAccessKey: 'bench-secret-key-0000000000000000000002' };
const LAYERS = 3;
const LAYER_BYTES = 10 * 1024 * 1024;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(url).catch(() => undefined);
    if (res) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered at ${url}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runPullThroughBench(opts: { rounds: number }): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-pull-through-'));
  const dockerEnv = { ...process.env, DOCKER_CONFIG: join(work, 'docker-config') };
  const children: ChildProcess[] = [];
  const images: string[] = [];
  try {
    const env = { ...process.env, BERTH_ACCESS_KEY_ID: CREDS.accessKeyId, BERTH_SECRET_ACCESS_KEY: CREDS.secretAccessKey, BERTH_LOG_LEVEL: 'warn' };
    const berth = await spawnUntil(process.execPath, [join(root, 'bin/berth.js'), 'server', '--port', '0', '--data-dir', join(work, 'berth')], /listening on (http:\/\/\S+)/, env);
    children.push(berth.child);
    const berthUrl = berth.match[1]!;
    const berthHost = new URL(berthUrl).host;

    const upstreamHost = `127.0.0.1:${await freePort()}`;
    writeFileSync(
      join(work, 'upstream.yml'),
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'upstream')}\nhttp:\n  addr: ${upstreamHost}\n`,
    );
    children.push(spawn('docker-registry', ['serve', join(work, 'upstream.yml')], { stdio: 'ignore' }));
    await waitFor(`http://${upstreamHost}/v2/`);

    const ecr = new ECRClient({ endpoint: berthUrl, region: 'us-east-1', credentials: CREDS });
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: `http://${upstreamHost}` }));
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    ecr.destroy();
    await run('docker', ['login', '--username', 'AWS', '--password-stdin', berthHost], dockerEnv, Buffer.from(token, 'base64').toString().slice(4));

    const direct: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const ctx = join(work, `ctx-${round}`);
      mkdirSync(ctx);
      let dockerfile = 'FROM berth-test/busybox:latest\n';
      for (let i = 0; i < LAYERS; i++) {
        writeFileSync(join(ctx, `layer-${i}.bin`), randomBytes(LAYER_BYTES));
        dockerfile += `COPY layer-${i}.bin /data/layer-${i}.bin\n`;
      }
      writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
      const upstreamRef = `${upstreamHost}/team/app-${round}:v1`;
      const cachedRef = `${berthHost}/hub/team/app-${round}:v1`;
      images.push(upstreamRef, cachedRef);
      await run('docker', ['build', '-q', '-t', upstreamRef, ctx], dockerEnv);
      await run('docker', ['push', upstreamRef], dockerEnv);
      await run('docker', ['rmi', '-f', upstreamRef], dockerEnv);

      direct.push(await timed(() => run('docker', ['pull', upstreamRef], dockerEnv)));
      await run('docker', ['rmi', '-f', upstreamRef], dockerEnv);
      cold.push(await timed(() => run('docker', ['pull', cachedRef], dockerEnv)));
      await run('docker', ['rmi', '-f', cachedRef], dockerEnv);
      warm.push(await timed(() => run('docker', ['pull', cachedRef], dockerEnv)));
      await run('docker', ['rmi', '-f', cachedRef], dockerEnv);
    }

    console.log(`pull-through cache: ${LAYERS} x ${LAYER_BYTES / 1024 / 1024} MB layers, ${opts.rounds} rounds`);
    console.log('  (a time ratio below 1 means the pull through Berth is faster than the pull from the upstream)');
    printRow('docker pull, cold cache (median)', median(cold), median(direct), 'ms', 'docker-registry direct');
    printRow('docker pull, warm cache (median)', median(warm), median(direct), 'ms', 'docker-registry direct');
    console.log(`  rounds (ms): direct ${direct.map((x) => fmt(x, 0)).join(', ')}; cold ${cold.map((x) => fmt(x, 0)).join(', ')}; warm ${warm.map((x) => fmt(x, 0)).join(', ')}`);
  } finally {
    await run('docker', ['rmi', '-f', ...images], dockerEnv).catch(() => undefined);
    // The servers finish their clean stop (it writes into `work`) before it goes.
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(undefined) : c.once('exit', resolve).kill('SIGTERM')))));
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
  await runPullThroughBench({ rounds: Number(values.rounds ?? 3) });
}

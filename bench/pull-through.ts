// Pull-through cache benchmark: `docker pull` through Berth's pull-through
// cache, cold (Berth fetches the image from the upstream while serving it) and
// warm (served from Berth's cache), against two peers in the same run on the
// same machine: `docker pull` straight from the upstream (Debian's
// docker-registry), and through docker-registry's own pull-through cache
// (its `proxy` mode) of the same upstream, cold and warm.
//
//   node dist/bench/pull-through.js [--rounds 3]
//
// Each round pushes a fresh image (three 10 MB layers on the local busybox
// image) to the upstream, then pulls it five ways, removing it from the
// Docker Engine after each pull; the two cold pulls alternate which goes
// first. Figures are medians over the rounds.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreatePullThroughCacheRuleCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { BenchWorkspace, fmt, median, printRow, run, timed } from './lib.js';

const CREDS = { accessKeyId: 'AKIABENCHBERTH000002', secretAccessKey: 'bench-secret-key-0000000000000000000002' };
const LAYERS = 3;
const LAYER_BYTES = 10 * 1024 * 1024;

export async function runPullThroughBench(opts: { rounds: number }): Promise<void> {
  const work = new BenchWorkspace('berth-bench-pull-through-');
  const { dockerEnv, images } = work;
  try {
    const { url: berthUrl, host: berthHost } = await work.startBerth(CREDS);
    const upstreamHost = (await work.startDockerRegistry('upstream')).host;
    const proxyHost = (await work.startDockerRegistry('proxy', { proxyOf: `http://${upstreamHost}` })).host;

    const ecr = new ECRClient({ endpoint: berthUrl, region: 'us-east-1', credentials: CREDS });
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: `http://${upstreamHost}` }));
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    ecr.destroy();
    await work.dockerLogin(berthHost, token);

    const direct: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const proxyCold: number[] = [];
    const proxyWarm: number[] = [];
    const pull = async (ref: string, into: number[]): Promise<void> => {
      into.push(await timed(() => run('docker', ['pull', ref], dockerEnv)));
      await run('docker', ['rmi', '-f', ref], dockerEnv);
    };
    for (let round = 0; round < opts.rounds; round++) {
      const ctx = work.imageContext(round, LAYERS, LAYER_BYTES);
      const upstreamRef = `${upstreamHost}/team/app-${round}:v1`;
      const cachedRef = `${berthHost}/hub/team/app-${round}:v1`;
      const proxiedRef = `${proxyHost}/team/app-${round}:v1`;
      images.push(upstreamRef, cachedRef, proxiedRef);
      await run('docker', ['build', '-q', '-t', upstreamRef, ctx], dockerEnv);
      await run('docker', ['push', upstreamRef], dockerEnv);
      await run('docker', ['rmi', '-f', upstreamRef], dockerEnv);

      await pull(upstreamRef, direct);
      if (round % 2 === 0) {
        await pull(cachedRef, cold);
        await pull(proxiedRef, proxyCold);
      } else {
        await pull(proxiedRef, proxyCold);
        await pull(cachedRef, cold);
      }
      await pull(cachedRef, warm);
      await pull(proxiedRef, proxyWarm);
    }

    console.log(`pull-through cache: ${LAYERS} x ${LAYER_BYTES / 1024 / 1024} MB layers, ${opts.rounds} rounds`);
    console.log("  (a time ratio below 1 means the pull through Berth is faster than the peer's pull)");
    printRow('docker pull, cold cache (median)', median(cold), median(direct), 'ms', 'docker-registry direct');
    printRow('docker pull, cold cache (median)', median(cold), median(proxyCold), 'ms', 'docker-registry proxy, cold');
    printRow('docker pull, warm cache (median)', median(warm), median(direct), 'ms', 'docker-registry direct');
    printRow('docker pull, warm cache (median)', median(warm), median(proxyWarm), 'ms', 'docker-registry proxy, warm');
    const list = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(', ');
    console.log(`  rounds (ms): direct ${list(direct)}; cold ${list(cold)}; warm ${list(warm)}; proxy cold ${list(proxyCold)}; proxy warm ${list(proxyWarm)}`);
  } finally {
    await work.remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
  await runPullThroughBench({ rounds: Number(values.rounds ?? 3) });
}

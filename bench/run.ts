// Runs every benchmark in turn (`npm run bench`); each prints its figures
// next to a peer measured in the same run. Pass names to run only some:
//   node dist/bench/run.js api authz credentials placement placement-e2e policy pull-through runtask registry target-health services autoscaling logs metrics loadbalancer elb-metrics
import { runApiBench } from './api.js';
import { runAutoscalingBench } from './autoscaling.js';
import { runLogsBench } from './logs.js';
import { runMetricsBench } from './metrics.js';
import { runLoadBalancerBench } from './loadbalancer.js';
import { runElbMetricsBench } from './elb-metrics.js';
import { runAuthzBench } from './authz.js';
import { runCredentialsBench } from './credentials.js';
import { runPlacementBench } from './placement.js';
import { runPlacementE2eBench } from './placement-e2e.js';
import { runPolicyBench } from './policy.js';
import { runPullThroughBench } from './pull-through.js';
import { runRegistryBench } from './registry.js';
import { runRunTaskBench } from './runtask.js';
import { runServicesBench } from './services.js';
import { runTargetHealthBench } from './target-health.js';

const all: Record<string, () => Promise<unknown>> = {
  api: () => runApiBench({ seconds: 5, samples: 3000 }),
  authz: () => runAuthzBench({ samples: 3000, rounds: 3 }),
  credentials: () => runCredentialsBench({ seconds: 3, rounds: 3, concurrency: 16, tasks: 200 }),
  placement: () => Promise.resolve(runPlacementBench()),
  'placement-e2e': () => runPlacementE2eBench(),
  policy: () => Promise.resolve(runPolicyBench()),
  runtask: () => runRunTaskBench({ samples: 20, burst: 50 }),
  registry: () => runRegistryBench({ rounds: 3, samples: 2000, seconds: 5 }),
  'target-health': () => runTargetHealthBench({ targets: 1000, batch: 50, rounds: 200 }),
  'pull-through': () => runPullThroughBench({ rounds: 3 }),
  autoscaling: () => runAutoscalingBench({ rounds: 3 }),
  logs: () => runLogsBench({ lines: 200_000, events: 1_000_000, runs: 7 }),
  metrics: () => runMetricsBench({ seconds: 5, concurrency: 16, rounds: 3 }),
  loadbalancer: () => runLoadBalancerBench(),
  'elb-metrics': () => runElbMetricsBench(),
  services: () => runServicesBench({ tasks: 200, agents: 4, rolling: 50, services: 1000, perService: 10, idleSeconds: 30 }),
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(all)) {
  const run = all[name];
  if (!run) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  await run();
}

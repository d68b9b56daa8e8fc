import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SigV4Verifier } from '../api/auth/sigv4.js';
import { coreOperations, ecsProtocol, type EcsOperations } from '../api/ecs/service.js';
import type { DomainContext } from '../ecs/context.js';
import { TaskDefinitionCache } from '../ecs/taskDefinitions.js';
import { purgeDeletedTaskDefinitions } from '../ecs/tasks.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { Dispatcher } from '../dispatcher/dispatcher.js';
import { ClusterStateCache } from '../controllers/clusterState.js';
import { createLogger, type Logger } from '../core/log.js';
import { openRegistry } from '../registry/index.js';
import { CredentialRegistry, loadRootCredentials, type RootCredentials } from './credentials.js';
import { createHttpServer } from './http.js';
import { ServerMetrics } from './metrics.js';

export interface ServerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  region: string;
  accountId: string;
  /** How long deleted clusters and deregistered instances stay describable (ms). */
  inactiveRetentionMs?: number;
  log?: Logger;
  synchronous?: 'full' | 'normal';
  /** `host[:port]` in repository URIs; by default the server's own `127.0.0.1:<port>`. */
  registryHost?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  credentials: RootCredentials & { created: boolean; source: string };
  store: Store;
  ctx: DomainContext;
  log: Logger;
  close(): Promise<void>;
}

export { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from './defaults.js';

/** Starts a Berth API server: store, protocols, HTTP listener and housekeeping. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  if (!/^\d{12}$/.test(config.accountId)) throw new Error(`--account-id must be 12 digits, got '${config.accountId}'.`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(config.region)) throw new Error(`--region '${config.region}' is not a region name like us-east-1.`);
  const log = config.log ?? createLogger('server');
  mkdirSync(config.dataDir, { recursive: true });
  const credentials = loadRootCredentials(config.dataDir);
  const registry = new CredentialRegistry();
  registry.add(credentials);

  const store = await openSqliteStore({ path: join(config.dataDir, 'berth.db'), synchronous: config.synchronous ?? 'full' });
  const assumeAgentsConnected = process.env.BERTH_BENCH_ASSUME_AGENTS_CONNECTED === '1';
  if (assumeAgentsConnected) {
    log.warn('BERTH_BENCH_ASSUME_AGENTS_CONNECTED=1: placement treats every container instance as connected. Benchmarks only: tasks go to instances no agent runs.');
  }
  const clusterState = new ClusterStateCache(store, { assumeAgentsConnected, log });
  const taskDefinitions = new TaskDefinitionCache(store);
  const ctx: DomainContext = { store, region: config.region, accountId: config.accountId, now: Date.now, clusterState, taskDefinitions };
  const operations: EcsOperations = { ...coreOperations(ctx) };
  const metrics = new ServerMetrics();
  const imageRegistry = await openRegistry({
    store,
    dataDir: config.dataDir,
    region: config.region,
    accountId: config.accountId,
    credentials: registry,
    log,
    ...(config.registryHost !== undefined ? { registryHost: config.registryHost } : {}),
    observe: (operation, outcome, seconds) => metrics.observe('registry', operation, outcome, seconds),
  });
  const verifier = new SigV4Verifier(registry, config.region);
  // The agents' acknowledgement timeout can be shortened (tests); anything but a positive number keeps the default.
  const ackTimeoutMs = Number(process.env.BERTH_AGENT_ACK_TIMEOUT_MS);
  const dispatcher = new Dispatcher(ctx, verifier, log, Number.isFinite(ackTimeoutMs) && ackTimeoutMs > 0 ? { ackTimeoutMs } : {});
  await dispatcher.resetConnections();
  let closing = false;
  const server = createHttpServer({
    verifier,
    upgrade: (req, socket, head) => dispatcher.handleUpgrade(req, socket, head),
    protocols: [ecsProtocol(operations), imageRegistry.protocol],
    registry: (req, res) => imageRegistry.handle(req, res),
    metrics,
    log,
    health: async () => {
      if (closing) throw new Error('shutting down');
      return { region: config.region, changeSeq: await store.lastChangeSeq(), agents: dispatcher.connected };
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  imageRegistry.listening(port);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  const retention = config.inactiveRetentionMs ?? 60 * 60 * 1000;
  const housekeeping = setInterval(() => {
    const before = Date.now() - retention;
    Promise.all([
      store.purge('cluster', { status: 'INACTIVE', updatedBefore: before }),
      store.purge('containerInstance', { status: 'INACTIVE', updatedBefore: before }),
      store.purge('task', { status: 'STOPPED', state: 'STOPPED', updatedBefore: before }),
      purgeDeletedTaskDefinitions(ctx, before),
      store.trimChanges(Date.now() - 24 * 60 * 60 * 1000),
    ]).catch((err: unknown) => log.warn({ err }, 'housekeeping failed'));
  }, Math.min(retention, 60_000));
  housekeeping.unref();

  log.info({ url, region: config.region, accountId: config.accountId, dataDir: config.dataDir }, 'berth server listening');

  return {
    url,
    port,
    credentials,
    store,
    ctx,
    log,
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(housekeeping);
      await dispatcher.close();
      clusterState.close();
      taskDefinitions.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
      log.info('berth server stopped');
    },
  };
}

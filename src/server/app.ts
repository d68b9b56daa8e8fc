import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SigV4Verifier } from '../api/auth/sigv4.js';
import { coreOperations, ecsProtocol, type EcsOperations } from '../api/ecs/service.js';
import { closeReadModels, createReadModels, type DomainContext } from '../ecs/context.js';
import { createReaper } from '../controllers/reaper.js';
import { ServiceController } from '../controllers/services/controller.js';
import { RegistryGarbageCollector, type RegistryGcOptions } from '../controllers/registryGc.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { Dispatcher } from '../dispatcher/dispatcher.js';
import { createLogger, type Logger } from '../core/log.js';
import { openRegistry } from '../registry/index.js';
import { CredentialRegistry, loadRootCredentials, type RootCredentials } from './credentials.js';
import { createHttpServer, type HttpTimeouts } from './http.js';
import { loadTls, type TlsMaterial } from './tls.js';
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
  /** Registry garbage collection: schedule, grace period, delay after image deletes (ms). */
  registryGc?: Pick<RegistryGcOptions, 'intervalMs' | 'graceMs' | 'afterDeleteMs' | 'uploadExpiryMs'>;
  /** Client timeouts (ms); see `HttpTimeouts`. */
  httpTimeouts?: Partial<HttpTimeouts>;
  /**
   * Serve HTTPS (the API and the registry share the endpoint): with the
   * operator's certificate and key files, or, when neither is given, a
   * self-signed certificate generated into `<dataDir>/tls/`.
   */
  tls?: { certFile?: string; keyFile?: string };
}

export interface RunningServer {
  url: string;
  port: number;
  credentials: RootCredentials & { created: boolean; source: string };
  store: Store;
  ctx: DomainContext;
  log: Logger;
  registryGc: RegistryGarbageCollector;
  /** The certificate served, when the server speaks HTTPS. */
  tls?: TlsMaterial;
  close(): Promise<void>;
}

export { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from './defaults.js';

/** Starts a Berth API server: store, read models, control loops, dispatcher and the HTTP listener. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  if (!/^\d{12}$/.test(config.accountId)) throw new Error(`--account-id must be 12 digits, got '${config.accountId}'.`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(config.region)) throw new Error(`--region '${config.region}' is not a region name like us-east-1.`);
  const log = config.log ?? createLogger('server');
  mkdirSync(config.dataDir, { recursive: true });
  const credentials = loadRootCredentials(config.dataDir);
  const registry = new CredentialRegistry();
  registry.add(credentials);

  const sqlite = chooseSqliteDriver();
  log.info({ sqliteDriver: sqlite.driver, why: sqlite.reason, node: process.version }, `state store: SQLite through ${sqlite.driver === 'node' ? 'node:sqlite' : 'better-sqlite3'}`);
  const store = await openSqliteStore({ path: join(config.dataDir, 'berth.db'), synchronous: config.synchronous ?? 'full', driver: sqlite.driver });
  const state = createReadModels(store, { log });
  const ctx: DomainContext = { store, region: config.region, accountId: config.accountId, now: Date.now, state };
  const operations: EcsOperations = { ...coreOperations(ctx) };
  const metrics = new ServerMetrics();
  const tls = config.tls
    ? await loadTls({
        dataDir: config.dataDir,
        ...config.tls,
        hosts: [config.registryHost?.replace(/:\d+$/, '') ?? '', config.host, '127.0.0.1', 'localhost', '::1'],
      })
    : undefined;
  if (tls) log.info({ certFile: tls.certFile, selfSigned: tls.selfSigned }, 'serving HTTPS');
  const imageRegistry = await openRegistry({
    scheme: tls ? 'https' : 'http',
    ...(process.env.BERTH_REGISTRY_CACHE_MB !== undefined && Number.isFinite(Number(process.env.BERTH_REGISTRY_CACHE_MB))
      ? { blobCacheBytes: Math.max(0, Number(process.env.BERTH_REGISTRY_CACHE_MB)) * 1024 * 1024 }
      : {}),
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
  // The agents' acknowledgement timeout and reconnect grace can be shortened (tests); anything but a positive number keeps the default.
  const positive = (v: string | undefined): number | undefined => {
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const ackTimeoutMs = positive(process.env.BERTH_AGENT_ACK_TIMEOUT_MS);
  const reconnectGraceMs = positive(process.env.BERTH_AGENT_RECONNECT_GRACE_MS);
  const dispatcher = new Dispatcher(ctx, verifier, log, {
    ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    ...(reconnectGraceMs !== undefined ? { reconnectGraceMs } : {}),
  });
  await dispatcher.beginReconnectGrace();
  let closing = false;
  const server = createHttpServer({
    verifier,
    upgrade: (req, socket, head) => dispatcher.handleUpgrade(req, socket, head),
    protocols: [ecsProtocol(operations), imageRegistry.protocol],
    registry: (req, res) => imageRegistry.handle(req, res),
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
    timeouts: {
      ...Object.fromEntries(
        Object.entries({
          idleMs: positive(process.env.BERTH_HTTP_IDLE_TIMEOUT_MS),
          headersMs: positive(process.env.BERTH_HTTP_HEADERS_TIMEOUT_MS),
          apiBodyMs: positive(process.env.BERTH_HTTP_API_BODY_TIMEOUT_MS),
        }).filter(([, v]) => v !== undefined),
      ),
      ...config.httpTimeouts,
    },
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
  const url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  const gcEnv = {
    intervalMs: positive(process.env.BERTH_REGISTRY_GC_INTERVAL_MS),
    graceMs: positive(process.env.BERTH_REGISTRY_GC_GRACE_MS),
    afterDeleteMs: positive(process.env.BERTH_REGISTRY_GC_AFTER_DELETE_MS),
  };
  const registryGc = new RegistryGarbageCollector(imageRegistry.ctx, {
    log,
    ...Object.fromEntries(Object.entries(gcEnv).filter(([, v]) => v !== undefined)),
    ...config.registryGc,
  });
  const controllers = [createReaper(ctx, { retentionMs: config.inactiveRetentionMs ?? 60 * 60 * 1000, log }), new ServiceController(ctx, { log }), registryGc];
  for (const c of controllers) c.start();

  log.info({ url, region: config.region, accountId: config.accountId, dataDir: config.dataDir }, 'berth server listening');

  return {
    url,
    port,
    credentials,
    store,
    ctx,
    log,
    registryGc,
    ...(tls ? { tls } : {}),
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all(controllers.map((c) => c.stop()));
      await dispatcher.close();
      closeReadModels(state);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.close();
      log.info('berth server stopped');
    },
  };
}

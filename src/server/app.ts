import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SigV4Verifier } from '../api/auth/sigv4.js';
import { coreOperations, ecsProtocol, type EcsOperations } from '../api/ecs/service.js';
import { elbv2Protocol } from '../api/elbv2/service.js';
import { iamProtocol } from '../api/iam/service.js';
import { stsProtocol } from '../api/sts/service.js';
import { Authorizer } from '../api/auth/authorize.js';
import { RESOURCE_RESOLVERS, repositoryCheck } from '../api/auth/resources.js';
import type { IamContext } from '../iam/model.js';
import { Principals } from '../iam/principals.js';
import { acmProtocol } from '../api/acm/service.js';
import { closeReadModels, createReadModels, type DomainContext } from '../ecs/context.js';
import { createReaper } from '../controllers/reaper.js';
import { ServiceController } from '../controllers/services/controller.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { Dispatcher } from '../dispatcher/dispatcher.js';
import { createLogger, type Logger } from '../core/log.js';
import { openRegistry } from '../registry/index.js';
import { loadKeyring } from '../core/envelope.js';
import { secretsManagerProtocol } from '../api/secretsmanager/service.js';
import type { SecretsContext } from '../secrets/context.js';
import { rewrapSecrets } from '../secrets/secrets.js';
import { ssmProtocol } from '../api/ssm/service.js';
import type { SsmContext } from '../ssm/context.js';
import { rewrapParameters } from '../ssm/parameters.js';
import { loadRootCredentials, type RootCredentials } from './credentials.js';
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
  secrets: SecretsContext;
  log: Logger;
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

  const sqlite = chooseSqliteDriver();
  log.info({ sqliteDriver: sqlite.driver, why: sqlite.reason, node: process.version }, `state store: SQLite through ${sqlite.driver === 'node' ? 'node:sqlite' : 'better-sqlite3'}`);
  const store = await openSqliteStore({ path: join(config.dataDir, 'berth.db'), synchronous: config.synchronous ?? 'full', driver: sqlite.driver });
  const state = createReadModels(store, { log });
  const ctx: DomainContext = { store, region: config.region, accountId: config.accountId, now: Date.now, state };
  const operations: EcsOperations = { ...coreOperations(ctx) };
  const keyring = loadKeyring(config.dataDir);
  if (keyring.created) log.info({ path: keyring.path }, 'created a master key for secrets at rest; back it up: without it stored secrets cannot be read');
  const secretsCtx: SecretsContext = { store, region: config.region, accountId: config.accountId, keyring, now: Date.now };
  const ssmCtx: SsmContext = secretsCtx;
  // After a master key rotation (a new key appended to the key file), data keys move under the new key.
  const rewrapped = (await rewrapSecrets(secretsCtx)) + (await rewrapParameters(ssmCtx));
  if (rewrapped > 0) log.info({ values: rewrapped, masterKey: keyring.current.id }, 're-wrapped data keys under the current master key');
  const iamCtx: IamContext = { store, region: config.region, accountId: config.accountId, keyring, now: Date.now };
  // Access keys resolve to principals: the root pair, IAM users' keys, STS session credentials.
  const principals = new Principals(iamCtx, credentials);
  await principals.start();
  const authorizer = new Authorizer(principals, { store, region: config.region, accountId: config.accountId }, log);
  const metrics = new ServerMetrics();
  const imageRegistry = await openRegistry({
    store,
    dataDir: config.dataDir,
    region: config.region,
    accountId: config.accountId,
    credentials: principals,
    authorize: async (accessKeyId, action, repositoryName) => {
      const identity = await principals.resolve(accessKeyId);
      if (!identity || identity.kind === 'root') return;
      await authorizer.check(identity, [await repositoryCheck({ store, region: config.region, accountId: config.accountId }, action, repositoryName)], { secureTransport: false });
    },
    log,
    ...(config.registryHost !== undefined ? { registryHost: config.registryHost } : {}),
    observe: (operation, outcome, seconds) => metrics.observe('registry', operation, outcome, seconds),
  });
  const verifier = new SigV4Verifier(principals, config.region);
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
    protocols: [ecsProtocol(operations), imageRegistry.protocol, elbv2Protocol(ctx), acmProtocol(ctx), secretsManagerProtocol(secretsCtx), ssmProtocol(ssmCtx), iamProtocol(iamCtx, principals), stsProtocol(iamCtx, principals)],
    authorize: async (service, accessKeyId, operation, input, facts) => {
      const resolver = RESOURCE_RESOLVERS[service];
      if (resolver) await authorizer.authorizeOperation(accessKeyId, resolver, operation, input, facts);
    },
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

  const controllers = [createReaper(ctx, { retentionMs: config.inactiveRetentionMs ?? 60 * 60 * 1000, log }), new ServiceController(ctx, { log })];
  for (const c of controllers) c.start();

  log.info({ url, region: config.region, accountId: config.accountId, dataDir: config.dataDir }, 'berth server listening');

  return {
    url,
    port,
    credentials,
    store,
    ctx,
    secrets: secretsCtx,
    log,
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all(controllers.map((c) => c.stop()));
      await dispatcher.close();
      principals.close();
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

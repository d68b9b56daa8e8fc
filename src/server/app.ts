import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ecrProtocol } from '../api/ecr/service.js';
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
import { LifecycleController } from '../controllers/ecr/lifecycle.js';
import { PullTimeFlusher } from '../controllers/ecr/pullTimes.js';
import { createSecretsPurge } from '../controllers/secretsPurge.js';
import { RegistryGarbageCollector, type RegistryGcOptions } from '../controllers/registryGc.js';
import { chooseSqliteDriver, openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { Dispatcher } from '../dispatcher/dispatcher.js';
import { TaskCredentialIssuer } from '../dispatcher/taskCredentials.js';
import { createLogger, type Logger } from '../core/log.js';
import { openRegistry } from '../registry/index.js';
import { loadKeyring } from '../core/envelope.js';
import { secretsManagerProtocol } from '../api/secretsmanager/service.js';
import type { SecretsContext } from '../secrets/context.js';
import { currentSecretString, rewrapSecrets } from '../secrets/secrets.js';
import { ssmProtocol } from '../api/ssm/service.js';
import type { SsmContext } from '../ssm/context.js';
import { rewrapParameters } from '../ssm/parameters.js';
import { logsProtocol } from '../api/logs/service.js';
import { createLogRetention } from '../controllers/logRetention.js';
import type { LogsContext } from '../logs/ops.js';
import { LogStore } from '../logs/storage.js';
import { loadRootCredentials, type RootCredentials } from './credentials.js';
import { createHttpServer, type HttpTimeouts } from './http.js';
import { loadTls, type TlsMaterial } from './tls.js';
import { ServerMetrics } from './metrics.js';
import { cloudWatchProtocols } from '../api/cloudwatch/service.js';
import { autoScalingProtocol } from '../api/autoscaling/service.js';
import { MetricStorage } from '../metrics/storage.js';
import { MetricJournal } from '../metrics/journal.js';
import type { MetricsContext } from '../metrics/context.js';
import { EcsMetricsPublisher } from '../metrics/ecs.js';
import { AlarmController } from '../controllers/alarms.js';
import { ScheduledActionController } from '../controllers/autoscaling.js';
import { executePolicy } from '../autoscaling/scale.js';
import { STATS_INTERVAL_MS } from '../protocol/agent.js';
import { LoadBalancerController } from '../controllers/loadBalancers.js';
import { ServiceTargetsController } from '../controllers/serviceTargets.js';
import { BlueGreenController } from '../controllers/blueGreen.js';
import { HAProxyDataPlane } from '../dataplane/haproxy/haproxyDataPlane.js';
import type { DataPlane } from '../dataplane/dataplane.js';
import { ElbMetricsController } from '../controllers/elbMetrics.js';
import { recordHAProxyMaster, stopStaleHAProxy } from '../dataplane/haproxy/stale.js';

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
  /** The address load balancer listeners bind; else BERTH_LB_BIND_HOST, else 127.0.0.1. */
  lbBindHost?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  credentials: RootCredentials & { created: boolean; source: string };
  store: Store;
  ctx: DomainContext;
  secrets: SecretsContext;
  /** CloudWatch Logs: the log store (`<data-dir>/logs.db`) and its context. */
  logs: LogsContext;
  /** CloudWatch metrics: the metric storage (journaled to `<data-dir>/metrics.wal`) and its context. */
  metrics: MetricsContext;
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
  const logStore = LogStore.open({ path: join(config.dataDir, 'logs.db'), driver: sqlite.driver, synchronous: config.synchronous ?? 'full' });
  const logs: LogsContext = { logs: logStore, region: config.region, accountId: config.accountId, now: Date.now };
  const iamCtx: IamContext = { store, region: config.region, accountId: config.accountId, keyring, now: Date.now };
  // Access keys resolve to principals: the root pair, IAM users' keys, STS session credentials.
  const principals = new Principals(iamCtx, credentials);
  await principals.start();
  const authorizer = new Authorizer(principals, { store, region: config.region, accountId: config.accountId }, log);
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
    credentials: principals,
    authorize: async (accessKeyId, action, repositoryName) => {
      const identity = await principals.resolve(accessKeyId);
      if (!identity || identity.kind === 'root') return;
      await authorizer.check(identity, [await repositoryCheck({ store, region: config.region, accountId: config.accountId }, action, repositoryName)], { secureTransport: false });
    },
    log,
    secretString: (arn) => currentSecretString(secretsCtx, arn),
    // How long a tag cached through a pull-through cache rule is served before the upstream is asked again (24 hours unless set).
    ...(/^\d+$/.test(process.env.BERTH_ECR_PULL_THROUGH_REFRESH_MS ?? '') ? { pullThroughRefreshMs: Number(process.env.BERTH_ECR_PULL_THROUGH_REFRESH_MS) } : {}),
    ...(config.registryHost !== undefined ? { registryHost: config.registryHost } : {}),
    observe: (operation, outcome, seconds) => metrics.observe('registry', operation, outcome, seconds),
  });
  const verifier = new SigV4Verifier(principals, config.region);
  const metricsCtx: MetricsContext = { store, storage: new MetricStorage(), region: config.region, accountId: config.accountId, now: Date.now };
  // Metric data: restored from the snapshot and the journal, then every write is journaled before it is answered.
  const metricJournal = (() => {
    try {
      const opened = MetricJournal.open({ dir: config.dataDir, storage: metricsCtx.storage, sync: (config.synchronous ?? 'full') === 'full', log });
      log.info({ series: opened.series, journalRecords: opened.replayed }, 'metric data restored');
      return opened.journal;
    } catch (err) {
      log.error({ err }, 'could not restore metric data');
      throw err;
    }
  })();
  const saveMetrics = () => metricJournal.compact();
  const ecsMetricsEnv = Number(process.env.BERTH_ECS_METRICS_INTERVAL_MS);
  const ecsMetricsIntervalMs = Number.isFinite(ecsMetricsEnv) && ecsMetricsEnv > 0 ? ecsMetricsEnv : STATS_INTERVAL_MS;
  const ecsMetrics = new EcsMetricsPublisher(store, metricsCtx.storage, { intervalMs: ecsMetricsIntervalMs, onFigures: (f) => metrics.setEcsFigures(f) });
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
    onStats: (clusterArn, msg) => ecsMetrics.report(clusterArn, msg),
    // Task roles and execution roles: 6-hour sessions renewed hourly unless BERTH_TASK_ROLE_SESSION_SECONDS / BERTH_TASK_ROLE_RENEW_MS say otherwise.
    // An agent's identity needs ecs:Poll on its container instance to hold the channel (and receive its tasks' role credentials).
    authorizeAgent: async (accessKeyId, clusterArn, containerInstanceArn) => {
      await authorizer.authorizeOperation(
        accessKeyId,
        () => Promise.resolve([{ action: 'ecs:Poll', resource: containerInstanceArn, context: { 'ecs:cluster': clusterArn } }]),
        'Poll',
        {},
        { secureTransport: tls !== undefined },
      );
    },
    credentials: new TaskCredentialIssuer(iamCtx, log, {
      ...(positive(process.env.BERTH_TASK_ROLE_SESSION_SECONDS) !== undefined ? { sessionSeconds: positive(process.env.BERTH_TASK_ROLE_SESSION_SECONDS)! } : {}),
      ...(positive(process.env.BERTH_TASK_ROLE_RENEW_MS) !== undefined ? { renewAfterMs: positive(process.env.BERTH_TASK_ROLE_RENEW_MS)! } : {}),
    }),
  });
  await dispatcher.beginReconnectGrace();
  let closing = false;
  const server = createHttpServer({
    verifier,
    upgrade: (req, socket, head) => dispatcher.handleUpgrade(req, socket, head),
    protocols: [ecsProtocol(operations), logsProtocol(logs), ecrProtocol(imageRegistry.ctx), elbv2Protocol(ctx), acmProtocol(ctx), secretsManagerProtocol(secretsCtx), ssmProtocol(ssmCtx), ...cloudWatchProtocols(metricsCtx), autoScalingProtocol(metricsCtx), iamProtocol(iamCtx, principals), stsProtocol(iamCtx, principals)],
    authorize: async (service, accessKeyId, operation, input, facts) => {
      // A service without its own resolver is still authorized: its actions on every resource.
      const resolver = RESOURCE_RESOLVERS[service] ?? ((op: string) => Promise.resolve([{ action: `${service}:${op}`, resource: '*' }]));
      await authorizer.authorizeOperation(accessKeyId, resolver, operation, input, facts);
    },
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

  // Time between passes of ECR lifecycle policies (an hour unless BERTH_ECR_LIFECYCLE_INTERVAL_MS says otherwise).
  const lifecycleIntervalMs = positive(process.env.BERTH_ECR_LIFECYCLE_INTERVAL_MS);
  const alarmController = new AlarmController(metricsCtx, {
    log,
    runAction: async (action, alarm, value) => (/:scalingPolicy:/.test(action) ? executePolicy(metricsCtx, action, alarm, value) : undefined),
  });
  const logRetentionMs = positive(process.env.BERTH_LOG_RETENTION_INTERVAL_MS);
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
  /** The load balancers' data plane once started, for their metrics. */
  let lbPlane: DataPlane | undefined;
  const controllers = [
    createReaper(ctx, { retentionMs: config.inactiveRetentionMs ?? 60 * 60 * 1000, log }),
    new ServiceController(ctx, { log }),
    registryGc,
    new LifecycleController(imageRegistry.ctx, { log, ...(lifecycleIntervalMs !== undefined ? { intervalMs: lifecycleIntervalMs } : {}) }),
    new PullTimeFlusher(imageRegistry.ctx.pulls, store, { log }),
    createSecretsPurge(secretsCtx, { log }),
    alarmController,
    new ScheduledActionController(metricsCtx, { log }),
    createLogRetention(logs, { log, ...(logRetentionMs !== undefined ? { intervalMs: logRetentionMs } : {}) }),
    new ServiceTargetsController(ctx, { log }),
    // Test-only knobs: a shorter configuration minute for bake times, and a pause with test traffic alone on green.
    new BlueGreenController(ctx, { log, minuteMs: positive(process.env.BERTH_DEPLOYMENT_MINUTE_MS) ?? 60_000, testTrafficHoldMs: positive(process.env.BERTH_DEPLOYMENT_TEST_TRAFFIC_MS) ?? 0 }),
    // Load balancers: one HAProxy owned by the server, started with the first load balancer, stopped on close.
    new LoadBalancerController(ctx, {
      bindHost: config.lbBindHost ?? process.env.BERTH_LB_BIND_HOST ?? '127.0.0.1',
      createDataPlane: async () => {
        const dir = join(config.dataDir, 'haproxy');
        if (await stopStaleHAProxy(dir)) log.warn({ dir }, 'stopped an HAProxy left running by an earlier server');
        const plane = new HAProxyDataPlane({ dir, log });
        try {
          await plane.start();
        } catch (err) {
          await plane.stop().catch(() => undefined);
          throw err;
        }
        recordHAProxyMaster(dir, plane.pids[0]);
        lbPlane = plane;
        return plane;
      },
      log,
    }),
    // AWS/ApplicationELB and AWS/NetworkELB metrics from the data plane's counters.
    new ElbMetricsController(store, metricsCtx.storage, { dataPlane: () => lbPlane, log }),
  ];
  for (const c of controllers) c.start();
  // ECS metrics every sampling interval; metric storage housekeeping every minute.
  const publishTimer = setInterval(() => {
    ecsMetrics.publish().catch((err: unknown) => log.warn({ err }, 'could not publish ECS metrics'));
  }, ecsMetricsIntervalMs);
  publishTimer.unref();
  const pruneTimer = setInterval(() => {
    metricsCtx.storage.prune();
    saveMetrics().catch((err: unknown) => log.warn({ err }, 'could not save metric data'));
  }, 60_000);
  pruneTimer.unref();

  log.info({ url, region: config.region, accountId: config.accountId, dataDir: config.dataDir }, 'berth server listening');

  return {
    url,
    port,
    credentials,
    store,
    ctx,
    secrets: secretsCtx,
    logs,
    metrics: metricsCtx,
    log,
    registryGc,
    ...(tls ? { tls } : {}),
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(publishTimer);
      clearInterval(pruneTimer);
      await Promise.all(controllers.map((c) => c.stop()));
      await saveMetrics().catch((err: unknown) => log.warn({ err }, 'could not save metric data'));
      await dispatcher.close();
      principals.close();
      closeReadModels(state);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await metricJournal.close().catch((err: unknown) => log.warn({ err }, 'could not save metric data'));
      await store.close();
      logStore.close();
      log.info('berth server stopped');
    },
  };
}

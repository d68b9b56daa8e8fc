import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGE_PULL_BEHAVIORS, type ImagePullBehavior } from '../agent/runtime/runtime.js';
import type { RunningServer, ServerConfig } from '../server/app.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../server/defaults.js';

/** Loads the server only for the commands that run one, so `berth agent` stays lean. */
async function startServer(config: ServerConfig): Promise<RunningServer> {
  return (await import('../server/app.js')).startServer(config);
}

const USAGE = `Usage: berth <command> [flags]

Commands:
  up       Start a local cluster: the server plus one agent in the default cluster
  server   Run the API server (ECS-compatible, AWS JSON 1.1, SigV4-signed)
  agent    Run a host agent: make this machine's Docker Engine a container instance
  master-key rotate|retire
           Rotate the master key that protects secrets at rest (see the README)
  help     Show this help

Run "berth <command> --help" for the flags of a command.`;

const SERVER_USAGE = `Usage: berth server [flags]

Flags (environment variable in brackets):
  --port N            listening port (BERTH_PORT, default 4566)
  --host ADDR         listening address (BERTH_HOST, default 127.0.0.1)
  --data-dir DIR      state directory (BERTH_DATA_DIR, default ~/.berth, or ./.berth when HOME is not writable)
  --region NAME       region this server is (BERTH_REGION, default ${DEFAULT_REGION})
  --account-id ID     12-digit account id in ARNs (BERTH_ACCOUNT_ID, default ${DEFAULT_ACCOUNT_ID})
  --registry-host H   host[:port] of the image registry in repository URIs
                      (BERTH_REGISTRY_HOST, default 127.0.0.1:<port>)
  --registry-tls      serve the endpoint (API and registry) over HTTPS with a self-signed
                      certificate generated into <data-dir>/tls/ (BERTH_REGISTRY_TLS=1)
  --registry-tls-cert FILE, --registry-tls-key FILE
                      serve HTTPS with this PEM certificate (chain) and key instead
                      (BERTH_REGISTRY_TLS_CERT, BERTH_REGISTRY_TLS_KEY)

Credentials: BERTH_ACCESS_KEY_ID and BERTH_SECRET_ACCESS_KEY; when unset, a pair is
generated on first start, kept in the data dir, and printed once.`;

export function defaultDataDir(): string {
  const home = homedir();
  if (home && existsSync(home)) return join(home, '.berth');
  return resolve('.berth');
}

function envOr(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

export interface ServerFlags {
  port: number;
  host: string;
  dataDir: string;
  region: string;
  accountId: string;
  registryHost?: string;
  tls?: { certFile?: string; keyFile?: string };
}

export function parseServerFlags(args: string[]): ServerFlags | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'registry-host': { type: 'string' },
      'registry-tls': { type: 'boolean' },
      'registry-tls-cert': { type: 'string' },
      'registry-tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const registryHost = values['registry-host'] ?? envOr('BERTH_REGISTRY_HOST', '');
  const certFile = values['registry-tls-cert'] ?? envOr('BERTH_REGISTRY_TLS_CERT', '');
  const keyFile = values['registry-tls-key'] ?? envOr('BERTH_REGISTRY_TLS_KEY', '');
  if ((certFile === '') !== (keyFile === '')) throw new Error('--registry-tls-cert and --registry-tls-key go together: give both files or neither.');
  const tls = certFile !== '' || values['registry-tls'] === true || envOr('BERTH_REGISTRY_TLS', '') === '1';
  const portText = values.port ?? envOr('BERTH_PORT', '4566');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a number from 0 to 65535, got '${portText}'.`);
  return {
    port,
    host: values.host ?? envOr('BERTH_HOST', '127.0.0.1'),
    dataDir: resolve(values['data-dir'] ?? envOr('BERTH_DATA_DIR', defaultDataDir())),
    region: values.region ?? envOr('BERTH_REGION', DEFAULT_REGION),
    accountId: values['account-id'] ?? envOr('BERTH_ACCOUNT_ID', DEFAULT_ACCOUNT_ID),
    ...(registryHost !== '' ? { registryHost } : {}),
    ...(tls ? { tls: certFile !== '' ? { certFile: resolve(certFile), keyFile: resolve(keyFile) } : {} } : {}),
  };
}

/** Prints how to reach a server; the secret only when it was just generated. */
export function printEndpoint(server: RunningServer, flags: { region: string }): void {
  const c = server.credentials;
  const lines = [
    `Berth is listening on ${server.url}`,
    '',
    `  export AWS_ENDPOINT_URL=${server.url}`,
    `  export AWS_REGION=${flags.region}`,
    `  export AWS_ACCESS_KEY_ID=${c.accessKeyId}`,
  ];
  if (c.created) {
    lines.push(`  export AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`, '', `New credentials were generated and saved in ${c.source}; they are shown only this once.`);
  } else {
    lines.push(`  # secret access key: ${c.source === 'environment' ? 'BERTH_SECRET_ACCESS_KEY' : c.source}`);
  }
  if (server.tls?.selfSigned) {
    lines.push(
      '',
      `  # HTTPS with a self-signed certificate: trust ${server.tls.certFile}`,
      `  export AWS_CA_BUNDLE=${server.tls.certFile}`,
      `  # Docker hosts: copy it to /etc/docker/certs.d/<registry host:port>/ca.crt`,
    );
  }
  // AWS CLIs before 2.13 (Debian 12 ships 2.9) ignore AWS_ENDPOINT_URL.
  lines.push('', `  alias aws='aws --endpoint-url ${server.url}'   # AWS CLI older than 2.13`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** Stops `stop` on SIGINT/SIGTERM, once; a second signal exits at once. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`received ${signal}, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

const AGENT_USAGE = `Usage: berth agent --endpoint URL [flags]

Flags (environment variable in brackets):
  --endpoint URL          Berth server URL (BERTH_ENDPOINT or AWS_ENDPOINT_URL)
  --cluster NAME          cluster to join (BERTH_CLUSTER, default "default")
  --data-dir DIR          agent state (BERTH_AGENT_DATA_DIR, default <berth data dir>/agent)
  --availability-zone AZ  reported as ecs.availability-zone (default <region>a)
  --instance-type TYPE    reported as ecs.instance-type (default berth.host)
  --attribute K=V         custom attribute, repeatable
  --cpu UNITS             CPU units to offer (default 1024 per core)
  --memory MIB            memory to offer (default host memory less a reserve)
  --docker-host URL       Docker Engine (DOCKER_HOST, default /var/run/docker.sock)
  --region NAME           the server's region, used to sign requests (AWS_REGION, default us-east-1)
  --task-cleanup-wait D   how long a stopped task's containers stay on the host, e.g. 3h, 90m, 30s
                          (BERTH_TASK_CLEANUP_WAIT, default 3h)
  --image-pull-behavior B default | always | once | prefer-cached (BERTH_IMAGE_PULL_BEHAVIOR, default
                          prefer-cached: use a local image when there is one, pull otherwise)
  --credentials-port P    port of the task credentials endpoint on 169.254.170.2 (BERTH_AGENT_CREDENTIALS_PORT,
                          default 51679 as on ECS, with port 80 forwarded to it by iptables so that
                          ECS's clients find it with no configuration; 0: any free port)

Credentials: the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables.`;

function parseAttributes(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`--attribute takes key=value, got '${item}'.`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90s`, `15m`, `3h`, `500ms` (a bare number is seconds) → milliseconds. */
export function parseDuration(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new Error(`${name} takes a duration such as 3h, 90m or 30s, got '${v}'.`);
  return Math.round(Number(m[1]) * DURATION_UNITS_MS[m[2] ?? 's']!);
}

function pullBehavior(v: string | undefined): ImagePullBehavior | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(IMAGE_PULL_BEHAVIORS as readonly string[]).includes(v)) {
    throw new Error(`--image-pull-behavior must be one of ${IMAGE_PULL_BEHAVIORS.join(', ')}, got '${v}'.`);
  }
  return v as ImagePullBehavior;
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'.`);
  return n;
}

async function agentCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      endpoint: { type: 'string' },
      cluster: { type: 'string' },
      'data-dir': { type: 'string' },
      'availability-zone': { type: 'string' },
      'instance-type': { type: 'string' },
      attribute: { type: 'string', multiple: true },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      'docker-host': { type: 'string' },
      region: { type: 'string' },
      'task-cleanup-wait': { type: 'string' },
      'image-pull-behavior': { type: 'string' },
      'credentials-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(AGENT_USAGE + '\n');
    return;
  }
  const endpoint = values.endpoint ?? process.env.BERTH_ENDPOINT ?? process.env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new Error('berth agent needs --endpoint (the Berth server URL).\n\n' + AGENT_USAGE);
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('berth agent needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the server prints them).');
  const { startAgent } = await import('../agent/agent.js');
  const cpu = positiveInt('--cpu', values.cpu);
  const memory = positiveInt('--memory', values.memory);
  const dockerHost = values['docker-host'] ?? process.env.DOCKER_HOST;
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const cleanupWaitMs = parseDuration('--task-cleanup-wait', values['task-cleanup-wait'] ?? process.env.BERTH_TASK_CLEANUP_WAIT);
  const credentialsPortText = values['credentials-port'] ?? process.env.BERTH_AGENT_CREDENTIALS_PORT;
  const credentialsPort = credentialsPortText === undefined ? undefined : Number(credentialsPortText);
  if (credentialsPort !== undefined && !(Number.isInteger(credentialsPort) && credentialsPort >= 0 && credentialsPort < 65536)) {
    throw new Error(`--credentials-port must be a port number (0 for any), got '${credentialsPortText}'.`);
  }
  const imagePullBehavior = pullBehavior(values['image-pull-behavior'] ?? process.env.BERTH_IMAGE_PULL_BEHAVIOR);
  const agent = await startAgent({
    endpoint,
    cluster: values.cluster ?? envOr('BERTH_CLUSTER', 'default'),
    dataDir: resolve(values['data-dir'] ?? envOr('BERTH_AGENT_DATA_DIR', join(defaultDataDir(), 'agent'))),
    ...(values['availability-zone'] ? { availabilityZone: values['availability-zone'] } : {}),
    ...(values['instance-type'] ? { instanceType: values['instance-type'] } : {}),
    attributes: parseAttributes(values.attribute),
    ...(cpu !== undefined ? { cpu } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(dockerHost ? { dockerHost } : {}),
    ...(region ? { region } : {}),
    ...(cleanupWaitMs !== undefined ? { cleanupWaitMs } : {}),
    ...(imagePullBehavior ? { imagePullBehavior } : {}),
    ...(credentialsPort !== undefined ? { credentialsPort } : {}),
    credentials: { accessKeyId, secretAccessKey, ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}) },
  });
  process.stdout.write(`berth agent registered as ${agent.containerInstanceArn}\n`);
  onShutdown(() => agent.stop());
  void agent.ended.then((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}

async function upCommand(args: string[]): Promise<void> {
  const flags = parseServerFlags(args);
  if (flags === 'help') {
    process.stdout.write('Usage: berth up [server flags]\n\nStarts the server and one agent in the default cluster. ' + SERVER_USAGE.split('\n').slice(1).join('\n') + '\n');
    return;
  }
  if (flags.tls) {
    // The agent runs in this process, whose trusted CAs are fixed at start (NODE_EXTRA_CA_CERTS).
    throw new Error('berth up serves plain HTTP: for HTTPS run "berth server --registry-tls" and start agents with NODE_EXTRA_CA_CERTS=<data-dir>/tls/registry.crt.');
  }
  const docker = spawnSync('docker', ['info'], { stdio: 'ignore' });
  if (docker.status !== 0) {
    throw new Error('No Docker Engine answers "docker info". Run "npm run setup" (it installs and starts one on Debian), or start Docker yourself.');
  }
  const server = await startServer(flags);
  try {
    const { createCluster } = await import('../ecs/clusters.js');
    await createCluster(server.ctx, { clusterName: 'default' });
    const { startAgent } = await import('../agent/agent.js');
    const agent = await startAgent({
      endpoint: server.url,
      cluster: 'default',
      dataDir: join(flags.dataDir, 'agent'),
      region: flags.region,
      availabilityZone: `${flags.region}a`,
      credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: server.credentials.secretAccessKey },
    });
    printEndpoint(server, flags);
    process.stdout.write(`\nCluster "default" has one container instance: ${agent.containerInstanceArn}\nTry: aws ecs list-container-instances --endpoint-url ${server.url}\nPress Ctrl-C to stop the server and the agent (running tasks keep running and are reconciled on the next start).\n`);
    onShutdown(async () => {
      await agent.stop();
      await server.close();
    });
    void agent.ended.then((err) => process.stderr.write(`${err.message}\nThe server keeps running; restart berth up to register a new container instance.\n`));
  } catch (err) {
    await server.close();
    throw err;
  }
}

async function serverCommand(args: string[]): Promise<void> {
  const flags = parseServerFlags(args);
  if (flags === 'help') {
    process.stdout.write(SERVER_USAGE + '\n');
    return;
  }
  const server = await startServer(flags);
  printEndpoint(server, flags);
  onShutdown(() => server.close());
}

const MASTER_KEY_USAGE = `Usage: berth master-key rotate|retire [--data-dir DIR]

  rotate   add a new master key to the key file; it becomes current, and the server
           re-wraps every stored data key under it when it next starts
  retire   remove every key but the current one (after a server start has re-wrapped)

The key file is <data-dir>/master-key.json, or the file BERTH_MASTER_KEY_FILE names.`;

/** `berth master-key rotate|retire`: edits the key file only; the server does the re-wrapping on its next start. */
async function masterKeyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
  const action = positionals[0];
  if (values.help || (action !== 'rotate' && action !== 'retire')) {
    process.stdout.write(MASTER_KEY_USAGE + '\n');
    if (!values.help) process.exitCode = 2;
    return;
  }
  const { addMasterKey, masterKeyPath, retireOldMasterKeys } = await import('../core/envelope.js');
  const dataDir = values['data-dir'] ?? envOr('BERTH_DATA_DIR', defaultDataDir());
  if (action === 'rotate') {
    const id = addMasterKey(dataDir);
    process.stdout.write(`added master key ${id} to ${masterKeyPath(dataDir)}; restart the server to re-wrap stored data keys, then run "berth master-key retire"\n`);
  } else {
    const retired = retireOldMasterKeys(dataDir);
    process.stdout.write(`retired ${retired.length ? retired.join(', ') : 'no keys'} from ${masterKeyPath(dataDir)}\n`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'master-key':
      return masterKeyCommand(rest);
    case 'server':
      return serverCommand(rest);
    case 'agent':
      return agentCommand(rest);
    case 'up':
      return upCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return;
    default:
      throw new Error(`Unknown command '${command}'.\n\n${USAGE}`);
  }
}

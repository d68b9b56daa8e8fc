import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, startServer, type RunningServer } from '../server/app.js';

const USAGE = `Usage: berth <command> [flags]

Commands:
  server   Run the API server (ECS-compatible, AWS JSON 1.1, SigV4-signed)
  help     Show this help

Run "berth <command> --help" for the flags of a command.`;

const SERVER_USAGE = `Usage: berth server [flags]

Flags (environment variable in brackets):
  --port N            listening port (BERTH_PORT, default 4566)
  --host ADDR         listening address (BERTH_HOST, default 127.0.0.1)
  --data-dir DIR      state directory (BERTH_DATA_DIR, default ~/.berth, or ./.berth when HOME is not writable)
  --region NAME       region this server is (BERTH_REGION, default ${DEFAULT_REGION})
  --account-id ID     12-digit account id in ARNs (BERTH_ACCOUNT_ID, default ${DEFAULT_ACCOUNT_ID})

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
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const portText = values.port ?? envOr('BERTH_PORT', '4566');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a number from 0 to 65535, got '${portText}'.`);
  return {
    port,
    host: values.host ?? envOr('BERTH_HOST', '127.0.0.1'),
    dataDir: resolve(values['data-dir'] ?? envOr('BERTH_DATA_DIR', defaultDataDir())),
    region: values.region ?? envOr('BERTH_REGION', DEFAULT_REGION),
    accountId: values['account-id'] ?? envOr('BERTH_ACCOUNT_ID', DEFAULT_ACCOUNT_ID),
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

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return serverCommand(rest);
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

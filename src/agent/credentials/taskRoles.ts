/**
 * Task role credentials as ECS serves them to containers: the server sends
 * each task's role session credentials over the control channel (kept in
 * memory only, never in the agent's state files or logs), and the agent
 * answers them on the credentials endpoint at 169.254.170.2:
 *
 *   GET /v2/credentials/<credential id>
 *   → {"RoleArn","AccessKeyId","SecretAccessKey","Token","Expiration"}
 *
 * Containers of a task with a task role find it with no configuration, as
 * the AWS CLI and SDKs do on ECS:
 * - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (`/v2/credentials/<id>`,
 *   fetched from http://169.254.170.2) when port 80 of the address reaches
 *   the endpoint. As ECS's agent does, the endpoint listens on its own port
 *   (51679 unless told otherwise) and nat rules forward 169.254.170.2:80 to
 *   it, so port 80 stays free for containers' host ports;
 * - otherwise (another live agent on the host holds the forwarding, or
 *   iptables is missing), `AWS_CONTAINER_CREDENTIALS_FULL_URI`
 *   (`http://169.254.170.2:<port>/v2/credentials/<id>`) with
 *   `AWS_CONTAINER_AUTHORIZATION_TOKEN`, which the endpoint then requires.
 *
 * The address is added to the host's loopback interface (`ip addr add
 * 169.254.170.2/32 dev lo`, once per boot): bridge-mode containers route to it
 * through the Docker bridge gateway and the host accepts it as its own;
 * host-mode containers reach it directly.
 *
 * Ids and tokens are HMAC-SHA256 of the task ARN under a random key the
 * agent generated once: unguessable, one per task, stable across agent
 * restarts (adopted containers keep their environment). A container only
 * learns its own task's id; tasks without a task role get no variables, and
 * the agent's own credentials are never served.
 */
import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { Logger } from '../../core/log.js';
import type { AgentTaskCredentials } from '../../protocol/agent.js';

/** The link-local address ECS serves task credentials on. */
export const CREDENTIALS_HOST = '169.254.170.2';
/** The port containers ask on (RELATIVE_URI). */
export const CREDENTIALS_PORT = 80;
/** The port the endpoint listens on unless told otherwise, as ECS's agent does. */
export const ENDPOINT_PORT = 51679;

/** A task's credentials as the endpoint answers them. */
export interface Served {
  taskArn: string;
  credentials: AgentTaskCredentials;
  /** The task's authorization token (FULL_URI mode). */
  token: Buffer;
  /** The JSON document. */
  body: string;
}

/** The role credentials the server sent for the instance's tasks, by task. */
export class TaskRoleCredentials {
  private readonly byTask = new Map<string, { task?: AgentTaskCredentials; execution?: AgentTaskCredentials }>();
  /** By credential id: what the endpoint answers, prepared once per credentials set. */
  private readonly served = new Map<string, Served>();

  constructor(private readonly key: Buffer) {}

  /** Replaces every credential held with the server's latest set. */
  replace(set: readonly AgentTaskCredentials[]): void {
    this.byTask.clear();
    this.served.clear();
    for (const c of set) {
      const held = this.byTask.get(c.taskArn) ?? {};
      held[c.role] = c;
      this.byTask.set(c.taskArn, held);
      if (c.role === 'task') {
        this.served.set(this.idFor(c.taskArn), { taskArn: c.taskArn, credentials: c, token: Buffer.from(this.tokenFor(c.taskArn)), body: JSON.stringify(credentialsDocument(c)) });
      }
    }
  }

  /** The credential id of a task: what its containers' URI names. */
  idFor(taskArn: string): string {
    return createHmac('sha256', this.key).update(`id\0${taskArn}`).digest('hex');
  }

  /** The authorization token of a task (FULL_URI mode). */
  tokenFor(taskArn: string): string {
    return createHmac('sha256', this.key).update(`token\0${taskArn}`).digest('base64url');
  }

  /** The task role credentials behind a credential id, with the task they belong to. */
  byId(id: string): Served | undefined {
    return this.served.get(id);
  }

  /** The execution role credentials of a task, once the server has sent them. */
  execution(taskArn: string): AgentTaskCredentials | undefined {
    return this.byTask.get(taskArn)?.execution;
  }
}

/** The JSON document ECS's credentials endpoint answers. */
export function credentialsDocument(c: AgentTaskCredentials): Record<string, string> {
  return {
    RoleArn: c.roleArn,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: new Date(c.expiration).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

const PATH_RE = /^\/v2\/credentials\/?([^/?]*)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const run = promisify(execFile);

/** Adds the credentials address to `lo` unless it is there; false when that cannot be done (not root, no iproute2). */
export async function ensureCredentialsAddress(log: Logger): Promise<boolean> {
  try {
    const { stdout } = await run('ip', ['-o', 'addr', 'show', 'dev', 'lo']);
    if (stdout.includes(` ${CREDENTIALS_HOST}/`)) return true;
    await run('ip', ['addr', 'add', `${CREDENTIALS_HOST}/32`, 'dev', 'lo']);
    log.info({ address: CREDENTIALS_HOST }, 'added the task credentials address to the loopback interface');
    return true;
  } catch (err) {
    // Another agent may have added it meanwhile.
    if (/File exists/.test(String((err as { stderr?: unknown }).stderr ?? ''))) return true;
    log.warn({ err: err instanceof Error ? err.message : String(err) }, `cannot add ${CREDENTIALS_HOST} to the loopback interface (the agent needs root and iproute2); tasks with a task role get no credentials`);
    return false;
  }
}

const FORWARD_RE = /^-A (PREROUTING|OUTPUT) -d 169\.254\.170\.2\/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 169\.254\.170\.2:(\d+)$/;

/** The nat rules forwarding 169.254.170.2:80 to `port`: from containers on bridges (PREROUTING) and from the host and host-mode containers (OUTPUT). */
function forwardRule(chain: 'PREROUTING' | 'OUTPUT', port: number): string[] {
  return [chain, '-d', `${CREDENTIALS_HOST}/32`, '-p', 'tcp', '-m', 'tcp', '--dport', String(CREDENTIALS_PORT), '-j', 'DNAT', '--to-destination', `${CREDENTIALS_HOST}:${port}`];
}

/** Something answers TCP on 169.254.170.2:`port`. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: CREDENTIALS_HOST, port, timeout: 500 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Forwards 169.254.170.2:80 to the endpoint's `port` with nat rules put
 * first in their chains (ahead of Docker's for published ports). Rules left
 * by an agent that no longer answers (killed) are replaced; a live agent's
 * are left alone (false: this endpoint then serves FULL_URI).
 */
export async function forwardCredentialsPort(port: number, log: Logger): Promise<boolean> {
  try {
    const existing: { chain: string; port: number; spec: string[] }[] = [];
    for (const chain of ['PREROUTING', 'OUTPUT'] as const) {
      const { stdout } = await run('iptables', ['-w', '-t', 'nat', '-S', chain]);
      for (const line of stdout.split('\n')) {
        const m = FORWARD_RE.exec(line.trim());
        if (m) existing.push({ chain, port: Number(m[2]), spec: forwardRule(chain, Number(m[2])) });
      }
    }
    const others = existing.filter((r) => r.port !== port);
    for (const p of new Set(others.map((r) => r.port))) {
      if (await answers(p)) {
        log.info({ port: p }, 'another agent on this host serves task credentials on port 80; this one serves them at AWS_CONTAINER_CREDENTIALS_FULL_URI');
        return false;
      }
    }
    for (const r of others) await run('iptables', ['-w', '-t', 'nat', '-D', ...r.spec]);
    for (const chain of ['PREROUTING', 'OUTPUT'] as const) {
      if (!existing.some((r) => r.chain === chain && r.port === port)) await run('iptables', ['-w', '-t', 'nat', '-I', ...forwardRule(chain, port).slice(0, 1), '1', ...forwardRule(chain, port).slice(1)]);
    }
    log.info({ port }, `forwarding ${CREDENTIALS_HOST}:${CREDENTIALS_PORT} to the task credentials endpoint`);
    return true;
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, `cannot forward ${CREDENTIALS_HOST}:${CREDENTIALS_PORT} with iptables; tasks get AWS_CONTAINER_CREDENTIALS_FULL_URI instead`);
    return false;
  }
}

/** Removes this endpoint's forwarding rules (best effort). */
async function unforwardCredentialsPort(port: number): Promise<void> {
  for (const chain of ['PREROUTING', 'OUTPUT'] as const) await run('iptables', ['-w', '-t', 'nat', '-D', ...forwardRule(chain, port)]).catch(() => undefined);
}

export interface CredentialsEndpointOptions {
  credentials: TaskRoleCredentials;
  log: Logger;
  /** Forward 169.254.170.2:80 to the endpoint with iptables (default true). */
  forwardPort80?: boolean;
}

/** The credentials endpoint's HTTP server. */
export class CredentialsEndpoint {
  private readonly server: Server;
  private mode: { port: number; relative: boolean; forwarded: boolean } | undefined;

  constructor(private readonly options: CredentialsEndpointOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /**
   * Listens on 169.254.170.2: on `port` (51679 unless told otherwise) when
   * it is free, else `fallbackPort` (the one used before), else any; then
   * forwards port 80 to it when it can. Resolves false when the address
   * cannot be had; tasks then get no credentials variables.
   */
  async listen(port: number = ENDPOINT_PORT, fallbackPort?: number): Promise<boolean> {
    if (!(await ensureCredentialsAddress(this.options.log))) return false;
    for (const candidate of [...new Set([port, ...(fallbackPort ? [fallbackPort] : []), 0])]) {
      try {
        const bound = await new Promise<number>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(candidate, CREDENTIALS_HOST, () => {
            this.server.off('error', reject);
            resolve((this.server.address() as AddressInfo).port);
          });
        });
        const forwarded = bound !== CREDENTIALS_PORT && this.options.forwardPort80 !== false && (await forwardCredentialsPort(bound, this.options.log));
        this.mode = { port: bound, relative: bound === CREDENTIALS_PORT || forwarded, forwarded };
        this.options.log.info({ endpoint: `http://${CREDENTIALS_HOST}:${bound}`, relativeUri: this.mode.relative }, 'task credentials endpoint listening');
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
      }
    }
    return false;
  }

  get port(): number | undefined {
    return this.mode?.port;
  }

  /** The environment variables of a task with a task role; none when the endpoint is not listening. */
  environmentFor(taskArn: string): Record<string, string> {
    if (!this.mode) return {};
    const path = `/v2/credentials/${this.options.credentials.idFor(taskArn)}`;
    if (this.mode.relative) return { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: path };
    return {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://${CREDENTIALS_HOST}:${this.mode.port}${path}`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: this.options.credentials.tokenFor(taskArn),
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const m = PATH_RE.exec(req.url ?? '');
    if (!m) return send(res, 404, { code: 'NotFound', message: 'Not found' });
    if (req.method !== 'GET') return send(res, 405, { code: 'MethodNotAllowed', message: `${req.method ?? ''} is not allowed` });
    const id = m[1] ?? '';
    if (id === '') return send(res, 400, { code: 'NoIdInRequest', message: 'CredentialsV2Request: No ID in the request' });
    const found = this.options.credentials.byId(id);
    if (!found) {
      this.options.log.debug({ remote: req.socket.remoteAddress }, 'task credentials asked for an unknown id');
      return send(res, 400, { code: 'InvalidIdInRequest', message: 'CredentialsV2Request: Credentials not found' });
    }
    if (this.mode && !this.mode.relative) {
      const expected = found.token;
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return send(res, 401, { code: 'InvalidTokenInRequest', message: 'CredentialsV2Request: Authorization token does not match' });
      }
    }
    if (this.options.log.isLevelEnabled('debug')) this.options.log.debug({ taskArn: found.taskArn, accessKeyId: found.credentials.accessKeyId }, 'served task credentials');
    send(res, 200, found.body);
  }

  async close(): Promise<void> {
    if (this.mode?.forwarded) await unforwardCredentialsPort(this.mode.port);
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

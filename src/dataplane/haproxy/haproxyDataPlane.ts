import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger, type Logger } from '../../core/log.js';
import type { ApplyOutcome, DataPlane, TargetHealth } from '../dataplane.js';
import { targetKey, validateConfig, type DataPlaneConfig, type Target } from '../model.js';
import { targetState } from './health.js';
import { planRuntime, runtimeAnswerOk } from './plan.js';
import { render, type Rendered } from './render.js';
import { parseStat, runtimeCommand } from './runtime.js';
import { trafficFromStat } from './traffic.js';
import { addTraffic, type TrafficCounters } from '../traffic.js';

const execFileAsync = promisify(execFile);

export interface HAProxyDataPlaneOptions {
  /** Directory for the config, sockets and certificates; a fresh temporary one when absent (removed by `stop`). */
  dir?: string;
  /** The haproxy executable; else BERTH_HAPROXY, else `haproxy` on PATH or in /usr/sbin. */
  binary?: string;
  log?: Logger;
  /** How often target health is read from HAProxy (ms). */
  healthPollMs?: number;
  /** Seconds an old HAProxy process may keep serving its connections after a reload. */
  hardStopAfterSeconds?: number;
}

/** Finds the haproxy executable (Debian installs it in /usr/sbin, which a user's PATH may lack). */
export function findHAProxy(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.BERTH_HAPROXY) return process.env.BERTH_HAPROXY;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (d && existsSync(join(d, 'haproxy'))) return join(d, 'haproxy');
  }
  throw new Error('haproxy is not installed (run scripts/ensure-proxies.sh, or apt-get install haproxy)');
}

interface Draining {
  target: Target;
  /** Epoch ms when the deregistration delay ends. */
  until: number;
  timer: NodeJS.Timeout;
}

const EMPTY: DataPlaneConfig = { loadBalancers: [], targetGroups: [] };

/**
 * A `DataPlane` driving one HAProxy in master-worker mode, as a supervised
 * child process.
 *
 * - `apply` renders the whole configuration to haproxy.cfg every time (so a
 *   restart or reload always starts from the truth). When only targets or
 *   weights changed, the running worker is changed in place through its
 *   runtime API; otherwise (listeners, rules, target group settings) the
 *   config is checked with `haproxy -c` and the master reloads seamlessly:
 *   the new worker takes over the listening sockets (`expose-fd listeners`),
 *   the old one finishes its connections, and the server state (health)
 *   carries over through the server-state file.
 * - Deregistered targets drain for their group's deregistration delay, kept
 *   in the config as disabled servers until then.
 * - If HAProxy exits while not stopping, it is logged with its last words and
 *   started again (backoff from 100 ms to 5 s) with the current configuration.
 * All changes run one at a time in the order they were asked for.
 */
export class HAProxyDataPlane implements DataPlane {
  private readonly dir: string;
  private readonly ownDir: boolean;
  private readonly binary: string;
  private readonly log: Logger;
  private readonly healthPollMs: number;
  private readonly hardStopAfterSeconds: number;
  private readonly cfgPath: string;
  private readonly adminSocket: string;
  private readonly masterSocket: string;
  private readonly stateFile: string;

  private desired: DataPlaneConfig = EMPTY;
  /** By target group id, then target key. */
  private readonly draining = new Map<string, Map<string, Draining>>();
  /** What the running worker serves. */
  private running: Rendered | undefined;
  private child: ChildProcess | undefined;
  private stderrTail: string[] = [];
  private stopping = false;
  private started = false;
  private restartDelayMs = 100;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(changes: TargetHealth[]) => void>();
  private lastHealth = new Map<string, TargetHealth>();
  private readonly everHealthy = new Set<string>();
  /** The serving worker's pid, killed with its master should the master die. */
  private worker: number | undefined;
  /** Times HAProxy was started again after dying. */
  restarts = 0;
  /** Traffic counted by workers replaced by reloads since HAProxy started. */
  private carriedTraffic: TrafficCounters | undefined;
  /** Counts HAProxy starts: the generation of traffic counters. */
  private launches = 0;

  constructor(options: HAProxyDataPlaneOptions = {}) {
    this.ownDir = !options.dir;
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'berth-haproxy-'));
    mkdirSync(this.dir, { recursive: true });
    this.binary = findHAProxy(options.binary);
    this.log = options.log ?? silentLogger();
    this.healthPollMs = options.healthPollMs ?? 1000;
    this.hardStopAfterSeconds = options.hardStopAfterSeconds ?? 30;
    this.cfgPath = join(this.dir, 'haproxy.cfg');
    this.adminSocket = join(this.dir, 'admin.sock');
    this.masterSocket = join(this.dir, 'master.sock');
    this.stateFile = join(this.dir, 'server-state');
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.started) return;
      this.started = true;
      this.stopping = false;
      try {
        await this.launch();
      } catch (err) {
        this.started = false;
        clearTimeout(this.restartTimer);
        throw err;
      }
      this.healthTimer = setInterval(() => {
        this.pollHealth().catch((err: unknown) => this.log.debug({ err }, 'reading target health failed'));
      }, this.healthPollMs);
      this.healthTimer.unref();
    });
  }

  apply(config: DataPlaneConfig): Promise<ApplyOutcome> {
    try {
      validateConfig(config);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.serialize(() => this.applyNow(structuredClone(config)));
  }

  async targetHealth(): Promise<TargetHealth[]> {
    return this.serialize(() => this.readHealth());
  }

  /**
   * The serving worker's `show stat` plus what the workers it replaced by
   * reloads had counted (read just before each reload), so counters only
   * start again from zero, with a new generation, when HAProxy itself
   * starts again.
   */
  traffic(): Promise<TrafficCounters> {
    return this.serialize(async () => addTraffic(this.carriedTraffic, await this.readTraffic()));
  }

  onHealthChange(listener: (changes: TargetHealth[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    await this.serialize(async () => {
      this.stopping = true;
      this.started = false;
      clearInterval(this.healthTimer);
      clearTimeout(this.restartTimer);
      for (const group of this.draining.values()) for (const d of group.values()) clearTimeout(d.timer);
      this.draining.clear();
      await this.killChild();
      this.running = undefined;
    });
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The master's and the serving worker's process ids (for tests that kill them). */
  get pids(): number[] {
    return [this.child?.pid, this.worker].filter((p): p is number => p !== undefined);
  }

  /** The current worker's process id, from its runtime API. */
  async workerPid(): Promise<number> {
    const info = await runtimeCommand(this.adminSocket, 'show info');
    const m = /^Pid: (\d+)$/m.exec(info);
    if (!m) throw new Error('HAProxy did not report its worker pid');
    return Number(m[1]);
  }

  // ---- internals -----------------------------------------------------------

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyNow(config: DataPlaneConfig): Promise<ApplyOutcome> {
    const previous = this.desired;
    const drainingBefore = new Map([...this.draining].map(([tg, group]) => [tg, new Map(group)]));
    this.desired = config;
    this.updateDraining(previous, config);
    if (!this.started) {
      // The file is what `start` reads.
      this.writeConfig(this.renderNow());
      return { reloaded: false, runtimeChanges: 0 };
    }
    try {
      if (!this.child || !this.running) {
        // Between a crash and its restart: start now, on this configuration.
        clearTimeout(this.restartTimer);
        this.restarts++;
        await this.launch();
        return { reloaded: true, runtimeChanges: 0 };
      }
      return await this.converge();
    } catch (err) {
      // HAProxy refused it: the last configuration stays the desired one.
      this.desired = previous;
      this.restoreDraining(drainingBefore);
      this.writeConfig(this.renderNow());
      if (this.started && !this.child) this.scheduleRestart();
      throw err;
    }
  }

  /** Brings the running worker to the desired configuration, in place when it can. */
  private async converge(): Promise<ApplyOutcome> {
    const next = this.renderNow();
    const running = this.running;
    if (running && running.structure === next.structure) {
      let commands: string[];
      try {
        commands = planRuntime(running, next);
      } catch {
        return this.reload(next);
      }
      this.writeConfig(next);
      for (const command of commands) {
        const answer = await runtimeCommand(this.adminSocket, command);
        if (!runtimeAnswerOk(command, answer)) {
          this.log.warn({ command, answer: answer.trim() }, 'HAProxy refused a runtime change; reloading instead');
          return this.reload(next);
        }
      }
      this.running = next;
      return { reloaded: false, runtimeChanges: commands.length };
    }
    return this.reload(next);
  }

  private renderNow(): Rendered {
    const draining = new Map<string, Map<string, Target>>();
    for (const [tg, group] of this.draining) draining.set(tg, new Map([...group].map(([k, d]) => [k, d.target])));
    return render(this.desired, { dir: this.dir, adminSocket: this.adminSocket, stateFile: this.stateFile }, { hardStopAfterSeconds: this.hardStopAfterSeconds }, draining);
  }

  /**
   * Targets that left a group that still exists start draining; targets that
   * came back stop draining. A group that is gone takes its targets with it.
   */
  private updateDraining(previous: DataPlaneConfig, next: DataPlaneConfig): void {
    const nextGroups = new Map(next.targetGroups.map((tg) => [tg.id, tg]));
    for (const [tgId, group] of this.draining) {
      const tg = nextGroups.get(tgId);
      for (const [key, d] of group) {
        if (!tg || tg.targets.some((t) => targetKey(t) === key)) {
          clearTimeout(d.timer);
          group.delete(key);
        }
      }
      if (group.size === 0) this.draining.delete(tgId);
    }
    for (const old of previous.targetGroups) {
      const tg = nextGroups.get(old.id);
      if (!tg) continue;
      const keep = new Set(tg.targets.map(targetKey));
      for (const t of old.targets) {
        const key = targetKey(t);
        if (keep.has(key) || tg.deregistrationDelaySeconds <= 0) continue;
        const group = this.draining.get(tg.id) ?? new Map<string, Draining>();
        this.draining.set(tg.id, group);
        if (group.has(key)) continue;
        group.set(key, this.armDrain(tg.id, key, t, Date.now() + tg.deregistrationDelaySeconds * 1000));
      }
    }
  }

  private armDrain(tgId: string, key: string, target: Target, until: number): Draining {
    const timer = setTimeout(() => {
      this.serialize(() => this.drainEnded(tgId, key)).catch((err: unknown) => this.log.error({ err }, 'removing a drained target failed'));
    }, Math.max(0, until - Date.now()));
    timer.unref();
    return { target, until, timer };
  }

  /** Puts draining back as it was (timers re-armed for the time left). */
  private restoreDraining(saved: Map<string, Map<string, Draining>>): void {
    for (const group of this.draining.values()) for (const d of group.values()) clearTimeout(d.timer);
    this.draining.clear();
    for (const [tgId, group] of saved) {
      this.draining.set(tgId, new Map([...group].map(([key, d]) => [key, this.armDrain(tgId, key, d.target, d.until)])));
    }
  }

  private async drainEnded(tgId: string, key: string): Promise<void> {
    const group = this.draining.get(tgId);
    if (!group?.delete(key)) return;
    if (group.size === 0) this.draining.delete(tgId);
    this.log.info({ targetGroup: tgId, target: key }, 'target drained and removed');
    if (this.child && this.running) await this.converge();
    else this.writeConfig(this.renderNow());
  }

  private writeConfig(r: Rendered, path = this.cfgPath): void {
    for (const [file, content] of r.files) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content, { mode: 0o600 });
    }
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, r.text);
    renameSync(tmp, path);
  }

  /** A seamless reload of the master onto `next`; throws (keeping the old worker) when HAProxy refuses the config. */
  private async reload(next: Rendered): Promise<ApplyOutcome> {
    const candidate = `${this.cfgPath}.next`;
    this.writeConfig(next, candidate);
    await this.check(candidate);
    renameSync(candidate, this.cfgPath);
    const oldPid = await this.workerPid();
    // Carry the traffic counted so far over the reload (what the old worker counts after this is not).
    const counted = await this.readTraffic().catch(() => undefined);
    if (counted) this.carriedTraffic = addTraffic(this.carriedTraffic, counted);
    // Carry health (and weights) over to the new worker.
    writeFileSync(this.stateFile, await runtimeCommand(this.adminSocket, 'show servers state'));
    const deadline = Date.now() + 20_000;
    // Right after a reload the master re-executes itself and refuses its
    // socket for a moment.
    for (;;) {
      try {
        await runtimeCommand(this.masterSocket, 'reload');
        break;
      } catch (err) {
        if (Date.now() > deadline || !this.child) throw err;
        await sleep(20);
      }
    }
    for (;;) {
      try {
        const pid = await this.workerPid();
        if (pid !== oldPid) {
          this.worker = pid;
          break;
        }
      } catch {
        // the socket moves between workers; try again
      }
      if (Date.now() > deadline) throw new Error('HAProxy did not finish reloading within 20 s');
      if (!this.child) throw new Error('HAProxy exited while reloading');
      await sleep(20);
    }
    const previous = this.running;
    this.running = next;
    // The state file restores health; the config file decides admin state and weights.
    await this.enforceAdminState(previous, next);
    return { reloaded: true, runtimeChanges: 0 };
  }

  /**
   * After a reload: admin state as the config says, and targets the previous
   * worker did not have start with their health down when their group
   * already had serving targets, as targets added in place do (see
   * `planRuntime`).
   */
  private async enforceAdminState(previous: Rendered | undefined, r: Rendered): Promise<void> {
    const commands: string[] = [];
    for (const [tgId, b] of r.backends) {
      const before = previous?.backends.get(tgId);
      const othersServing = [...(before?.servers.values() ?? [])].some((s) => !s.draining);
      for (const [key, s] of b.servers) {
        commands.push(`set server ${b.name}/${s.name} state ${s.draining ? 'maint' : 'ready'}`, `set server ${b.name}/${s.failOpen} state ${s.draining ? 'maint' : 'ready'}`);
        if (othersServing && !s.draining && !before?.servers.has(key)) commands.push(`set server ${b.name}/${s.name} health down`);
      }
    }
    for (let i = 0; i < commands.length; i += 50) await runtimeCommand(this.adminSocket, commands.slice(i, i + 50).join(';'));
  }

  private async check(path: string): Promise<void> {
    try {
      await execFileAsync(this.binary, ['-c', '-q', '-f', path], { timeout: 20_000 });
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr?.trim() ?? String(err);
      throw new Error(`HAProxy refused the rendered configuration: ${detail}`);
    }
  }

  /** Starts HAProxy on the current configuration and waits until its runtime API answers. */
  private async launch(): Promise<void> {
    const r = this.renderNow();
    this.writeConfig(r);
    if (!existsSync(this.stateFile)) writeFileSync(this.stateFile, '1\n');
    await this.check(this.cfgPath);
    rmSync(this.masterSocket, { force: true });
    rmSync(this.adminSocket, { force: true });
    const child = spawn(this.binary, ['-W', '-S', this.masterSocket, '-f', this.cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.stderrTail = [];
    let buffered = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
        if (line.includes('[ALERT]')) this.log.warn({ haproxy: line }, 'haproxy');
        else this.log.debug({ haproxy: line }, 'haproxy');
      }
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        // The worker this master forked (not a stray one from before a crash) answers.
        const worker = /^(\d+)\s+worker\b/m.exec(await runtimeCommand(this.masterSocket, 'show proc'))?.[1];
        if (worker && Number(worker) === (await this.workerPid())) {
          this.worker = Number(worker);
          break;
        }
      } catch {
        // not listening yet
      }
      if (this.child !== child) {
        await exited;
        throw new Error(`HAProxy exited while starting: ${this.stderrTail.join(' | ')}`);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`HAProxy did not start within 15 s: ${this.stderrTail.join(' | ')}`);
      }
      await sleep(20);
    }
    this.running = r;
    this.launches++;
    this.carriedTraffic = undefined;
    this.restartDelayMs = 100;
    this.log.info({ pid: child.pid, dir: this.dir }, 'HAProxy started');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.running = undefined;
    // A worker outlives a master killed outright and would keep the
    // listening sockets from the next one.
    if (this.worker) {
      try {
        process.kill(this.worker, 'SIGKILL');
      } catch {
        // already gone
      }
      this.worker = undefined;
    }
    if (this.stopping || !this.started) return;
    this.log.error({ code, signal, lastWords: this.stderrTail.slice(-5) }, 'HAProxy exited unexpectedly; starting it again');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(5000, this.restartDelayMs * 2);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.serialize(async () => {
        if (this.stopping || !this.started || this.child) return;
        this.restarts++;
        await this.launch();
        this.log.info({ restarts: this.restarts }, 'HAProxy is serving again');
      }).catch((err: unknown) => {
        this.log.error({ err, retryInMs: this.restartDelayMs }, 'starting HAProxy again failed');
        if (!this.child && this.started && !this.stopping) this.scheduleRestart();
      });
    }, delay);
    this.restartTimer.unref();
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** The serving worker's own counters. */
  private async readTraffic(): Promise<TrafficCounters> {
    const running = this.running;
    if (!this.child || !running) throw new Error('HAProxy is not running');
    const rows = parseStat(await runtimeCommand(this.adminSocket, 'show stat'));
    return trafficFromStat(rows, this.desired, running, String(this.launches));
  }

  private async readHealth(): Promise<TargetHealth[]> {
    if (!this.child || !this.running) throw new Error('HAProxy is not running');
    const rows = parseStat(await runtimeCommand(this.adminSocket, 'show stat'));
    const byServer = new Map(rows.map((r) => [`${r.pxname}/${r.svname}`, r]));
    const out: TargetHealth[] = [];
    for (const [tgId, b] of this.running.backends) {
      for (const [key, s] of b.servers) {
        const row = byServer.get(`${b.name}/${s.name}`);
        const stat = { status: row?.status ?? 'DOWN', checkStatus: row?.check_status ?? 'INI', checkCode: row?.check_code ?? '' };
        const id = `${tgId}\n${key}`;
        const state = targetState(stat, s.draining, this.everHealthy.has(id));
        if (state.state === 'healthy') this.everHealthy.add(id);
        out.push({ targetGroupId: tgId, host: s.target.host, port: s.target.port, ...state });
      }
    }
    const present = new Set(out.map((h) => `${h.targetGroupId}\n${targetKey(h)}`));
    for (const id of this.everHealthy) if (!present.has(id)) this.everHealthy.delete(id);
    return out;
  }

  private async pollHealth(): Promise<void> {
    if (this.listeners.size === 0 || !this.child) return;
    const now = await this.serialize(() => (this.child && this.running ? this.readHealth() : Promise.resolve(undefined)));
    if (!now) return;
    const changes: TargetHealth[] = [];
    const next = new Map<string, TargetHealth>();
    for (const h of now) {
      const id = `${h.targetGroupId}\n${targetKey(h)}`;
      next.set(id, h);
      const before = this.lastHealth.get(id);
      if (!before || before.state !== h.state || before.reason !== h.reason) changes.push(h);
    }
    this.lastHealth = next;
    if (changes.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (err) {
        this.log.error({ err }, 'a target health listener threw');
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

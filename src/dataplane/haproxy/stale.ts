/**
 * An HAProxy left behind by a Berth process that died without stopping it
 * (killed, crashed) still holds its listeners' ports. The owner records the
 * master's pid next to the configuration; the next owner of the same
 * directory stops that master before starting its own (the workers exit with
 * their master).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PID_FILE = 'haproxy-master.pid';

/** Records the running master's pid for `stopStaleHAProxy`. */
export function recordHAProxyMaster(dir: string, pid: number | undefined): void {
  if (pid === undefined) return;
  writeFileSync(join(dir, PID_FILE), `${pid}\n`);
}

function isOurs(pid: number, dir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.endsWith('haproxy')) && cmdline.includes(join(dir, 'haproxy.cfg'));
  } catch {
    return false;
  }
}

/**
 * Stops the HAProxy master recorded in `dir` if it still runs on that
 * directory's configuration; returns whether there was one. Waits (bounded,
 * 5 s) until it is gone.
 */
export async function stopStaleHAProxy(dir: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, PID_FILE), 'utf8').trim());
  } catch {
    return false;
  }
  rmSync(join(dir, PID_FILE), { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !isOurs(pid, dir)) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  for (let i = 0; i < 100 && isOurs(pid, dir); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  // The workers notice their master is gone and exit; give them a moment to release the ports.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return true;
}

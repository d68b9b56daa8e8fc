import { failOpenArgs, serverAddress, serverArgs, type Rendered } from './render.js';

/**
 * The runtime-API commands that turn the servers of `from` into those of
 * `to`, whose structure (everything but server lines) is equal. Pure.
 *
 * - a new target: added in maintenance, health checks on, then enabled; when
 *   its group already has serving targets its health starts down, so, as on
 *   ELB, it takes requests only once it has passed its healthy threshold (the
 *   first targets of a group take requests at once and leave at their first
 *   failed check, which keeps a new group from answering 503 meanwhile);
 * - a target that starts draining: maintenance (no new requests, even from
 *   sticky clients; requests in flight finish);
 * - a target back from draining: ready again;
 * - a target whose drain ended: its sessions shut and it is deleted;
 * - a weight change: the new weight;
 * - each target's fail-open twin (an unchecked backup) follows it: added
 *   and enabled with it, in maintenance while it drains, deleted with it.
 * Every command answers with an empty line or a known sentence; anything else
 * means the caller must fall back to a reload.
 */
export function planRuntime(from: Rendered, to: Rendered): string[] {
  const commands: string[] = [];
  for (const [tgId, next] of to.backends) {
    const prev = from.backends.get(tgId);
    if (!prev) throw new Error(`planRuntime: target group ${tgId} is new; that needs a reload`);
    const be = next.name;
    let added = false;
    const othersServing = [...prev.servers.values()].some((s) => !s.draining);
    for (const [key, s] of next.servers) {
      const was = prev.servers.get(key);
      const ref = `${be}/${s.name}`;
      const twin = `${be}/${s.failOpen}`;
      if (!was) {
        commands.push(`add server ${ref} ${serverAddress(s.target)} ${serverArgs(next.targetGroup, s.target).join(' ')}`, `enable health ${ref}`);
        commands.push(`add server ${twin} ${serverAddress(s.target)} ${failOpenArgs(next.targetGroup, s.target).join(' ')}`);
        if (!s.draining) commands.push(`enable server ${ref}`, `enable server ${twin}`);
        if (!s.draining && othersServing) commands.push(`set server ${ref} health down`);
        added = true;
        continue;
      }
      if (was.name !== s.name || was.failOpen !== s.failOpen) throw new Error(`planRuntime: server ${key} changed name; that needs a reload`);
      for (const r of [ref, twin]) {
        if (was.draining && !s.draining) commands.push(`set server ${r} state ready`);
        if (!was.draining && s.draining) commands.push(`set server ${r} state maint`);
        if ((was.target.weight ?? 1) !== (s.target.weight ?? 1)) commands.push(`set server ${r} weight ${s.target.weight ?? 1}`);
      }
    }
    for (const [key, s] of prev.servers) {
      if (next.servers.has(key)) continue;
      for (const r of [`${be}/${s.name}`, `${be}/${s.failOpen}`]) commands.push(`set server ${r} state maint`, `shutdown sessions server ${r}`, `del server ${r}`);
    }
    if (added && next.targetGroup.stickiness) commands.push(`enable dynamic-cookie backend ${be}`);
  }
  return commands;
}

/** Whether an answer to one runtime command means it did what was asked. */
export function runtimeAnswerOk(command: string, answer: string): boolean {
  const text = answer.trim();
  if (command.startsWith('add server')) return text === 'New server registered.';
  if (command.startsWith('del server')) return text === 'Server deleted.';
  return text === '';
}

/**
 * Role credentials for the tasks the dispatcher sends to agents: each task's
 * task role and execution role, assumed as `ecs-tasks.amazonaws.com` (the
 * role's trust policy must allow that service) in a role session named
 * after the task id, as ECS does.
 *
 * Schedule: a session lasts `sessionSeconds` (6 hours by default, as ECS's
 * task role sessions) and is renewed once it is `renewAfterMs` old (1 hour
 * by default) or half its life has gone, whichever comes first: a container
 * that fetched credentials just before a renewal still holds them for hours.
 * A task has credentials from when it is sent to its agent until it has
 * stopped (containers still stopping keep theirs); they are kept only in
 * memory (and as the STS session rows every session has).
 */
import type { Logger } from '../core/log.js';
import type { IamContext } from '../iam/model.js';
import { assumeRoleAsService, RoleNotAssumableError, unassumableRoleMessage } from '../iam/sts.js';
import { ECS_TASKS_SERVICE, taskRolesOf, type AgentTaskCredentials } from '../protocol/agent.js';
import type { TaskWithDefinition } from '../ecs/model.js';

export const TASK_ROLE_SESSION_SECONDS = 6 * 60 * 60;
export const TASK_ROLE_RENEW_AFTER_MS = 60 * 60 * 1000;

export interface TaskCredentialOptions {
  /** Default TASK_ROLE_SESSION_SECONDS. */
  sessionSeconds?: number;
  /** Default TASK_ROLE_RENEW_AFTER_MS. */
  renewAfterMs?: number;
}

interface Held {
  instanceArn: string;
  credentials: AgentTaskCredentials;
  renewAt: number;
}

/** A task whose role could not be assumed, with ECS's reason. */
export interface CredentialFailure {
  taskArn: string;
  reason: string;
}

export class TaskCredentialIssuer {
  private readonly held = new Map<string, Held>();
  readonly sessionSeconds: number;
  readonly renewAfterMs: number;

  constructor(
    private readonly iam: IamContext,
    private readonly log: Logger,
    options: TaskCredentialOptions = {},
  ) {
    this.sessionSeconds = options.sessionSeconds ?? TASK_ROLE_SESSION_SECONDS;
    this.renewAfterMs = Math.min(options.renewAfterMs ?? TASK_ROLE_RENEW_AFTER_MS, (this.sessionSeconds * 1000) / 2);
  }

  /** How often holders should ask `dueForRenewal`. */
  get checkIntervalMs(): number {
    return Math.max(250, Math.min(60_000, Math.floor(this.renewAfterMs / 4)));
  }

  /**
   * The credentials of every task in `tasks` not yet STOPPED that names a
   * role, issuing or renewing as needed; forgets those of the instance's
   * other tasks. Roles that cannot be assumed are answered as failures.
   */
  async forInstance(instanceArn: string, tasks: readonly TaskWithDefinition[]): Promise<{ credentials: AgentTaskCredentials[]; failures: CredentialFailure[] }> {
    const now = this.iam.now();
    const wanted = new Set<string>();
    const credentials: AgentTaskCredentials[] = [];
    const failures: CredentialFailure[] = [];
    for (const { stored, taskDefinition } of tasks) {
      const task = stored.task;
      if (task.lastStatus === 'STOPPED') continue;
      const roles = taskRolesOf(taskDefinition as unknown as Record<string, unknown>, task.overrides);
      const pairs: [AgentTaskCredentials['role'], string | undefined][] = [
        ['task', roles.taskRoleArn],
        ['execution', roles.executionRoleArn],
      ];
      for (const [role, roleArn] of pairs) {
        if (!roleArn) continue;
        const key = `${task.taskArn}\0${role}`;
        wanted.add(key);
        const h = this.held.get(key);
        if (h && h.credentials.roleArn === roleArn && h.renewAt > now) {
          credentials.push(h.credentials);
          continue;
        }
        try {
          const c = await assumeRoleAsService(this.iam, {
            roleArn,
            sessionName: task.taskArn.slice(task.taskArn.lastIndexOf('/') + 1),
            service: ECS_TASKS_SERVICE,
            seconds: this.sessionSeconds,
          });
          const issued: AgentTaskCredentials = { taskArn: task.taskArn, role, roleArn, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
          this.held.set(key, { instanceArn, credentials: issued, renewAt: now + this.renewAfterMs });
          this.log.info({ taskArn: task.taskArn, role, roleArn, accessKeyId: c.accessKeyId, expiration: new Date(c.expiration).toISOString(), renewed: h !== undefined }, 'issued task role credentials');
          credentials.push(issued);
        } catch (err) {
          if (!(err instanceof RoleNotAssumableError)) throw err;
          this.log.warn({ taskArn: task.taskArn, role, roleArn, why: err.message }, 'cannot assume the role of a task; stopping it');
          failures.push({ taskArn: task.taskArn, reason: unassumableRoleMessage(roleArn) });
          wanted.delete(key);
        }
      }
    }
    for (const [key, h] of this.held) if (h.instanceArn === instanceArn && !wanted.has(key)) this.held.delete(key);
    return { credentials, failures };
  }

  /** Whether some credentials held for the instance are due for renewal. */
  dueForRenewal(instanceArn: string): boolean {
    const now = this.iam.now();
    for (const h of this.held.values()) if (h.instanceArn === instanceArn && h.renewAt <= now) return true;
    return false;
  }

  /** Forgets the credentials held for an instance (its agent disconnected). */
  forgetInstance(instanceArn: string): void {
    for (const [key, h] of this.held) if (h.instanceArn === instanceArn) this.held.delete(key);
  }
}

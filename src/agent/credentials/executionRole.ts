/**
 * Who the agent acts as for a task's own needs (its `secrets`, its
 * `repositoryCredentials`, its images in Berth's registry): the task's
 * execution role when it has one, as the ECS agent does, else the agent's
 * own identity. A task with an execution role whose credentials have not
 * arrived yet gets an ordinary error (the step is retried); a call its role
 * may not make gets the server's AccessDeniedException, which the callers
 * turn into ECS's ResourceInitializationError.
 */
import type { Logger } from '../../core/log.js';
import { taskRolesOf } from '../../protocol/agent.js';
import type { TaskRecord } from '../engine/model.js';
import type { AwsCredentials } from '../channel/sign.js';
import { RegistryCredentials } from './registry.js';
import { ServerSecretSource, type SecretSource } from './secrets.js';
import type { TaskRoleCredentials } from './taskRoles.js';

export interface TaskClients {
  secrets: SecretSource;
  registry: RegistryCredentials;
}

export class ExecutionRoleClients {
  private readonly perTask = new Map<string, { accessKeyId: string; clients: TaskClients }>();

  constructor(
    private readonly options: { endpoint: string; region: string; roles: TaskRoleCredentials; own: TaskClients; log: Logger },
  ) {}

  /** The clients to act for `r` with. */
  for(r: TaskRecord): TaskClients {
    const { executionRoleArn } = taskRolesOf(r.task.taskDefinition, r.task.overrides);
    if (!executionRoleArn) return this.options.own;
    const c = this.options.roles.execution(r.taskArn);
    if (!c) throw new Error(`the credentials of execution role ${executionRoleArn} have not arrived from the server yet`);
    const held = this.perTask.get(r.taskArn);
    if (held && held.accessKeyId === c.accessKeyId) return held.clients;
    if (held) this.close(held.clients);
    const credentials: AwsCredentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
    const clients: TaskClients = {
      secrets: new ServerSecretSource(this.options.endpoint, this.options.region, credentials),
      registry: new RegistryCredentials({ endpoint: this.options.endpoint, region: this.options.region, credentials, log: this.options.log, refusalFails: true }),
    };
    this.perTask.set(r.taskArn, { accessKeyId: c.accessKeyId, clients });
    return clients;
  }

  /** Drops the clients of tasks whose execution role credentials were withdrawn. */
  prune(): void {
    for (const [taskArn, held] of this.perTask) {
      if (this.options.roles.execution(taskArn)?.accessKeyId === held.accessKeyId) continue;
      this.close(held.clients);
      this.perTask.delete(taskArn);
    }
  }

  private close(c: TaskClients): void {
    c.secrets.close();
    c.registry.close();
  }

  closeAll(): void {
    for (const held of this.perTask.values()) this.close(held.clients);
    this.perTask.clear();
  }
}

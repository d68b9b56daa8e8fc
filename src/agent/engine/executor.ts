/**
 * Applies the reconciler's effects to a ContainerRuntime. The only module of
 * the engine that changes containers; it never decides anything, it reports
 * each effect's outcome for `applyOutcome`.
 *
 * Transient failures (the engine unreachable, a stop that did not complete)
 * are marked so the task retries later; anything else is final for the
 * container and becomes its ECS `reason`.
 */
import {
  ContainerNotFoundError,
  ContainerStopError,
  NameConflictError,
  RuntimeError,
  RuntimeUnavailableError,
  type ContainerRuntime,
  type ContainerState,
  type ImagePullBehavior,
  type RegistryAuth,
} from '../runtime/runtime.js';
import { RegistryAuthRefusedError, registryHostOf } from '../credentials/registry.js';
import { SecretRetrievalError, type SecretReference } from '../credentials/secrets.js';
import type { TaskRecord } from './model.js';
import type { Effect, Outcome } from './reconcile.js';
import { containerDefinitions, containerSpec, LABEL_CONTAINER_NAME, LABEL_TASK_ARN, type SpecContext } from './spec.js';

export interface ExecutorOptions extends SpecContext {
  /** Overrides the runtime's image pull behaviour. */
  pullBehavior?: ImagePullBehavior;
  /** Credentials to pull an image with (the Berth registry's), or undefined for none. */
  registryAuth?(image: string, r: TaskRecord): Promise<RegistryAuth | undefined>;
  /**
   * The environment variables of a container's `secrets`, fetched at its
   * creation; throws SecretRetrievalError when one cannot be had (the
   * container fails with ECS's ResourceInitializationError), anything else
   * for a retry. The values go into the container's environment only.
   */
  containerSecrets?(secrets: readonly SecretReference[], r: TaskRecord): Promise<Record<string, string>>;
  /** The username and password in a `repositoryCredentials` secret; throws like `containerSecrets`. */
  repositoryCredentials?(credentialsParameter: string, r: TaskRecord): Promise<{ username: string; password: string }>;
  /**
   * Prepares the CloudWatch Logs stream of an `awslogs` container before it
   * is created. When given, such containers log to `json-file` and the agent
   * ships their output; without it their log configuration goes to the engine as is.
   */
  prepareAwslogs?(r: TaskRecord, container: string): Promise<{ ok: true } | { ok: false; transient: boolean; message: string }>;
}

function failure(err: unknown, transient = false): Outcome {
  if (err instanceof RuntimeError) {
    return { ok: false, transient: transient || err instanceof RuntimeUnavailableError, code: err.code, message: err.message };
  }
  // Unknown failures are retried: they are not the container's fault.
  return { ok: false, transient: true, code: 'InternalError', message: err instanceof Error ? err.message : String(err) };
}

export class EffectExecutor {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly options: ExecutorOptions,
  ) {}

  /** Runs one effect for the task as it is in `r`. Never throws. */
  async run(r: TaskRecord, effect: Effect): Promise<Outcome> {
    try {
      return await this.apply(r, effect);
    } catch (err) {
      return failure(err);
    }
  }

  private async apply(r: TaskRecord, effect: Effect): Promise<Outcome> {
    switch (effect.kind) {
      case 'pull': {
        const c = this.container(r, effect.container);
        const credentialsParameter = containerDefinitions(r.task).find((d) => d.name === effect.container)?.repositoryCredentials?.credentialsParameter;
        let auth: RegistryAuth | undefined;
        if (credentialsParameter) {
          // The task's own registry credentials win over the agent's token for Berth's registry.
          if (!this.options.repositoryCredentials) {
            return { ok: false, transient: false, code: 'ResourceInitializationError', message: 'unable to pull secrets or registry auth: this agent cannot fetch registry credentials' };
          }
          try {
            const host = registryHostOf(c.image);
            auth = { ...(await this.options.repositoryCredentials(credentialsParameter, r)), ...(host ? { serverAddress: host } : {}) };
          } catch (err) {
            if (err instanceof SecretRetrievalError) return { ok: false, transient: false, code: 'ResourceInitializationError', message: err.message };
            throw err;
          }
        } else {
          try {
            auth = await this.options.registryAuth?.(c.image, r);
          } catch (err) {
            // The task's execution role may not get a registry token: the pull cannot succeed.
            if (err instanceof RegistryAuthRefusedError) return { ok: false, transient: false, code: 'CannotPullECRContainerError', message: err.message };
            throw err;
          }
        }
        const res = await this.runtime.ensureImage(c.image, {
          ...(this.options.pullBehavior ? { pullBehavior: this.options.pullBehavior } : {}),
          ...(auth ? { auth } : {}),
        });
        return { ok: true, imageId: res.imageId };
      }
      case 'createVolume': {
        const v = r.volumes.find((x) => x.name === effect.volume);
        if (!v) return { ok: true };
        await this.runtime.createVolume({
          name: v.source,
          ...(v.driver ? { driver: v.driver } : {}),
          ...(v.driverOptions ? { driverOptions: v.driverOptions } : {}),
          ...(v.labels ? { labels: v.labels } : {}),
        });
        return { ok: true };
      }
      case 'checkVolume': {
        const v = r.volumes.find((x) => x.name === effect.volume);
        if (!v || (await this.runtime.inspectVolume(v.source))) return { ok: true };
        return {
          ok: false,
          transient: false,
          code: 'ResourceInitializationError',
          message: `shared volume '${v.source}' does not exist and autoprovision is false: create it on this instance (docker volume create ${v.source}) or set autoprovision to true`,
        };
      }
      case 'createTaskGroup': {
        const g = r.taskGroup;
        if (!g) return { ok: true };
        const taskGroup = await this.runtime.createTaskGroup({
          name: g.name,
          ...(g.cpuUnits !== undefined ? { cpuUnits: g.cpuUnits } : {}),
          ...(g.memoryMiB !== undefined ? { memoryBytes: g.memoryMiB * 1024 * 1024 } : {}),
        });
        return { ok: true, taskGroup };
      }
      case 'removeTaskGroup': {
        if (r.taskGroup) await this.runtime.removeTaskGroup(r.taskGroup.name);
        return { ok: true };
      }
      case 'create': {
        let base = containerSpec(r, effect.container, this.options);
        if (base.logConfig?.driver === 'awslogs' && this.options.prepareAwslogs) {
          const prepared = await this.options.prepareAwslogs(r, effect.container);
          if (!prepared.ok) return { ok: false, transient: prepared.transient, code: 'ResourceInitializationError', message: prepared.message };
          base = { ...base, logConfig: { driver: 'json-file' } };
        }
        const refs = containerDefinitions(r.task).find((d) => d.name === effect.container)?.secrets ?? [];
        let secretEnv: Record<string, string> = {};
        if (refs.length > 0) {
          if (!this.options.containerSecrets) {
            return { ok: false, transient: false, code: 'ResourceInitializationError', message: 'unable to pull secrets or registry auth: this agent cannot fetch secrets' };
          }
          try {
            secretEnv = await this.options.containerSecrets(refs, r);
          } catch (err) {
            if (err instanceof SecretRetrievalError) return { ok: false, transient: false, code: 'ResourceInitializationError', message: err.message };
            throw err;
          }
        }
        // Secrets win over plain environment variables of the same name.
        const spec = refs.length > 0 ? { ...base, env: { ...base.env, ...secretEnv } } : base;
        try {
          return { ok: true, runtimeId: await this.runtime.create(spec) };
        } catch (err) {
          // The name is deterministic: a container with it is this task's, created before a crash.
          if (err instanceof NameConflictError) {
            const existing = await this.runtime.list({ [LABEL_TASK_ARN]: r.taskArn, [LABEL_CONTAINER_NAME]: effect.container });
            const found = existing.find((s) => s.name === spec.name) ?? existing[0];
            if (found) return { ok: true, runtimeId: found.id };
          }
          throw err;
        }
      }
      case 'start': {
        const c = this.container(r, effect.container);
        if (!c.runtimeId) return { ok: false, transient: false, code: 'CannotStartContainerError', message: 'container was never created' };
        await this.runtime.start(c.runtimeId);
        return { ok: true, ...(await this.stateOf(c.runtimeId)) };
      }
      case 'stop': {
        const c = this.container(r, effect.container);
        if (!c.runtimeId) return { ok: true };
        try {
          await this.runtime.stop(c.runtimeId, effect.timeoutSeconds);
        } catch (err) {
          if (err instanceof ContainerNotFoundError) return { ok: true, state: 'gone' };
          return failure(err, err instanceof ContainerStopError);
        }
        return { ok: true, ...(await this.stateOf(c.runtimeId)) };
      }
      case 'remove': {
        const c = this.container(r, effect.container);
        if (c.runtimeId) await this.runtime.remove(c.runtimeId);
        return { ok: true };
      }
      case 'removeVolume': {
        const v = r.volumes.find((x) => x.name === effect.volume);
        if (v) await this.runtime.removeVolume(v.source);
        return { ok: true };
      }
    }
  }

  /** The container's state for the outcome of a start or stop; none when it cannot be read now. */
  private async stateOf(id: string): Promise<{ state?: ContainerState | 'gone' }> {
    try {
      return { state: await this.runtime.inspect(id) };
    } catch (err) {
      return err instanceof ContainerNotFoundError ? { state: 'gone' } : {};
    }
  }

  private container(r: TaskRecord, name: string) {
    const c = r.containers.find((x) => x.name === name);
    if (!c) throw new Error(`task ${r.taskArn} has no container ${name}`);
    return c;
  }
}

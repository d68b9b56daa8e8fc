/**
 * Builders of ECS state for unit tests of ECS operations and of the
 * controllers over them: an in-memory store with its domain context, and
 * container instances whose agent counts as connected. Not used by Berth
 * itself.
 */
import { openSqliteStore } from '../store/sqlite.js';
import { registerContainerInstance, type ContainerInstanceDoc } from './containerInstances.js';
import { closeReadModels, createReadModels, type DomainContext } from './context.js';

/** A domain context over a fresh in-memory store with plain read models, on the clock `now`; `close` releases both. */
export async function memoryContext(now: () => number = Date.now): Promise<{ ctx: DomainContext; close(): Promise<void> }> {
  const store = await openSqliteStore({ path: ':memory:' });
  const ctx: DomainContext = { store, region: 'us-east-1', accountId: '000000000000', now, state: createReadModels(store, { plain: true }) };
  return {
    ctx,
    close: async () => {
      closeReadModels(ctx.state);
      await store.close();
    },
  };
}

/**
 * Registers an instance in `cluster` (4096 CPU units and 8192 MiB in
 * us-east-1a unless told otherwise) and marks its agent connected, as its
 * control channel would; returns its ARN.
 */
export async function connectedInstance(
  ctx: DomainContext,
  cluster: string,
  opts: { instanceId?: string; availabilityZone?: string; cpu?: number; memory?: number } = {},
): Promise<string> {
  const r = await registerContainerInstance(ctx, {
    cluster,
    instanceIdentityDocument: JSON.stringify({ instanceId: opts.instanceId ?? 'i-00000001', availabilityZone: opts.availabilityZone ?? 'us-east-1a' }),
    totalResources: [
      { name: 'CPU', type: 'INTEGER', integerValue: opts.cpu ?? 4096 },
      { name: 'MEMORY', type: 'INTEGER', integerValue: opts.memory ?? 8192 },
    ],
  });
  const arn = r.containerInstance.containerInstanceArn;
  await ctx.store.transaction(async (tx) => {
    const row = (await tx.get<ContainerInstanceDoc>('containerInstance', arn))!;
    await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: true } });
  });
  return arn;
}

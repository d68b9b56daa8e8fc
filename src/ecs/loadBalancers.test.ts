import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import type { TargetDoc, TargetGroupDoc } from '../elbv2/model.js';
import { createCluster } from './clusters.js';
import { registerContainerInstance, type ContainerInstanceDoc } from './containerInstances.js';
import { closeReadModels, createReadModels, type DomainContext } from './context.js';
import { targetVerdict, taskLoadBalancers, type TaskTarget } from './loadBalancers.js';
import type { StoredTask } from './model.js';
import { registerTaskDefinition } from './taskDefinitions.js';
import { describeTasks, runTask, stopTask, submitTaskStateChange, tasksToSend } from './tasks.js';
import { agentDesiredStatus, releaseDrainedTask } from './writers/tasks.js';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef';

describe('what the load balancer says of a service task', () => {
  const target = (over: Partial<TargetDoc> = {}, tg: Partial<TargetGroupDoc> = {}): TaskTarget => ({
    targetGroupArn: TG,
    targetGroup: { TargetGroupArn: TG, HealthCheckEnabled: true, TargetType: 'instance', ...tg } as TargetGroupDoc,
    id: 'i-1',
    port: 32768,
    target: { TargetGroupArn: TG, Id: 'i-1', Port: 32768, registeredAt: 1000, ...over },
  });

  it('is healthy or unhealthy only from a check made since the target was registered, and never while it drains', () => {
    assert.equal(targetVerdict({ ...target(), target: undefined }), 'unknown');
    assert.equal(targetVerdict(target()), 'unknown');
    assert.equal(targetVerdict(target({ health: { State: 'healthy', at: 900 } })), 'unknown', 'a check from before this registration');
    assert.equal(targetVerdict(target({ health: { State: 'healthy', at: 1100 } })), 'healthy');
    assert.equal(targetVerdict(target({ health: { State: 'unhealthy', Reason: 'Target.Timeout', at: 1100 } })), 'unhealthy');
    assert.equal(targetVerdict(target({ health: { State: 'initial', at: 1100 } })), 'unknown');
    assert.equal(targetVerdict(target({ health: { State: 'healthy', at: 1100 }, drainingUntil: 5000 })), 'unknown');
    assert.equal(targetVerdict(target({}, { HealthCheckEnabled: false })), 'healthy', 'a group that checks no health');
  });

  it("takes the task's own target groups, else its service's", () => {
    const own = [{ targetGroupArn: TG, containerName: 'web', containerPort: 80 }];
    const service = [{ targetGroupArn: `${TG}0`, containerName: 'web', containerPort: 80 }];
    assert.deepEqual(taskLoadBalancers({ loadBalancers: own }, service), own);
    assert.deepEqual(taskLoadBalancers({ loadBalancers: [] }, service), [], 'a task of a deployment without load balancers');
    assert.deepEqual(taskLoadBalancers({}, service), service);
  });
});

describe('draining a task before its agent stops it', () => {
  it('shows DEACTIVATING and keeps the agent running it until released, then lets the agent stop it', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const ctx: DomainContext = { store, region: 'us-east-1', accountId: '000000000000', now: Date.now, state: createReadModels(store, { plain: true }) };
    try {
      await createCluster(ctx, { clusterName: 'c1' });
      await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 64, portMappings: [{ containerPort: 80, hostPort: 0 }] }] });
      const r = await registerContainerInstance(ctx, {
        cluster: 'c1',
        instanceIdentityDocument: JSON.stringify({ instanceId: 'i-00000001', availabilityZone: 'us-east-1a' }),
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: 1024 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: 1024 },
        ],
      });
      const instanceArn = r.containerInstance.containerInstanceArn;
      await store.transaction(async (tx) => {
        const row = (await tx.get<ContainerInstanceDoc>('containerInstance', instanceArn))!;
        await tx.update('containerInstance', { ...row, doc: { ...row.doc, agentConnected: true } });
      });
      const task = (await runTask(ctx, { cluster: 'c1', taskDefinition: 'web' })).tasks[0]!;
      const clusterArn = task.clusterArn;
      await tasksToSend(ctx, clusterArn, instanceArn);
      await submitTaskStateChange(ctx, { cluster: 'c1', task: task.taskArn, status: 'RUNNING' });
      // As the service controller places it: behind a target group.
      await store.transaction(async (tx) => {
        const row = (await tx.get<StoredTask>('task', task.taskArn))!;
        await tx.update('task', { ...row, doc: { ...row.doc, loadBalancers: [{ targetGroupArn: TG, containerName: 'web', containerPort: 80 }] } });
      });

      const stopped = (await stopTask(ctx, { cluster: 'c1', task: task.taskArn })).task;
      assert.deepEqual([stopped.lastStatus, stopped.desiredStatus], ['DEACTIVATING', 'STOPPED']);
      const sent = (await tasksToSend(ctx, clusterArn, instanceArn)).find((t) => t.stored.task.taskArn === task.taskArn)!;
      assert.equal(agentDesiredStatus(sent.stored), 'RUNNING', 'the agent keeps running it while it drains');
      // A late RUNNING report does not take it back.
      await submitTaskStateChange(ctx, { cluster: 'c1', task: task.taskArn, status: 'RUNNING' });
      const described = (await describeTasks(ctx, { cluster: 'c1', tasks: [task.taskArn] })).tasks[0] as { lastStatus: string };
      assert.equal(described.lastStatus, 'DEACTIVATING');

      await store.transaction(async (tx) => releaseDrainedTask(tx, (await tx.get<StoredTask>('task', task.taskArn))!));
      const released = (await tasksToSend(ctx, clusterArn, instanceArn)).find((t) => t.stored.task.taskArn === task.taskArn)!;
      assert.equal(agentDesiredStatus(released.stored), 'STOPPED');
      await submitTaskStateChange(ctx, { cluster: 'c1', task: task.taskArn, status: 'STOPPED' });
      const done = (await describeTasks(ctx, { cluster: 'c1', tasks: [task.taskArn] })).tasks[0] as { lastStatus: string };
      assert.equal(done.lastStatus, 'STOPPED');
    } finally {
      closeReadModels(ctx.state);
      await store.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../store/sqlite.js';
import { createCluster } from './clusters.js';
import { closeReadModels, createReadModels, type DomainContext } from './context.js';
import {
  continueServiceDeployment,
  createService,
  deleteService,
  describeServiceDeployments,
  describeServices,
  listServiceDeployments,
  listServices,
  stopServiceDeployment,
  updateService,
} from './services.js';
import { registerTaskDefinition } from './taskDefinitions.js';

async function fixture() {
  const store = await openSqliteStore({ path: ':memory:' });
  const ctx: DomainContext = { store, region: 'us-east-1', accountId: '000000000000', now: Date.now, state: createReadModels(store, { plain: true }) };
  await createCluster(ctx, { clusterName: 'c1' });
  for (const cmd of ['v1', 'v2']) await registerTaskDefinition(ctx, { family: 'web', containerDefinitions: [{ name: 'web', image: 'busybox', memory: 32, command: [cmd] }] });
  return { ctx, close: async () => (closeReadModels(ctx.state), await store.close()) };
}

const rejectsWith = (p: Promise<unknown>, name: string, message?: string) =>
  assert.rejects(p, (err: Error) => err.constructor.name === name && (message === undefined || err.message === message));

describe('service operations', () => {
  it('fills in ECS defaults and refuses what Berth cannot do yet with a message saying what is missing', async () => {
    const f = await fixture();
    const { service } = await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web', desiredCount: 2 });
    assert.deepEqual(service.deploymentConfiguration, { deploymentCircuitBreaker: { enable: false, rollback: false }, maximumPercent: 200, minimumHealthyPercent: 100 });
    assert.equal(service.schedulingStrategy, 'REPLICA');
    assert.equal(service.launchType, 'EC2');
    assert.match(service.deployments[0]!.id, /^ecs-svc\/\d{19}$/);
    assert.equal(service.deployments[0]!.rolloutStateReason, `ECS deployment ${service.deployments[0]!.id} in progress.`);
    assert.equal('tags' in service, false);
    await rejectsWith(createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web', desiredCount: 2 }), 'InvalidParameterException', 'Creation of service was not idempotent.');
    await rejectsWith(
      createService(f.ctx, { cluster: 'c1', serviceName: 'bg', taskDefinition: 'web', desiredCount: 1, deploymentConfiguration: { strategy: 'BLUE_GREEN' } }),
      'InvalidParameterException',
    );
    await rejectsWith(createService(f.ctx, { cluster: 'c1', serviceName: 'x', taskDefinition: 'web', desiredCount: 1, deploymentConfiguration: { maximumPercent: 250 } }), 'InvalidParameterException');
    const daemon = await createService(f.ctx, { cluster: 'c1', serviceName: 'd', taskDefinition: 'web', schedulingStrategy: 'DAEMON' });
    assert.deepEqual([daemon.service.deploymentConfiguration.maximumPercent, daemon.service.deploymentConfiguration.minimumHealthyPercent, daemon.service.placementStrategy], [100, 0, []]);
    assert.deepEqual((await listServices(f.ctx, { cluster: 'c1', schedulingStrategy: 'DAEMON' })).serviceArns, [daemon.service.serviceArn]);
    await rejectsWith(updateService(f.ctx, { cluster: 'c1', service: 'nope', desiredCount: 1 }), 'ServiceNotFoundException', 'Service not found.');
    await rejectsWith(describeServices(f.ctx, { cluster: 'c1', services: [] }), 'InvalidParameterException', 'Services cannot be empty.');
    const described = await describeServices(f.ctx, { cluster: 'c1', services: ['web', 'nope'], include: ['TAGS'] });
    assert.deepEqual(described.failures, [{ arn: 'arn:aws:ecs:us-east-1:000000000000:service/c1/nope', reason: 'MISSING' }]);
    await f.close();
  });

  it('starts a new deployment on a new task definition or when forced, not on a desired count change', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web:1', desiredCount: 2 });
    let s = (await updateService(f.ctx, { cluster: 'c1', service: 'web', desiredCount: 3 })).service;
    assert.deepEqual(s.deployments.map((d) => [d.status, d.desiredCount]), [['PRIMARY', 3]]);
    s = (await updateService(f.ctx, { cluster: 'c1', service: 'web', taskDefinition: 'web:2' })).service;
    assert.deepEqual(s.deployments.map((d) => d.status), ['PRIMARY', 'ACTIVE']);
    assert.ok(s.taskDefinition?.endsWith('web:2'));
    s = (await updateService(f.ctx, { cluster: 'c1', service: 'web', forceNewDeployment: true })).service;
    assert.equal(s.deployments.length, 3);
    const records = (await listServiceDeployments(f.ctx, { cluster: 'c1', service: 'web' })).serviceDeployments;
    assert.deepEqual(records.map((r) => r.status), ['IN_PROGRESS', 'STOPPED', 'STOPPED'], 'superseded deployments are recorded STOPPED');
    await f.close();
  });

  it('stops a deployment in progress: ABORT stops launching, ROLLBACK needs an earlier completed one', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web:1', desiredCount: 1 });
    const [brief] = (await listServiceDeployments(f.ctx, { cluster: 'c1', service: 'web' })).serviceDeployments;
    await rejectsWith(stopServiceDeployment(f.ctx, { serviceDeploymentArn: brief!.serviceDeploymentArn, stopType: 'ROLLBACK' }), 'ConflictException');
    await stopServiceDeployment(f.ctx, { serviceDeploymentArn: brief!.serviceDeploymentArn, stopType: 'ABORT' });
    const [d] = (await describeServiceDeployments(f.ctx, { serviceDeploymentArns: [brief!.serviceDeploymentArn] })).serviceDeployments as { status: string }[];
    assert.equal(d!.status, 'STOPPED');
    const s = (await describeServices(f.ctx, { cluster: 'c1', services: ['web'] })).services[0] as { deployments: { rolloutState: string }[] };
    assert.equal(s.deployments[0]!.rolloutState, 'FAILED');
    await rejectsWith(stopServiceDeployment(f.ctx, { serviceDeploymentArn: brief!.serviceDeploymentArn }), 'ConflictException');
    await rejectsWith(
      stopServiceDeployment(f.ctx, { serviceDeploymentArn: brief!.serviceDeploymentArn.replace(/\d+$/, '42') }),
      'ServiceDeploymentNotFoundException',
    );
    await rejectsWith(continueServiceDeployment(f.ctx, { serviceDeploymentArn: brief!.serviceDeploymentArn, hookId: 'h' }), 'InvalidParameterException');
    await f.close();
  });

  it('deletes a service only at zero unless forced, leaving it DRAINING for the controller', async () => {
    const f = await fixture();
    await createService(f.ctx, { cluster: 'c1', serviceName: 'web', taskDefinition: 'web:1', desiredCount: 1 });
    await rejectsWith(deleteService(f.ctx, { cluster: 'c1', service: 'web' }), 'InvalidParameterException', 'The service cannot be stopped while it is scaled above 0.');
    const { service } = await deleteService(f.ctx, { cluster: 'c1', service: 'web', force: true });
    assert.deepEqual([service.status, service.desiredCount], ['DRAINING', 0]);
    await rejectsWith(updateService(f.ctx, { cluster: 'c1', service: 'web', desiredCount: 1 }), 'ServiceNotActiveException');
    await f.close();
  });
});

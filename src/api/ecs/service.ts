import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { UnsupportedFeatureException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import type { DomainContext } from '../../ecs/context.js';
import * as clusters from '../../ecs/clusters.js';
import * as instances from '../../ecs/containerInstances.js';
import * as attributes from '../../ecs/attributes.js';
import * as tagging from '../../ecs/tagging.js';
import * as taskDefinitions from '../../ecs/taskDefinitions.js';
import * as tasks from '../../ecs/tasks.js';
import { instanceFilter } from '../../ecs/instanceQuery.js';
import { toEcsError } from '../../ecs/errors.js';
import { isKnownOperation } from './model.js';
import { validateInput } from './validate.js';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

/** Extra handlers contributed by later parts of the control plane (tasks, services, ...). */
export type EcsOperations = Record<string, OperationHandler>;

// Inputs reach handlers only after validation against the ECS model, so the
// casts below narrow already-checked JSON to the domain's input types.
type AnyInput = any;

/** The operations of this part of the control plane, by ECS operation name. */
export function coreOperations(ctx: DomainContext): EcsOperations {
  const op =
    <I>(fn: (ctx: DomainContext, input: I) => Promise<unknown>): OperationHandler =>
    async (input) => {
      try {
        return await fn(ctx, input as AnyInput as I);
      } catch (err) {
        throw toEcsError(err);
      }
    };
  return {
    CreateCluster: op(clusters.createCluster),
    DescribeClusters: op(clusters.describeClusters),
    ListClusters: op(clusters.listClusters),
    UpdateCluster: op(clusters.updateCluster),
    UpdateClusterSettings: op(clusters.updateCluster),
    DeleteCluster: op(clusters.deleteCluster),

    RegisterTaskDefinition: op(taskDefinitions.registerTaskDefinition),
    DescribeTaskDefinition: op(taskDefinitions.describeTaskDefinition),
    ListTaskDefinitions: op(taskDefinitions.listTaskDefinitions),
    ListTaskDefinitionFamilies: op(taskDefinitions.listTaskDefinitionFamilies),
    DeregisterTaskDefinition: op(taskDefinitions.deregisterTaskDefinition),
    DeleteTaskDefinitions: op(taskDefinitions.deleteTaskDefinitions),

    RegisterContainerInstance: op(instances.registerContainerInstance),
    DeregisterContainerInstance: op((c, input: Parameters<typeof instances.deregisterContainerInstance>[1]) =>
      instances.deregisterContainerInstance(c, input, (tx, instanceArn) =>
        tasks.stopTasksOnInstance(c, tx, instanceArn, instanceArn.replace(/:container-instance\/([^/]+)\/.*$/, ':cluster/$1')),
      ),
    ),
    DescribeContainerInstances: op(instances.describeContainerInstances),
    ListContainerInstances: op(async (c, input: Parameters<typeof instances.listContainerInstances>[1] & { filter?: string }) =>
      instances.listContainerInstances(c, input, await instanceFilter(c, input.cluster, input.filter)),
    ),

    RunTask: op(tasks.runTask),
    StartTask: op(tasks.startTask),
    StopTask: op(tasks.stopTask),
    DescribeTasks: op(tasks.describeTasks),
    ListTasks: op(tasks.listTasks),
    SubmitTaskStateChange: op(tasks.submitTaskStateChange),
    SubmitContainerStateChange: op(tasks.submitContainerStateChange),
    DiscoverPollEndpoint: (input, req) => {
      const proto = String(req.headers['x-forwarded-proto'] ?? 'http').split(',')[0]!.trim();
      const serverUrl = `${proto === 'https' ? 'https' : 'http'}://${String(req.headers.host ?? '127.0.0.1')}`;
      return instances.discoverPollEndpoint(ctx, input as { cluster?: string; containerInstance?: string }, serverUrl);
    },
    UpdateContainerInstancesState: op(instances.updateContainerInstancesState),

    PutAttributes: op(attributes.putAttributes),
    DeleteAttributes: op(attributes.deleteAttributes),
    ListAttributes: op(attributes.listAttributes),

    TagResource: op(tagging.tagResource),
    UntagResource: op(tagging.untagResource),
    ListTagsForResource: op(tagging.listTagsForResource),
  };
}

/** ECS over AWS JSON 1.1. */
export function ecsProtocol(operations: EcsOperations): ServiceProtocol {
  return awsJsonService({
    service: 'ecs',
    targetPrefix: ECS_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations,
    isKnownOperation,
    validate: validateInput,
    unsupported: (name) =>
      new UnsupportedFeatureException(`Berth does not implement ${name} yet. The README lists the ECS operations that work today.`),
  });
}

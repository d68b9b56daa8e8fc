import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { InvalidParameterException, UnsupportedFeatureException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ECS_MODEL, type EcsOperationName } from '../models/ecs.generated.js';
import type { OperationInput, Operations } from '../models/index.js';
import type { DomainContext } from '../../ecs/context.js';
import * as clusters from '../../ecs/clusters.js';
import * as instances from '../../ecs/containerInstances.js';
import * as accountSettings from '../../ecs/accountSettings.js';
import * as attributes from '../../ecs/attributes.js';
import * as tagging from '../../ecs/tagging.js';
import * as taskDefinitions from '../../ecs/taskDefinitions.js';
import * as tasks from '../../ecs/tasks.js';
import * as services from '../../ecs/services.js';
import * as taskProtection from '../../ecs/taskProtection.js';
import * as taskSets from '../../ecs/taskSets.js';
import { instanceFilter } from '../../ecs/instanceQuery.js';
import { toEcsError } from '../../ecs/errors.js';

export const ECS_TARGET_PREFIX = jsonProtocolOf(ECS_MODEL).targetPrefix;

export type EcsInput<Op extends EcsOperationName> = OperationInput<'ecs', Op>;
export type EcsOperations = Operations<'ecs'>;

/**
 * RunTask's placement lists as the scheduler declares them. The model leaves
 * each constraint's and strategy's `type` optional; the scheduler checks every
 * type at run time and rejects a missing or unknown one with ECS's message
 * (scheduler/engine.ts, scheduler/rankers.ts), so the lists pass unchanged.
 */
function schedulerPlacement(input: EcsInput<'RunTask'>): Omit<EcsInput<'RunTask'>, 'placementConstraints' | 'placementStrategy'> &
  Pick<tasks.RunTaskInput, 'placementConstraints' | 'placementStrategy'> {
  return input as Omit<EcsInput<'RunTask'>, 'placementConstraints' | 'placementStrategy'> &
    Pick<tasks.RunTaskInput, 'placementConstraints' | 'placementStrategy'>;
}

/** The operations of this part of the control plane, by ECS operation name. */
export function coreOperations(ctx: DomainContext): EcsOperations {
  /** Binds a domain function to the context and maps its errors; keeps its input type for the table's check. */
  const op =
    <I>(fn: (ctx: DomainContext, input: I) => Promise<unknown>): ((input: I) => Promise<unknown>) =>
    async (input) => {
      try {
        return await fn(ctx, input);
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
    DeregisterContainerInstance: op(instances.deregisterContainerInstance),
    DescribeContainerInstances: op(instances.describeContainerInstances),
    ListContainerInstances: op(async (c, input: EcsInput<'ListContainerInstances'>) =>
      instances.listContainerInstances(c, input, await instanceFilter(c, input.cluster, input.filter)),
    ),

    RunTask: op((c, input: EcsInput<'RunTask'>) => tasks.runTask(c, schedulerPlacement(input))),
    StartTask: op(tasks.startTask),
    StopTask: op(tasks.stopTask),
    DescribeTasks: op(tasks.describeTasks),
    ListTasks: op(tasks.listTasks),
    SubmitTaskStateChange: op((c, input: EcsInput<'SubmitTaskStateChange'>) => {
      // The model leaves `task` optional; without it there is no task to update.
      if (input.task === undefined) throw new InvalidParameterException('task is required.');
      return tasks.submitTaskStateChange(c, { ...input, task: input.task });
    }),
    SubmitContainerStateChange: op(tasks.submitContainerStateChange),
    UpdateTaskProtection: op(taskProtection.updateTaskProtection),
    GetTaskProtection: op(taskProtection.getTaskProtection),
    DiscoverPollEndpoint: (input, req) => {
      const proto = String(req.headers['x-forwarded-proto'] ?? 'http').split(',')[0]!.trim();
      const serverUrl = `${proto === 'https' ? 'https' : 'http'}://${String(req.headers.host ?? '127.0.0.1')}`;
      return instances.discoverPollEndpoint(ctx, input, serverUrl);
    },
    UpdateContainerInstancesState: op(instances.updateContainerInstancesState),

    PutAttributes: op(attributes.putAttributes),
    DeleteAttributes: op(attributes.deleteAttributes),
    ListAttributes: op(attributes.listAttributes),

    CreateService: op((c, input: EcsInput<'CreateService'>) => services.createService(c, input as services.CreateServiceInput)),
    UpdateService: op((c, input: EcsInput<'UpdateService'>) => services.updateService(c, input as services.UpdateServiceInput)),
    DeleteService: op(services.deleteService),
    DescribeServices: op(services.describeServices),
    ListServices: op(services.listServices),
    ListServicesByNamespace: op(services.listServicesByNamespace),
    ListServiceDeployments: op((c, input: EcsInput<'ListServiceDeployments'>) => services.listServiceDeployments(c, input as Parameters<typeof services.listServiceDeployments>[1])),
    DescribeServiceDeployments: op(services.describeServiceDeployments),
    DescribeServiceRevisions: op(services.describeServiceRevisions),
    StopServiceDeployment: op(services.stopServiceDeployment),
    ContinueServiceDeployment: op(services.continueServiceDeployment),

    CreateTaskSet: op(taskSets.createTaskSet),
    UpdateTaskSet: op(taskSets.updateTaskSet),
    UpdateServicePrimaryTaskSet: op(taskSets.updateServicePrimaryTaskSet),
    DeleteTaskSet: op(taskSets.deleteTaskSet),
    DescribeTaskSets: op(taskSets.describeTaskSets),

    PutAccountSetting: op(accountSettings.putAccountSetting),
    PutAccountSettingDefault: op(accountSettings.putAccountSettingDefault),
    DeleteAccountSetting: op(accountSettings.deleteAccountSetting),
    ListAccountSettings: op(accountSettings.listAccountSettings),

    TagResource: op(tagging.tagResource),
    UntagResource: op(tagging.untagResource),
    ListTagsForResource: op(tagging.listTagsForResource),
  };
}

/** ECS over AWS JSON 1.1. */
export function ecsProtocol(operations: EcsOperations): ServiceProtocol {
  // Constraint violations are InvalidParameterException, as ECS answers them.
  return awsJsonServiceOf('ecs', ECS_MODEL, {
    operations,
    unsupported: (name) =>
      new UnsupportedFeatureException(`Berth does not implement ${name} yet. The README lists the ECS operations that work today.`),
  });
}

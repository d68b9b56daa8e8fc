/**
 * The service reconciler with a traffic-shifting deployment's blue tasks held:
 * until its CLEAN_UP stage, a BLUE_GREEN, LINEAR or CANARY deployment keeps
 * every task of the deployments it replaces running (they serve production
 * while green scales up, takes traffic and bakes), whatever the rolling
 * rules — minimumHealthyPercent, maximumPercent — would do with them. The
 * held tasks are left out of the reconcile, so green scales up to the full
 * desired count beside them; they count in the service's figures; and the
 * deployment is neither completed nor steady while they are held.
 */
import { reconcile, type DeploymentVerdict, type ReconcileInput, type ServicePlan } from './reconcile.js';

export function reconcileHolding(held: ReadonlySet<string>, input: ReconcileInput): ServicePlan {
  if (held.size === 0 || input.taskSets !== undefined) return reconcile(input);
  const isHeld = (id: string) => held.has(id) && input.deployments.some((d) => d.id === id && d.status !== 'PRIMARY');
  const plan = reconcile({ ...input, deployments: input.deployments.filter((d) => !isHeld(d.id)), tasks: input.tasks.filter((t) => !isHeld(t.deploymentId)) });
  const deployments: DeploymentVerdict[] = input.deployments.map((d) => {
    if (!isHeld(d.id)) return plan.deployments.find((v) => v.id === d.id)!;
    const mine = input.tasks.filter((t) => t.deploymentId === d.id);
    return { id: d.id, runningCount: mine.filter((t) => t.running).length, pendingCount: mine.filter((t) => !t.running).length, drained: false };
  });
  const heldTasks = input.tasks.filter((t) => isHeld(t.deploymentId));
  const heldRunning = heldTasks.filter((t) => t.running).length;
  return {
    ...plan,
    deployments,
    runningCount: plan.runningCount + heldRunning,
    pendingCount: plan.pendingCount + heldTasks.length - heldRunning,
    completed: false,
    steady: false,
  };
}

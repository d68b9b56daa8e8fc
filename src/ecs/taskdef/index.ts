/**
 * Task definitions: RegisterTaskDefinition semantics and the resource
 * accounting the scheduler and task runner need. Everything here is pure.
 */
export type { EffectiveNetworkMode, RegisterTaskDefinitionInput, RegistrationContext, TaskDefinitionDoc } from './types.js';
export { effectiveNetworkMode } from './types.js';
export { normalizeTaskDefinition, normalizeContainer, normalizePortMapping, normalizeVolume, HEALTH_CHECK_DEFAULTS } from './normalize.js';
export { validateRegistration, type ValidatedFacts } from './validate.js';
export { computeCompatibilities, incompatibilityReasons, isFargateSize } from './compatibility.js';
export { computeRequiresAttributes } from './attributes.js';
export { taskResourceNeeds, containerMemoryReservation, type TaskResourceNeeds } from './resources.js';
export { parseCpu, parseMemory, TASK_CPU_MIN, TASK_CPU_MAX, MIN_CONTAINER_MEMORY_MIB } from './units.js';
export { findCycle } from './graph.js';

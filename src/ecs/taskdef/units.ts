/**
 * Task-level `cpu` and `memory` strings.
 *
 * ECS accepts `cpu` as CPU units ("1024") or vCPUs ("1 vCPU", "0.25 vcpu") and
 * `memory` as MiB ("2048") or GB ("2GB", "0.5 GB"), and stores both as decimal
 * strings of CPU units and MiB. 1 vCPU = 1024 units and 1 GB = 1024 MiB.
 */
import { ClientException } from '../../core/errors.js';

/** Supported task-level CPU for EC2 and external instances: 0.125 to 192 vCPUs. */
export const TASK_CPU_MIN = 128;
export const TASK_CPU_MAX = 196_608;

/** Docker 20.10 and later refuse memory limits and reservations below 6 MiB. */
export const MIN_CONTAINER_MEMORY_MIB = 6;

export const INVALID_TASK_CPU =
  "Invalid 'cpu' setting for task. Use CPU units (for example \"1024\") or vCPUs (for example \"1 vCPU\"); " +
  `the value must be a whole number of units between ${TASK_CPU_MIN} and ${TASK_CPU_MAX}.`;

export const INVALID_TASK_MEMORY =
  "Invalid 'memory' setting for task. Use MiB (for example \"2048\") or GB (for example \"2GB\"); " +
  `the value must be a whole number of MiB, at least ${MIN_CONTAINER_MEMORY_MIB}.`;

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const CPU_RE = new RegExp(`^${NUMBER}\\s*(vcpus?)?$`, 'i');
const MEMORY_RE = new RegExp(`^${NUMBER}\\s*(gib|gb|mib|mb)?$`, 'i');

/**
 * CPU units of a task-level `cpu` string. Throws ClientException when the
 * string is not a positive whole number of units. The 128..196608 range is a
 * registration rule checked separately.
 */
export function parseCpu(value: string): number {
  const m = CPU_RE.exec(value.trim());
  if (!m) throw new ClientException(INVALID_TASK_CPU);
  const n = Number(m[1]);
  const units = m[2] !== undefined ? n * 1024 : n;
  if (!Number.isSafeInteger(units) || units <= 0) throw new ClientException(INVALID_TASK_CPU);
  return units;
}

/**
 * MiB of a task-level `memory` string. Throws ClientException when the string
 * is not a positive whole number of MiB.
 */
export function parseMemory(value: string): number {
  const m = MEMORY_RE.exec(value.trim());
  if (!m) throw new ClientException(INVALID_TASK_MEMORY);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'mib').toLowerCase();
  const mib = unit === 'gb' || unit === 'gib' ? n * 1024 : n;
  if (!Number.isSafeInteger(mib) || mib <= 0) throw new ClientException(INVALID_TASK_MEMORY);
  return mib;
}

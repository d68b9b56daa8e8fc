import type { TargetHealth } from '../dataplane.js';

/** What `show stat` says about one server, the columns health depends on. */
export interface ServerStat {
  /** UP, DOWN, "UP 1/3" (going down), "DOWN 1/2" (going up), MAINT, DRAIN, "no check". */
  status: string;
  /** Last check: INI (none yet), L4OK, L7OK, L4CON, L4TOUT, L7TOUT, L7STS, L7RSP, SOCKERR... */
  checkStatus: string;
  /** HTTP status of the last HTTP check, when one was received. */
  checkCode: string;
}

/**
 * ELB's target health for one target from HAProxy's view of its server.
 *
 * `everHealthy` is whether the target has been healthy since it was
 * registered: a target that has not yet passed its healthy threshold is
 * `initial` (ELB routes nothing to it yet) unless its checks already fail.
 */
export function targetState(stat: ServerStat, draining: boolean, everHealthy: boolean): Pick<TargetHealth, 'state' | 'reason' | 'description'> {
  if (draining) return { state: 'draining', reason: 'Target.DeregistrationInProgress', description: 'Target deregistration is in progress' };
  const status = stat.status.split(' ')[0] ?? '';
  const check = stat.checkStatus.replace(/^\* ?/, '');
  if (stat.status === 'no check') return { state: 'unavailable', reason: 'Target.HealthCheckDisabled', description: 'Health checks are disabled' };
  if (status === 'UP' || status === 'DRAIN' || status === 'NOLB') return { state: 'healthy' };
  const failed = failure(check, stat.checkCode);
  if (status === 'DOWN' && failed && (everHealthy || !stat.status.includes('/'))) return { state: 'unhealthy', ...failed };
  if (!everHealthy) return { state: 'initial', reason: 'Elb.InitialHealthChecking', description: 'Initial health checking in progress' };
  return { state: 'unhealthy', ...(failed ?? { reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }) };
}

function failure(check: string, code: string): Pick<TargetHealth, 'reason' | 'description'> | undefined {
  if (check === '' || check === 'INI' || check.endsWith('OK')) return undefined;
  if (check === 'L7STS') return { reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${code}]` };
  if (check === 'L4TOUT' || check === 'L6TOUT' || check === 'L7TOUT') return { reason: 'Target.Timeout', description: 'Request timed out' };
  return { reason: 'Target.FailedHealthChecks', description: 'Health checks failed' };
}

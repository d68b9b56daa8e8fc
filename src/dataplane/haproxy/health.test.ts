import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetState } from './health.js';

describe('target health from HAProxy server state', () => {
  const stat = (status: string, checkStatus: string, checkCode = '') => ({ status, checkStatus, checkCode });

  it('maps checks to ELB states and reason codes', () => {
    assert.deepEqual(targetState(stat('UP', 'L7OK', '200'), false, false), { state: 'healthy' });
    assert.equal(targetState(stat('DOWN', 'INI'), false, false).reason, 'Elb.InitialHealthChecking');
    assert.equal(targetState(stat('DOWN 1/2', 'L7OK', '200'), false, false).state, 'initial', 'passing but not yet at the healthy threshold');
    assert.deepEqual(targetState(stat('DOWN', 'L7STS', '503'), false, true), {
      state: 'unhealthy',
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [503]',
    });
    assert.equal(targetState(stat('DOWN', 'L7TOUT'), false, true).reason, 'Target.Timeout');
    assert.equal(targetState(stat('DOWN', 'L4TOUT'), false, false).reason, 'Target.Timeout');
    assert.equal(targetState(stat('DOWN', 'L4CON'), false, true).reason, 'Target.FailedHealthChecks');
    assert.equal(targetState(stat('DOWN 1/2', 'L7OK'), false, true).state, 'unhealthy', 'recovering, not yet at the healthy threshold');
    assert.equal(targetState(stat('UP 1/2', 'L7STS', '500'), false, true).state, 'healthy', 'failing, not yet at the unhealthy threshold');
    assert.equal(targetState(stat('MAINT', 'L7OK'), true, true).state, 'draining');
  });
});

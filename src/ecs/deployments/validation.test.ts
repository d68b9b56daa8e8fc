import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkShiftSettings } from './validation.js';

const refused = (input: Parameters<typeof checkShiftSettings>[0], message: RegExp) =>
  assert.throws(() => checkShiftSettings(input), (err: Error) => err.constructor.name === 'InvalidParameterException' && message.test(err.message));

describe('traffic-shifting deployment settings', () => {
  it('takes ECS\'s documented ranges and refuses what lies outside them', () => {
    checkShiftSettings({ strategy: 'LINEAR', bakeTimeInMinutes: 1440, linearConfiguration: { stepPercent: 3, stepBakeTimeInMinutes: 0 } });
    checkShiftSettings({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 0.1, canaryBakeTimeInMinutes: 1440 } });
    checkShiftSettings({ strategy: 'BLUE_GREEN' });
    refused({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1441 }, /bakeTimeInMinutes must be between 0 and 1440/);
    refused({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 2.9 } }, /stepPercent must be a multiple of 0.1 between 3.0 and 100.0/);
    refused({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 10.05 } }, /stepPercent/);
    refused({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 0 } }, /canaryPercent/);
    refused({ strategy: 'CANARY', canaryConfiguration: { canaryBakeTimeInMinutes: -1 } }, /canaryBakeTimeInMinutes/);
    refused({ strategy: 'BLUE_GREEN', linearConfiguration: { stepPercent: 10 } }, /only be specified with the LINEAR/);
    refused({ strategy: 'LINEAR', canaryConfiguration: { canaryPercent: 10 } }, /only be specified with the CANARY/);
  });

  it('refuses lifecycle hooks, which would invoke Lambda functions Berth does not serve', () => {
    refused({ strategy: 'BLUE_GREEN', lifecycleHooks: [{ hookTargetArn: 'arn:aws:lambda:us-east-1:000000000000:function:f' }] }, /lifecycle hooks are not supported by Berth/);
    checkShiftSettings({ strategy: 'BLUE_GREEN', lifecycleHooks: [] });
  });
});

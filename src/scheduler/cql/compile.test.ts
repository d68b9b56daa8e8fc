import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instance } from '../testing.js';
import { CqlSyntaxError, compareVersions, parseCql, parseDateSpan } from './index.js';
import type { CqlContext, CqlInstance } from './types.js';

const web = instance({
  id: 'a',
  ec2InstanceId: 'i-abcd1234',
  agentVersion: '1.14.5',
  registeredAt: Date.UTC(2018, 1, 12, 10, 30, 0), // 2018-02-12T10:30:00Z
  attributes: {
    'ecs.instance-type': 'g2.2xlarge',
    'ecs.availability-zone': 'us-east-1a',
    'ecs.capability.privileged-container': null,
    cores: '16',
  },
  groups: { 'service:production': 2, 'family:web': 1 },
});
const bare = instance({ id: 'b', ec2InstanceId: '', agentConnected: false, registeredAt: Date.UTC(2018, 1, 14) });

const matches = (expr: string, inst: CqlInstance = web, ctx?: CqlContext): boolean => parseCql(expr).matches(inst, ctx);

function rejects(expr: string, problem: RegExp, position: number): void {
  assert.throws(() => parseCql(expr), (err: unknown) => {
    assert.ok(err instanceof CqlSyntaxError, String(err));
    assert.match(err.message, problem);
    assert.equal(err.position, position, expr);
    return true;
  });
}

describe('CQL evaluation', () => {
  it('evaluates the examples of the ECS documentation', () => {
    assert.equal(matches('attribute:ecs.instance-type == t2.small'), false);
    assert.equal(matches('attribute:ecs.availability-zone in [us-east-1a, us-east-1b]'), true);
    assert.equal(matches('attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d'), true);
    assert.equal(matches('task:group == service:production'), true);
    assert.equal(matches('not(task:group == database)'), true);
    assert.equal(matches('runningTasksCount == 1'), false);
    assert.equal(matches('runningTasksCount == 3'), true);
    assert.equal(matches('agentVersion < 1.14.5'), false);
    assert.equal(matches('registeredAt < 2018-02-13'), true);
    assert.equal(matches("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"), true);
  });

  it('agentConnected compares with true and false', () => {
    assert.equal(matches('agentConnected == true'), true);
    assert.equal(matches('agentConnected == TRUE'), true);
    assert.equal(matches('agentConnected != true', bare), true);
    assert.equal(matches('agentConnected in [false]', bare), true);
    assert.equal(matches('agentConnected !in [false]', bare), false);
    assert.equal(matches('agentConnected =~ t.*'), true);
    assert.equal(matches('agentConnected !~ t.*', bare), true);
    rejects('agentConnected == yes', /Invalid value 'yes' for agentConnected/, 18);
  });

  it('agentVersion compares as versions', () => {
    assert.equal(compareVersions('1.9.0', '1.14.5'), -1);
    assert.equal(compareVersions('1.14', '1.14.0'), 0);
    assert.equal(matches('agentVersion > 1.9.9'), true, 'numeric, not lexical: 14 > 9');
    assert.equal(matches('agentVersion >= 1.14.5'), true);
    assert.equal(matches('agentVersion <= 1.14.4'), false);
    assert.equal(matches('agentVersion == 1.14.5.0'), true);
    assert.equal(matches('agentVersion != 1.14.5'), false);
    assert.equal(matches('agentVersion in [1.13.0, 1.14.5]'), true);
    assert.equal(matches('agentVersion exists'), true);
    // An instance that never reported a version satisfies no comparison but the negations.
    assert.equal(matches('agentVersion < 99', bare), false);
    assert.equal(matches('agentVersion >= 0', bare), false);
    assert.equal(matches('agentVersion != 1.0.0', bare), true);
    assert.equal(matches('agentVersion !exists', bare), true);
    rejects('agentVersion > latest', /Invalid version 'latest'/, 15);
  });

  it('attribute:<name> compares strings, and numbers when both sides are numeric', () => {
    assert.equal(matches('attribute:cores > 8'), true, '16 > 8 numerically although "16" < "8" as strings');
    assert.equal(matches('attribute:cores >= 16'), true);
    assert.equal(matches('attribute:cores < 16.5'), true);
    assert.equal(matches('attribute:cores <= 15'), false);
    assert.equal(matches('attribute:ecs.availability-zone > us-east-1'), true, 'string order');
    assert.equal(matches('attribute:ecs.availability-zone < us-east-1a'), false);
    assert.equal(matches('attribute:cores == 16.0'), false, '== is string equality');
    assert.equal(matches('attribute:ecs.instance-type equals g2.2xlarge'), true);
    assert.equal(matches('attribute:ecs.instance-type not_in [g2.2xlarge, t2.small]'), false);
  });

  it('distinguishes attributes without a value from missing ones', () => {
    assert.equal(matches('attribute:ecs.capability.privileged-container exists'), true);
    assert.equal(matches('attribute:ecs.capability.privileged-container !exists'), false);
    assert.equal(matches('attribute:ecs.capability.privileged-container == x'), false);
    assert.equal(matches('attribute:ecs.capability.privileged-container =~ .*'), false);
    assert.equal(matches('attribute:missing exists'), false);
    assert.equal(matches('attribute:missing not_exists'), true);
    assert.equal(matches('attribute:missing == x'), false);
    assert.equal(matches('attribute:missing != x'), true);
    assert.equal(matches('attribute:missing > 0'), false);
    assert.equal(matches('attribute:missing < 0'), false);
  });

  it('does not see inherited object properties as attributes', () => {
    assert.equal(matches('attribute:constructor exists'), false);
    assert.equal(matches('attribute:__proto__ exists'), false);
  });

  it('ec2InstanceId is absent on instances that are not EC2 instances', () => {
    assert.equal(matches('ec2InstanceId == i-abcd1234'), true);
    assert.equal(matches('ec2InstanceId =~ i-[0-9a-f]+'), true);
    assert.equal(matches('ec2InstanceId exists'), true);
    assert.equal(matches('ec2InstanceId exists', bare), false);
    assert.equal(matches('ec2InstanceId != i-abcd1234', bare), true);
  });

  it('registeredAt compares with the day or second the argument names', () => {
    // web registered 2018-02-12T10:30:00Z
    assert.equal(matches('registeredAt == 2018-02-12'), true);
    assert.equal(matches('registeredAt > 2018-02-11'), true);
    assert.equal(matches('registeredAt > 2018-02-12'), false, 'not after the 12th: during it');
    assert.equal(matches('registeredAt >= 2018-02-12'), true);
    assert.equal(matches('registeredAt <= 2018-02-12'), true);
    assert.equal(matches('registeredAt < 2018-02-12'), false);
    assert.equal(matches('registeredAt == 2018-02-12T10:30:00Z'), true);
    assert.equal(matches('registeredAt == 2018-02-12T10:30:00'), true, 'no offset means UTC');
    assert.equal(matches('registeredAt == 2018-02-12T12:30:00+02:00'), true);
    assert.equal(matches('registeredAt < 2018-02-12T10:30:00.000Z'), false);
    assert.equal(matches('registeredAt <= 2018-02-12T10:30:00.000Z'), true);
    assert.equal(matches('registeredAt < 2018-02-12T10:30:00.001Z'), true, 'milliseconds narrow the span to one ms');
    assert.equal(matches('registeredAt > 2018-02-12T10:29:59Z'), true);
    assert.equal(matches('registeredAt != 2018-02-12'), false);
    assert.equal(matches('registeredAt in [2018-01-01, 2018-02-12]'), true);
    assert.equal(matches('registeredAt exists'), true);
    assert.deepEqual(parseDateSpan('2018-06-18'), { from: Date.UTC(2018, 5, 18), to: Date.UTC(2018, 5, 19) });
    rejects('registeredAt < 2018-02-30', /Invalid date '2018-02-30'/, 15);
    rejects('registeredAt < 2018-2-3', /Invalid date/, 15);
    rejects('registeredAt < yesterday', /Invalid date/, 15);
  });

  it('runningTasksCount counts tasks the batch has planned on the instance', () => {
    assert.equal(matches('runningTasksCount < 4'), true);
    assert.equal(matches('runningTasksCount < 4', web, { pendingTasks: 1, pendingGroup: 'x' }), false);
    assert.equal(matches('runningTasksCount in [0, 4]', web, { pendingTasks: 1, pendingGroup: 'x' }), true);
    assert.equal(matches('runningTasksCount > 2.5'), true);
    assert.equal(matches('runningTasksCount != 3'), false);
    rejects('runningTasksCount > many', /Invalid number 'many'/, 20);
  });

  it('task:group holds when any group on the instance satisfies the comparison', () => {
    assert.equal(matches('task:group == family:web'), true);
    assert.equal(matches('task:group != family:web'), false, 'anti-affinity: the negation of ==');
    assert.equal(matches('task:group in [service:db, family:web]'), true);
    assert.equal(matches('task:group !in [service:db, service:cache]'), true);
    assert.equal(matches('task:group =~ service:.*'), true);
    assert.equal(matches('task:group !~ service:.*'), false);
    assert.equal(matches('task:group exists'), true);
    assert.equal(matches('task:group exists', bare), false);
    assert.equal(matches('task:group > family:a'), true);
    // Groups with a count of zero hold no task.
    assert.equal(matches('task:group == service:gone', instance({ groups: { 'service:gone': 0 } })), false);
    // Tasks planned by the batch count.
    const ctx = { pendingTasks: 1, pendingGroup: 'service:db' };
    assert.equal(matches('task:group == service:db', bare, ctx), true);
    assert.equal(matches('not(task:group == service:db)', bare, ctx), false);
    assert.equal(matches('task:group exists', bare, ctx), true);
    assert.equal(matches('task:group == service:db', bare, { pendingTasks: 0, pendingGroup: 'service:db' }), false);
  });

  it('combines conditions with and, or, not and parentheses', () => {
    assert.equal(matches('agentConnected == false or attribute:cores > 8 and runningTasksCount == 0'), false);
    assert.equal(matches('(agentConnected == false or attribute:cores > 8) and runningTasksCount == 3'), true);
    assert.equal(matches('!(attribute:cores > 8) || task:group == family:web'), true);
    assert.equal(matches('not attribute:cores > 8 and task:group == family:web'), false);
  });

  it('tells whether an expression depends on task state', () => {
    assert.equal(parseCql('attribute:a == b or ec2InstanceId exists').dependsOnTasks, false);
    assert.equal(parseCql('attribute:a == b or not(task:group == x)').dependsOnTasks, true);
    assert.equal(parseCql('runningTasksCount < 10').dependsOnTasks, true);
  });

  it('matches patterns against the whole value', () => {
    assert.equal(matches('attribute:ecs.instance-type =~ g2'), false);
    assert.equal(matches('attribute:ecs.instance-type =~ .*2xl.*'), true);
    assert.equal(matches('attribute:ecs.instance-type =~ (g2|p3)\\.2xlarge'), true);
    assert.equal(matches("attribute:ecs.instance-type =~ 'g2\\.2xlarge|t2\\.small'"), true);
  });
});

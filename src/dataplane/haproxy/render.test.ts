import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetGroup, type DataPlaneConfig, type Target } from '../model.js';
import { planRuntime, runtimeAnswerOk } from './plan.js';
import { backendName, conditionAcl, conditionAcls, failOpenName, render, serverName, type DrainingTargets } from './render.js';

const paths = { dir: '/run/berth', adminSocket: '/run/berth/admin.sock', stateFile: '/run/berth/state' };
const options = { hardStopAfterSeconds: 30 };

function config(targets: Target[], rules = 0, sticky = false): DataPlaneConfig {
  return {
    targetGroups: [targetGroup({ id: 'tg', targets, ...(sticky ? { stickiness: { type: 'lb_cookie' as const, durationSeconds: 60 } } : {}) })],
    loadBalancers: [
      {
        id: 'lb',
        type: 'application',
        idleTimeoutSeconds: 60,
        listeners: [
          {
            id: 'http',
            port: 8080,
            protocol: 'HTTP',
            rules: Array.from({ length: rules }, (_, i) => ({ priority: 10 - i, conditions: [{ field: 'path-pattern' as const, values: [`/p${i}`] }], action: { type: 'fixed-response' as const, statusCode: 404 } })),
            defaultAction: { type: 'forward', targetGroups: [{ targetGroupId: 'tg' }] },
          },
        ],
      },
    ],
  };
}

const t1 = { host: '10.0.0.1', port: 80 };
const t2 = { host: '10.0.0.2', port: 80 };

describe('HAProxy rendering', () => {
  it('changes only server lines when targets change, and the structure when rules do', () => {
    const one = render(config([t1]), paths, options);
    const two = render(config([t1, t2]), paths, options);
    assert.equal(one.structure, two.structure);
    assert.notEqual(one.text, two.text);
    assert.notEqual(render(config([t1], 1), paths, options).structure, one.structure);
    assert.ok(two.text.includes(`server ${serverName(t2)} 10.0.0.2:80 weight 1 check inter 30000ms rise 5 fall 2`));
  });

  it('tries rules by ascending priority whatever their order in the model', () => {
    const text = render(config([t1], 3), paths, options).text;
    const order = [...text.matchAll(/acl r(\d)c0 path -m str '\/p(\d)'/g)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(order, ['1:2', '2:1', '3:0'], 'priority 8 (/p2) first, then 9, then 10');
  });

  it('quotes values so HAProxy reads them literally', () => {
    assert.equal(conditionAcl({ field: 'http-header', headerName: 'X-Id', values: ["it's $x"] }), `req.fhdr(X-Id) -m reg -i '^it\\'\\''s\\ \\$x$'`);
    assert.equal(conditionAcl({ field: 'query-string', values: [{ key: 'a', value: 'b?' }] }), `query -m reg -i '(^|&)a=b[^&](&|$)'`);
    assert.equal(conditionAcl({ field: 'source-ip', values: ['10.0.0.0/8'] }), 'src 10.0.0.0/8');
    assert.deepEqual(conditionAcls({ field: 'path-pattern', values: ['/a', '/b/*', '/c/*.png', '/d?'] }), [
      `path -m str '/a'`,
      `path -m beg '/b/'`,
      String.raw`path -m reg '^/c/.*\.png$' '^/d.$'`,
    ]);
  });
});

describe('runtime plan', () => {
  const be = backendName('tg');
  it('adds, drains, revives, reweighs and deletes targets in place', () => {
    const before = render(config([t1]), paths, options);
    const added = render(config([t1, { ...t2, weight: 3 }]), paths, options);
    const s2 = `${be}/${serverName(t2)}`;
    // Each target has an unchecked backup twin that serves when every target is down (fail-open).
    const f2 = `${be}/${failOpenName(serverName(t2))}`;
    assert.deepEqual(planRuntime(before, added), [
      `add server ${s2} 10.0.0.2:80 weight 3 check inter 30000ms rise 5 fall 2`,
      `enable health ${s2}`,
      `add server ${f2} 10.0.0.2:80 weight 3 backup`,
      `enable server ${s2}`,
      `enable server ${f2}`,
      `set server ${s2} health down`,
    ]);
    const draining: DrainingTargets = new Map([['tg', new Map([['10.0.0.2:80', { ...t2, weight: 3 }]])]]);
    const drained = render(config([t1]), paths, options, draining);
    assert.deepEqual(planRuntime(added, drained), [`set server ${s2} state maint`, `set server ${f2} state maint`]);
    assert.deepEqual(planRuntime(drained, render(config([t1, t2]), paths, options)), [
      `set server ${s2} state ready`,
      `set server ${s2} weight 1`,
      `set server ${f2} state ready`,
      `set server ${f2} weight 1`,
    ]);
    assert.deepEqual(planRuntime(drained, before), [
      `set server ${s2} state maint`,
      `shutdown sessions server ${s2}`,
      `del server ${s2}`,
      `set server ${f2} state maint`,
      `shutdown sessions server ${f2}`,
      `del server ${f2}`,
    ]);
    assert.deepEqual(planRuntime(before, before), []);
  });

  it('lets the first target of an empty group serve before its first check, and refreshes sticky cookies', () => {
    const plan = planRuntime(render(config([], 0, true), paths, options), render(config([t1], 0, true), paths, options));
    assert.ok(!plan.some((c) => c.includes('health down')));
    assert.equal(plan.at(-1), `enable dynamic-cookie backend ${be}`);
  });

  it('recognises what HAProxy answers on success', () => {
    assert.ok(runtimeAnswerOk('add server a/b 1.2.3.4:80', 'New server registered.\n'));
    assert.ok(!runtimeAnswerOk('del server a/b', 'Server still has connections attached to it, cannot remove it.\n'));
    assert.ok(runtimeAnswerOk('set server a/b state maint', '\n'));
    assert.ok(!runtimeAnswerOk('set server a/b state maint', 'No such server.\n'));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  JsonLineSplitter,
  demuxLogs,
  dockerConnection,
  dockerTime,
  healthTest,
  hostPortBindings,
  labelFilterArgs,
  normalizeArchitecture,
  pullParams,
  registryAuthHeader,
  toContainerEvent,
  toCreateOptions,
} from './docker-mapping.js';
import { withDefaultTag } from './docker.js';
import { MANAGED_LABEL } from './runtime.js';

describe('toCreateOptions', () => {
  it('always marks the container as managed and never lets the engine restart it', () => {
    const o = toCreateOptions({ name: 'c', image: 'img', labels: { a: 'b' } });
    assert.deepEqual(o.Labels, { a: 'b', [MANAGED_LABEL]: 'true' });
    assert.deepEqual(o.HostConfig?.RestartPolicy, { Name: 'no' });
    assert.equal(o.HostConfig?.NetworkMode, 'bridge');
  });

  it('publishes each binding, dynamic when the host port is 0 or absent', () => {
    const o = toCreateOptions({
      name: 'c',
      image: 'img',
      portBindings: [
        { containerPort: 80, hostPort: 0, hostIp: '127.0.0.1' },
        { containerPort: 80, hostPort: 8080 },
        { containerPort: 53, protocol: 'udp' },
      ],
    });
    assert.deepEqual(o.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(o.HostConfig?.PortBindings, {
      '80/tcp': [
        { HostIp: '127.0.0.1', HostPort: '' },
        { HostIp: '', HostPort: '8080' },
      ],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
  });

  it('turns ECS health check seconds into nanoseconds with ECS defaults', () => {
    const o = toCreateOptions({ name: 'c', image: 'i', healthCheck: { command: ['CMD-SHELL', 'true'], interval: 2 } });
    assert.deepEqual(o.Healthcheck, {
      Test: ['CMD-SHELL', 'true'],
      Interval: 2e9,
      Timeout: 5e9,
      Retries: 3,
      StartPeriod: 0,
    });
    assert.deepEqual(healthTest(['/bin/check', '-q']), ['CMD', '/bin/check', '-q']);
    assert.deepEqual(healthTest(['NONE']), ['NONE']);
  });

  it('binds host paths, mounts named volumes, and sizes tmpfs and swap', () => {
    const o = toCreateOptions({
      name: 'c',
      image: 'i',
      memoryBytes: 100,
      maxSwapBytes: 0,
      mounts: [
        { type: 'bind', source: '/srv', containerPath: '/data', readOnly: true },
        { type: 'volume', source: 'vol', containerPath: '/v' },
      ],
      volumesFrom: [{ sourceContainer: 'other' }],
      tmpfs: [{ containerPath: '/t', sizeMiB: 4, mountOptions: ['noexec'] }],
      sharedMemorySizeMiB: 2,
    });
    const h = o.HostConfig;
    assert.deepEqual(h?.Binds, ['/srv:/data:ro']);
    assert.deepEqual(h?.Mounts, [{ Type: 'volume', Source: 'vol', Target: '/v', ReadOnly: false }]);
    assert.deepEqual(h?.VolumesFrom, ['other:rw']);
    assert.deepEqual(h?.Tmpfs, { '/t': 'size=4m,noexec' });
    assert.equal(h?.MemorySwap, 100);
    assert.equal(h?.ShmSize, 2 * 1024 * 1024);
  });

  it('leaves unset options to the engine', () => {
    const h = toCreateOptions({ name: 'c', image: 'i' }).HostConfig ?? {};
    for (const key of ['Memory', 'MemorySwap', 'CpuShares', 'Binds', 'Mounts', 'Links', 'Init', 'LogConfig']) {
      assert.ok(!(key in h), `${key} should be absent`);
    }
  });
});

describe('reading engine responses', () => {
  it('treats Docker zero time as never', () => {
    assert.equal(dockerTime('0001-01-01T00:00:00Z'), null);
    assert.equal(dockerTime(''), null);
    assert.equal(dockerTime('2024-05-01T10:00:00.5Z')?.toISOString(), '2024-05-01T10:00:00.500Z');
  });

  it('lists published ports, skipping unbound ones', () => {
    assert.deepEqual(
      hostPortBindings({
        '80/tcp': [
          { HostIp: '0.0.0.0', HostPort: '32768' },
          { HostIp: '::', HostPort: '32768' },
        ],
        '53/udp': [{ HostIp: '127.0.0.1', HostPort: '40000' }],
        '9000/tcp': null,
      }),
      [
        { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 40000 },
        { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 32768 },
        { containerPort: 80, protocol: 'tcp', hostIp: '::', hostPort: 32768 },
      ],
    );
  });

  it('filters on the managed label plus the caller’s labels', () => {
    assert.deepEqual(labelFilterArgs({ a: 'b', c: true }), [`${MANAGED_LABEL}=true`, 'a=b', 'c']);
  });

  it('spells architectures the ECS way', () => {
    assert.equal(normalizeArchitecture('x86_64'), 'x86_64');
    assert.equal(normalizeArchitecture('aarch64'), 'arm64');
  });

  it('parses Docker host strings', () => {
    assert.deepEqual(dockerConnection('unix:///run/d.sock'), { socketPath: '/run/d.sock' });
    assert.deepEqual(dockerConnection('/run/d.sock'), { socketPath: '/run/d.sock' });
    assert.deepEqual(dockerConnection('tcp://10.0.0.1:2375'), { host: '10.0.0.1', port: '2375', protocol: 'http' });
    assert.deepEqual(dockerConnection('https://h:2376'), { host: 'h', port: '2376', protocol: 'https' });
  });

  it('splits references into the pull parameters Docker takes', () => {
    assert.deepEqual(pullParams('busybox:latest'), { fromImage: 'busybox', tag: 'latest' });
    assert.deepEqual(pullParams('127.0.0.1:5000/team/app:1.2'), { fromImage: '127.0.0.1:5000/team/app', tag: '1.2' });
    assert.deepEqual(pullParams('127.0.0.1:5000/team/app'), { fromImage: '127.0.0.1:5000/team/app' });
    assert.deepEqual(pullParams('app@sha256:abc'), { fromImage: 'app', tag: 'sha256:abc' });
    const auth = registryAuthHeader({ username: 'u', password: '>>>???', serverAddress: 'r.example' });
    assert.doesNotMatch(auth, /[+/]/, 'URL-safe alphabet');
    assert.deepEqual(JSON.parse(Buffer.from(auth.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')), {
      username: 'u',
      password: '>>>???',
      serveraddress: 'r.example',
    });
  });

  it('adds the latest tag only where Docker would', () => {
    assert.equal(withDefaultTag('nginx'), 'nginx:latest');
    assert.equal(withDefaultTag('localhost:5000/app'), 'localhost:5000/app:latest');
    assert.equal(withDefaultTag('localhost:5000/app:v1'), 'localhost:5000/app:v1');
    assert.equal(withDefaultTag('app@sha256:abc'), 'app@sha256:abc');
  });
});

describe('events', () => {
  const msg = (Action: string, attrs: Record<string, string> = {}) => ({
    Type: 'container',
    Action,
    Actor: { ID: 'abc', Attributes: { name: 'web', image: 'img', 'berth.task': 't1', ...attrs } },
    time: 1700000000,
    timeNano: 1700000000123456789,
  });

  it('reads die exit codes, health statuses and labels', () => {
    const die = toContainerEvent(msg('die', { exitCode: '137' }));
    assert.deepEqual(die, {
      kind: 'die',
      exitCode: 137,
      containerId: 'abc',
      name: 'web',
      labels: { 'berth.task': 't1' },
      time: new Date(1700000000123),
    });
    const health = toContainerEvent(msg('health_status: unhealthy'));
    assert.equal(health?.kind === 'health_status' && health.health, 'unhealthy');
    assert.equal(toContainerEvent(msg('exec_start: sh')), null);
    assert.equal(toContainerEvent({ ...msg('start'), Type: 'network' }), null);
  });

  it('splits newline-delimited JSON across chunk boundaries', () => {
    const s = new JsonLineSplitter();
    assert.deepEqual(s.push('{"a":1}\n{"b"'), [{ a: 1 }]);
    assert.deepEqual(s.push(':2}\nnot json\n\n{"c":3}\n'), [{ b: 2 }, { c: 3 }]);
  });
});

describe('demuxLogs', () => {
  const frame = (stream: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('joins stdout and stderr frames in order', () => {
    assert.equal(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')])), 'out\nerr\nmore\n');
  });

  it('returns raw TTY output unchanged', () => {
    assert.equal(demuxLogs(Buffer.from('plain tty output\n')), 'plain tty output\n');
  });
});

// The data-plane contract against a real HAProxy (Debian's haproxy package,
// installed by scripts/ensure-proxies.sh) and real backends on loopback.
import { dataPlaneContract } from '../src/dataplane/dataplane.contract.js';
import { HAProxyDataPlane } from '../src/dataplane/haproxy/haproxyDataPlane.js';

dataPlaneContract('HAProxy', () => {
  const plane = new HAProxyDataPlane({ healthPollMs: 200, hardStopAfterSeconds: 10 });
  return {
    plane,
    crash: () => {
      for (const pid of plane.pids) process.kill(pid, 'SIGKILL');
      return Promise.resolve();
    },
  };
});

// The data-plane contract against a real HAProxy (Debian's haproxy package,
// installed by scripts/ensure-proxies.sh) and real backends on loopback.
import { dataPlaneContract } from '../src/dataplane/dataplane.contract.js';
import { HAProxyDataPlane } from '../src/dataplane/haproxy/haproxyDataPlane.js';
import { waitFor } from '../src/dataplane/testing.js';

dataPlaneContract('HAProxy', () => {
  const plane = new HAProxyDataPlane({ healthPollMs: 200, hardStopAfterSeconds: 10 });
  return {
    plane,
    // kill -9 of the master and its worker; resolves once the data plane has
    // seen the master die (it then starts HAProxy again by itself).
    async crash() {
      const [master, ...workers] = plane.pids;
      if (master === undefined) throw new Error('HAProxy is not running');
      for (const pid of [master, ...workers]) process.kill(pid, 'SIGKILL');
      await waitFor('the data plane to see HAProxy die', () => (plane.pids[0] !== master ? true : undefined), 10_000, 10);
    },
  };
});

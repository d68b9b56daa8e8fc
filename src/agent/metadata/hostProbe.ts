/**
 * Facts about the Docker host the ContainerRuntime interface does not carry:
 * the engine's API version (for the docker-remote-api capabilities) and the
 * default bridge's gateway address (where bridge-mode containers reach the
 * host, hence the metadata endpoint).
 */
import { networkInterfaces } from 'node:os';
import { DockerApi } from '../runtime/docker-api.js';
import { dockerConnection } from '../runtime/docker-mapping.js';

export interface DockerHostFacts {
  /** e.g. `1.41`; undefined when the engine did not say. */
  apiVersion?: string;
  /** IPv4 gateway of the `bridge` network, e.g. `172.17.0.1`. */
  bridgeGateway?: string;
}

/** Asks the engine; every fact is optional and a failure yields none. */
export async function probeDockerHost(dockerHost?: string): Promise<DockerHostFacts> {
  const api = new DockerApi(dockerConnection(dockerHost));
  const facts: DockerHostFacts = {};
  try {
    const v = await api.json<{ ApiVersion?: string }>({ method: 'GET', path: '/version' });
    if (v.ApiVersion) facts.apiVersion = v.ApiVersion;
  } catch {
    // unknown
  }
  try {
    const n = await api.json<{ IPAM?: { Config?: { Gateway?: string }[] } }>({ method: 'GET', path: '/networks/bridge' });
    const gw = n.IPAM?.Config?.map((c) => c.Gateway).find((g) => g && /^\d+\.\d+\.\d+\.\d+$/.test(g));
    if (gw) facts.bridgeGateway = gw;
  } catch {
    // unknown
  } finally {
    api.close();
  }
  return facts;
}

/** Docker's default bridge gateway, the usual answer when the engine does not tell. */
export const DEFAULT_BRIDGE_GATEWAY = '172.17.0.1';

type Interfaces = ReturnType<typeof networkInterfaces>;

function localIPv4(interfaces: Interfaces): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, addrs] of Object.entries(interfaces)) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') out.set(a.address, name);
  }
  return out;
}

/**
 * Where the metadata endpoint listens and what address containers are told.
 * The bridge gateway when it is an address of this machine (the engine is
 * local); otherwise `docker0`'s address; otherwise every interface, with the
 * conventional gateway advertised.
 */
export function metadataAddress(
  bridgeGateway: string | undefined,
  interfaces: Interfaces = networkInterfaces(),
): { listenHost: string; advertiseHost: string } {
  const local = localIPv4(interfaces);
  if (bridgeGateway && local.has(bridgeGateway)) return { listenHost: bridgeGateway, advertiseHost: bridgeGateway };
  const docker0 = [...local].find(([, name]) => name === 'docker0')?.[0];
  if (!bridgeGateway && docker0) return { listenHost: docker0, advertiseHost: docker0 };
  return { listenHost: '0.0.0.0', advertiseHost: bridgeGateway ?? DEFAULT_BRIDGE_GATEWAY };
}

// Whether a host is this machine or on a private network (loopback, RFC 1918,
// link-local, IPv6 unique-local): where kind, minikube, k3d and Docker Desktop
// put their apiservers, and where a public production endpoint is not.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const LOCAL = new BlockList();
LOCAL.addAddress('0.0.0.0');
LOCAL.addSubnet('127.0.0.0', 8);
LOCAL.addSubnet('10.0.0.0', 8);
LOCAL.addSubnet('172.16.0.0', 12);
LOCAL.addSubnet('192.168.0.0', 16);
LOCAL.addSubnet('169.254.0.0', 16);
LOCAL.addAddress('::', 'ipv6');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addSubnet('fc00::', 7, 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');

export type Locality = 'local' | 'remote' | 'unresolved';

/** 'local' when every address the host resolves to is local. */
export async function hostLocality(host: string): Promise<Locality> {
  const bare = host.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  const addresses = family ? [{ address: bare, family }] : await lookup(bare, { all: true }).catch(() => []);
  if (addresses.length === 0) return 'unresolved';
  return addresses.every((a) => LOCAL.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) ? 'local' : 'remote';
}

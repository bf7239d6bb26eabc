// Several real proxy servers sharing one host CA, as replicas behind one
// address: each on its own HTTPS listener (port 0) with its own replica id
// and set, a round-robin TCP load balancer in front (TLS passes through, as
// with haproxy in TCP mode), an HTTPS upstream standing for the apiserver,
// and an agent identity issued by the host CA. The proxies' AuthClient is
// the in-memory one of the proxy's unit tests: no store is needed to test
// how agents reach the replicas. (test/ha*.test.ts runs the whole thing on
// PostgreSQL behind haproxy.)
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createConnection, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock, type CertAuthority } from '@ztsh/auth';
import { createProxyListener, createProxyServer, replicaSet, type ProxyServer, type UpdatableReplicaSet } from '@ztsh/proxy';
import { createTestTls, type TestTls } from '@ztsh/testkit';
import { MemoryAuthClient } from '../../packages/proxy/src/kube-access.fixtures.ts';

export interface Replica {
  id: string;
  port: number;
  proxy: ProxyServer;
  replicas: UpdatableReplicaSet;
  /** Upgrade requests that reached this replica on /v1/tunnel. */
  dials: number;
  closed: boolean;
}

export interface ReplicaWorld {
  tls: TestTls;
  hostCa: CertAuthority;
  auth: MemoryAuthClient;
  replicas: Replica[];
  /** The load balancer's address: what agents dial. */
  url: URL;
  /** Which replica the load balancer sends the next connection to (default: round robin over the open ones). */
  route: (next: () => Replica) => void;
  /** The apiserver double: requests it received, with the identity the agent asked for. */
  upstream: { url: URL; ca: string; seen: { path: string; user: string | undefined }[] };
  /** A state dir holding an agent identity for `cluster`, as a joined agent keeps it. */
  agentStateDir(cluster: string): string;
  /** Tells every open replica that these are the live ones (what the store's heartbeats would say). */
  announce(ids: string[]): void;
  close(): Promise<void>;
}

export async function startReplicaWorld(ids: string[]): Promise<ReplicaWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-replicas-'));
  const tls = await createTestTls();
  const hostCa = await loadOrCreateAuthority({ dir: join(dir, 'ca'), kind: 'host', clusterName: 'replicas-test', clock: systemClock });
  const auth = new MemoryAuthClient('', () => new Date());
  // The unit tests' client trusts no host CA; these replicas trust the one that issued the agents' certificates.
  Object.assign(auth, { hostCaCertificates: () => hostCa.trustBundle });
  const log = pino({ level: 'silent' });

  const replicas: Replica[] = [];
  for (const id of ids) {
    const listener = createProxyListener({ tls });
    const set = replicaSet(id);
    const replica: Replica = { id, port: 0, proxy: undefined as never, replicas: set, dials: 0, closed: false };
    listener.server.on('upgrade', (req) => {
      if (req.url === '/v1/tunnel') replica.dials++;
    });
    replica.port = await listener.listen(0, '127.0.0.1');
    replica.proxy = createProxyServer({ listener, auth, fallback: (_req, res) => res.writeHead(404).end(), log, replicas: set });
    replicas.push(replica);
  }

  let turn = 0;
  const roundRobin = () => {
    const open = replicas.filter((r) => !r.closed);
    return open[turn++ % open.length]!;
  };
  let route = roundRobin;
  const sockets = new Set<Socket>();
  const lb: TcpServer = createTcpServer((client) => {
    const target = route();
    const server = createConnection({ host: '127.0.0.1', port: target.port });
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(server).pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => lb.listen(0, '127.0.0.1', resolve));

  const upstreamTls = await createTestTls();
  const seen: { path: string; user: string | undefined }[] = [];
  const upstream: HttpsServer = createHttpsServer({ cert: upstreamTls.cert, key: upstreamTls.key }, (req, res) => {
    seen.push({ path: req.url!, user: req.headers['impersonate-user'] as string | undefined });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));

  return {
    tls,
    hostCa,
    auth,
    replicas,
    url: new URL(`https://localhost:${(lb.address() as AddressInfo).port}`),
    route: (next) => {
      route = next;
    },
    upstream: { url: new URL(`https://localhost:${(upstream.address() as AddressInfo).port}`), ca: upstreamTls.caCert, seen },
    agentStateDir(cluster) {
      const stateDir = mkdtempSync(join(tmpdir(), 'ztsh-agent-'));
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const issued = issueCertificate({
        ca: hostCa,
        publicKey: checkPublicKey(publicKey.export({ type: 'spki', format: 'pem' }) as string),
        identity: { v: 1, user: `agent.${cluster}.test`, roles: [], kubernetesUsers: [], kubernetesGroups: [], traits: {}, mfaVerified: false, loginId: 'join', connector: 'join-token', issuedForIp: '127.0.0.1', host: { role: 'agent', cluster } },
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
      });
      writeFileSync(join(stateDir, 'agent.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
      writeFileSync(join(stateDir, 'agent.crt'), issued.pem, { mode: 0o600 });
      writeFileSync(join(stateDir, 'host-ca.pem'), hostCa.trustBundle.join(''));
      return stateDir;
    },
    announce(live) {
      for (const r of replicas) if (!r.closed) r.replicas.update(live);
    },
    async close() {
      for (const r of replicas) if (!r.closed) await r.proxy.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => lb.close(() => resolve()));
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    },
  };
}

/** Closes one replica as a crash would look to agents: its listener and every tunnel go. */
export async function killReplica(world: ReplicaWorld, id: string): Promise<void> {
  const replica = world.replicas.find((r) => r.id === id)!;
  replica.closed = true;
  await replica.proxy.close();
}

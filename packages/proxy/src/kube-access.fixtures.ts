// A small world for the unit tests of the kube request path: a user CA and
// certificates it issued with a ztsh Identity (in the SAN URI, as auth
// issues them), an in-memory AuthClient, and the proxy's own AgentTunnels
// and LiveStreams. Nothing here stands in for the code under test.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import pino from 'pino';
import { identityUri, lockApplies, lockMessage, RoleSchema, type AuditEventType, type AuditInput, type AuthClient, type Identity, type LockRecord, type Role } from '@ztsh/protocol';
import { AgentTunnels, type AgentTunnel } from './agent-tunnels.ts';
import type { KubeDeps } from './kube-access.ts';
import { LiveStreams } from './live-streams.ts';

function rsaKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey), privateKey: forge.pki.privateKeyFromPem(privateKey) };
}

export interface TestCa {
  pem: string;
  issue(identity: Identity, validity: { notBefore: Date; notAfter: Date }): X509Certificate;
}

export function testCa(name = 'ztsh test user CA'): TestCa {
  const keys = rsaKeys();
  const subject = [{ name: 'commonName', value: name }];
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 86_400_000);
  ca.validity.notAfter = new Date(Date.now() + 86_400_000);
  ca.setSubject(subject);
  ca.setIssuer(subject);
  ca.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  ca.sign(keys.privateKey, forge.md.sha256.create());
  let serial = 1;
  return {
    pem: forge.pki.certificateToPem(ca),
    issue(identity, validity) {
      const leafKeys = rsaKeys();
      const cert = forge.pki.createCertificate();
      cert.publicKey = leafKeys.publicKey;
      cert.serialNumber = (++serial).toString(16).padStart(2, '0');
      cert.validity.notBefore = validity.notBefore;
      cert.validity.notAfter = validity.notAfter;
      cert.setSubject([{ name: 'commonName', value: identity.user }]);
      cert.setIssuer(subject);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'extKeyUsage', clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 6, value: identityUri(identity) }] },
      ]);
      cert.sign(keys.privateKey, forge.md.sha256.create());
      return new X509Certificate(forge.pki.certificateToPem(cert));
    },
  };
}

/** A client connection as checkKubeAccess sees it: its address and the certificate it showed. */
export function clientSocket(cert: X509Certificate | undefined, remoteAddress = '192.0.2.10'): TLSSocket {
  return { remoteAddress, getPeerX509Certificate: () => cert } as unknown as TLSSocket;
}

export interface AuditRecord {
  type: AuditEventType;
  success: boolean;
  input: AuditInput;
  durable: boolean;
}

/** An AuthClient that keeps everything in memory, as auth would answer. */
export class MemoryAuthClient implements AuthClient {
  readonly definitions = new Map<string, Role>();
  locks: LockRecord[] = [];
  readonly events: AuditRecord[] = [];
  down: string | undefined;
  readonly #listeners = new Set<() => void>();
  recordingsDir = '/nonexistent';
  readonly recordings = null;
  constructor(
    readonly userCa: string,
    readonly now: () => Date,
  ) {}
  define(role: unknown): void {
    const parsed = RoleSchema.parse(role);
    this.definitions.set(parsed.metadata.name, parsed);
  }
  lock(lock: LockRecord): void {
    this.locks.push(lock);
    for (const listener of this.#listeners) listener();
  }
  userCaCertificates = () => [this.userCa];
  hostCaCertificates = () => [];
  roles = (names: string[]) => names.flatMap((n) => this.definitions.get(n) ?? []);
  lockFor = (user: string, roles: readonly string[], accessRequests: readonly string[] = []) => {
    const at = this.now().getTime();
    const lock = this.locks.find((l) => lockApplies(l, user, roles, at, accessRequests));
    return lock ? { id: lock.id, message: lockMessage(lock) } : undefined;
  };
  onLocksChanged = (listener: () => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
  unavailable = () => this.down;
  audit = (type: AuditEventType, success: boolean, input: AuditInput, durable: boolean) => {
    this.events.push({ type, success, input, durable });
  };
  sessions = {
    start: () => undefined,
    update: () => undefined,
    index: () => undefined,
    unfinished: () => [],
  };
}

/** A connected agent's tunnel; the proxy opens its HTTP/2 session only to forward, which these tests do not. */
export function onlineTunnel(cluster: string, labels: Record<string, string>, connectedAt: Date): AgentTunnel {
  return {
    cluster,
    hostId: `agent.${cluster}`,
    labels,
    connectedAt,
    get session(): never {
      throw new Error('no HTTP/2 session in a unit test');
    },
    close: () => undefined,
  };
}

export function kubeDeps(auth: MemoryAuthClient, now: () => Date): KubeDeps {
  return { auth, tunnels: new AgentTunnels(), now, log: pino({ level: 'silent' }), streams: new LiveStreams(auth, now) };
}

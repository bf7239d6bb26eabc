// A kube environment where production needs per-session MFA: alice (the
// developers' group) also holds `prod-reader`, which reaches the clusters
// labelled env=prod and requires a fresh MFA check every 30 minutes. Two prod
// clusters (prod-a, prod-b) beside the sandbox, one kube-apiserver double
// behind all three agents, and a clock that runs with real time but that a
// test can move forward (login TOTP codes stay valid however slow the setup).
import { X509Certificate } from 'node:crypto';
import type { Clock } from '@ztsh/auth';
import { identityFromCertificate, type Identity } from '@ztsh/protocol';
import { DEV_CLAIMS_TO_ROLES, DEV_ROLES, DEV_USERS } from '@ztsh/server';
import { totpNow } from './http-login.ts';
import { startKubeEnv, type KubeEnv } from './kube-env.ts';
import { rawRequest, type Credentials, type RawResponse } from '../security/helpers/raw-client.ts';

export const alice = DEV_USERS[0]!;

export const PROD_READER_ROLE: (typeof DEV_ROLES)[number] = {
  kind: 'role',
  version: 'v1',
  metadata: { name: 'prod-reader' },
  spec: {
    options: { max_session_ttl: '8h', require_session_mfa: true, mfa_verification_interval: '30m' },
    allow: {
      kubernetes_labels: { env: ['prod'] },
      kubernetes_groups: ['developers'],
      kubernetes_resources: [{ kind: 'pods', namespace: '*', name: '*', verbs: ['get', 'list', 'watch'] }],
    },
  },
};
export const INTERVAL_MS = 30 * 60_000;

/** Real time plus whatever the test moved it by. */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface SessionMfaEnv extends KubeEnv {
  clock: OffsetClock;
  /** A TOTP code of alice's for a step no one has used yet: the clock moves one step on first. */
  freshCode(): string;
  /**
   * The code of the next step, which auth accepts now (one step either side)
   * and no one has used: for one check without moving the clock (a proxy run
   * apart would take a jump for a lost auth service).
   */
  nextStepCode(): string;
  /** POST /v1/session-mfa with these credentials and body (a string is sent as it is). */
  sessionMfa(as: Credentials | undefined, body: unknown, headers?: Record<string, string>): Promise<RawResponse>;
  /** GET a kube path with these credentials. */
  kubeGet(as: Credentials, path: string): Promise<RawResponse>;
}

/** `split`: auth and the proxy run apart, so auth sees the user's certificate only as the proxy forwards it. */
/** `users`: more users beside the demo ones (a user with a security key only). */
export async function startSessionMfaEnv(options: { split?: boolean; users?: (typeof DEV_USERS)[number][] } = {}): Promise<SessionMfaEnv> {
  const clock = new OffsetClock();
  const k = await startKubeEnv({
    ...(options.split ? { split: true } : {}),
    roles: [...DEV_ROLES, PROD_READER_ROLE],
    stack: {
      clock,
      ...(options.users ? { users: [...DEV_USERS, ...options.users] } : {}),
      claimsToRoles: DEV_CLAIMS_TO_ROLES.map((c) => (c.value === 'developers' ? { ...c, roles: [...c.roles, 'prod-reader'] } : c)),
    },
  });
  await k.addAgent('prod-a', { env: 'prod' });
  await k.addAgent('prod-b', { env: 'prod' });
  k.kube.addPod('default', 'web-1');
  const target = { url: k.stack.url, tlsCa: k.stack.tlsCa };
  return {
    ...k,
    clock,
    freshCode() {
      clock.advance(30_000);
      return totpNow(alice.totpSecret!, clock.now().getTime());
    },
    nextStepCode: () => totpNow(alice.totpSecret!, clock.now().getTime() + 30_000),
    sessionMfa: (as, body, headers = {}) =>
      rawRequest(target, {
        method: 'POST',
        path: '/v1/session-mfa',
        as,
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    kubeGet: (as, path) => rawRequest(target, { path, as }),
  };
}

export function certificateIdentity(pem: string): { identity: Identity; cert: X509Certificate } {
  const cert = new X509Certificate(pem);
  const identity = identityFromCertificate(new Uint8Array(cert.raw));
  if (!identity) throw new Error('the certificate carries no ztsh identity');
  return { identity, cert };
}

export function samePublicKey(a: string, b: string): boolean {
  const der = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return der(a).equals(der(b));
}

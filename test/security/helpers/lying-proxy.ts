// A proxy that answers the CLI whatever a test tells it to: real TLS on
// 127.0.0.1 port 0, client certificates asked for but not checked, and a
// user CA of its own to sign the certificates it hands out. With it the
// client-side abuse tests feed ztsh hostile answers, and loggedIn() makes a
// ZTSH_HOME whose login certificate that CA signed.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, systemClock } from '@ztsh/auth';
import { ZtshHome } from '@ztsh/cli';
import type { Identity } from '@ztsh/protocol';
import { createTestTls } from '@ztsh/testkit';

export const HOUR = 3_600_000;

/** An answer: status and JSON body. Undefined from a route means 404. */
export type Answer = { status: number; body: unknown };
export type Route = (method: string, path: string, body: any) => Answer | undefined;

export interface LyingProxy {
  url: URL;
  /** A certificate for `publicPem`, signed by this proxy's user CA, for the proxy's user with `extra` on top. */
  issue(publicPem: string, extra?: Partial<Identity>, notAfter?: number): string;
  /** A logged-in ZTSH_HOME for this proxy: a fresh key and an 8-hour certificate. */
  loggedIn(): { dir: string; home: ZtshHome; key: { publicPem: string; keyPem: string }; env: Record<string, string> };
  close(): Promise<void>;
}

export const newKey = () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};

export async function startLyingProxy(user: string, route: Route): Promise<LyingProxy> {
  const identity: Identity = {
    v: 1, user, roles: ['prod'], kubernetesUsers: [], kubernetesGroups: [], traits: {}, mfaVerified: true, loginId: 'l', connector: 'dev', issuedForIp: '127.0.0.1',
  };
  const ca = await loadOrCreateAuthority({ dir: mkdtempSync(join(tmpdir(), 'ztsh-ca-')), kind: 'user', clusterName: 'test', clock: systemClock });
  const tls = await createTestTls();
  const server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const answer = route(req.method ?? '', req.url ?? '', text ? JSON.parse(text) : undefined) ?? { status: 404, body: { error: { code: 'not_found', message: 'no' } } };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const issue = (publicPem: string, extra: Partial<Identity> = {}, notAfter = Date.now() + HOUR) =>
    issueCertificate({ ca, publicKey: checkPublicKey(publicPem), identity: { ...identity, ...extra }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(notAfter) }).pem;
  return {
    url,
    issue,
    loggedIn() {
      const key = newKey();
      const dir = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
      const home = new ZtshHome(dir);
      home.writeProfile(url, {
        meta: { proxy: url.origin, user, roles: ['prod'], kubernetesGroups: [], kubernetesUsers: [], mfaVerified: true, validUntil: '', loggedInAt: '' },
        keyPem: key.keyPem, certPem: issue(key.publicPem, {}, Date.now() + 8 * HOUR), userCaPem: '', hostCaPem: '',
      });
      home.writeTrust(url, tls.caCert);
      home.setCurrent(url);
      return { dir, home, key, env: { PATH: process.env.PATH ?? '', ZTSH_HOME: dir, HOME: dir } };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

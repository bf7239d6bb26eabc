// A proxy that runs apart from auth has a host identity of its own: a key
// made here and a host certificate (role proxy) from auth, got once with a
// join token (ztshd tokens add --type proxy) and kept in the data dir. It is
// renewed, for a new key, once two thirds of its life are gone.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { JoinResponse, ZtshError } from '@ztsh/protocol';
import { readReply, type Reply } from './http-auth-client.ts';

export interface ProxyIdentity {
  cert: string;
  key: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ProxyIdentityOptions {
  authServer: URL;
  /** PEM bundle for auth's serving certificate, when not publicly trusted. */
  authCa: string | undefined;
  /** Where the key and certificate are kept (0700). */
  dir: string;
  token: () => string | undefined;
  now: () => Date;
}

const files = (dir: string) => ({ key: join(dir, 'proxy.key'), cert: join(dir, 'proxy.crt') });

function load(dir: string): ProxyIdentity | undefined {
  const paths = files(dir);
  if (!existsSync(paths.key) || !existsSync(paths.cert)) return undefined;
  const cert = readFileSync(paths.cert, 'utf8');
  const parsed = new X509Certificate(cert);
  return { cert, key: readFileSync(paths.key, 'utf8'), notBefore: new Date(parsed.validFrom), notAfter: new Date(parsed.validTo) };
}

/** Written whole or not at all: a crash never leaves a key without its certificate. */
export function storeIdentity(dir: string, key: string, cert: string): ProxyIdentity {
  const paths = files(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${paths.key}.new`, key, { mode: 0o600 });
  writeFileSync(`${paths.cert}.new`, cert, { mode: 0o600 });
  renameSync(`${paths.key}.new`, paths.key);
  renameSync(`${paths.cert}.new`, paths.cert);
  return load(dir)!;
}

export function newKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** True once two thirds of the certificate's life are gone. */
export function renewalDue(identity: ProxyIdentity, now: Date): boolean {
  const life = identity.notAfter.getTime() - identity.notBefore.getTime();
  return now.getTime() >= identity.notBefore.getTime() + (life * 2) / 3;
}

export async function ensureProxyIdentity(options: ProxyIdentityOptions): Promise<ProxyIdentity> {
  const existing = load(options.dir);
  if (existing && existing.notAfter.getTime() > options.now().getTime() + 60_000) return existing;
  const token = options.token();
  if (!token) {
    throw new ZtshError('invalid_config', existing ? 'the proxy host certificate has expired and proxy.join_token is not set' : 'this proxy has not joined the auth service yet and proxy.join_token is not set', {
      hint: 'on the auth service run: ztshd tokens add --type proxy, and give the token as proxy.join_token',
    });
  }
  const pair = newKeyPair();
  const body = Buffer.from(JSON.stringify({ token, role: 'proxy', publicKey: pair.publicKey, hostname: hostname() }));
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = request(new URL('/v1/join', options.authServer), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      ...(options.authCa ? { ca: options.authCa } : {}),
      timeout: 10_000,
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.on('response', (res) => readReply(res).then(resolve, reject));
    req.end(body);
  }).catch((cause: Error) => {
    throw new ZtshError('unavailable', `cannot reach the auth service at ${options.authServer.origin} to join: ${cause.message}`, {
      cause,
      hint: 'check proxy.auth_server, and proxy.auth_ca_file when auth uses a self-signed certificate',
    });
  });
  if (reply.status !== 200) {
    const error = (reply.body as { error?: { message?: string; hint?: string } } | undefined)?.error;
    throw new ZtshError('token_invalid', `joining the auth service failed: ${error?.message ?? `HTTP ${reply.status}`}`, { hint: error?.hint ?? 'ztshd tokens add --type proxy makes a new token' });
  }
  const joined = JoinResponse.parse(reply.body);
  return storeIdentity(options.dir, pair.privateKey, joined.certificate);
}

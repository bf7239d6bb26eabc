// The agent's identity: a key made here and a host certificate from the
// proxy, got once with the join token and kept in the state dir.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { JoinResponse, ZtshError } from '@ztsh/protocol';

export interface HostIdentity {
  key: string;
  cert: string;
  hostCa: string[];
}

export interface JoinOptions {
  proxy: URL;
  cluster: string;
  stateDir: string;
  token: () => string | undefined;
  proxyCa?: string | undefined;
  now: () => Date;
}

export async function ensureHostIdentity(options: JoinOptions): Promise<HostIdentity> {
  const keyFile = join(options.stateDir, 'agent.key');
  const certFile = join(options.stateDir, 'agent.crt');
  const caFile = join(options.stateDir, 'host-ca.pem');
  if (existsSync(keyFile) && existsSync(certFile)) {
    const cert = readFileSync(certFile, 'utf8');
    if (new Date(new X509Certificate(cert).validTo).getTime() > options.now().getTime() + 60_000) {
      return { key: readFileSync(keyFile, 'utf8'), cert, hostCa: [readFileSync(caFile, 'utf8')] };
    }
  }
  const token = options.token();
  if (!token) throw new ZtshError('invalid_config', 'the agent has no host certificate yet and no join token', { hint: 'make one with: ztshd tokens add --type agent --cluster ' + options.cluster });
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dispatcher = new Agent({ connect: options.proxyCa ? { ca: options.proxyCa } : {} });
  let res;
  try {
    res = await fetch(new URL('/v1/join', options.proxy), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, cluster: options.cluster, publicKey: publicKey.export({ type: 'spki', format: 'pem' }), hostname: hostname() }),
      dispatcher,
    });
  } finally {
    void dispatcher.close();
  }
  const body = (await res.json()) as { error?: { message: string; hint?: string } };
  if (!res.ok) throw new ZtshError('token_invalid', `joining cluster ${options.cluster} failed: ${body.error?.message ?? res.status}`, { hint: body.error?.hint });
  const joined = JoinResponse.parse(body);
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(certFile, joined.certificate, { mode: 0o600 });
  writeFileSync(caFile, joined.hostCaCertificates.join(''));
  return { key: readFileSync(keyFile, 'utf8'), cert: joined.certificate, hostCa: joined.hostCaCertificates };
}

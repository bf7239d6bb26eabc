// The last session MFA certificate of a profile, kept so one second-factor
// check covers every kubectl call to its clusters for the interval: a JSON
// file (0600, replaced by rename) holding the certificate, the clusters it is
// bound to, until when, and the SHA-256 of the login certificate it was made
// from. It holds no key: kubectl gets the profile's key with it, the key the
// certificate was issued for. A new login (another certificate, perhaps
// another key, other roles) or a re-issue makes it stale, so it is used only
// beside the very login certificate it came from.
//
// Read on kubectl's fast path: node built-ins only.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ZtshHome } from '../home.ts';

export interface SessionMfaCache {
  proxy: string;
  /** SHA-256 (hex) of the login certificate's PEM the session certificate was made from. */
  loginCertificateSha256: string;
  clusters: string[];
  validUntil: string;
  issuedAt: string;
  certificate: string;
}

/**
 * Used only while this much is left by the local clock: a clock a little
 * ahead of auth's, or a kubectl call that starts just before the end, must
 * not present a certificate the proxy refuses a moment later.
 */
export const SESSION_MFA_MARGIN_MS = 30_000;

export function certificateSha256(pem: string): string {
  return createHash('sha256').update(pem).digest('hex');
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The cache, or undefined when there is none or it cannot be read (a broken file only means a new check). */
export function readSessionMfaCache(home: ZtshHome, proxy: URL): SessionMfaCache | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(home.sessionMfaFile(proxy), 'utf8'));
  } catch {
    return undefined;
  }
  const c = value as Partial<Record<keyof SessionMfaCache, unknown>> | null;
  if (
    !c ||
    typeof c !== 'object' ||
    typeof c.proxy !== 'string' ||
    typeof c.loginCertificateSha256 !== 'string' ||
    !isStringArray(c.clusters) ||
    typeof c.validUntil !== 'string' ||
    typeof c.issuedAt !== 'string' ||
    typeof c.certificate !== 'string'
  ) {
    return undefined;
  }
  return c as SessionMfaCache;
}

export function writeSessionMfaCache(home: ZtshHome, proxy: URL, cache: SessionMfaCache): void {
  const file = home.sessionMfaFile(proxy);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(cache) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** When a session certificate stops being used: its own end or what auth said, whichever is first, less the margin. */
export function usableUntil(cache: SessionMfaCache): number {
  let notAfter: number;
  try {
    notAfter = new Date(new X509Certificate(cache.certificate).validTo).getTime();
  } catch {
    return Number.NaN;
  }
  return Math.min(notAfter, Date.parse(cache.validUntil)) - SESSION_MFA_MARGIN_MS;
}

/**
 * The cached certificate for `cluster`, if it came from this login
 * certificate, is bound to the cluster and has more than the margin left;
 * with the time kubectl should ask again.
 */
export function cachedSessionMfa(
  home: ZtshHome,
  proxy: URL,
  loginCertPem: string,
  cluster: string,
  now: number,
): { certPem: string; expiresAt: Date } | undefined {
  const cache = readSessionMfaCache(home, proxy);
  if (!cache || cache.proxy !== proxy.origin || !cache.clusters.includes(cluster)) return undefined;
  if (cache.loginCertificateSha256 !== certificateSha256(loginCertPem)) return undefined;
  const until = usableUntil(cache);
  if (!(until > now)) return undefined;
  return { certPem: cache.certificate, expiresAt: new Date(until) };
}

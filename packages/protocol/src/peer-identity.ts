// Who is on the other end of a TLS connection: the client certificate,
// checked against a CA bundle and the clock, and its Identity. The
// certificate cannot change during a connection, so the chain check and the
// Identity are worked out once per connection; expiry is checked every time.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { identityFromCertificate, type Identity } from './identity.ts';

export type PeerRefusal = 'no_certificate' | 'untrusted' | 'expired' | 'no_identity';

export type PeerCheck =
  | { ok: true; identity: Identity; notBefore: Date; notAfter: Date }
  | {
      ok: false;
      reason: PeerRefusal;
      /**
       * Set only with reason 'expired': the Identity of a certificate our CA
       * did sign, shown outside its validity. For audit records (who tried),
       * never for access: the refusal stands.
       */
      expired?: { identity: Identity; notAfter: Date };
    };

/** What to tell a user whose certificate was refused; `noCertificate` says what to present where none was. */
export function peerRefusalMessage(reason: PeerRefusal, noCertificate: string): string {
  switch (reason) {
    case 'no_certificate':
      return noCertificate;
    case 'untrusted':
      return 'this certificate was not issued by this ztsh: run ztsh login';
    case 'expired':
      return 'your ztsh certificate has expired: run ztsh login';
    case 'no_identity':
      return 'this certificate carries no ztsh identity: run ztsh login';
  }
}

type Verdict = { ok: true; identity: Identity; notBefore: Date; notAfter: Date } | { ok: false; reason: 'no_certificate' | 'untrusted' | 'no_identity' };

const parsedCas = new Map<string, X509Certificate>();
/** Per connection, per CA bundle (user CA and host CA are separate questions). */
const verdicts = new WeakMap<TLSSocket, Map<string, Verdict>>();

function ca(pem: string): X509Certificate {
  let cert = parsedCas.get(pem);
  if (!cert) {
    cert = new X509Certificate(pem);
    parsedCas.set(pem, cert);
  }
  return cert;
}

function judge(socket: TLSSocket, caBundle: string[]): Verdict {
  return judgeCertificate(socket.getPeerX509Certificate?.(), caBundle);
}

function judgeCertificate(peer: X509Certificate | undefined, caBundle: string[]): Verdict {
  if (!peer) return { ok: false, reason: 'no_certificate' };
  if (!caBundle.some((pem) => peer.checkIssued(ca(pem)) && peer.verify(ca(pem).publicKey))) return { ok: false, reason: 'untrusted' };
  let identity: Identity | null;
  try {
    identity = identityFromCertificate(new Uint8Array(peer.raw));
  } catch {
    identity = null;
  }
  if (!identity) return { ok: false, reason: 'no_identity' };
  return { ok: true, identity, notBefore: new Date(peer.validFrom), notAfter: new Date(peer.validTo) };
}

function current(verdict: Verdict, now: Date): PeerCheck {
  if (!verdict.ok) return verdict;
  if (verdict.notAfter.getTime() <= now.getTime() || verdict.notBefore.getTime() > now.getTime()) {
    return { ok: false, reason: 'expired', expired: { identity: verdict.identity, notAfter: verdict.notAfter } };
  }
  return { ok: true, identity: verdict.identity, notBefore: verdict.notBefore, notAfter: verdict.notAfter };
}

/**
 * The same check for a certificate a client showed to a proxy, which the
 * proxy passed on (DER, base64) with a request it forwarded to auth.
 */
export function forwardedIdentity(derBase64: string | undefined, caBundle: string[], now: Date): PeerCheck {
  if (!derBase64) return { ok: false, reason: 'no_certificate' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(derBase64, 'base64'));
  } catch {
    return { ok: false, reason: 'untrusted' };
  }
  return current(judgeCertificate(cert, caBundle), now);
}

export function peerIdentity(socket: TLSSocket, caBundle: string[], now: Date): PeerCheck {
  const key = caBundle.join('');
  let bySocket = verdicts.get(socket);
  if (!bySocket) {
    bySocket = new Map();
    verdicts.set(socket, bySocket);
  }
  let verdict = bySocket.get(key);
  if (!verdict) {
    verdict = judge(socket, caBundle);
    bySocket.set(key, verdict);
  }
  return current(verdict, now);
}

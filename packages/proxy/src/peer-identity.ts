// Who is on the other end of a TLS connection: the client certificate,
// checked against a CA bundle and the clock, and its Identity extension.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { identityFromCertificate, type Identity } from '@ztsh/protocol';

export type PeerCheck = { ok: true; identity: Identity; notAfter: Date } | { ok: false; reason: 'no_certificate' | 'untrusted' | 'expired' | 'no_identity' };

export function peerIdentity(socket: TLSSocket, caBundle: string[], now: Date): PeerCheck {
  const peer = socket.getPeerX509Certificate?.();
  if (!peer) return { ok: false, reason: 'no_certificate' };
  const issuer = caBundle.map((pem) => new X509Certificate(pem)).find((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
  if (!issuer) return { ok: false, reason: 'untrusted' };
  const notAfter = new Date(peer.validTo);
  if (notAfter.getTime() <= now.getTime() || new Date(peer.validFrom).getTime() > now.getTime()) return { ok: false, reason: 'expired' };
  let identity: Identity | null;
  try {
    identity = identityFromCertificate(new Uint8Array(peer.raw));
  } catch {
    identity = null;
  }
  if (!identity) return { ok: false, reason: 'no_identity' };
  return { ok: true, identity, notAfter };
}

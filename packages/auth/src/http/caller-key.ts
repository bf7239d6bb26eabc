// The public key of the certificate a caller shows: the one on this
// connection, or the one a proxy in front forwarded (forwarded.ts decides
// whether that header counts). Certificates re-issued to a caller (session
// MFA) go to this key, so the private key never travels.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Context } from 'koa';
import type { Forwarded } from './forwarded.ts';

/** DER SubjectPublicKeyInfo, or undefined when no readable certificate was shown. Call after the certificate was checked. */
export function callerPublicKey(ctx: Context): Buffer | undefined {
  const forwarded = ctx.state.forwarded as Forwarded | undefined;
  let cert: X509Certificate | undefined;
  if (forwarded) {
    if (!forwarded.clientCert) return undefined;
    try {
      cert = new X509Certificate(Buffer.from(forwarded.clientCert, 'base64'));
    } catch {
      return undefined;
    }
  } else {
    cert = (ctx.req.socket as TLSSocket).getPeerX509Certificate?.();
  }
  return cert?.publicKey.export({ type: 'spki', format: 'der' });
}

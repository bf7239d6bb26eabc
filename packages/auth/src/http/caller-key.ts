// The public key of the certificate a caller shows: the one on this
// connection, or the one a proxy in front forwarded (forwarded.ts decides
// whether that header counts). Certificates re-issued to a caller (session
// MFA) go to this key, so the private key never travels.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Context } from 'koa';
import type { Forwarded } from './forwarded.ts';

/** The certificate the caller showed, or undefined when none is readable. Call after it was checked. */
export function callerCertificate(ctx: Context): X509Certificate | undefined {
  const forwarded = ctx.state.forwarded as Forwarded | undefined;
  if (!forwarded) return (ctx.req.socket as TLSSocket).getPeerX509Certificate?.();
  if (!forwarded.clientCert) return undefined;
  try {
    return new X509Certificate(Buffer.from(forwarded.clientCert, 'base64'));
  } catch {
    return undefined;
  }
}

/** DER SubjectPublicKeyInfo, or undefined when no readable certificate was shown. Call after the certificate was checked. */
export function callerPublicKey(ctx: Context): Buffer | undefined {
  return callerCertificate(ctx)?.publicKey.export({ type: 'spki', format: 'der' });
}

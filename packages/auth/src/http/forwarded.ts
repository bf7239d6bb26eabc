// Requests a proxy that runs apart from auth forwards on behalf of users:
// the proxy's own connection carries them, with the user's IP and client
// certificate in headers (FORWARDED_HEADERS). Those headers count only on a
// connection that shows a proxy host certificate; from anyone else they are
// dropped, so a client cannot claim another IP or certificate.
import type { Context, Next } from 'koa';
import type { TLSSocket } from 'node:tls';
import { FORWARDED_HEADERS, forwardedIdentity, peerIdentity, type PeerCheck } from '@ztsh/protocol';
import type { LoginDeps } from '../login/login-deps.ts';

export interface Forwarded {
  /** The host id of the proxy that forwarded the request. */
  proxy: string;
  clientIp: string;
  /** The certificate the user showed the proxy, DER in base64, if any. */
  clientCert: string | undefined;
}

/**
 * The check of this connection's certificate as a proxy's: undefined when it
 * shows none or is another kind of host, else the check (which may have failed).
 */
export function proxyPeer(ctx: Context, deps: Pick<LoginDeps, 'hostCa' | 'clock'>): PeerCheck | undefined {
  const peer = peerIdentity(ctx.req.socket as TLSSocket, deps.hostCa.trustBundle, deps.clock.now());
  if (peer.ok ? peer.identity.host?.role !== 'proxy' : peer.reason === 'no_certificate') return undefined;
  return peer;
}

export function forwardedMiddleware(deps: Pick<LoginDeps, 'hostCa' | 'clock'>) {
  return async (ctx: Context, next: Next) => {
    const ip = ctx.get(FORWARDED_HEADERS.clientIp);
    const cert = ctx.get(FORWARDED_HEADERS.clientCert);
    if (ip || cert) {
      delete ctx.req.headers[FORWARDED_HEADERS.clientIp];
      delete ctx.req.headers[FORWARDED_HEADERS.clientCert];
      const proxy = proxyPeer(ctx, deps);
      if (proxy?.ok && ip) {
        const forwarded: Forwarded = { proxy: proxy.identity.user, clientIp: ip, clientCert: cert || undefined };
        ctx.state.forwarded = forwarded;
        ctx.request.ip = ip;
      }
    }
    await next();
  };
}

/** The user's certificate: the one on this connection, or the one a proxy forwarded. */
export function clientCertificate(ctx: Context, caBundle: string[], now: Date): PeerCheck {
  const forwarded = ctx.state.forwarded as Forwarded | undefined;
  if (forwarded) return forwardedIdentity(forwarded.clientCert, caBundle, now);
  return peerIdentity(ctx.req.socket as TLSSocket, caBundle, now);
}

// The device-code pages (/device, /device/confirm) act on a login someone
// else started: a cross-site form posting a user code must not walk a
// signed-in victim past the approval page. Each browser gets a random secret
// in a cookie (HttpOnly, __Host-, SameSite=Strict: another site can neither
// read it nor have it sent); each form carries an HMAC of that secret and
// what the form is for (the code form, or approving one login). Nothing is
// kept on the server, so any replica can check it. A browser that says the
// request comes from elsewhere (Sec-Fetch-Site, Origin) is refused first.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { ZtshError } from '@ztsh/protocol';

export const DEVICE_COOKIE = '__Host-ztsh_device';
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** What a form is for: the code form, or approving one login. */
export type DeviceFormPurpose = 'device-code' | `device-confirm:${string}`;

/** This browser's secret, made and set on first sight (pages that render a form call this). */
export function deviceBrowserSecret(ctx: Context): string {
  const current = ctx.cookies.get(DEVICE_COOKIE);
  if (current && SECRET.test(current)) return current;
  const secret = randomBytes(32).toString('base64url');
  ctx.cookies.set(DEVICE_COOKIE, secret, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', overwrite: true });
  return secret;
}

export function deviceFormToken(secret: string, purpose: DeviceFormPurpose): string {
  return createHmac('sha256', secret).update(`ztsh ${purpose}`).digest('base64url');
}

/** Why a device form post is not acted on, or undefined when it may be. */
export function deviceFormRefusal(ctx: Context, publicOrigin: string, purpose: DeviceFormPurpose, token: string | undefined): string | undefined {
  const site = ctx.get('Sec-Fetch-Site');
  if (site !== '' && site !== 'same-origin') return `cross_site:${site}`;
  // "null" is what a browser sends under Referrer-Policy: no-referrer (ours); Sec-Fetch-Site and the token decide then.
  const origin = ctx.get('Origin');
  if (origin !== '' && origin !== 'null' && origin !== publicOrigin) return 'cross_origin';
  const secret = ctx.cookies.get(DEVICE_COOKIE);
  if (!secret || !SECRET.test(secret)) return 'no_browser_secret';
  const expected = Buffer.from(deviceFormToken(secret, purpose));
  const given = Buffer.from(token ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_form_token';
  return undefined;
}

export function deviceFormError(): ZtshError {
  return new ZtshError('access_denied', 'this approval did not come from the ztsh device page in this browser', {
    hint: 'open the address ztsh login --headless printed, type the code there, and approve on that page',
  });
}

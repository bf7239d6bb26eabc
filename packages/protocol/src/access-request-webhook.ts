// The access-request webhook as a receiver sees it: one JSON body per event,
// POSTed to the configured URL, and a signature over the body and the time
// it was sent, keyed with the shared secret (docs/configuration.md shows how
// to check it in a few lines of any language).
//
//   X-Ztsh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// A receiver recomputes v1 over the exact bytes it got, compares in constant
// time, refuses a t too far from its own clock (a replay of an old delivery)
// and keeps the ids it has seen for that long (a replay within the window;
// retries of one delivery share the id).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AccessRequestInfo } from './access-requests.ts';

export const WEBHOOK_SIGNATURE_HEADER = 'x-ztsh-signature';
/** The delivery's id, the same as the body's `id`: equal on every retry of one event. */
export const WEBHOOK_DELIVERY_HEADER = 'x-ztsh-delivery';
/** The event type, the same as the body's `type`, for receivers that route before parsing. */
export const WEBHOOK_EVENT_HEADER = 'x-ztsh-event';

/** How far from the receiver's clock a signature's time may be: five minutes, either way. */
export const WEBHOOK_TOLERANCE_SEC = 300;

export const ACCESS_REQUEST_WEBHOOK_TYPES = ['access_request.created', 'access_request.approved', 'access_request.denied'] as const;

export const AccessRequestWebhookEvent = z.strictObject({
  /** Unique per event; a receiver drops an id it has already handled. */
  id: z.string(),
  type: z.enum(ACCESS_REQUEST_WEBHOOK_TYPES),
  /** When it happened (ISO 8601); a retry keeps it, only the signature's t is new. */
  time: z.string(),
  request: AccessRequestInfo,
});
export type AccessRequestWebhookEvent = z.infer<typeof AccessRequestWebhookEvent>;

/** The hex HMAC-SHA256 of `t.body`. */
export function webhookSignature(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

/** The X-Ztsh-Signature value for a body sent at `t` (unix seconds). */
export function webhookSignatureHeader(secret: string, t: number, body: string): string {
  return `t=${t},v1=${webhookSignature(secret, t, body)}`;
}

export type WebhookVerdict = { ok: true; t: number } | { ok: false; reason: string };

/**
 * The documented check, as a receiver written in TypeScript does it: the
 * header parses, its time is within `toleranceSec` of `nowSec`, and one of
 * its v1 values is the HMAC of exactly these bytes. Replays inside the
 * window are the receiver's to catch, by the delivery id.
 */
export function verifyWebhookSignature(input: {
  secret: string;
  header: string | undefined;
  body: string | Uint8Array;
  nowSec: number;
  toleranceSec?: number;
}): WebhookVerdict {
  const header = input.header ?? '';
  if (header.length > 1024) return { ok: false, reason: 'signature header too long' };
  let t: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, reason: 'signature header not understood' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) return { ok: false, reason: 'signature time not understood' };
      t = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(value)) return { ok: false, reason: 'signature not understood' };
      signatures.push(value);
    }
  }
  if (t === undefined || signatures.length === 0) return { ok: false, reason: 'signature header lacks t or v1' };
  if (Math.abs(input.nowSec - t) > (input.toleranceSec ?? WEBHOOK_TOLERANCE_SEC)) return { ok: false, reason: 'signature time outside the tolerance' };
  const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : Buffer.from(input.body);
  const expected = createHmac('sha256', input.secret).update(`${t}.`).update(body).digest();
  const match = signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
  return match ? { ok: true, t } : { ok: false, reason: 'signature does not match' };
}

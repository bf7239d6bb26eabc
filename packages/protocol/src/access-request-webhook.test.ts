import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature, webhookSignatureHeader } from './access-request-webhook.ts';

// Computed apart, with: printf '%s' '1700000000.{"id":"x"}' | openssl dgst -sha256 -hmac 'whsec-test-vector-0123456789'
const VECTOR = { secret: 'whsec-test-vector-0123456789', t: 1_700_000_000, body: '{"id":"x"}', v1: '7ff00967bbd6401611c35f1695de9a4bb83a375a1b6e909482f744ec85c30366' };

describe('webhook signature', () => {
  it('is HMAC-SHA256 over "t.body", in hex, as the docs say (a vector made with openssl)', () => {
    expect(webhookSignatureHeader(VECTOR.secret, VECTOR.t, VECTOR.body)).toBe(`t=${VECTOR.t},v1=${VECTOR.v1}`);
  });

  it('verifies the bytes given as a string or as bytes, within the tolerance either way', () => {
    const header = `t=${VECTOR.t},v1=${VECTOR.v1}`;
    for (const body of [VECTOR.body, new TextEncoder().encode(VECTOR.body)]) {
      expect(verifyWebhookSignature({ secret: VECTOR.secret, header, body, nowSec: VECTOR.t + 300 })).toEqual({ ok: true, t: VECTOR.t });
      expect(verifyWebhookSignature({ secret: VECTOR.secret, header, body, nowSec: VECTOR.t - 300 }).ok).toBe(true);
      expect(verifyWebhookSignature({ secret: VECTOR.secret, header, body, nowSec: VECTOR.t + 301 }).ok).toBe(false);
      expect(verifyWebhookSignature({ secret: VECTOR.secret, header, body, nowSec: VECTOR.t + 10, toleranceSec: 5 }).ok).toBe(false);
    }
  });
});

// The session MFA back-off against concurrent guesses. Four misses are free
// and the fifth locks the user out (mfa/backoff.ts); POST /v1/session-mfa
// reads the lock (mfaWait) before the code is checked and records the miss
// only after the (asynchronous) check. Whoever holds a login certificate and
// its key, but not the authenticator, must not get more than the free tries
// by sending them all at once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { totpNow } from '../helpers/http-login.ts';
import { alice, startSessionMfaEnv, type SessionMfaEnv } from '../helpers/session-mfa-env.ts';

let k: SessionMfaEnv;
beforeAll(async () => {
  k = await startSessionMfaEnv();
}, 300_000);
afterAll(() => k?.close());
beforeEach(async () => {
  await k.stack.ztshd.auth.storage.mfa.setFailures('alice', { failures: 0, lockedUntil: 0 });
});

/** Codes wrong for the current step and both neighbours. */
function wrongCodes(n: number): string[] {
  const now = k.clock.now().getTime();
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpNow(alice.totpSecret!, now + d)));
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const c = String((Number(totpNow(alice.totpSecret!, now)) + 100_003 * (i + 1)) % 1_000_000).padStart(6, '0');
    if (!valid.has(c)) out.push(c);
  }
  return out;
}

describe('session MFA back-off under concurrent guesses', () => {
  it('checks no more than the five free codes when forty arrive at once', async () => {
    const codes = wrongCodes(40);
    const answers = await Promise.all(codes.map((code) => k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })));
    const checked = answers.filter((r) => r.status === 401 && r.json().error?.code === 'mfa_failed').length;
    const locked = answers.filter((r) => r.status === 429).length;
    const failures = (await k.stack.ztshd.auth.storage.mfa.failures('alice')).failures;
    // With the back-off holding: five codes looked at, the other 35 refused as locked.
    expect({ checked, failures }).toEqual({ checked: 5, failures: 5 });
    expect(locked).toBe(35);
  });

  it('does not let the right code through in a burst that follows four misses', async () => {
    await k.stack.ztshd.auth.storage.mfa.setFailures('alice', { failures: 4, lockedUntil: 0 });
    const right = k.freshCode();
    // Twenty wrong codes sent first, the right one last, all at once: at most
    // one more try was free, so the right code must not buy a certificate
    // unless it happened to be that one try.
    const wrong = wrongCodes(20);
    const answers = await Promise.all([...wrong, right].map((code) => k.sessionMfa(k.alice, { clusters: ['prod-a'], totp: { code } })));
    const checked = answers.filter((r) => r.status === 401 || r.status === 200).length;
    expect(checked).toBeLessThanOrEqual(1);
  });
});

// The same with the storage the HA deployment uses (PostgreSQL): each
// storage call is a network round trip, so the read of the lock and the
// check of the code interleave between concurrent requests. Auth's own
// verifySessionMfa, with the running stack's CA, roles and audit log, on a
// PostgreSQL store holding alice's authenticator.
describe('session MFA back-off under concurrent guesses, PostgreSQL store', () => {
  it('checks no more than the five free codes when forty arrive at once', async () => {
    const { startPostgres } = await import('../helpers/postgres.ts');
    const { openPostgresStorage } = await import('../../packages/auth/src/storage/postgres.ts');
    const { verifySessionMfa } = await import('../../packages/auth/src/session-mfa/session-mfa.ts');
    const { certificateIdentity } = await import('../helpers/session-mfa-env.ts');
    const server = await startPostgres();
    const storage = await openPostgresStorage({ url: await server.createDatabase() });
    try {
      for (const device of await k.stack.ztshd.auth.storage.mfa.list('alice')) await storage.mfa.add(device);
      const deps = { ...k.stack.ztshd.auth.deps, storage };
      const { identity, cert } = certificateIdentity(k.alice.cert);
      const caller = { identity, notAfter: new Date(cert.validTo), serial: cert.serialNumber, publicKey: cert.publicKey.export({ type: 'spki', format: 'der' }), clientIp: '127.0.0.1' };
      const outcomes = await Promise.allSettled(
        wrongCodes(40).map((code) => verifySessionMfa(deps, caller, { clusters: ['prod-a'], totp: { code } })),
      );
      const codeOf = (o: PromiseSettledResult<unknown>) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : 'issued');
      const checked = outcomes.filter((o) => codeOf(o) === 'mfa_failed').length;
      const failures = (await storage.mfa.failures('alice')).failures;
      expect({ checked, failures }).toEqual({ checked: 5, failures: 5 });
    } finally {
      await storage.close();
      await server.stop();
    }
  }, 180_000);
});

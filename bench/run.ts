// pnpm bench: speed figures, each measured against a baseline in the same
// run (machines are noisy; ratios travel, absolute numbers do not).
//   pnpm bench          human-readable table
//   pnpm bench --json   the same as JSON (also written to bench/results/)
import 'reflect-metadata';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { checkPublicKey, issueCertificate, loadOrCreateAuthority, ManualClock, systemClock } from '@ztsh/auth';
import type { Identity } from '@ztsh/protocol';
import { DEV_USERS, startDevStack } from '@ztsh/server';
import { httpLogin } from '../test/helpers/http-login.ts';

interface Result {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  ratio?: number;
  goal?: string;
  met?: boolean;
}

const json = process.argv.includes('--json');
const results: Result[] = [];
const say = (text: string) => {
  if (!json) process.stdout.write(text);
};

/** Runs fn repeatedly for about `ms` and returns operations per second. */
async function rate(fn: () => unknown, ms = 2000): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(); // warm up
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function benchIssuance(): Promise<void> {
  say('CA issuance (ECDSA P-256)…\n');
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-bench-ca-'));
  const ca = await loadOrCreateAuthority({ dir, kind: 'user', clusterName: 'bench', clock: systemClock });
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicKey = checkPublicKey(publicKeyPem);
  const identity: Identity = {
    v: 1,
    user: 'alice',
    roles: ['developer'],
    kubernetesUsers: [],
    kubernetesGroups: ['developers'],
    traits: { groups: ['developers'], email: ['alice@example.com'] },
    mfaVerified: true,
    mfaMethod: 'totp',
    loginId: 'bench',
    connector: 'dev',
    issuedForIp: '127.0.0.1',
  };
  const tbsSized = Buffer.alloc(520, 7); // a user certificate's TBS is about this long
  const raw = await rate(() => sign('sha256', tbsSized, { key: ca.signingKey, dsaEncoding: 'der' }));
  const issue = () => {
    const now = Date.now();
    return issueCertificate({ ca, publicKey, identity, notBefore: new Date(now - 60_000), notAfter: new Date(now + 8 * 3_600_000) });
  };
  const certs = await rate(issue);
  const withCheck = await rate(() => {
    checkPublicKey(publicKeyPem);
    return issue();
  });
  const baseline = { name: 'raw ECDSA P-256 signatures/s (node:crypto)', value: raw };
  results.push({ name: 'certificates issued/s', value: certs, unit: 'ops/s', baseline, ratio: certs / raw, goal: '>= 25% of raw', met: certs / raw >= 0.25 });
  results.push({ name: 'certificates issued/s incl. public-key parse + check', value: withCheck, unit: 'ops/s', baseline, ratio: withCheck / raw });
  rmSync(dir, { recursive: true, force: true });
}

async function benchLogins(): Promise<void> {
  say('Full logins over HTTPS (start, IdP form, TOTP, exchange)…\n');
  const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-bench-stack-'));
  // TOTP codes are single use per 30 s step: the clock moves one step per login.
  const clock = new ManualClock(Date.now());
  const stack = await startDevStack({ dataDir, port: 0, log: pino({ level: 'silent' }), clock });
  const ca = stack.ztshd.tls.selfSignedCa!;
  const alice = DEV_USERS[0]!;
  const one = async () => {
    clock.advance(30_000);
    const r = await httpLogin(stack.url, ca, alice, clock.now().getTime());
    if (r.status !== 200) throw new Error(`login failed: ${JSON.stringify(r.json)}`);
  };
  for (let i = 0; i < 3; i++) await one();
  const n = 30;
  const start = performance.now();
  for (let i = 0; i < n; i++) await one();
  const perSec = n / ((performance.now() - start) / 1000);
  results.push({ name: 'full HTTP-driven logins/s (sequential)', value: perSec, unit: 'ops/s' });
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
}

await benchIssuance();
await benchLogins();

const report = { at: new Date().toISOString(), node: process.version, results };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
if (json) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} else {
  say('\n');
  for (const r of results) {
    const base = r.baseline ? `  vs ${r.baseline.name} ${r.baseline.value.toFixed(0)}  = ${(100 * r.ratio!).toFixed(1)}%` : '';
    const goal = r.goal ? `  goal ${r.goal}: ${r.met ? 'met' : 'NOT met'}` : '';
    say(`${r.name.padEnd(54)} ${r.value.toFixed(1).padStart(9)} ${r.unit}${base}${goal}\n`);
  }
}

// What the CLI says when things go wrong: one line, a hint, a non-zero exit,
// and nothing written. Plus `ztsh identity export`.
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, newZtshHome } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { storeLogin } from './helpers/profile.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

let stack: TestStack;

/** A port nothing listens on: bound, read back, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.close());

describe('CLI errors', () => {
  it('proxy unreachable', async () => {
    const home = newZtshHome();
    const port = await closedPort();
    const r = await cli(['login', '--proxy', `https://127.0.0.1:${port}`, '--no-browser'], { ZTSH_HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: cannot reach the proxy at https://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\nhint: check the --proxy address`, 'm'));
    expect(existsSync(join(home, 'profiles'))).toBe(false);
  });

  it('TLS certificate not trusted', async () => {
    const r = await cli(['login', '--proxy', stack.url.origin, '--no-browser'], { ZTSH_HOME: newZtshHome() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the TLS certificate of localhost:\d+ is not trusted \(\w+\)\nhint: .*--ca-file/);
  });

  it('unknown connector, with the known ones as the hint', async () => {
    const r = await cli(['login', '--proxy', stack.url.origin, '--ca-file', stack.tlsCaFile, '--connector', 'okta', '--no-browser'], { ZTSH_HOME: newZtshHome() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: unknown connector "okta"\nhint: known connectors: dev\n');
  });

  it('login timed out', async () => {
    const home = newZtshHome();
    const r = await cli(['login', '--proxy', stack.url.origin, '--ca-file', stack.tlsCaFile, '--no-browser', '--timeout', '2s'], { ZTSH_HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: login timed out after 2s without an answer from the browser\nhint: run ztsh login again/);
    expect(existsSync(join(home, 'profiles'))).toBe(false);
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    const bad = await cli(['login', '--proxy', 'http://plain.example', '--no-browser'], { ZTSH_HOME: newZtshHome() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/the proxy must be https:\/\//);
    const none = await cli(['status'], { ZTSH_HOME: newZtshHome() });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/not logged in anywhere\nhint: run ztsh login --proxy/);
  });
});

describe('usage errors exit 2, with one line that says what is wrong', () => {
  // Each is refused before anything is sent: no login, no proxy needed.
  const cases: [string[], RegExp][] = [
    [['audit', 'search', '--bogus'], /^error: unknown option '--bogus'/],
    [['play'], /^error: missing required argument 'session-id'/],
    [['status', '--proxy'], /^error: option '--proxy <url>' argument missing/],
    [['audit', 'search', '--format', 'xml'], /^error: option '--format <format>' argument 'xml' is invalid\. Allowed choices are text, json\./],
    [['recordings', 'ls', '--kind', 'ssh'], /^error: option '--kind <kind>' argument 'ssh' is invalid/],
    [['nope'], /^error: unknown command 'nope'/],
    [['kube', 'login', 'a', 'b'], /^error: too many arguments for 'login'/],
    [[], /^Usage: ztsh /],
    [['audit'], /^Usage: ztsh audit /],
    [['audit', 'search', '--limit', 'abc'], /^error: --limit: "abc" must be a whole number above 0$/m],
    [['recordings', 'ls', '--limit', '0'], /^error: --limit: "0" must be a whole number above 0$/m],
    [['audit', 'search', '--since', 'garbage'], /^error: --since: "garbage" is not a time\nhint: use now, an ISO 8601 time/],
    [['recordings', 'ls', '--until', '2026-02-31'], /^error: --until: "2026-02-31" is not a day of the calendar/],
    [['audit', 'search', '--since', 'now', '--until', '1h'], /^error: --since \(now\) is after --until \(1h\)/],
    [['audit', 'search', '--type', 'kube'], /^error: --type: "kube" is neither an event type nor a prefix ending in "\." or "\*"\nhint: known types: user\.login, .*kube\.request/],
    [['audit', 'search', '--session', 'abc'], /^error: --session: "abc" is too short a prefix of a session id/],
    [['play', '6f1c%'], /^error: ztsh play: "6f1c%" is not a session id\nhint: give the session id as ztsh recordings ls shows it, or its first 4 or more characters/],
    [['play', 'x', '--speed', 'fast'], /^error: --speed: "fast" must be a number above 0/],
    [['audit', 'export', '--after', '-1'], /^error: --after: "-1" must be an event number/],
    [['lock', 'add', '--user', 'a', '--ttl', 'soon'], /^error: --ttl: "soon" is not a duration/],
  ];
  for (const [args, message] of cases) {
    it(`ztsh ${args.join(' ') || '(nothing)'}`, async () => {
      const r = await cli(args, { ZTSH_HOME: newZtshHome() });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).toBe('');
    });
  }

  it('help and the version are no errors', async () => {
    for (const args of [['--help'], ['audit', 'search', '--help'], ['--version']]) {
      const r = await cli(args, { ZTSH_HOME: newZtshHome() });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stderr).toBe('');
    }
  });
});

describe('ztsh identity export', () => {
  let home: string;
  beforeAll(async () => {
    // A real login over HTTP, stored the way ztsh login stores it.
    const alice = DEV_USERS[0]!;
    const result = await httpLogin(stack.url, stack.tlsCa, alice);
    home = newZtshHome();
    storeLogin(home, stack.url, stack.tlsCa, result);
  });

  it('writes PEM to standard output', async () => {
    const r = await cli(['identity', 'export'], { ZTSH_HOME: home });
    expect(r.code).toBe(0);
    const cert = new X509Certificate(r.stdout);
    expect(cert.subject).toContain('CN=alice');
    expect(cert.checkPrivateKey(createPrivateKey(r.stdout))).toBe(true);
  });

  it('writes a PKCS#12 bundle that openssl opens with the passphrase', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-p12-'));
    writeFileSync(join(dir, 'pass'), 'correct horse\n');
    const out = join(dir, 'alice.p12');
    const r = await cli(['identity', 'export', '--format', 'p12', '--out', out, '--passphrase-file', join(dir, 'pass')], { ZTSH_HOME: home });
    expect(r.code, r.stderr).toBe(0);
    const pem = execFileSync('openssl', ['pkcs12', '-in', out, '-passin', 'pass:correct horse', '-nodes'], { encoding: 'utf8' });
    expect(new X509Certificate(pem).subject).toContain('CN=alice');
    const wrong = spawnSync('openssl', ['pkcs12', '-in', out, '-passin', 'pass:nope', '-nodes']);
    expect(wrong.status).not.toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(500);
  });

  it('asks for --out and a passphrase it can read', async () => {
    const noOut = await cli(['identity', 'export', '--format', 'p12'], { ZTSH_HOME: home });
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out is required/);
    const noTty = await cli(['identity', 'export', '--format', 'p12', '--out', join(tmpdir(), 'x.p12')], { ZTSH_HOME: home });
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask for a passphrase\nhint: pass --passphrase-file FILE/);
  });
});

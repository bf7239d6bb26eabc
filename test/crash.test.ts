// kill -9 of ztshd in the middle of a kubectl exec: after a restart the
// recording holds everything up to at most a second before the kill, the
// session is closed as interrupted, and every security event logged before
// the kill is still there, with the hash chain intact.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { startAgent } from '@ztsh/agent';
import { DEV_USERS } from '@ztsh/server';
import { findKubectl, runKubectl, createTestTls, startKubeDouble } from '@ztsh/testkit';
import { recordingName, type AuditEvent, type SessionInfo } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { cli, newZtshHome } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { storeLogin } from './helpers/profile.ts';
import { SOURCE_NODE_ARGS, ZTSHD } from './helpers/source-bins.ts';

/**
 * Runs the test's steps one at a time, each bounded: a step that hangs fails
 * with its own name and the steps before it, with their times, instead of
 * the whole test running into its timeout without saying where it stood.
 */
function stepper(boundMs: number) {
  const started = Date.now();
  const trail: string[] = [];
  return async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
    trail.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${name}`);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`step "${name}" took over ${boundMs / 1000} s; steps so far:\n${trail.join('\n')}`)), boundMs);
    });
    try {
      return await Promise.race([work(), hung]);
    } finally {
      clearTimeout(timer);
    }
  };
}

const FIXTURE = fileURLToPath(new URL('./fixtures/ztshd-dev.ts', import.meta.url));
const SA = 'crash-test-sa-token';

function startZtshd(dataDir: string, port: number): Promise<{ child: ChildProcess; url: URL; port: number; ca: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, FIXTURE, dataDir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        const info = JSON.parse(line) as { url: string; port: number; ca: string };
        resolve({ child, url: new URL(info.url), port: info.port, ca: info.ca });
      }
    });
    child.on('exit', (code) => reject(new Error(`ztshd exited (${code}) before it listened: ${err}`)));
  });
}

describe('kill -9 of ztshd during an exec', () => {
  // Each step is bounded by 40 s; the test as a whole by four of them.
  it('keeps the recording up to a second before the kill and every security event', { timeout: 160_000 }, async () => {
    const step = stepper(40_000);
    const dataDir = mkdtempSync(join(tmpdir(), 'ztsh-crash-'));
    const log = pino({ level: 'silent' });
    const tls = await createTestTls();
    const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token: SA });
    kube.addPod('default', 'web-1');
    let first = await step('start ztshd', () => startZtshd(dataDir, 0));
    let second: Awaited<ReturnType<typeof startZtshd>>;
    const kubectlBin = findKubectl('1.33', process.env.PATH)!;
    const agentHolder: { stop?: () => Promise<void> } = {};
    let exec: ChildProcess | undefined;
    try {
      const made = await step('ztshd tokens add', () =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(process.execPath, [...ZTSHD, 'tokens', 'add', '--type', 'agent', '--cluster', 'sandbox', '--data-dir', dataDir, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let o = '';
          p.stdout.on('data', (d: Buffer) => (o += d.toString()));
          p.on('close', (code) => (code === 0 ? resolve((JSON.parse(o) as { token: string }).token) : reject(new Error(`tokens add: ${code}`))));
        }),
      );
      let used = false;
      const agent = await step('start the agent', () =>
        startAgent({
          proxy: first.url,
          cluster: 'sandbox',
          labels: { env: 'sandbox' },
          stateDir: join(dataDir, 'agent'),
          token: () => (used ? undefined : ((used = true), made)),
          proxyCa: first.ca,
          kube: { server: kube.url, token: () => SA, ca: tls.caCert },
          log,
          backoff: { baseMs: 20, maxMs: 200 },
        }),
      );
      agentHolder.stop = () => agent.stop();
      await step('the agent connects', () => agent.connected());

      const aliceHome = newZtshHome();
      const aliceLogin = await step('alice logs in', () => httpLogin(first.url, first.ca, DEV_USERS[0]!));
      storeLogin(aliceHome, first.url, first.ca, aliceLogin);
      const env = { PATH: process.env.PATH!, HOME: aliceHome, ZTSH_HOME: aliceHome, KUBECONFIG: join(aliceHome, 'kubeconfig') };
      expect((await step('ztsh kube login sandbox', () => cli(['kube', 'login', 'sandbox'], env))).code).toBe(0);

      // A security event: a refusal, on disk before kubectl hears of it.
      const denied = await step('kubectl get secrets (refused)', () => runKubectl(kubectlBin, ['get', 'secrets', '-n', 'kube-system'], { env, timeoutMs: 30_000 }));
      expect(denied.code).not.toBe(0);

      // alice types a line every 100 ms; cat in the pod echoes each back.
      const typing = spawn(kubectlBin, ['exec', '-i', 'web-1', '--', 'cat'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      exec = typing;
      typing.on('error', () => undefined);
      typing.stdin.on('error', () => undefined);
      let seen = '';
      const echoedAt = new Map<string, number>();
      typing.stdout.on('data', (d: Buffer) => {
        seen += d.toString();
        for (const m of seen.matchAll(/crash-line-\d+(?=\n)/g)) if (!echoedAt.has(m[0])) echoedAt.set(m[0], Date.now());
      });
      // Keep typing for 2 s after the first echo, then kill while lines are still flowing.
      await step('kubectl exec echoes for 2 s', async () => {
        let i = 0;
        while (echoedAt.size === 0 || Date.now() - Math.min(...echoedAt.values()) < 2000) {
          typing.stdin.write(`crash-line-${i++}\n`);
          await new Promise((r) => setTimeout(r, 100));
          if (i > 300) throw new Error(`cat never echoed: ${seen}`);
        }
      });
      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await step('ztshd exits on kill -9', () => new Promise((r) => first.child.once('exit', r)));

      second = await step('restart ztshd on its port', () => startZtshd(dataDir, first.port));
      first = second;
      await step('the agent dials the new ztshd', () => expect.poll(() => agent.isConnected(), { timeout: 30_000 }).toBe(true));
      const carolHome = newZtshHome();
      const carolLogin = await step('carol logs in', () => httpLogin(second.url, second.ca, DEV_USERS[2]!));
      storeLogin(carolHome, second.url, second.ca, carolLogin);
      const carol = { PATH: process.env.PATH!, HOME: carolHome, ZTSH_HOME: carolHome };

      const sessions = JSON.parse((await step('ztsh recordings ls', () => cli(['recordings', 'ls', '--user', 'alice', '--format', 'json'], carol))).stdout) as SessionInfo[];
      expect(sessions).toHaveLength(1);
      expect(sessions[0]).toMatchObject({ kind: 'exec', command: ['cat'], endReason: 'interrupted', recorded: true });
      // On disk: a gzip recording the kill cut short, without its trailer; read up to its last sync flush.
      const day = new Date(Date.parse(sessions[0]!.startedAt)).toISOString().slice(0, 10);
      const file = readFileSync(join(dataDir, 'recordings', day, recordingName(sessions[0]!.id)));
      expect(() => gunzipSync(file)).toThrow(/unexpected end of file/);
      const played = await step('ztsh play', () => cli(['play', sessions[0]!.id, '--format', 'text'], carol));
      expect(played.code, played.stderr).toBe(0);
      const mustHave = [...echoedAt].filter(([, at]) => at <= killedAt - 1000).map(([line]) => line);
      expect(mustHave.length).toBeGreaterThan(5);
      for (const line of mustHave) expect(played.stdout).toContain(`${line}\n`);

      const search = async (args: string[]) => JSON.parse((await step(`ztsh audit search ${args.join(' ')}`, () => cli(['audit', 'search', ...args, '--format', 'json'], carol))).stdout) as AuditEvent[];
      const failures = await search(['--user', 'alice', '--outcome', 'failure']);
      expect(failures.some((e) => e.type === 'kube.request' && e.fields.resource === 'secrets' && e.fields.namespace === 'kube-system')).toBe(true);
      const logins = await search(['--user', 'alice', '--type', 'user.login']);
      expect(logins).toHaveLength(1);
      const starts = await search(['--session', sessions[0]!.id]);
      expect(starts.map((e) => e.type)).toContain('session.start');
      expect(starts.find((e) => e.type === 'session.end')).toMatchObject({ success: false, fields: { endReason: 'interrupted' } });
      const verify = await step('ztsh audit verify', () => cli(['audit', 'verify'], carol));
      expect(verify.code, verify.stderr).toBe(0);
    } finally {
      exec?.kill('SIGKILL');
      await step('the agent stops', async () => agentHolder.stop?.());
      first.child.kill('SIGKILL');
      await step('the apiserver double closes', () => kube.close());
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// /metrics, /healthz and /readyz end to end: the dev stack with an
// operations listener on port 0 and an agent with one of its own; kubectl
// requests allowed and refused, an exec ended by a lock, a refused login
// and code exchange; then Prometheus' view of it, scraped over HTTP.
import { spawn } from 'node:child_process';
import { DEV_USERS } from '@ztsh/server';
import { startAgentOps, type AgentOps } from '@ztsh/agent';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from './helpers/kube-env.ts';
import { apiClient, throughIdp } from './helpers/http-login.ts';
import { eventually, scrape } from './helpers/scrape.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';

const bin = findKubectl('1.33', process.env.PATH)!;
const [alice, bob] = DEV_USERS;

let k: KubeEnv;
let agentOps: AgentOps;
let metricsUrl: URL;
const ztshd = () => scrape(new URL('/metrics', metricsUrl));
const kubectl = (args: string[]) => runKubectl(bin, args, { env: k.env, timeoutMs: 30_000 });

beforeAll(async () => {
  agentOps = await startAgentOps('127.0.0.1:0', pino({ level: 'silent' }));
  k = await startKubeEnv({ stack: { metrics: { listen: '127.0.0.1:0' } }, agent: { metrics: agentOps.metrics } });
  k.kube.addPod('default', 'web-1', { logs: ['started'] });
  metricsUrl = k.stack.ztshd.metricsUrl!;
});
afterAll(async () => {
  await k?.close();
  await agentOps?.close();
});

describe('ztshd /metrics on its own listener', () => {
  it('serves the Prometheus text format with the process metrics', async () => {
    const s = await ztshd();
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(s.families.has('process_cpu_user_seconds_total')).toBe(true);
    expect(s.families.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('counts kubectl requests by cluster, verb and code, allowed and refused, with their latency', async () => {
    const before = await ztshd();
    const listed = await kubectl(['get', 'pods']);
    expect(listed.code, listed.stderr).toBe(0);
    const refused = await kubectl(['get', 'secrets']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/access denied|forbidden/i);
    const after = await ztshd();
    const moved = (labels: Record<string, string>) => after.sum('ztsh_kube_requests_total', labels) - before.sum('ztsh_kube_requests_total', labels);
    expect(moved({ cluster: 'sandbox', verb: 'list', code: '200' })).toBeGreaterThanOrEqual(1);
    expect(moved({ cluster: 'sandbox', verb: 'list', code: '403' })).toBeGreaterThanOrEqual(1);
    const count = (s: typeof after) => s.value('ztsh_kube_request_duration_seconds_count', { cluster: 'sandbox', verb: 'list' }) ?? 0;
    expect(count(after) - count(before)).toBe(moved({ cluster: 'sandbox', verb: 'list' }));
    expect(after.value('ztsh_kube_request_duration_seconds_bucket', { cluster: 'sandbox', verb: 'list', le: '+Inf' })).toBe(count(after));
  });

  it('shows the tunnel online and the certificates issued (alice\'s login, the agent\'s join)', async () => {
    const s = await ztshd();
    expect(s.value('ztsh_tunnels_online', { cluster: 'sandbox' })).toBe(1);
    expect(s.value('ztsh_cluster_info', { cluster: 'sandbox', env: 'sandbox' })).toBe(1);
    expect(s.value('ztsh_certificates_issued_total', { kind: 'user' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ztsh_certificates_issued_total', { kind: 'host' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ztsh_audit_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(s.value('ztsh_audit_write_errors_total')).toBe(0);
  });

  it('counts a one-shot exec as a session started on its cluster, and none active once it ended', async () => {
    const before = (await ztshd()).value('ztsh_sessions_started_total', { cluster: 'sandbox', kind: 'exec' }) ?? 0;
    const r = await kubectl(['exec', 'web-1', '--', 'echo', 'hi']);
    expect(r.code, r.stderr).toBe(0);
    await eventually(async () => (await ztshd()).value('ztsh_sessions_active', { kind: 'exec' }) === 0, 'the session to end');
    const s = await ztshd();
    expect(s.value('ztsh_sessions_started_total', { cluster: 'sandbox', kind: 'exec' })).toBe(before + 1);
    expect(s.sum('ztsh_kube_requests_total', { cluster: 'sandbox', verb: 'exec', code: '101' })).toBeGreaterThanOrEqual(1);
  });

  it('counts login failures and refused certificates by reason', async () => {
    const step = await throughIdp(k.stack.url, k.stack.tlsCa, bob!);
    const wrong = await step.forms.submitForm(step.page, { code: '000000' }, { formAction: '/mfa/totp' });
    expect(wrong.status).toBe(401);
    await step.api.close();
    const api = apiClient(k.stack.url, k.stack.tlsCa);
    const bogus = await api.post('/v1/login/exchange', { code: 'no-such-code-'.padEnd(43, 'x'), verifier: 'x'.repeat(43) });
    expect(bogus.status).toBe(400);
    await api.close();
    const s = await ztshd();
    expect(s.value('ztsh_login_failures_total', { reason: 'mfa_failed' })).toBe(1);
    expect(s.value('ztsh_certificate_issuance_failures_total', { kind: 'user', reason: 'code_invalid' })).toBe(1);
  });

  it('the agent counts requests, bytes and its tunnel; its /readyz is ready while the tunnel is up', async () => {
    const s = await scrape(new URL('/metrics', agentOps.url));
    expect(s.status).toBe(200);
    expect(s.value('ztsh_agent_tunnel_up')).toBe(1);
    expect(s.value('ztsh_agent_requests_total', { kind: 'plain', code: '200' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ztsh_agent_requests_total', { kind: 'upgrade', code: '101' })).toBeGreaterThanOrEqual(1);
    expect(s.value('ztsh_agent_bytes_total', { direction: 'from_apiserver' })).toBeGreaterThan(0);
    expect(s.value('ztsh_agent_bytes_total', { direction: 'to_apiserver' })).toBeGreaterThan(0);
    expect(s.value('ztsh_agent_reconnects_total')).toBe(0);
    const ready = await scrape(new URL('/readyz', agentOps.url));
    expect([ready.status, ready.text]).toEqual([200, 'ok\n']);
  });

  it('health answers on the operations listener and on the main HTTPS listener, without credentials', async () => {
    for (const [base, ca] of [[metricsUrl, undefined], [k.stack.url, k.stack.tlsCa]] as const) {
      const health = await scrape(new URL('/healthz', base), ca ? { ca } : {});
      expect([health.status, health.text]).toEqual([200, 'ok\n']);
      const ready = await scrape(new URL('/readyz', base), ca ? { ca } : {});
      expect([ready.status, ready.text]).toEqual([200, 'ok\n']);
    }
  });

  it('the main listener does not serve /metrics when no token is configured', async () => {
    const s = await scrape(new URL('/metrics', k.stack.url), { ca: k.stack.tlsCa });
    expect(s.status).toBe(404);
    expect(s.text).not.toMatch(/ztsh_kube_requests_total/);
  });

  // Last: it locks alice out.
  it('a lock ends a live exec: the active session gauge shows it, then the lock termination is counted', async () => {
    const before = (await ztshd()).value('ztsh_lock_terminations_total')!;
    const child = spawn(bin, ['exec', '-i', 'web-1', '--', 'cat'], { env: k.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let out = '';
    const echoed = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('ping') && resolve())));
    child.stdin.write('ping\n');
    await echoed;
    expect((await ztshd()).value('ztsh_sessions_active', { kind: 'exec' })).toBe(1);
    await k.stack.ztshd.auth.deps.locks.add({ target: { user: alice!.username }, message: 'incident 10', createdBy: 'test' });
    expect(await exited).not.toBe(0);
    await eventually(async () => (await ztshd()).value('ztsh_sessions_active', { kind: 'exec' }) === 0, 'the locked session to end');
    expect((await ztshd()).value('ztsh_lock_terminations_total')).toBe(before + 1);
  });
});

describe('ztshd /metrics on the main listener behind a token', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ metrics: { token: { env: 'ZTSH_METRICS_TOKEN' } }, env: { ZTSH_METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => stack?.close());
  const get = (headers: Record<string, string> = {}) => scrape(new URL('/metrics', stack.url), { ca: stack.tlsCa, headers });

  it('answers the right bearer token with the metrics', async () => {
    const s = await get({ authorization: `Bearer ${TOKEN}` });
    expect(s.status).toBe(200);
    expect(s.families.has('ztsh_kube_requests_total')).toBe(true);
    expect(stack.ztshd.metricsUrl).toBeUndefined();
  });

  it('refuses a missing or wrong token with 401 and no metrics', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }] as Record<string, string>[]) {
      const s = await get(headers);
      expect(s.status, JSON.stringify(headers)).toBe(401);
      expect(s.text).toBe('unauthorized\n');
    }
  });
});

describe('auth and the proxy apart, each with its own operations listener', () => {
  let s: KubeEnv;
  beforeAll(async () => {
    s = await startKubeEnv({ split: true, stack: { metrics: { listen: '127.0.0.1:0' } } });
  });
  afterAll(() => s?.close());

  it('the proxy counts the kube requests and reads its audit outbox; auth counts the certificates', async () => {
    const proxyOps = s.stack.split!.proxy.metricsUrl!;
    const authOps = s.stack.split!.auth.metricsUrl!;
    expect(proxyOps.port).not.toBe(authOps.port);
    const r = await runKubectl(bin, ['get', 'pods'], { env: s.env, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const proxy = await scrape(new URL('/metrics', proxyOps));
    expect(proxy.sum('ztsh_kube_requests_total', { cluster: 'sandbox', verb: 'list', code: '200' })).toBeGreaterThanOrEqual(1);
    expect(proxy.value('ztsh_tunnels_online', { cluster: 'sandbox' })).toBe(1);
    expect(proxy.value('ztsh_audit_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(proxy.value('ztsh_audit_write_errors_total')).toBe(0);
    expect(proxy.families.has('ztsh_certificates_issued_total')).toBe(false);
    const auth = await scrape(new URL('/metrics', authOps));
    expect(auth.value('ztsh_certificates_issued_total', { kind: 'user' })).toBeGreaterThanOrEqual(1);
    // The agent's join and the proxy's own join are host certificates.
    expect(auth.value('ztsh_certificates_issued_total', { kind: 'host' })).toBeGreaterThanOrEqual(2);
    expect(auth.families.has('ztsh_kube_requests_total')).toBe(false);
  });

  // Last: it stops the auth service.
  it('the proxy is ready while its copy of auth\'s state is fresh, and says so when auth is gone', async () => {
    const readyz = () => scrape(new URL('/readyz', s.stack.split!.proxy.metricsUrl!));
    expect((await readyz()).text).toBe('ok\n');
    await s.stack.split!.auth.close();
    // The proxy gives auth STALE_MS to come back before it calls itself unready.
    await eventually(async () => (await readyz()).status === 503, 'the proxy to notice auth is gone', 30_000);
    expect((await readyz()).text).toBe('not ready: auth service unreachable\n');
    const health = await scrape(new URL('/healthz', s.stack.split!.proxy.metricsUrl!));
    expect([health.status, health.text]).toEqual([200, 'ok\n']);
  });
});

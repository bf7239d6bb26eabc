// The dev stack serves the kubeconfig's current context when its apiserver
// answers (here the kube-apiserver test double stands in for kind), and falls
// back to the sandbox, saying why, when it does not. Every stack here gets an
// explicit env, so the kubeconfig of the machine running the tests is never read.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEV_USERS } from '@ztsh/server';
import { createTestTls, findKubectl, runKubectl, startKubeDouble, type KubeDouble } from '@ztsh/testkit';
import { cli, newZtshHome } from './helpers/cli.ts';
import { httpLogin } from './helpers/http-login.ts';
import { storeLogin } from './helpers/profile.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { ZTSHD } from './helpers/source-bins.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A kubeconfig file with one context, made current. */
function writeKubeconfig(dir: string, context: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const path = join(dir, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: context, cluster }],
      users: [{ name: `${context}-admin`, user }],
      contexts: [{ name: context, context: { cluster: context, user: `${context}-admin` } }],
      'current-context': context,
    }),
  );
  return path;
}

async function startDouble(token: string): Promise<{ kube: KubeDouble; caCert: string }> {
  const tls = await createTestTls();
  const kube = await startKubeDouble({ tls: { cert: tls.cert, key: tls.key }, token });
  cleanups.push(() => kube.close());
  kube.addPod('default', 'kind-web-1');
  return { kube, caCert: tls.caCert };
}

async function startStack(env: Record<string, string>): Promise<TestStack> {
  const stack = await startTestStack({ env, sandbox: true, kubeconfig: true });
  cleanups.push(() => stack.close());
  return stack;
}

/** Logs alice in, runs `ztsh kube login <cluster>` and `kubectl get pods` through the proxy. */
async function kubectlGetPodsAsAlice(stack: TestStack, cluster: string) {
  const login = await httpLogin(stack.url, stack.tlsCa, DEV_USERS[0]!);
  const home = newZtshHome();
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  storeLogin(home, stack.url, stack.tlsCa, login);
  const env = { ZTSH_HOME: home, KUBECONFIG: join(home, 'kubeconfig') };
  const ls = await cli(['kube', 'ls'], env);
  const kl = await cli(['kube', 'login', cluster], env);
  expect(kl.code, kl.stderr).toBe(0);
  const pods = await runKubectl(findKubectl('1.33', process.env.PATH)!, ['get', 'pods'], { env: { PATH: process.env.PATH, HOME: home, ...env } });
  return { ls: ls.stdout, pods };
}

describe('dev stack with a kubeconfig', () => {
  it('serves the current context when its apiserver answers, and kubectl reaches it through the proxy', async () => {
    const { kube, caCert } = await startDouble('kind-admin-token');
    const dir = tempDir('ztsh-kubeconfig-');
    const kubeconfig = writeKubeconfig(dir, 'Kind-Dev', { server: kube.url.origin, 'certificate-authority-data': Buffer.from(caCert).toString('base64') }, { token: 'kind-admin-token' });

    const stack = await startStack({ KUBECONFIG: kubeconfig });
    expect(stack.kubeconfigNotUsed).toBeUndefined();
    expect(stack.sandbox).toBeUndefined();
    expect(stack.cluster).toMatchObject({ name: 'kind-dev', labels: { env: 'dev', source: 'kubeconfig' }, source: { kind: 'kubeconfig', context: 'Kind-Dev', credentials: 'token' } });

    const { ls, pods } = await kubectlGetPodsAsAlice(stack, 'kind-dev');
    expect(ls).toMatch(/^CLUSTER\s+STATUS\s+MFA\s+LABELS\nkind-dev\s+online\s+-\s+env=dev,source=kubeconfig\n$/);
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout).toMatch(/kind-web-1/);
    const seen = kube.requests.find((r) => r.path === '/api/v1/namespaces/default/pods' && r.impersonatedUser === 'alice');
    expect(seen).toMatchObject({ impersonatedGroups: ['developers'], status: 200 });
    expect(seen?.headers.authorization).toBe('Bearer kind-admin-token');
  });

  it('serves a context whose user has a client certificate and key in files', async () => {
    const { kube, caCert } = await startDouble('behind-the-front');
    const front = await startClientCertFront(kube, caCert, 'behind-the-front');
    const dir = tempDir('ztsh-kubeconfig-');
    writeFileSync(join(dir, 'ca.crt'), front.caCert);
    writeFileSync(join(dir, 'client.crt'), front.client.cert);
    writeFileSync(join(dir, 'client.key'), front.client.key);
    const kubeconfig = writeKubeconfig(dir, 'minikube', { server: front.url.origin, 'certificate-authority': 'ca.crt' }, { 'client-certificate': 'client.crt', 'client-key': 'client.key' });

    const stack = await startStack({ KUBECONFIG: kubeconfig });
    expect(stack.cluster).toMatchObject({ name: 'minikube', source: { kind: 'kubeconfig', credentials: 'client certificate' } });

    const { pods } = await kubectlGetPodsAsAlice(stack, 'minikube');
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout).toMatch(/kind-web-1/);
    expect(front.refused).toBe(0);
    expect(kube.requests.some((r) => r.path === '/api/v1/namespaces/default/pods' && r.impersonatedUser === 'alice')).toBe(true);
  });

  it('falls back to the sandbox, and `ztshd dev` prints why, when the context does not answer', async () => {
    const dead = await startResettingServer();
    const dir = tempDir('ztsh-dev-');
    const kubeconfig = writeKubeconfig(dir, 'kind-gone', { server: `https://127.0.0.1:${dead.port}`, 'insecure-skip-tls-verify': true }, { token: 't' });

    const dev = startDev(['--data-dir', join(dir, 'data')], { HOME: dir, ZTSH_HOME: join(dir, 'ztsh'), KUBECONFIG: kubeconfig });
    const out = await dev.waitFor(/Press Ctrl-C to stop\./);
    expect(out).toMatch(/^ {2}cluster {9}sandbox \(env=sandbox\): the kube-apiserver test double/m);
    expect(out).toMatch(
      new RegExp(`^ {2}kubeconfig {6}not used: context "kind-gone": GET https://127\\.0\\.0\\.1:${dead.port}/version failed: .+$`, 'm'),
    );
    expect(out).toMatch(/^ {2}pnpm -s ztsh kube login sandbox$/m);
    expect(out).not.toMatch(/kind-gone\s+\(/);
  });

  it('`ztshd dev --sandbox-only` serves the sandbox without looking at a working kubeconfig', async () => {
    const { kube, caCert } = await startDouble('kind-admin-token');
    const dir = tempDir('ztsh-dev-');
    const kubeconfig = writeKubeconfig(dir, 'kind-kind', { server: kube.url.origin, 'certificate-authority-data': Buffer.from(caCert).toString('base64') }, { token: 'kind-admin-token' });

    const dev = startDev(['--data-dir', join(dir, 'data'), '--sandbox-only'], { HOME: dir, ZTSH_HOME: join(dir, 'ztsh'), KUBECONFIG: kubeconfig });
    const out = await dev.waitFor(/Press Ctrl-C to stop\./);
    expect(out).toMatch(/^ {2}cluster {9}sandbox /m);
    expect(out).toMatch(/^ {2}kubeconfig {6}not looked at \(--sandbox-only\)$/m);
    expect(out).toMatch(/^ {2}pnpm -s ztsh kube login sandbox$/m);
    // oidc-provider's "Unsupported runtime" line on Node 20 is dropped (quiet-runtime-warning.ts).
    expect(out).not.toMatch(/oidc-provider|Unsupported runtime/);
    expect(kube.requests).toEqual([]);
  });
});

/** `ztshd dev` on port 0 as its own process, with only the env given (and PATH). */
function startDev(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...ZTSHD, 'dev', '--port', '0', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'close');
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  return {
    async waitFor(pattern: RegExp): Promise<string> {
      await expect.poll(() => pattern.test(output) || child.exitCode !== null, { timeout: 60_000, interval: 100 }).toBe(true);
      expect(output).toMatch(pattern);
      return output;
    },
  };
}

/** Accepts TCP connections and drops them at once: an apiserver that is not there. */
async function startResettingServer(): Promise<{ port: number }> {
  const server: NetServer = createNetServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port };
}

/**
 * An HTTPS front for the double (which takes only a bearer token) that lets in a
 * caller with one client certificate, and forwards to the double with the token.
 */
async function startClientCertFront(kube: KubeDouble, kubeCa: string, token: string) {
  const tls = await createTestTls();
  const client = await createTestTls();
  const fingerprint = new X509Certificate(client.cert).fingerprint256;
  const state = { refused: 0 };
  const server: Server = createHttpsServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if ((req.socket as TLSSocket).getPeerCertificate().fingerprint256 !== fingerprint) {
      state.refused++;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","apiVersion":"v1","status":"Failure","code":401}');
      return;
    }
    const upstream = request(
      { host: kube.url.hostname, port: kube.url.port, servername: '', ca: kubeCa, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`),
    caCert: tls.caCert,
    client: { cert: client.cert, key: client.key },
    get refused() {
      return state.refused;
    },
  };
}

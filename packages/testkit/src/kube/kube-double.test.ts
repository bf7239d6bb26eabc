// The double against the REAL kubectl, 1.33 and 1.30: each behaviour the proxy will rely on is
// checked here with the binaries users run, so the double cannot drift from what kubectl sends.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestTls } from '../test-tls.ts';
import { startKubeDouble, type KubeDouble } from './index.ts';
import { findKubectl, runKubectl, startKubectl, writeKubeconfig, type RunningKubectl } from './kubectl-runner.ts';

const TOKEN = 'agent-service-account-token';
const VERSIONS = ['1.33', '1.30'];
const bins = Object.fromEntries(VERSIONS.map((v) => [v, findKubectl(v, process.env.PATH)]));
const haveKubectl = VERSIONS.every((v) => bins[v]);

let double: KubeDouble;
let dir: string;
let env: NodeJS.ProcessEnv;
let badEnv: NodeJS.ProcessEnv;
const running: RunningKubectl[] = [];

beforeAll(async () => {
  const tls = await createTestTls();
  double = await startKubeDouble({
    tls,
    token: TOKEN,
    rbac: [
      { user: 'alice', allow: { verbs: ['get', 'list', 'watch'], resources: ['pods', 'pods/log'], namespaces: ['*'] } },
      { groups: ['admins'], allow: { verbs: ['*'], resources: ['*'] } },
    ],
  });
  dir = await mkdtemp(join(tmpdir(), 'kube-double-'));
  await writeKubeconfig(join(dir, 'config'), { server: double.url.origin, caCert: tls.caCert, token: TOKEN });
  await writeKubeconfig(join(dir, 'bad'), { server: double.url.origin, caCert: tls.caCert, token: 'wrong' });
  // HOME keeps kubectl's discovery cache inside the temp dir.
  const base = { PATH: process.env.PATH, HOME: dir };
  env = { ...base, KUBECONFIG: join(dir, 'config') };
  badEnv = { ...base, KUBECONFIG: join(dir, 'bad') };
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((k) => k.stop()));
});

afterAll(async () => {
  await double?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!haveKubectl).each(VERSIONS)('real kubectl %s', (version) => {
  const bin = bins[version] ?? '';
  const ns = `v${version.replace('.', '')}`;
  const kubectl = (args: string[], input?: string, e = env) =>
    runKubectl(bin, ['-n', ns, ...args], { env: e, ...(input !== undefined ? { input } : {}) });
  const start = (args: string[], e = env) => {
    const k = startKubectl(bin, ['-n', ns, ...args], e);
    running.push(k);
    return k;
  };

  beforeAll(() => {
    double.addPod(ns, 'web', { logs: ['first line', 'second line'] });
  });

  it('get pods prints the server-side table', async () => {
    const r = await kubectl(['get', 'pods']);
    expect(r.stderr).toBe('');
    const [header, row] = r.stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    expect(row).toMatch(/^web\s+1\/1\s+Running\s+0\s+\d+s$/);
    const table = double.requests.findLast((q) => q.path === `/api/v1/namespaces/${ns}/pods`);
    expect(table?.headers.accept).toContain('as=Table;v=v1;g=meta.k8s.io');
  });

  it('get -w shows a pod created after the watch started', async () => {
    const watch = start(['get', 'pods', '-w']);
    await watch.waitFor(/^web\s+1\/1\s+Running/m);
    await waitUntil(() => double.requests.some((q) => q.path === `/api/v1/namespaces/${ns}/pods` && q.query.get('watch') === 'true'));
    double.addPod(ns, 'late');
    await watch.waitFor(/^late\s+1\/1\s+Running/m);
    expect(watch.output().match(/NAME/g)).toHaveLength(1); // one header for the whole stream
  });

  it('logs -f streams lines appended later', async () => {
    const logs = start(['logs', '-f', 'web']);
    await logs.waitFor(/first line\nsecond line\n/);
    await waitUntil(() => double.requests.some((q) => q.path.endsWith(`${ns}/pods/web/log`) && q.query.get('follow') === 'true'));
    double.appendLog(ns, 'web', 'appended while following');
    await logs.waitFor(/appended while following/);
  });

  it('logs -f of a pod with a live log keeps getting lines, and the pod stops writing when kubectl goes', async () => {
    double.addPod(ns, 'ticker', { logs: ['started'], liveLog: { lines: ['tick {n}'], everyMs: 25 } });
    const logs = start(['logs', '-f', 'ticker']);
    await logs.waitFor(/started\ntick \d+\ntick \d+\ntick \d+\n/);
    expect(double.logFollowers(ns, 'ticker')).toBe(1);
    await logs.stop();
    await waitUntil(() => double.logFollowers(ns, 'ticker') === 0);
  });

  it('apply creates then updates, apply --server-side patches, delete removes', async () => {
    const file = join(dir, `objects-${ns}.yaml`);
    const objects = (value: string, image: string) => `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: "${value}"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "${image}"}, {name: sidecar, image: "envoy:1"}]}
`;
    await writeFile(file, objects('one', 'api:1'));
    let r = await kubectl(['apply', '-f', file]);
    expect(r.stdout).toContain('configmap/settings created');
    expect(r.stdout).toContain('deployment.apps/api created');

    await writeFile(file, objects('two', 'api:2'));
    r = await kubectl(['apply', '-f', file]);
    expect(r.stdout).toContain('configmap/settings configured');
    expect(r.stdout).toContain('deployment.apps/api configured');
    r = await kubectl(['get', 'deploy/api', 'cm/settings', '-o', 'jsonpath={.items[0].spec.template.spec.containers[*].image} {.items[1].data.mode}']);
    expect(r.stdout).toBe('api:2 envoy:1 two');
    const patch = double.requests.findLast((q) => q.method === 'PATCH' && q.path.endsWith(`${ns}/deployments/api`));
    expect(patch?.headers['content-type']).toBe('application/strategic-merge-patch+json');

    await writeFile(file, objects('three', 'api:3'));
    r = await kubectl(['apply', '--server-side', '-f', file]);
    expect(r.stdout).toContain('configmap/settings serverside-applied');
    r = await kubectl(['get', 'cm/settings', '-o', 'jsonpath={.data.mode}']);
    expect(r.stdout).toBe('three');

    r = await kubectl(['delete', '-f', file]);
    expect(r.stdout).toContain('configmap "settings" deleted');
    expect(r.stdout).toContain('deployment.apps "api" deleted');
    r = await kubectl(['get', 'cm', 'settings']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (NotFound): configmaps "settings" not found');
  });

  it('create configmap/secret/namespace work (kubectl 1.33 sends them as protobuf)', async () => {
    let r = await kubectl(['create', 'configmap', 'cfg', '--from-literal=k=v']);
    expect(r.stdout).toContain('configmap/cfg created');
    r = await kubectl(['create', 'secret', 'generic', 'pw', '--from-literal=password=hunter2']);
    expect(r.stdout).toContain('secret/pw created');
    r = await kubectl(['create', 'namespace', `${ns}-extra`]);
    expect(r.stdout).toContain(`namespace/${ns}-extra created`);
    r = await kubectl(['get', 'cm/cfg', 'secret/pw', '-o', 'jsonpath={.items[0].data.k} {.items[1].data.password}']);
    expect(r.stdout).toBe(`v ${Buffer.from('hunter2').toString('base64')}`);
    const post = double.requests.findLast((q) => q.method === 'POST' && q.path.endsWith(`${ns}/secrets`));
    expect(post?.headers['content-type']).toBe(version === '1.33' ? 'application/vnd.kubernetes.protobuf' : 'application/json');
  });

  it('attach shows what the container prints', async () => {
    const attach = start(['attach', 'web']);
    await waitUntil(() => double.requests.some((q) => q.path.endsWith(`${ns}/pods/web/attach`) && q.status === 101));
    double.appendLog(ns, 'web', 'printed while attached');
    await attach.waitFor(/printed while attached/);
  });

  it('exec -i cat round-trips stdin', async () => {
    const r = await kubectl(['exec', '-i', 'web', '--', 'cat'], 'ping\npong\n');
    expect(r).toEqual({ code: 0, stdout: 'ping\npong\n', stderr: '' });
    const seen = double.requests.findLast((q) => q.path.endsWith(`${ns}/pods/web/exec`));
    expect(seen).toMatchObject({ upgrade: 'websocket', status: 101 });
    expect(seen?.headers['sec-websocket-protocol']).toContain('v5.channel.k8s.io');
  });

  it('exec -- head -c 4M /dev/zero prints every byte', async () => {
    const r = await kubectl(['exec', 'web', '--', 'head', '-c', '4M', '/dev/zero']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBe(4 * 1024 * 1024);
    expect(/^\0*$/.test(r.stdout)).toBe(true);
  });

  it("exec -- sh -c 'exit 3' makes kubectl exit 3", async () => {
    const r = await kubectl(['exec', 'web', '--', 'sh', '-c', 'exit 3']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('command terminated with exit code 3');
  });

  it('exec runs uname -a, pwd and hostname as a pod would, with LF line ends without a TTY', async () => {
    const r = await kubectl(['exec', 'web', '--', 'sh', '-c', 'uname -a; pwd; cd /tmp && pwd; hostname']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Linux web 6\.6\.0-kube-double #1 SMP PREEMPT_DYNAMIC \S+ GNU\/Linux\n\/\n\/tmp\nweb\n$/);
    expect((await kubectl(['exec', 'web', '--', 'uname'])).stdout).toBe('Linux\n');
  });

  it('cp copies a file and a directory in and out', async () => {
    const local = join(dir, `cp-${ns}`);
    await mkdir(join(local, 'tree', 'sub'), { recursive: true });
    const blob = randomBytes(100_000);
    await writeFile(join(local, 'tree', 'sub', 'blob.bin'), blob);
    await writeFile(join(local, 'note.txt'), 'hello pod\n');

    expect((await kubectl(['cp', join(local, 'note.txt'), 'web:/tmp/note.txt'])).code).toBe(0);
    expect((await kubectl(['cp', join(local, 'tree'), 'web:/tmp/tree'])).code).toBe(0);
    const fs = double.podFs(ns, 'web');
    expect(fs.readFile('/tmp/note.txt')?.toString()).toBe('hello pod\n');
    expect(fs.readFile('/tmp/tree/sub/blob.bin')?.equals(blob)).toBe(true);

    expect((await kubectl(['cp', 'web:/tmp/tree', join(local, 'back')])).code).toBe(0);
    expect((await readFile(join(local, 'back', 'sub', 'blob.bin'))).equals(blob)).toBe(true);
    expect((await kubectl(['cp', 'web:/tmp/note.txt', join(local, 'note-back.txt')])).code).toBe(0);
    expect(await readFile(join(local, 'note-back.txt'), 'utf8')).toBe('hello pod\n');
  });

  it('port-forward carries bytes both ways to the echo server', async () => {
    // kubectl 1.30 tunnels port-forward over WebSocket only when asked (default from 1.31).
    const pf = start(['port-forward', 'pod/web', ':8080'], { ...env, KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' });
    const m = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
    const payload = randomBytes(256 * 1024);
    for (let i = 0; i < 2; i++) {
      const socket = connect({ host: '127.0.0.1', port: Number(m[1]) });
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.end(payload);
      await once(socket, 'end');
      expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    }
    const seen = double.requests.findLast((q) => q.path.endsWith(`${ns}/pods/web/portforward`));
    expect(seen).toMatchObject({ upgrade: 'websocket', status: 101 });
    expect(pf.output()).not.toMatch(/error|lost connection/i);
  });

  it('port-forward to the port a pod declares gets an HTTP answer, and the request shows in its logs', async () => {
    double.addPod(ns, 'site', { httpPort: 8080 });
    const declared = await kubectl(['get', 'pod', 'site', '-o', 'jsonpath={.spec.containers[0].ports[0].containerPort}']);
    expect(declared.stdout).toBe('8080');
    const pf = start(['port-forward', 'pod/site', ':8080'], { ...env, KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' });
    const m = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
    const answer = await httpGet(Number(m[1]), `/hello-${ns}`);
    expect(answer).toEqual({ status: 200, body: `hello from pod ${ns}/site, port 8080: you reached it through kubectl port-forward\n` });
    const logs = await kubectl(['logs', 'site']);
    expect(logs.stdout).toContain(`GET /hello-${ns} 200\n`);
  });

  it('port-forward over SPDY itself (kubectl 1.30 by default) carries bytes both ways too', async () => {
    const plain = { ...env };
    delete plain.KUBECTL_PORT_FORWARD_WEBSOCKETS;
    const pf = start(['port-forward', 'pod/web', ':8080'], plain);
    const m = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
    const payload = randomBytes(256 * 1024);
    const socket = connect({ host: '127.0.0.1', port: Number(m[1]) });
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.end(payload);
    await once(socket, 'end');
    expect(Buffer.concat(chunks).equals(payload), pf.output()).toBe(true);
    const seen = double.requests.findLast((q) => q.path.endsWith(`${ns}/pods/web/portforward`));
    // From 1.31 on kubectl tunnels port-forward over WebSocket by default.
    expect(seen).toMatchObject({ upgrade: version === '1.30' ? 'SPDY/3.1' : 'websocket', status: 101 });
  });

  it('a wrong token gets 401 Unauthorized', async () => {
    const r = await kubectl(['get', 'pods'], undefined, badEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: You must be logged in to the server (Unauthorized)');
  });

  it('impersonation is recorded and checked against the RBAC table', async () => {
    let r = await kubectl(['get', 'pods', '--as', 'alice', '--as-group', 'dev', '--as-group', 'ops']);
    expect(r.code).toBe(0);
    const seen = double.requests.findLast((q) => q.path === `/api/v1/namespaces/${ns}/pods`);
    expect(seen).toMatchObject({ impersonatedUser: 'alice', impersonatedGroups: ['dev', 'ops'] });

    r = await kubectl(['get', 'secrets', '--as', 'alice']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `Error from server (Forbidden): secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "${ns}"`,
    );
    r = await kubectl(['exec', 'web', '--as', 'alice', '--', 'echo', 'hi']);
    expect(r.stderr).toContain(
      `pods "web" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "${ns}"`,
    );
    r = await kubectl(['get', 'pods', '--as', 'mallory']);
    expect(r.stderr).toContain('User "mallory" cannot list resource "pods"');
    r = await kubectl(['get', 'secrets', '--as', 'mallory', '--as-group', 'admins']);
    expect(r.code).toBe(0);
  });
});

describe.skipIf(!findKubectl('1.29', process.env.PATH))('real kubectl 1.29 (SPDY only)', () => {
  it('gets the refusal Status instead of an exec session', async () => {
    double.addPod('old', 'web');
    const r = await runKubectl(findKubectl('1.29', process.env.PATH) ?? '', ['-n', 'old', 'exec', 'web', '--', 'echo', 'hi'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SPDY is not supported by this test double');
  });
});

/** GET http://127.0.0.1:port/path, the way curl would. */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls a condition that an event elsewhere (a request reaching the double) makes true. */
async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadKubeconfig } from './kubeconfig.ts';
import { clusterNameFor, resolveKubeContext, type KubeContextResult, type KubeContextTarget } from './kubeconfig-context.ts';

const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----';
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----';
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----';
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Ctx {
  server?: string;
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
}

/** One kubeconfig file on disk with a context per entry, current context first; loaded back. */
function kubeconfig(contexts: Record<string, Ctx>, current?: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-kubecontext-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const names = Object.keys(contexts);
  const path = join(dir, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': current ?? names[0],
      clusters: names.map((n) => ({ name: `${n}-cluster`, cluster: { server: contexts[n]!.server ?? 'https://127.0.0.1:6443', ...contexts[n]!.cluster } })),
      users: names.map((n) => ({ name: `${n}-user`, user: contexts[n]!.user ?? { token: 't' } })),
      contexts: names.map((n) => ({ name: n, context: { cluster: `${n}-cluster`, user: `${n}-user` } })),
    }),
  );
  return loadKubeconfig([path]);
}

function usable(result: KubeContextResult): KubeContextTarget {
  if (!result.ok) throw new Error(`not usable: ${result.reason}`);
  return result.target;
}

function reason(result: KubeContextResult): string {
  if (result.ok) throw new Error(`usable: ${result.target.context}`);
  return result.reason;
}

describe('clusterNameFor', () => {
  it('makes a valid ztsh cluster name of any context name', () => {
    expect(clusterNameFor('kind-kind')).toBe('kind-kind');
    expect(clusterNameFor('Docker-Desktop')).toBe('docker-desktop');
    expect(clusterNameFor('kubernetes-admin@kubernetes')).toBe('kubernetes-admin-kubernetes');
    expect(clusterNameFor('gke_my-project_europe-west1_dev')).toBe('gke-my-project-europe-west1-dev');
    expect(clusterNameFor('--a..b--')).toBe('a-b');
    expect(clusterNameFor('@@@')).toBe('kubeconfig');
    const long = clusterNameFor(`${'a'.repeat(62)}-b`);
    expect(long).toBe('a'.repeat(62));
  });
});

describe('resolveKubeContext', () => {
  it('takes the current context with a token and the CA from certificate-authority-data (kind)', () => {
    const target = usable(resolveKubeContext(kubeconfig({ 'kind-kind': { cluster: { 'certificate-authority-data': b64(CA) }, user: { token: 'secret' } } })));
    expect(target).toMatchObject({ context: 'kind-kind', cluster: 'kind-kind', credentials: 'token' });
    expect(target.kube.server.href).toBe('https://127.0.0.1:6443/');
    expect(target.kube.ca).toBe(CA);
    expect(target.kube.token?.()).toBe('secret');
    expect(target.kube.clientCert).toBeUndefined();
    expect(target.kube.insecureSkipTlsVerify).toBeUndefined();
  });

  it('reads a client certificate and key from -data fields', () => {
    const target = usable(resolveKubeContext(kubeconfig({ admin: { user: { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) } } })));
    expect(target.credentials).toBe('client certificate');
    expect(target.kube.clientCert).toEqual({ cert: CERT, key: KEY });
    expect(target.kube.token).toBeUndefined();
  });

  it('reads the CA, client certificate, key and token from files next to the kubeconfig (minikube)', () => {
    const config = kubeconfig(
      { minikube: { cluster: { 'certificate-authority': 'ca.crt' }, user: { 'client-certificate': 'client.crt', 'client-key': 'client.key', tokenFile: 'token' } } },
      undefined,
      { 'ca.crt': CA, 'client.crt': CERT, 'client.key': KEY, token: 'from-file\n' },
    );
    const target = usable(resolveKubeContext(config));
    expect(target.credentials).toBe('client certificate and token');
    expect(target.kube.ca).toBe(CA);
    expect(target.kube.clientCert).toEqual({ cert: CERT, key: KEY });
    expect(target.kube.token?.()).toBe('from-file');
  });

  it('prefers -data over a file, and token over tokenFile, as kubectl does', () => {
    const config = kubeconfig({ c: { cluster: { 'certificate-authority-data': b64(CA), 'certificate-authority': 'missing.crt' }, user: { token: 'inline', tokenFile: 'missing' } } });
    const target = usable(resolveKubeContext(config));
    expect(target.kube.ca).toBe(CA);
    expect(target.kube.token?.()).toBe('inline');
  });

  it('keeps insecure-skip-tls-verify, and refuses it next to a CA', () => {
    expect(usable(resolveKubeContext(kubeconfig({ c: { cluster: { 'insecure-skip-tls-verify': true } } }))).kube.insecureSkipTlsVerify).toBe(true);
    expect(reason(resolveKubeContext(kubeconfig({ c: { cluster: { 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64(CA) } } })))).toBe(
      'context "c": cluster "c-cluster" sets both insecure-skip-tls-verify and a certificate authority',
    );
  });

  it('serves the named context instead of the current one', () => {
    const config = kubeconfig({ first: {}, Second_One: { server: 'https://10.0.0.2:6443' } });
    expect(usable(resolveKubeContext(config, { context: 'Second_One' }))).toMatchObject({ context: 'Second_One', cluster: 'second-one' });
    expect(reason(resolveKubeContext(config, { context: 'nope' }))).toBe('context "nope" is not in the kubeconfig');
  });

  it('says why a user cannot be handed to an agent', () => {
    const why = (user: Record<string, unknown>) => reason(resolveKubeContext(kubeconfig({ c: { user } })));
    expect(why({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', args: ['eks', 'get-token'] } })).toBe(
      'user "c-user" gets its credentials from an exec plugin (aws), which the dev stack cannot hand to an agent',
    );
    expect(why({ 'auth-provider': { name: 'oidc', config: {} } })).toBe('user "c-user" gets its credentials from the auth provider "oidc", which the dev stack cannot hand to an agent');
    expect(why({ username: 'admin', password: 'pw' })).toBe('user "c-user" signs in with a password, which the agent does not support');
    expect(why({})).toBe('user "c-user" has no token or client certificate');
    expect(why({ 'client-certificate-data': b64(CERT) })).toBe('user "c-user" has a client certificate but no client key');
    expect(why({ 'client-key-data': b64(KEY) })).toBe('user "c-user" has a client key but no client certificate');
    expect(why({ tokenFile: '/nonexistent/token' })).toBe('user "c-user": tokenFile: cannot read /nonexistent/token (ENOENT)');
  });

  it('says why a cluster cannot be reached by an agent', () => {
    const why = (ctx: Ctx) => reason(resolveKubeContext(kubeconfig({ c: ctx })));
    expect(why({ server: 'http://127.0.0.1:8080' })).toBe('context "c": cluster "c-cluster": server http://127.0.0.1:8080 is not https');
    expect(why({ server: 'https://rancher.example/k8s/clusters/c-1' })).toBe(
      'context "c": cluster "c-cluster": server https://rancher.example/k8s/clusters/c-1 has a path, which the agent does not support',
    );
    expect(why({ server: 'not a url' })).toBe('context "c": cluster "c-cluster": server not a url is not a URL');
    expect(why({ cluster: { 'proxy-url': 'socks5://localhost:1080' } })).toBe(
      'context "c": cluster "c-cluster" is reached through proxy-url socks5://localhost:1080, which the agent does not support',
    );
  });

  it('says when there is no current context, or its cluster or user is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-kubecontext-'));
    const path = join(dir, 'config');
    writeFileSync(path, stringify({ contexts: [{ name: 'a', context: { cluster: 'gone', user: 'u' } }, { name: 'b', context: { cluster: 'here' } }], clusters: [{ name: 'here', cluster: { server: 'https://x' } }] }));
    const config = loadKubeconfig([path]);
    expect(reason(resolveKubeContext(config))).toBe(`the kubeconfig (${path}) has no current context`);
    expect(reason(resolveKubeContext(config, { context: 'a' }))).toBe('context "a": cluster "gone" is not in the kubeconfig');
    expect(reason(resolveKubeContext(config, { context: 'b' }))).toBe('context "b" names no user, so it has no credentials');
  });

  it('serves the real context behind the one `ztsh kube login` wrote for this dev stack', () => {
    const ownProxy = new URL('https://localhost:3080');
    const ztshUser = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'node', args: ['ztsh.js', 'kube', 'credentials'] } };
    const config = kubeconfig(
      {
        'localhost-kind-kind': { server: 'https://localhost:3080/k8s/kind-kind', user: ztshUser },
        'localhost-sandbox': { server: 'https://localhost:3080/k8s/sandbox', user: ztshUser },
        'kind-kind': { user: { token: 'kind' } },
      },
      'localhost-kind-kind',
    );
    expect(usable(resolveKubeContext(config, { ownProxy }))).toMatchObject({ context: 'kind-kind', cluster: 'kind-kind' });
    expect(reason(resolveKubeContext(config, { ownProxy, context: 'localhost-sandbox' }))).toBe('context "localhost-sandbox" goes through this dev stack itself');
    // Another ztsh proxy's context is an ordinary one, which an agent cannot use.
    expect(reason(resolveKubeContext(config, { ownProxy: new URL('https://localhost:4080') }))).toMatch(/^context "localhost-kind-kind": .* has a path/);
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { kubeconfigPaths, loadKubeconfig } from './kubeconfig.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ztsh-kubeconfig-'));
}

function write(path: string, value: unknown): string {
  writeFileSync(path, typeof value === 'string' ? value : stringify(value));
  return path;
}

describe('kubeconfigPaths', () => {
  it('takes every file of KUBECONFIG in order, without empty entries or repeats', () => {
    expect(kubeconfigPaths({ KUBECONFIG: ['/a', '', '/b', '/a'].join(delimiter), HOME: '/home/x' })).toEqual(['/a', '/b']);
  });

  it('falls back to $HOME/.kube/config, and to nothing when HOME is unset too', () => {
    expect(kubeconfigPaths({ HOME: '/home/x' })).toEqual(['/home/x/.kube/config']);
    expect(kubeconfigPaths({ KUBECONFIG: '', HOME: '/home/x' })).toEqual(['/home/x/.kube/config']);
    expect(kubeconfigPaths({})).toEqual([]);
  });
});

describe('loadKubeconfig', () => {
  it('merges files the way kubectl does: the first file to set a name or current-context wins', () => {
    const dir = tempDir();
    const first = write(join(dir, 'first'), {
      clusters: [{ name: 'shared', cluster: { server: 'https://first.example:6443' } }],
      users: [{ name: 'me', user: { token: 'first-token' } }],
      contexts: [],
    });
    const second = write(join(dir, 'second'), {
      'current-context': 'from-second',
      clusters: [
        { name: 'shared', cluster: { server: 'https://second.example:6443' } },
        { name: 'only-second', cluster: { server: 'https://only.example' } },
      ],
      users: [{ name: 'me', user: { token: 'second-token' } }],
      contexts: [{ name: 'from-second', context: { cluster: 'shared', user: 'me' } }],
    });
    const third = write(join(dir, 'third'), { 'current-context': 'from-third' });

    const config = loadKubeconfig([first, join(dir, 'missing'), second, third]);
    expect(config.files).toEqual([first, second, third]);
    expect(config.currentContext).toBe('from-second');
    expect(config.clusters.get('shared')?.server).toBe('https://first.example:6443');
    expect(config.clusters.get('only-second')?.server).toBe('https://only.example');
    expect(config.users.get('me')?.token).toBe('first-token');
    expect(config.contexts.get('from-second')).toEqual({ cluster: 'shared', user: 'me' });
  });

  it('resolves relative paths against the folder of the file that holds them', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    const file = write(join(dir, 'sub', 'config'), {
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'ca.crt' } }],
      users: [
        { name: 'u', user: { 'client-certificate': 'certs/u.crt', 'client-key': '/abs/u.key', tokenFile: '../token' } },
      ],
    });
    const config = loadKubeconfig([file]);
    expect(config.clusters.get('c')?.['certificate-authority']).toBe(join(dir, 'sub', 'ca.crt'));
    expect(config.users.get('u')).toMatchObject({ 'client-certificate': join(dir, 'sub', 'certs', 'u.crt'), 'client-key': '/abs/u.key', tokenFile: join(dir, 'token') });
  });

  it('reads an empty file, null lists and entries without a body as empty', () => {
    const dir = tempDir();
    const empty = write(join(dir, 'empty'), '');
    const nulls = write(join(dir, 'nulls'), 'apiVersion: v1\nkind: Config\npreferences: {}\nclusters: null\nusers:\n- name: bare\ncontexts: []\ncurrent-context: ""\n');
    const config = loadKubeconfig([empty, nulls]);
    expect(config.currentContext).toBeUndefined();
    expect(config.users.get('bare')).toEqual({});
  });

  it('refuses a name twice in one file, as kubectl does', () => {
    const file = write(join(tempDir(), 'config'), { contexts: [{ name: 'a', context: {} }, { name: 'a', context: {} }] });
    expect(() => loadKubeconfig([file])).toThrow(`kubeconfig ${file}: contexts has "a" twice`);
  });

  it('names the file and the path of what it cannot read', () => {
    const dir = tempDir();
    const broken = write(join(dir, 'broken'), 'clusters: [\n');
    expect(() => loadKubeconfig([broken])).toThrow(new RegExp(`^cannot read kubeconfig ${broken}: `));
    const wrong = write(join(dir, 'wrong'), { clusters: [{ name: 'c', cluster: { server: 6443 } }] });
    expect(() => loadKubeconfig([wrong])).toThrow(`kubeconfig ${wrong}: clusters[0].cluster.server: `);
  });
});

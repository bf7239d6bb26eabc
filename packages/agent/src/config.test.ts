import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, kubeAuthorization, kubeTarget, kubeTls, TOKEN_FILE_CHECK_MS } from './config.ts';

function config(kube: Record<string, unknown>) {
  return AgentConfigSchema.parse({ proxy: 'https://proxy.example', cluster: 'edge', state_dir: 'state', kube });
}

function files(entries: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-agent-config-'));
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(entries)) {
    out[name] = join(dir, name);
    writeFileSync(out[name], text);
  }
  return out;
}

describe('kubeTarget', () => {
  it('reads a token file again once it changed, looking at it at most once per TOKEN_FILE_CHECK_MS', () => {
    const f = files({ token: 'first\n' });
    let clock = 1_000_000;
    const target = kubeTarget(config({ server: 'https://10.0.0.1:6443', token_file: f.token }), {}, () => clock);
    expect(kubeAuthorization(target)).toBe('Bearer first');
    // Rotated as the kubelet does: a new file put in place of the old one.
    writeFileSync(`${f.token}.new`, 'second-token\n');
    renameSync(`${f.token}.new`, f.token!);
    clock += TOKEN_FILE_CHECK_MS - 1;
    expect(kubeAuthorization(target)).toBe('Bearer first');
    clock += 1;
    expect(kubeAuthorization(target)).toBe('Bearer second-token');
    expect(kubeTls(target)).toEqual({});
  });

  it('does not read an unchanged token file again', () => {
    const f = files({ token: 'same\n' });
    utimesSync(f.token!, 1_700_000_000, 1_700_000_000); // a whole second: set again exactly below
    let clock = 1_000_000;
    const target = kubeTarget(config({ server: 'https://10.0.0.1:6443', token_file: f.token }), {}, () => clock);
    expect(kubeAuthorization(target)).toBe('Bearer same');
    // Written over in place with its size and mtime kept: only a read would see it.
    writeFileSync(f.token!, 'SAME\n');
    utimesSync(f.token!, 1_700_000_000, 1_700_000_000);
    for (let i = 0; i < 5; i++) {
      clock += TOKEN_FILE_CHECK_MS;
      expect(kubeAuthorization(target)).toBe('Bearer same');
    }
  });

  it('says so when the token file goes away', () => {
    const f = files({ token: 'gone\n' });
    let clock = 1_000_000;
    const target = kubeTarget(config({ server: 'https://10.0.0.1:6443', token_file: f.token }), {}, () => clock);
    expect(kubeAuthorization(target)).toBe('Bearer gone');
    rmSync(f.token!);
    clock += TOKEN_FILE_CHECK_MS;
    expect(() => kubeAuthorization(target)).toThrow(`cannot read kube token file ${f.token}`);
  });

  it('signs in to the apiserver with a client certificate and key', () => {
    const f = files({ crt: 'CERT\n', key: 'KEY\n', ca: 'CA\n' });
    const target = kubeTarget(config({ server: 'https://10.0.0.1:6443', client_certificate_file: f.crt, client_key_file: f.key, ca_file: f.ca }), {});
    expect(target.clientCert).toEqual({ cert: 'CERT', key: 'KEY' });
    expect(target.token).toBeUndefined();
    expect(kubeAuthorization(target)).toBeUndefined();
    expect(kubeTls(target)).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
  });

  it('drops the CA and stops checking the certificate only when asked to skip the check', () => {
    expect(kubeTls({ server: new URL('https://x'), ca: 'CA', insecureSkipTlsVerify: true })).toEqual({ rejectUnauthorized: false });
  });

  it('says what is missing', () => {
    const f = files({ crt: 'CERT' });
    expect(() => kubeTarget(config({ server: 'https://10.0.0.1:6443' }), {})).toThrow(
      'kube: give token, token_file, or client_certificate_file with client_key_file (or in_cluster: true)',
    );
    expect(() => kubeTarget(config({ server: 'https://10.0.0.1:6443', client_certificate_file: f.crt }), {})).toThrow('kube: client_certificate_file needs client_key_file');
    expect(() => kubeTarget(config({ server: 'https://10.0.0.1:6443', client_key_file: f.crt }), {})).toThrow('kube: client_key_file needs client_certificate_file');
    expect(() => kubeTarget(config({ server: 'http://10.0.0.1:8080', token: 't' }), {})).toThrow('kube.server: must be an https:// URL');
    expect(() => kubeTarget(config({ server: 'https://10.0.0.1:6443', client_certificate_file: '/nonexistent.crt', client_key_file: f.crt }), {})).toThrow(
      'cannot read kube client certificate /nonexistent.crt',
    );
  });

  it('rejects unknown keys under kube', () => {
    expect(AgentConfigSchema.safeParse({ proxy: 'https://p', cluster: 'c', state_dir: 's', kube: { server: 'https://k', client_cert: 'x' } }).success).toBe(false);
  });
});

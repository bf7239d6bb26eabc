// `ztsh kube login` writes a path under ZTSH_HOME into the kubeconfig, as
// client-certificate and client-key. ZTSH_HOME is the user's (or whatever
// set their environment): a path with YAML syntax, a newline or quotes in it
// must come back out of the kubeconfig as exactly that path, to kubectl too,
// and never add a key of its own (an exec section, another user).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZtshHome } from '@ztsh/cli';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';

const HOSTILE_NAMES = [
  'a: b',
  '#comment',
  '- item',
  '"quoted"',
  "it's",
  '{x: 1}',
  '[1, 2]',
  '&anchor *alias !tag',
  '| > % @ `',
  'x\nexec:\n  command: /bin/sh\n  args: [-c, "touch /tmp/pwned"]',
  'tab\there',
  'back\\slash',
  '~',
  'null',
  'true',
  '0x1F',
  'ünïcødé 名前',
  ' trailing space ',
];

let k: KubeEnv;
beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

describe('ZTSH_HOME paths written into the kubeconfig', () => {
  it('come back exactly, to the yaml parser and to kubectl 1.33 and 1.30, and add nothing', async () => {
    const profile = new ZtshHome(k.home).readProfile(k.stack.url)!;
    const root = mkdtempSync(join(tmpdir(), 'ztsh-odd-'));
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const dir = join(root, `${i}`, name);
      mkdirSync(dir, { recursive: true });
      const home = new ZtshHome(dir);
      home.writeProfile(k.stack.url, profile);
      home.writeTrust(k.stack.url, k.stack.tlsCa);
      home.setCurrent(k.stack.url);
      const kubeconfig = join(root, `${i}`, 'kubeconfig');
      const env = { PATH: process.env.PATH!, HOME: root, ZTSH_HOME: dir, KUBECONFIG: kubeconfig };
      const written = await cli(['kube', 'login', 'sandbox'], env);
      expect(written.code, `${JSON.stringify(name)}: ${written.stderr}`).toBe(0);

      const file = home.credentialFile(k.stack.url);
      const config = parse(readFileSync(kubeconfig, 'utf8')) as { users: { name: string; user: Record<string, unknown> }[] };
      expect(config.users, JSON.stringify(name)).toEqual([{ name: `localhost-sandbox`, user: { 'client-certificate': file, 'client-key': file } }]);

      for (const version of ['1.33', '1.30']) {
        const bin = findKubectl(version, process.env.PATH)!;
        const kenv = { HOME: root, KUBECONFIG: kubeconfig };
        const seen = await runKubectl(bin, ['config', 'view', '--raw', '-o', 'jsonpath={.users[*].user.client-certificate}|{.users[*].user.client-key}|{.users[*].user.exec}'], { env: kenv });
        expect(seen.stdout, `${version} ${JSON.stringify(name)}`).toBe(`${file}|${file}|`);
      }
    }
    // One of them the whole way, kubectl reading the file at that path.
    const last = join(root, `${HOSTILE_NAMES.length - 1}`);
    const pods = await runKubectl(findKubectl('1.33', process.env.PATH)!, ['get', 'pods', '-o', 'name'], { env: { HOME: root, KUBECONFIG: join(last, 'kubeconfig') }, timeoutMs: 60_000 });
    expect(pods.stdout.trim(), pods.stderr).toBe('pod/web-1');
    const injected = join(root, `${HOSTILE_NAMES.findIndex((n) => n.startsWith('x\nexec'))}`);
    const viaNewline = await runKubectl(findKubectl('1.30', process.env.PATH)!, ['get', 'pods', '-o', 'name'], { env: { HOME: root, KUBECONFIG: join(injected, 'kubeconfig') }, timeoutMs: 60_000 });
    expect(viaNewline.stdout.trim(), viaNewline.stderr).toBe('pod/web-1');
  }, 300_000);
});

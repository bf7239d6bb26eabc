// The credential plugin's fast path reads argv (from a kubeconfig, which a
// user may have been handed), ZTSH_HOME and files under it. Hostile values
// get the full CLI's answer exactly: control characters shown as escapes,
// never raw; no profile read from outside ZTSH_HOME; odd forms left to the
// full command line.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli, type ZtshCommand } from '../helpers/cli.ts';
import { SOURCE_NODE_ARGS } from '../helpers/source-bins.ts';

const FULL_CLI: ZtshCommand = { command: process.execPath, args: [...SOURCE_NODE_ARGS, fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url))] };
const ESCAPES = '\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\rhidden';

describe('ztsh kube credentials with hostile input', () => {
  it('shows control characters in --proxy as escapes, as the full CLI does', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ztsh-home-'));
    for (const proxy of [`https://[${ESCAPES}`, `ftp://x${ESCAPES}`, `https://a b${ESCAPES}`]) {
      const args = ['kube', 'credentials', '--proxy', proxy, '--cluster', 'sandbox'];
      const [fast, full] = await Promise.all([cli(args, { ZTSH_HOME: home }), cli(args, { ZTSH_HOME: home }, FULL_CLI)]);
      expect(fast).toEqual(full);
      expect(fast.code).toBe(2);
      expect(fast.stderr).not.toMatch(/[\x1b\x07\r\u009b]/);
      expect(fast.stderr).toContain('\\x1b');
    }
  }, 120_000);

  it('never takes a profile from outside ZTSH_HOME, whatever --proxy or current.json say', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ztsh-root-'));
    const home = join(root, 'home');
    // A complete-looking profile where a path built from a hostile host name could land.
    for (const dir of [join(root, 'profiles', 'x_443'), join(root, 'x_443'), join(home, 'x_443')]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'key.pem'), 'KEY');
      writeFileSync(join(dir, 'cert.pem'), 'CERT');
    }
    mkdirSync(join(home, 'profiles'), { recursive: true });
    writeFileSync(join(home, 'current.json'), JSON.stringify({ proxy: 'https://../../x' }));
    for (const proxy of ['https://../x', 'https://..%2f..%2fx', 'https://%2e%2e/x', 'https://x/../../', undefined]) {
      const args = ['kube', 'credentials', ...(proxy ? ['--proxy', proxy] : [])];
      const [fast, full] = await Promise.all([cli(args, { ZTSH_HOME: home }), cli(args, { ZTSH_HOME: home }, FULL_CLI)]);
      expect(fast, String(proxy)).toEqual(full);
      expect(fast.code, String(proxy)).not.toBe(0);
      expect(fast.stdout).toBe('');
      // A planted profile would have been read, and its certificate refused as unreadable.
      expect(fast.stderr).not.toMatch(/cannot be read/);
    }
  }, 120_000);
});

// A second `pnpm start` (`ztshd dev`) while the first runs: one line that
// names the address, the likely cause and --port; no stack trace, exit 1.
// And the first stack goes on serving.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, fetch } from 'undici';
import { ZTSHD } from './helpers/source-bins.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newZtshHome } from './helpers/cli.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';


let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.close());

async function ztshd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...ZTSHD, ...args], { env: { PATH: process.env.PATH ?? '', ZTSH_HOME: newZtshHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('ztshd dev on a port that is taken', () => {
  it('says so in one line, names --port, and leaves the first stack alone', async () => {
    const port = Number(stack.url.port);
    const r = await ztshd(['dev', '--port', String(port), '--sandbox-only', '--data-dir', stack.dataDir]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([
      `error: 127.0.0.1:${port} is already in use, most likely by another ztshd (a second pnpm start?): stop that one, or run this one on another port with --port ${port + 1}`,
    ]);
    expect(r.stderr).not.toMatch(/EADDRINUSE|^\s+at /m);
    expect(r.stdout).toBe('');

    const dispatcher = new Agent({ connect: { ca: stack.tlsCa } });
    try {
      const res = await fetch(new URL('/v1/connectors', stack.url), { dispatcher });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ connectors: [{ name: 'dev' }] });
    } finally {
      await dispatcher.close();
    }
  });

  it('--port is in the help, and a port that is not one is a usage error', async () => {
    const help = await ztshd(['dev', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--port <port>\s+port of the proxy; another one runs a second\s+dev stack beside the first/);
    const bad = await ztshd(['dev', '--port', '70000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: option '--port <port>' argument '70000' is invalid\. a port is a whole number from 0 to 65535\./m);
  });
});

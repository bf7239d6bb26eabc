// `ztsh ... | head -1`: once head has its line and closes the pipe, ztsh
// stops quietly with the status a Unix tool killed by SIGPIPE has (141), no
// stack trace. Each command writes more than a pipe holds (a megabyte), so
// the write after head has gone surely fails with EPIPE.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_USERS } from '@ztsh/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { ZTSH } from './helpers/source-bins.ts';
import { loggedInEnv } from './helpers/profile.ts';
import { startTestStack, type TestStack } from './helpers/stack.ts';
import { storeSession } from './helpers/stored-session.ts';

let stack: TestStack;
let carol: Record<string, string>;
let sessionId: string;

beforeAll(async () => {
  stack = await startTestStack();
  carol = await loggedInEnv(stack, DEV_USERS[2]!);
  // 2000 events of about 700 bytes each.
  const audit = stack.ztshd.auth.deps.audit;
  for (let i = 0; i < 2000; i++) {
    audit.queue('kube.request', true, { user: 'alice', fields: { cluster: 'sandbox', verb: 'get', path: `/api/v1/namespaces/default/pods/${'p'.repeat(600)}-${i}`, status: 200 } });
  }
  await audit.flush();
  // A megabyte of terminal output.
  sessionId = (await storeSession(stack, { output: Array.from({ length: 1000 }, (_, i) => `line ${i} ${'x'.repeat(1000)}\r\n`) })).id;
});
afterAll(() => stack?.close());

/** Runs `ztsh <args> | head -1` in bash; the first line head printed, and ztsh's status and stderr. */
async function throughHead(args: string[]): Promise<{ first: string; status: number; stderr: string }> {
  const script = '"$0" "$@" 2>"$ZTSH_ERR_FILE" | head -1; echo "${PIPESTATUS[0]}"';
  const errFile = join(mkdtempSync(join(tmpdir(), 'ztsh-pipe-')), 'stderr');
  const child = spawn('bash', ['-c', script, process.execPath, ...ZTSH, ...args], { env: { ...carol, ZTSH_ERR_FILE: errFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on('close', resolve));
  const lines = out.split('\n');
  return { first: lines[0]!, status: Number(lines[1]), stderr: readFileSync(errFile, 'utf8') };
}

describe('a reader that closes the pipe early', () => {
  it('ztsh audit export | head -1', async () => {
    const r = await throughHead(['audit', 'export']);
    expect(JSON.parse(r.first)).toMatchObject({ seq: 1 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it('ztsh audit search --format json | head -1', async () => {
    const r = await throughHead(['audit', 'search', '--format', 'json', '--limit', '3000']);
    expect(r.first).toBe('[');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it('ztsh audit search (the table) | head -1', async () => {
    const r = await throughHead(['audit', 'search', '--limit', '3000']);
    expect(r.first).toMatch(/^TIME\s+TYPE/);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it('ztsh play --format asciicast | head -1', async () => {
    const r = await throughHead(['play', sessionId.slice(0, 8), '--format', 'asciicast']);
    expect(JSON.parse(r.first)).toMatchObject({ version: 2, width: 80 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(141);
  });

  it('a reader that reads it all sees status 0', async () => {
    const r = await cli(['play', sessionId.slice(0, 8), '--format', 'text'], carol);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(1001);
  });
});

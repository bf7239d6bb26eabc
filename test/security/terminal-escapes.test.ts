// Item 7: what a user asks of a cluster must not drive an auditor's
// terminal. alice runs an exec whose command and output carry ESC, CSI, OSC 0
// (window title), OSC 52 (clipboard), a carriage return and a C1 CSI; carol
// lists the session, searches the audit log and replays it. No raw control
// sequence reaches carol's terminal: they are shown as escapes, and the JSON
// and asciicast forms still carry the exact data.
import { DEV_USERS } from '@ztsh/server';
import { parseAsciicast, type SessionInfo } from '@ztsh/protocol';
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';
import { loggedInEnv } from '../helpers/profile.ts';

/** A terminal acts on these: C0 but newline and tab, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const PAYLOAD = 'mark-7\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\u009b31m\rhidden';

let k: KubeEnv;
let carol: Record<string, string>;
let session: SessionInfo;

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
  carol = await loggedInEnv(k.stack, DEV_USERS[2]!);
  const r = await runKubectl(findKubectl('1.33', process.env.PATH)!, ['exec', 'web-1', '--', 'echo', PAYLOAD], { env: k.env, timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(PAYLOAD);
  const ls = await cli(['recordings', 'ls', '--user', 'alice', '--format', 'json'], carol);
  expect(ls.code, ls.stderr).toBe(0);
  session = (JSON.parse(ls.stdout) as SessionInfo[]).find((s) => s.command.includes(PAYLOAD))!;
  expect(session).toBeDefined();
});
afterAll(() => k?.close());

describe('item 7: control characters from a session never reach an auditor\'s terminal raw', () => {
  it('item 7: ztsh recordings ls shows the command with its escapes visible', async () => {
    const r = await cli(['recordings', 'ls'], carol);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('echo mark-7\\x1b]52;c;ZXZpbA==\\x07\\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\rhidden');
  });

  it('item 7: ztsh recordings search and audit search show no raw control sequence', async () => {
    const search = await cli(['recordings', 'search', 'mark-7'], carol);
    expect(search.code, search.stderr).toBe(0);
    expect(search.stdout).toContain(session.id);
    expect(search.stdout).not.toMatch(RAW_CONTROL);

    const audit = await cli(['audit', 'search', '--user', 'alice', '--type', 'session.'], carol);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('\\x1b]52;c;ZXZpbA==\\x07');
    expect(audit.stdout).not.toMatch(RAW_CONTROL);
  });

  it('item 7: ztsh play --format text shows the OSC sequences instead of sending them', async () => {
    const r = await cli(['play', session.id, '--format', 'text'], carol);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('mark-7\\x1b]52;c;ZXZpbA==\\x07\\x1b]0;pwned\\x07\\u009b31m\\rhidden');
  });

  it('item 7: ztsh play replays without the clipboard, title or C1 sequences', async () => {
    const r = await cli(['play', session.id, '--speed', '1000'], carol);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('mark-7');
    expect(r.stdout).not.toMatch(/\x1b\]|\x07|[\u0080-\u009f]/);
  });

  it('item 7: JSON and asciicast keep the exact data, with nothing raw a terminal obeys', async () => {
    const json = await cli(['recordings', 'ls', '--format', 'json'], carol);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    expect((JSON.parse(json.stdout) as SessionInfo[]).find((s) => s.id === session.id)!.command).toEqual(['echo', PAYLOAD]);

    const cast = await cli(['play', session.id, '--format', 'asciicast'], carol);
    expect(cast.code, cast.stderr).toBe(0);
    expect(cast.stdout).not.toMatch(RAW_CONTROL);
    const output = parseAsciicast(cast.stdout).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    expect(output).toContain(PAYLOAD);
  });
});

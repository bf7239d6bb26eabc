import { describe, expect, it } from 'vitest';
import { CliError } from '../cli-error.ts';
import { asked, duration, requestIdOption } from './request.ts';
import { requestCommand } from './requestable.ts';

describe('ztsh request formatting', () => {
  it('shows durations the way --duration takes them', () => {
    expect(duration(7_200_000)).toBe('2h');
    expect(duration(5_400_000)).toBe('1h30m');
    expect(duration(90_000)).toBe('1m30s');
    expect(duration(7 * 86_400_000)).toBe('7d');
    expect(duration(86_400_000 + 60_000)).toBe('1d1m');
  });

  it('names roles and single pods alike', () => {
    expect(asked({ roles: ['prod-admin'], resources: [{ cluster: 'prod', kind: 'pods', namespace: 'default', name: 'web-1' }] })).toBe('role prod-admin, /prod/pod/default/web-1');
  });

  it('prints the exact command a refusal hints at', () => {
    expect(requestCommand(['prod-admin'])).toBe('ztsh request create --roles prod-admin --reason "..."');
  });
});

describe('request ids on the command line', () => {
  it('takes what ids are made of', () => {
    expect(requestIdOption('0b8f4a4e-5a1e-4e0b-9c4c-2f1c1e5f8a11')).toBe('0b8f4a4e-5a1e-4e0b-9c4c-2f1c1e5f8a11');
  });

  it.each(['../locks', '..', 'a/b', 'a%2fb', 'a?b=1', 'a#b', '', 'x'.repeat(65), 'a b', 'a\u001b[2Jb', 'ａ'])('refuses %j before anything is sent (exit 2)', (id) => {
    let thrown: unknown;
    try {
      requestIdOption(id);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect((thrown as CliError).exitCode).toBe(2);
    expect((thrown as CliError).message).not.toContain('\u001b');
  });
});

import { describe, expect, it } from 'vitest';
import { credentialArgs } from './args.ts';

describe('credentialArgs: the command lines the fast path answers', () => {
  it('reads the form ztsh kube login writes, and its plain variants in any order', () => {
    const proxy = 'https://access.example.com';
    expect(credentialArgs(['kube', 'credentials', '--proxy', proxy, '--cluster', 'prod'])).toEqual({ proxy, cluster: 'prod' });
    expect(credentialArgs(['kube', 'credentials', '--cluster=prod', `--proxy=${proxy}`])).toEqual({ proxy, cluster: 'prod' });
    expect(credentialArgs(['kube', 'credentials', '--cluster', 'prod'])).toEqual({ cluster: 'prod' });
    expect(credentialArgs(['kube', 'credentials'])).toEqual({});
    // A value with "=" in it is kept whole after the first "=".
    expect(credentialArgs(['kube', 'credentials', '--cluster=a=b'])).toEqual({ cluster: 'a=b' });
    // The session MFA form, the flag anywhere.
    expect(credentialArgs(['kube', 'credentials', '--proxy', proxy, '--cluster', 'prod', '--session-mfa'])).toEqual({ proxy, cluster: 'prod', sessionMfa: true });
    expect(credentialArgs(['kube', 'credentials', '--session-mfa', '--cluster=prod'])).toEqual({ cluster: 'prod', sessionMfa: true });
  });

  it('leaves everything else to the full command line', () => {
    for (const argv of [
      [],
      ['kube'],
      ['kube', 'ls'],
      ['credentials', 'kube'],
      ['--proxy', 'x', 'kube', 'credentials'],
      ['kube', 'credentials', '--help'],
      ['kube', 'credentials', '-h'],
      ['kube', 'credentials', '--format', 'json'],
      ['kube', 'credentials', 'extra'],
      ['kube', 'credentials', '--proxy'],
      ['kube', 'credentials', '--proxy', ''],
      ['kube', 'credentials', '--proxy='],
      ['kube', 'credentials', '--proxy', '--cluster'],
      ['kube', 'credentials', '--proxy', '-x'],
      ['kube', 'credentials', '--proxy', 'a', '--proxy', 'b'],
      ['kube', 'credentials', '--cluster=a', '--cluster', 'b'],
      ['kube', 'credentials', '--PROXY', 'a'],
      ['kube', 'credentials', '--', '--proxy', 'a'],
      ['kube', 'credentials', '--proxyx=a'],
      ['kube', 'credentials', '--session-mfa', '--session-mfa'],
      ['kube', 'credentials', '--session-mfa=true'],
      ['kube', 'credentials', '--session-mfa=false'],
      ['kube', 'credentials', '--SESSION-MFA'],
      ['kube', 'credentials', '--proxy', '--session-mfa'],
    ]) {
      expect(credentialArgs(argv), argv.join(' ')).toBeUndefined();
    }
  });
});

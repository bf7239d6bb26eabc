import { describe, expect, it } from 'vitest';
import { hostLocality } from './local-address.ts';

describe('hostLocality', () => {
  it('calls loopback, private and link-local addresses local', async () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '10.1.2.3', '172.18.0.2', '192.168.49.2', '169.254.1.1', '[::1]', 'fd00::1', 'localhost']) {
      expect(await hostLocality(host), host).toBe('local');
    }
  });

  it('calls public addresses remote', async () => {
    for (const host of ['34.120.1.2', '172.32.0.1', '[2001:db8::1]', '100.64.0.1']) {
      expect(await hostLocality(host), host).toBe('remote');
    }
  });

  it('says when a name does not resolve', async () => {
    expect(await hostLocality('no-such-host.invalid')).toBe('unresolved');
  });
});

import { describe, expect, it } from 'vitest';
import { execInteractive } from './exec-info.ts';

const info = (spec: unknown) => ({ KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec }) });

describe('execInteractive: whether kubectl passed its terminal to the plugin', () => {
  it('believes kubectl when it says so, whatever the plugin\'s own stdin is', () => {
    expect(execInteractive(info({ interactive: true }), false)).toBe(true);
    expect(execInteractive(info({ interactive: false }), true)).toBe(false);
    expect(execInteractive(info({}), true)).toBe(false);
  });

  it('takes nothing but a JSON true: a malformed or odd value means no terminal, so the plugin refuses at once instead of waiting', () => {
    for (const value of ['', '{', 'null', '[]', '"interactive"', JSON.stringify({ spec: { interactive: 'true' } }), JSON.stringify({ spec: { interactive: 1 } }), JSON.stringify({ spec: null })]) {
      expect(execInteractive({ KUBERNETES_EXEC_INFO: value }, true), value).toBe(false);
    }
  });

  it('run by hand (no KUBERNETES_EXEC_INFO), its own stdin decides', () => {
    expect(execInteractive({}, true)).toBe(true);
    expect(execInteractive({}, false)).toBe(false);
  });
});

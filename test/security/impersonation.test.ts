// Item 15: `kubectl --as=<me> --as-group=<a group my roles list>`. kubectl
// sends --as with every --as-group, so refusing one's own name made
// --as-group unusable. Naming the user one is impersonated as anyway asks for
// nothing more; any other user stays refused before anything reaches the
// cluster.
import { findKubectl, runKubectl } from '@ztsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeEnv, type KubeEnv } from '../helpers/kube-env.ts';

let k: KubeEnv;
const bin = findKubectl('1.33', process.env.PATH)!;
const kubectl = (args: string[]) => runKubectl(bin, args, { env: k.env, timeoutMs: 30_000 });

beforeAll(async () => {
  k = await startKubeEnv();
  k.kube.addPod('default', 'web-1');
});
afterAll(() => k?.close());

describe('item 15: kubectl --as and --as-group', () => {
  it('item 15: --as=<yourself> --as-group=<a group of your roles> is allowed and impersonated as asked', async () => {
    const before = k.kube.requests.length;
    const r = await kubectl(['--as=alice', '--as-group=developers', 'get', 'pods']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/web-1/);
    const seen = k.kube.requests.slice(before).filter((q) => q.path === '/api/v1/namespaces/default/pods');
    expect(seen.length).toBeGreaterThan(0);
    for (const q of seen) {
      expect(q.impersonatedUser).toBe('alice');
      expect(q.impersonatedGroups).toEqual(['developers']);
    }
  });

  it('item 15: --as=someone-else is still refused, and the cluster receives nothing', async () => {
    const before = k.kube.requests.length;
    const r = await kubectl(['--as=someone-else', 'get', 'pods']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/may not impersonate user someone-else/);
    expect(k.kube.requests.slice(before)).toEqual([]);
  });

  it('item 15: --as=<yourself> with a group no role lists is refused, and the cluster receives nothing', async () => {
    const before = k.kube.requests.length;
    const r = await kubectl(['--as=alice', '--as-group=system:masters', 'get', 'pods']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/may not impersonate group system:masters/);
    expect(k.kube.requests.slice(before)).toEqual([]);
  });
});

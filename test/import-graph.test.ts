// Each deployable loads only what it needs: the agent's image carries no
// auth, proxy, database or Koa code, and a production ztshd never loads the
// dev stack's test doubles (testkit, the oidc-provider IdP).
import { describe, expect, it } from 'vitest';
import { importGraph } from './helpers/import-graph.ts';

describe('import graphs of the deployables', () => {
  it('ztsh-agent reaches no auth, proxy, server, testkit, SQLite or Koa code', async () => {
    const graph = await importGraph('packages/agent/src/main.ts');
    // The check would pass on an empty graph: make sure it walked the agent.
    expect(graph.files).toContain('packages/agent/src/agent.ts');
    expect(graph.packages).toContain('packages/protocol');
    expect(graph.packages).toContain('ws');
    for (const banned of ['packages/auth', 'packages/proxy', 'packages/server', 'packages/testkit', 'better-sqlite3', 'koa', '@koa/router', 'oidc-provider', 'openid-client']) {
      expect(graph.packages, banned).not.toContain(banned);
    }
    expect(graph.lazy).toEqual([]);
  });

  it('ztshd reaches testkit and oidc-provider only through the dev command', async () => {
    // Only ztshd's own dev modules may be left to a dynamic import; any other
    // dynamic import (of testkit, say) is followed and counted.
    const devModule = (specifier: string, importer: string) => importer === 'packages/server/src/dev-modules.ts' && /^\.\/dev-[\w-]+\.ts$/.test(specifier);
    const graph = await importGraph('packages/server/src/main.ts', devModule);
    expect(graph.files).toContain('packages/server/src/start.ts');
    expect(graph.packages).toContain('packages/auth');
    expect(graph.packages).toContain('packages/proxy');
    expect(graph.lazy).toContain('./dev-stack.ts');
    expect(graph.packages).not.toContain('packages/testkit');
    expect(graph.packages).not.toContain('oidc-provider');
    // The loader itself is static; what it loads is not.
    expect(graph.files.filter((f) => /\/dev-[\w-]+\.ts$/.test(f))).toEqual(['packages/server/src/dev-modules.ts']);
  });
});

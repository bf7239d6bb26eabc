import { defineConfig } from 'vitest/config';

// Unit tests live beside the code; end-to-end runs (real servers on port 0,
// the dev IdP, Chromium, kubectl) live in test/.
// Workspace packages export "source" (src/*.ts) beside "default" (dist/*.js):
// tests run the sources, never a stale build.
const conditions = ['source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: {
    // The JSON report feeds the "N passed, N failed" line of .ci/run.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    setupFiles: ['./test/setup.ts'],
    // expect.poll waits for an event (an agent dialing again after its
    // back-off, a batch written): 1 s, vitest's default, is a wall-clock
    // bound a loaded machine misses. A test that passes passes as soon as
    // the event is seen; only a failing one waits this long.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    // Two cores here and in CI: end-to-end files run two at a time.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});

// Starts the dev stack for a test: temp data dir, port 0, quiet logs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startDevStack, type DevStack, type DevStackOptions } from '@ztsh/server';

export interface TestStack extends DevStack {
  dataDir: string;
  /** PEM of the CA behind the stack's TLS certificate. */
  tlsCa: string;
  tlsCaFile: string;
}

export async function startTestStack(options: Partial<DevStackOptions> = {}): Promise<TestStack> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ztsh-stack-'));
  const stack = await startDevStack({
    dataDir,
    port: 0,
    log: pino({ level: process.env.ZTSH_TEST_LOG ?? 'silent' }),
    ...options,
  });
  return {
    ...stack,
    dataDir,
    tlsCa: stack.ztshd.tls.selfSignedCa!,
    tlsCaFile: stack.ztshd.tls.caFile!,
    close: async () => {
      await stack.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const EXTRA_USERS = {
  /** In a group no connector maps to a role. */
  dave: { username: 'dave', password: 'dave-dev-password', groups: ['contractors'] },
  /** A developer with no second factor yet: enrolls at first login. */
  erin: { username: 'erin', password: 'erin-dev-password', groups: ['developers'] },
};

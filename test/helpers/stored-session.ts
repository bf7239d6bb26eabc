// A recorded session put straight into a stack's store: its record in the
// database and its asciicast file under the recordings dir, as the proxy
// leaves them. For what is awkward to make through kubectl: a 200-column
// terminal, a megabyte of output, ids that share a prefix.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestStack } from './stack.ts';

type SessionRecord = Parameters<TestStack['ztshd']['auth']['storage']['sessions']['insert']>[0];

export interface StoredSessionOptions {
  id?: string;
  width?: number;
  height?: number;
  /** What the terminal showed, one output event each, a tenth of a second apart. */
  output: string[];
  user?: string;
  command?: string[];
}

export async function storeSession(stack: Pick<TestStack, 'ztshd'>, options: StoredSessionOptions): Promise<SessionRecord> {
  const id = options.id ?? randomUUID();
  const started = Date.now();
  const header = { version: 2, width: options.width ?? 80, height: options.height ?? 24, timestamp: Math.floor(started / 1000) };
  const lines = [JSON.stringify(header), ...options.output.map((text, i) => JSON.stringify([Number((0.1 * (i + 1)).toFixed(1)), 'o', text]))];
  const file = `${lines.join('\n')}\n`;
  const day = new Date(started).toISOString().slice(0, 10);
  const dir = join(stack.ztshd.auth.recordingsDir, day);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.cast`), file);
  const session: SessionRecord = {
    id,
    kind: 'exec',
    user: options.user ?? 'alice',
    roles: ['developer'],
    cluster: 'sandbox',
    namespace: 'default',
    pod: 'web-1',
    container: null,
    command: options.command ?? ['sh'],
    tty: true,
    kubernetesUser: options.user ?? 'alice',
    kubernetesGroups: ['developers'],
    clientIp: '127.0.0.1',
    startedAt: started,
    endedAt: started + 100 * (options.output.length + 1),
    exitCode: 0,
    endReason: null,
    bytesIn: 0,
    bytesOut: Buffer.byteLength(options.output.join('')),
    recordingPath: `${day}/${id}.cast`,
    recordingSize: Buffer.byteLength(file),
  };
  await stack.ztshd.auth.storage.sessions.insert(session);
  return session;
}

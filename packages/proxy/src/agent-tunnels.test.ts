import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentTunnels, type AgentTunnel } from './agent-tunnels.ts';

function tunnel(cluster: string, labels: Record<string, string> = { env: 'test' }): AgentTunnel {
  return {
    cluster,
    hostId: `host-${cluster}`,
    labels,
    get session(): never {
      throw new Error('no session in this test');
    },
    connectedAt: new Date('2026-12-01T00:00:00Z'),
    close: () => undefined,
  };
}

const dirs: string[] = [];
function knownFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ztsh-known-'));
  dirs.push(dir);
  return join(dir, 'known-clusters.json');
}
const exists = (file: string) => statSync(file, { throwIfNoEntry: false }) !== undefined;

afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('AgentTunnels: the known clusters file', () => {
  it('is written once after a burst of new clusters, not once per cluster', () => {
    vi.useFakeTimers();
    const file = knownFile();
    const tunnels = new AgentTunnels(file);
    for (let i = 0; i < 500; i++) tunnels.add(tunnel(`c-${i}`));
    expect(exists(file)).toBe(false);
    vi.advanceTimersByTime(999);
    expect(exists(file)).toBe(false);
    vi.advanceTimersByTime(1);
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { labels: Record<string, string> }>;
    expect(Object.keys(kept)).toHaveLength(500);
    expect(kept['c-499']).toMatchObject({ labels: { env: 'test' } });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('writes a pending change at shutdown, and a restarted proxy knows the clusters as offline', () => {
    vi.useFakeTimers();
    const file = knownFile();
    const first = new AgentTunnels(file);
    first.add(tunnel('prod', { env: 'prod' }));
    first.closeAll();
    expect(vi.getTimerCount()).toBe(0);
    const second = new AgentTunnels(file);
    expect(second.list()).toEqual([expect.objectContaining({ name: 'prod', online: false, labels: { env: 'prod' } })]);
  });

  it('writes again when an agent comes back with other labels, and not when it comes back the same', () => {
    vi.useFakeTimers();
    const file = knownFile();
    const tunnels = new AgentTunnels(file);
    tunnels.add(tunnel('dev', { env: 'dev' }));
    vi.advanceTimersByTime(1000);
    tunnels.add(tunnel('dev', { env: 'dev' }));
    expect(vi.getTimerCount()).toBe(0);
    tunnels.add(tunnel('dev', { env: 'staging' }));
    vi.advanceTimersByTime(1000);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ dev: { labels: { env: 'staging' } } });
  });

  it('without a file keeps clusters in memory only and schedules nothing', () => {
    vi.useFakeTimers();
    const tunnels = new AgentTunnels();
    tunnels.add(tunnel('a'));
    expect(vi.getTimerCount()).toBe(0);
    expect(tunnels.known('a')).toBe(true);
  });
});

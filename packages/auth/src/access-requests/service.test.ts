// The service on each real engine, as several replicas run it: two processes
// on one store expiring, or reviewing, the same request at once. Time ends a
// request once (one access_request.expire), concurrent reviews all count, and
// the notifier hears of each decision once.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RoleSchema, type AccessRequestInfo, type Role } from '@ztsh/protocol';
import { createAuditLog } from '../audit/audit-log.ts';
import { ManualClock, randomIds } from '../clock.ts';
import { createLocks } from '../locks/locks.ts';
import { ENGINES, SERVER_HOOK_MS } from '../storage/storage-engines.fixtures.ts';
import type { Storage } from '../storage/storage.ts';
import { createAccessRequests } from './service.ts';
import type { AccessRequestNotice } from './notifier.ts';
import { MAX_PENDING_PER_USER } from './policy.ts';

const HOUR = 3_600_000;
const role = (name: string, spec: Record<string, unknown> = {}): Role => RoleSchema.parse({ kind: 'role', version: 'v1', metadata: { name }, spec });
const roles = new Map(
  [
    role('prod-admin'),
    role('developer', { allow: { request: { roles: ['prod-admin'], thresholds: [{ approve: 2, deny: 2 }] } } }),
    role('reviewer', { allow: { review_requests: { roles: ['prod-admin'] } } }),
  ].map((r) => [r.metadata.name, r]),
);

async function replica(storage: Storage, clock: ManualClock, heard: [AccessRequestNotice, AccessRequestInfo][]) {
  const audit = createAuditLog(storage, clock);
  return createAccessRequests({
    storage,
    clock,
    audit,
    locks: await createLocks(storage, clock, randomIds, audit),
    roles,
    log: pino({ level: 'silent' }),
    accessRequestNotifier: { notify: (kind, request) => void heard.push([kind, request]) },
  });
}

const alice = { user: 'alice', roles: ['developer'], clientIp: '192.0.2.1' };
const reviewer = (user: string) => ({ user, roles: ['reviewer'], clientIp: '192.0.2.2' });

describe.each(ENGINES)('access requests on several replicas ($name)', (engine) => {
  it('a pending request past pendingUntil expires once, whichever replicas sweep', { timeout: SERVER_HOOK_MS }, async () => {
    const store = await engine.fresh();
    const [s1, s2] = [await store.open(), await store.open()];
    const clock = new ManualClock(Date.parse('2026-11-30T10:00:00Z'));
    const heard: [AccessRequestNotice, AccessRequestInfo][] = [];
    const [one, two] = await Promise.all([replica(s1, clock, heard), replica(s2, clock, heard)]);
    const made = await one.create(alice, { roles: ['prod-admin'], resources: [], reason: 'INC-1' });
    expect(heard.map(([kind]) => kind)).toEqual(['created']);
    clock.advance(24 * HOUR - 1);
    expect(await one.expireDue()).toBe(0);
    clock.advance(1);
    await Promise.all([one.expireDue(), two.expireDue(), one.get(alice, made.id), two.list(alice, undefined)]);
    expect((await s2.accessRequests.get(made.id))!.state).toBe('expired');
    const expired = (await s1.audit.list({ limit: 1000 })).filter((e) => e.type === 'access_request.expire');
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ user: 'alice', success: true, fields: { accessRequest: made.id, from: 'pending' } });
  });

  it('two reviewers at once on two replicas both count: approved at the second, heard once', { timeout: SERVER_HOOK_MS }, async () => {
    const store = await engine.fresh();
    const [s1, s2] = [await store.open(), await store.open()];
    const clock = new ManualClock(Date.parse('2026-11-30T10:00:00Z'));
    const heard: [AccessRequestNotice, AccessRequestInfo][] = [];
    const [one, two] = await Promise.all([replica(s1, clock, heard), replica(s2, clock, heard)]);
    const made = await one.create(alice, { roles: ['prod-admin'], resources: [], reason: 'INC-2', duration: '2h' });
    await Promise.all([one.review(reviewer('bob'), made.id, { decision: 'approve', reason: 'ok' }), two.review(reviewer('dan'), made.id, { decision: 'approve', reason: 'ok too' })]);
    const after = (await s1.accessRequests.get(made.id))!;
    expect(after.state).toBe('approved');
    expect(after.reviews.map((r) => r.reviewer).sort()).toEqual(['bob', 'dan']);
    expect(after.accessUntil).toBe(clock.now().getTime() + 2 * HOUR);
    expect(heard.map(([kind]) => kind)).toEqual(['created', 'approved']);
    expect(heard[1]![1]).toMatchObject({ id: made.id, state: 'approved', user: 'alice' });
    // The access ends at accessUntil: approved -> expired, once.
    clock.advance(2 * HOUR);
    await Promise.all([one.expireDue(), two.expireDue()]);
    expect((await s1.audit.list({ limit: 1000 })).filter((e) => e.type === 'access_request.expire')).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ accessRequest: made.id, from: 'approved' }) }),
    ]);
  });

  it('denials decide at the deny threshold and are heard; a notifier that throws changes nothing', { timeout: SERVER_HOOK_MS }, async () => {
    const store = await engine.fresh();
    const s = await store.open();
    const clock = new ManualClock(Date.parse('2026-11-30T10:00:00Z'));
    const audit = createAuditLog(s, clock);
    const service = createAccessRequests({
      storage: s,
      clock,
      audit,
      locks: await createLocks(s, clock, randomIds, audit),
      roles,
      log: pino({ level: 'silent' }),
      accessRequestNotifier: {
        notify: () => {
          throw new Error('receiver down');
        },
      },
    });
    const made = await service.create(alice, { roles: ['prod-admin'], resources: [], reason: 'INC-3' });
    expect((await service.review(reviewer('bob'), made.id, { decision: 'deny', reason: 'no' })).state).toBe('pending');
    expect((await service.review(reviewer('dan'), made.id, { decision: 'deny', reason: 'no' })).state).toBe('denied');
    // At most MAX_PENDING_PER_USER waiting at once: a flood is refused and audited.
    for (let i = 0; i < MAX_PENDING_PER_USER; i++) await service.create(alice, { roles: ['prod-admin'], resources: [], reason: `flood ${i}` });
    await expect(service.create(alice, { roles: ['prod-admin'], resources: [], reason: 'one more' })).rejects.toMatchObject({ code: 'conflict' });
    expect((await s.audit.list({ limit: 1000 })).filter((e) => e.type === 'access_request.create' && !e.success)).toEqual([
      expect.objectContaining({ user: 'alice', fields: expect.objectContaining({ reason: 'too_many_pending' }) }),
    ]);
  });
});

// Access requests, the auth side: made, listed, reviewed, dropped, ended by
// time. Every step is audited (fields.accessRequest = the id), refusals too;
// made and decided requests go to the notifier. The routes check who calls
// (routes/access-requests-api.ts); this module checks what they may do.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AccessRequestCreate, AccessRequestReviewBody, AccessRequestState, Role } from '@ztsh/protocol';
import { ZtshError } from '@ztsh/protocol';
import type { LoginDeps } from '../login/login-deps.ts';
import type { AccessRequestRecord } from '../storage/storage.ts';
import { requestInfo } from './info.ts';
import { noNotifier } from './notifier.ts';
import { checkReason, MAX_PENDING_PER_USER, PENDING_TTL_MS, planRequest } from './policy.ts';
import { maySee, reviewRefusal, rolesCover, type ReviewRefusal } from './reviewers.ts';
import { approvalLost, droppable, isDue, withReview, type InGoodStanding, type RequestPatch } from './state.ts';

/** accessRequestNotifier is read at each notice, so one set after start-up is heard. */
export type AccessRequestDeps = Pick<LoginDeps, 'storage' | 'clock' | 'audit' | 'roles' | 'log' | 'accessRequestNotifier' | 'locks'>;

/** Who acts: their own login roles only. */
export interface Actor {
  user: string;
  roles: string[];
  clientIp: string;
}

/** A compare-and-set lost to another writer this many times in a row is given up (and retried by the caller). */
const CAS_ATTEMPTS = 8;

export function rolesOf(deps: Pick<LoginDeps, 'roles'>, names: string[]): Role[] {
  return names.flatMap((name) => deps.roles.get(name) ?? []);
}

function notFound(id: string): ZtshError {
  return new ZtshError('not_found', `no access request ${id.slice(0, 64)}`, { hint: 'ztsh request ls lists the requests you may see' });
}

const REVIEW_REFUSALS: Record<ReviewRefusal, (r: AccessRequestRecord) => ZtshError> = {
  own_request: () => new ZtshError('access_denied', 'nobody reviews their own request', { hint: 'ask a reviewer (ztsh request show lists the suggested ones)' }),
  not_a_reviewer: (r) =>
    new ZtshError('access_denied', `your roles may not review requests for ${r.roles.join(', ')}`, { hint: 'a reviewer needs a role with review_requests covering these roles' }),
  not_pending: (r) => new ZtshError('conflict', `request ${r.id} is ${r.state}, not pending`, { hint: 'only pending requests are reviewed' }),
  already_reviewed: (r) => new ZtshError('conflict', `you already reviewed request ${r.id}`, { hint: 'each reviewer counts once' }),
};

export function createAccessRequests(deps: AccessRequestDeps) {
  const now = () => deps.clock.now().getTime();
  // Asked at each count, so a lock added after the review voids the approval.
  const inGoodStanding: InGoodStanding = (review) => !deps.locks.lockFor(review.reviewer, review.roles ?? []);
  const ended = (r: AccessRequestRecord) => isDue(r, now()) || approvalLost(r, inGoodStanding);

  const notify = (kind: 'created' | 'approved' | 'denied', r: AccessRequestRecord) => {
    try {
      (deps.accessRequestNotifier ?? noNotifier).notify(kind, requestInfo(r));
    } catch (err) {
      deps.log.warn({ err, accessRequest: r.id }, 'the access request notifier failed');
    }
  };

  /**
   * Moves a request time has ended to `expired`, audited once: of several
   * replicas (or a sweep and a reader) only the write at the version read counts.
   * So too an approved one whose approvals, without those of reviewers locked
   * since, no longer reach its threshold: it is not used again.
   */
  const expireIfDue = async (r: AccessRequestRecord): Promise<AccessRequestRecord> => {
    let current = r;
    for (let i = 0; i < CAS_ATTEMPTS && ended(current); i++) {
      const withdrawn = !isDue(current, now());
      const why = withdrawn ? 'an approval was withdrawn: its reviewer is locked' : current.state === 'pending' ? 'not decided in time' : 'its access ended';
      if (await deps.storage.accessRequests.update(current.id, current.version, { state: 'expired' })) {
        await deps.audit.emit('access_request.expire', true, {
          user: current.user,
          message: `access request ${current.id} expired (${why})`,
          fields: { accessRequest: current.id, from: current.state, roles: current.roles, ...(withdrawn ? { reason: 'reviewer_locked' } : {}) },
        });
        return { ...current, state: 'expired', version: current.version + 1 };
      }
      const reread = await deps.storage.accessRequests.get(current.id);
      if (!reread) return current;
      current = reread;
    }
    return current;
  };

  const load = async (id: string): Promise<AccessRequestRecord | undefined> => {
    const r = await deps.storage.accessRequests.get(id);
    return r ? expireIfDue(r) : undefined;
  };

  /** A request this actor may see, or 404 (also for one that exists but is not theirs to see). */
  const visible = async (actor: Actor, id: string): Promise<AccessRequestRecord> => {
    const r = await load(id);
    if (!r || !maySee(actor.user, rolesOf(deps, actor.roles), r)) throw notFound(id);
    return r;
  };

  const refused = async (type: 'access_request.create' | 'access_request.review' | 'access_request.drop' | 'access_request.view', actor: Actor, error: ZtshError, fields: Record<string, unknown>): Promise<never> => {
    await deps.audit.emit(type, false, { user: actor.user, clientIp: actor.clientIp, message: error.message, fields: { roles: actor.roles, ...fields } });
    throw error;
  };

  /** The lock that ends, at once, every certificate re-issued under this approved request, until its access would have ended. */
  const lockDropped = (actor: Actor, r: AccessRequestRecord) => {
    const left = r.accessUntil === null ? undefined : Math.max(1, r.accessUntil - now());
    return deps.locks.add({ target: { accessRequest: r.id }, ttlMs: left, message: `access request ${r.id} was dropped by ${actor.user}`, createdBy: actor.user });
  };

  return {
    async create(actor: Actor, body: z.output<typeof AccessRequestCreate>): Promise<AccessRequestRecord> {
      let plan;
      try {
        checkReason(body.reason);
        plan = planRequest(actor.user, rolesOf(deps, actor.roles), deps.roles, body);
      } catch (error) {
        if (error instanceof ZtshError) await refused('access_request.create', actor, error, { asked: { roles: body.roles, resources: body.resources, duration: body.duration } });
        throw error;
      }
      if ((await deps.storage.accessRequests.pendingCount(actor.user)) >= MAX_PENDING_PER_USER) {
        await refused('access_request.create', actor, new ZtshError('conflict', `${actor.user} has ${MAX_PENDING_PER_USER} requests pending already`, { hint: 'drop some (ztsh request drop ID) or wait for a decision' }), { reason: 'too_many_pending' });
      }
      const at = now();
      const record: AccessRequestRecord = {
        id: randomUUID(),
        user: actor.user,
        ...plan,
        reason: body.reason,
        state: 'pending',
        createdAt: at,
        pendingUntil: at + PENDING_TTL_MS,
        accessUntil: null,
        reviews: [],
        version: 1,
      };
      await deps.storage.accessRequests.insert(record);
      await deps.audit.emit('access_request.create', true, {
        user: actor.user,
        clientIp: actor.clientIp,
        message: `${actor.user} requests ${plan.roles.join(', ')}${plan.resources.length ? ` on ${plan.resources.length} pod(s)` : ''}: ${body.reason}`,
        fields: { accessRequest: record.id, roles: plan.roles, resources: plan.resources, durationMs: plan.durationMs, reason: body.reason, thresholds: plan.thresholds },
      });
      notify('created', record);
      return record;
    },

    /** The actor's own requests and those their roles could review, newest first. */
    async list(actor: Actor, state: AccessRequestState | undefined): Promise<AccessRequestRecord[]> {
      const roles = rolesOf(deps, actor.roles);
      const own = await deps.storage.accessRequests.list({ user: actor.user, state });
      const reviewing = roles.some((r) => r.spec.allow.review_requests) ? await deps.storage.accessRequests.list({ state }) : [];
      const seen = new Set<string>();
      const all: AccessRequestRecord[] = [];
      for (const r of [...own, ...reviewing.filter((r) => r.user !== actor.user && rolesCover(roles, r.roles))]) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        all.push(await expireIfDue(r));
      }
      all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
      return state ? all.filter((r) => r.state === state) : all;
    },

    /** One request by id; one the actor may not see answers as an unknown one, and either is audited: ids are not for trying. */
    async get(actor: Actor, id: string): Promise<AccessRequestRecord> {
      const r = await load(id);
      if (!r || !maySee(actor.user, rolesOf(deps, actor.roles), r)) {
        return refused('access_request.view', actor, notFound(id), { accessRequest: id.slice(0, 64), reason: r ? 'not_visible' : 'not_found' });
      }
      return r;
    },

    async review(actor: Actor, id: string, body: AccessRequestReviewBody): Promise<AccessRequestRecord> {
      const roles = rolesOf(deps, actor.roles);
      let r = await load(id);
      if (!r || !maySee(actor.user, roles, r)) {
        // Not theirs to see: the same answer as an unknown id, but someone knocked.
        return refused('access_request.review', actor, notFound(id), { accessRequest: id.slice(0, 64), reason: 'not_found' });
      }
      try {
        checkReason(body.reason);
      } catch (error) {
        return refused('access_request.review', actor, error as ZtshError, { accessRequest: r.id, reason: 'bad_reason' });
      }
      for (let i = 0; i < CAS_ATTEMPTS; i++) {
        const refusal = reviewRefusal(actor.user, roles, r);
        if (refusal) return refused('access_request.review', actor, REVIEW_REFUSALS[refusal](r), { accessRequest: r.id, reason: refusal, decision: body.decision });
        const at = now();
        const review = { reviewer: actor.user, decision: body.decision, reason: body.reason, at: new Date(at).toISOString(), roles: actor.roles };
        const patch: RequestPatch = withReview(r, review, at, inGoodStanding);
        if (await deps.storage.accessRequests.update(r.id, r.version, patch)) {
          const updated: AccessRequestRecord = { ...r, ...patch, version: r.version + 1 };
          await deps.audit.emit('access_request.review', true, {
            user: actor.user,
            clientIp: actor.clientIp,
            message: `${actor.user} ${body.decision === 'approve' ? 'approves' : 'denies'} ${r.user}'s request for ${r.roles.join(', ')}: ${body.reason}`,
            fields: { accessRequest: r.id, requester: r.user, decision: body.decision, reason: body.reason, state: updated.state, roles: r.roles },
          });
          if (updated.state === 'approved' || updated.state === 'denied') notify(updated.state, updated);
          return updated;
        }
        const reread = await load(r.id);
        if (!reread) throw notFound(id);
        r = reread;
      }
      throw new ZtshError('conflict', `request ${id} is being changed by others`, { hint: 'try again' });
    },

    async drop(actor: Actor, id: string): Promise<AccessRequestRecord> {
      let r = await visible(actor, id).catch(async (error: unknown) => {
        if (error instanceof ZtshError) await refused('access_request.drop', actor, error, { accessRequest: id.slice(0, 64), reason: 'not_found' });
        throw error;
      });
      let lockId: string | undefined;
      for (let i = 0; i < CAS_ATTEMPTS; i++) {
        if (r.user !== actor.user) {
          return refused('access_request.drop', actor, new ZtshError('access_denied', 'only the requester drops a request', { hint: 'deny it instead: ztsh request review ID --deny' }), { accessRequest: r.id, reason: 'not_requester' });
        }
        if (!droppable(r)) {
          return refused('access_request.drop', actor, new ZtshError('conflict', `request ${r.id} is ${r.state} already`), { accessRequest: r.id, reason: 'not_droppable' });
        }
        // What an approved request lent may be in certificates already: a lock
        // on the request shuts them out on every replica and ends their live
        // streams. Made before the state changes, so no moment passes with the
        // request dropped and its certificates still good.
        if (r.state === 'approved' && !lockId) lockId = (await lockDropped(actor, r)).id;
        if (await deps.storage.accessRequests.update(r.id, r.version, { state: 'dropped' })) {
          await deps.audit.emit('access_request.drop', true, {
            user: actor.user,
            clientIp: actor.clientIp,
            message: `${actor.user} drops request ${r.id}`,
            fields: { accessRequest: r.id, from: r.state, roles: r.roles, ...(lockId ? { lockId } : {}) },
          });
          return { ...r, state: 'dropped', version: r.version + 1 };
        }
        r = await visible(actor, id);
      }
      throw new ZtshError('conflict', `request ${id} is being changed by others`, { hint: 'try again' });
    },

    /** Ends what time has ended; returns how many of the due ones are expired now. Run by the sweeper on every replica. */
    async expireDue(limit = 500): Promise<number> {
      let moved = 0;
      for (const r of await deps.storage.accessRequests.due(now(), limit)) {
        if ((await expireIfDue(r)).state === 'expired') moved++;
      }
      return moved;
    },

    /** The current state of a request (time applied), for the reissue. */
    load,
    info: (r: AccessRequestRecord, actor?: Actor) => requestInfo(r, actor ? { user: actor.user, roles: rolesOf(deps, actor.roles) } : undefined),
  };
}

export type AccessRequests = ReturnType<typeof createAccessRequests>;

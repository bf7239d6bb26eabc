// /v1/internal/...: what a proxy that runs apart from auth needs, on the
// proxy's own connection with its host certificate. The proxy keeps a copy
// of the CAs, roles and locks (the watch streams them, and a new state after
// every lock change), sends audit events and session records, and hands
// over each recording when its session ends (or appends it in chunks while
// it runs, when the store keeps recordings). Never for forwarded requests.
import { createWriteStream, mkdirSync, renameSync, fsyncSync, openSync, closeSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bodyParser } from '@koa/bodyparser';
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import type { Context, Next } from 'koa';
import {
  AuditBatch,
  JoinResponse,
  RenewRequest,
  SessionIndexSchema,
  SessionPatchSchema,
  SessionRecordSchema,
  SessionsResponse,
  WATCH_HEARTBEAT_MS,
  ZtshError,
  peerRefusalMessage,
  recordingName,
  recordingNames,
  type Identity,
  type ProxyState,
} from '@ztsh/protocol';
import { refuse } from '../http/caller.ts';
import { parseBody, respond } from '../http/guard.ts';
import { proxyPeer } from '../http/forwarded.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { appendChunk, chunkSeq, readChunk } from '../recordings.ts';
import { renewProxyCertificate } from '../tokens/join-tokens.ts';

/** Largest recording a proxy may hand over. */
const MAX_RECORDING_BYTES = 4 * 1024 ** 3;

interface ProxyCaller {
  identity: Identity;
  hostId: string;
}

/** Every refusal here is audited: no one but a proxy has reason to knock. */
async function requireProxy(ctx: Context, deps: LoginDeps): Promise<ProxyCaller> {
  if (ctx.state.forwarded) return refuse(ctx, deps, new ZtshError('not_found', 'not found'), {}, 'forwarded');
  const peer = proxyPeer(ctx, deps);
  if (!peer) return refuse(ctx, deps, new ZtshError('access_denied', 'only a ztsh proxy may call this', { hint: 'a proxy joins with: ztshd tokens add --type proxy' }), {}, 'not_a_proxy');
  if (!peer.ok) {
    const error = new ZtshError('unauthenticated', peerRefusalMessage(peer.reason, 'a proxy host certificate is required'));
    return refuse(ctx, deps, error, peer.expired ? { user: peer.expired.identity.user, certificateExpired: { notAfter: peer.expired.notAfter } } : {}, peer.reason);
  }
  return { identity: peer.identity, hostId: peer.identity.user };
}

export function proxyState(deps: LoginDeps): ProxyState {
  return {
    userCaCertificates: deps.userCa.trustBundle,
    hostCaCertificates: deps.hostCa.trustBundle,
    roles: [...deps.roles.values()],
    locks: deps.locks.list(),
    ...(deps.storage.recordings ? { recordingsInStore: true } : {}),
  };
}

export function internalRoutes(deps: LoginDeps, options: { recordingsDir: string }): Router {
  const router = createRouter('/v1/internal');
  // Session text for the search index can be a few MiB: more than the user API allows.
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16mb' });
  // Each route names this first, before any body is read: the check belongs
  // to the route, not to a prefix that another spelling of the path could miss.
  const proxyOnly = async (ctx: Context, next: Next) => {
    ctx.state.proxy = await requireProxy(ctx, deps);
    await next();
  };
  /** The checked proxy; a handler that somehow ran without proxyOnly fails closed. */
  const caller = (ctx: Context): ProxyCaller => {
    const proxy = ctx.state.proxy as ProxyCaller | undefined;
    if (!proxy) throw new ZtshError('access_denied', 'only a ztsh proxy may call this');
    return proxy;
  };

  router.get('/watch', proxyOnly, (ctx) => {
    caller(ctx);
    const out = new PassThrough();
    const send = (line: unknown) => out.write(JSON.stringify(line) + '\n');
    send({ state: proxyState(deps) });
    const unsubscribe = deps.locks.subscribe(() => send({ state: proxyState(deps) }));
    const heartbeat = setInterval(() => send({ heartbeat: deps.clock.now().getTime() }), WATCH_HEARTBEAT_MS);
    const stop = () => {
      clearInterval(heartbeat);
      unsubscribe();
      out.end();
    };
    ctx.res.on('close', stop);
    out.on('error', stop);
    ctx.req.socket.setNoDelay?.(true);
    ctx.type = 'application/x-ndjson';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = out;
  });

  router.post('/audit', proxyOnly, json, async (ctx) => {
    caller(ctx);
    const { events } = parseBody(ctx, AuditBatch);
    for (const event of events) {
      const input = { ...event.input, user: event.input.user ?? undefined };
      if (event.durable) await deps.audit.emit(event.type, event.success, input);
      else void deps.audit.queue(event.type, event.success, input);
    }
    ctx.status = 204;
  });

  router.post('/sessions', proxyOnly, json, async (ctx) => {
    const session = parseBody(ctx, SessionRecordSchema);
    ownRecordingPath(session.id, session.recordingPath);
    const owner = await deps.storage.sessions.proxyOf(session.id);
    if (owner === undefined) await deps.storage.sessions.insert(session, caller(ctx).hostId);
    else if (owner !== caller(ctx).hostId) throw new ZtshError('conflict', `session ${session.id} exists`);
    ctx.status = 204; // the same start sent again (a retry) changes nothing
  });

  // A session's recording is named after the session: one proxy cannot point
  // its session at, and then overwrite, a recording of another's.
  const ownRecordingPath = (id: string, path: string | null) => {
    // The schema already fixed the shape `<day>/<uuid-like>.<format>`; this ties the name to the session itself.
    // A proxy of an earlier version (a rolling upgrade) still names it `.cast.gz` or `.cast`.
    if (path !== null && !recordingNames(id).some((name) => path.endsWith(`/${name}`))) {
      throw new ZtshError('bad_request', `the recording of session ${id} must be named ${recordingName(id)} (or ${recordingNames(id).slice(1).join(' or ')})`);
    }
  };

  const ownSession = async (ctx: Context): Promise<string> => {
    const id = ctx.params.id!;
    if ((await deps.storage.sessions.proxyOf(id)) !== caller(ctx).hostId) throw new ZtshError('not_found', `no session ${id} of this proxy`);
    return id;
  };

  router.patch('/sessions/:id', proxyOnly, json, async (ctx) => {
    const id = await ownSession(ctx);
    const patch = parseBody(ctx, SessionPatchSchema);
    if (patch.recordingPath !== undefined) ownRecordingPath(id, patch.recordingPath);
    await deps.storage.sessions.update(id, patch);
    ctx.status = 204;
  });

  router.put('/sessions/:id/text', proxyOnly, json, async (ctx) => {
    const id = await ownSession(ctx);
    const body = parseBody(ctx, SessionIndexSchema);
    await deps.storage.sessions.index(id, body.command, body.content);
    ctx.status = 204;
  });

  router.get('/sessions/unfinished', proxyOnly, async (ctx) => {
    respond(ctx, SessionsResponse, { sessions: await deps.storage.sessions.unfinished(caller(ctx).hostId) });
  });

  router.put('/sessions/:id/recording', proxyOnly, async (ctx) => {
    const id = await ownSession(ctx);
    const session = (await deps.storage.sessions.get(id))!;
    if (!session.recordingPath) throw new ZtshError('bad_request', `session ${id} is not recorded`);
    const declared = Number(ctx.get('content-length'));
    if (declared > MAX_RECORDING_BYTES) throw new ZtshError('bad_request', 'the recording is too large');
    const path = join(options.recordingsDir, session.recordingPath);
    const partial = `${path}.upload`;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Whole or not at all: written beside, synced, then renamed into place.
    let size = 0;
    try {
      await pipeline(
        ctx.req,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > MAX_RECORDING_BYTES) throw new ZtshError('bad_request', 'the recording is too large');
            yield chunk;
          }
        },
        createWriteStream(partial, { mode: 0o600 }),
      );
      const fd = openSync(partial, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(partial, path);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
    ctx.status = 204;
  });

  // With recordings in the store: the next chunk of a running session's
  // recording (recordings.ts checks the number, size and the session's state).
  router.put('/sessions/:id/recording/:seq', proxyOnly, async (ctx) => {
    const id = await ownSession(ctx);
    const seq = chunkSeq(ctx.params.seq!);
    const data = await readChunk(ctx.req, ctx.get('content-length'));
    await appendChunk(deps.storage, (await deps.storage.sessions.get(id))!, seq, data);
    ctx.status = 204;
  });

  router.post('/renew', proxyOnly, json, async (ctx) => {
    const body = parseBody(ctx, RenewRequest);
    respond(ctx, JoinResponse, await renewProxyCertificate(deps, caller(ctx).identity, body.publicKey, ctx.ip));
  });

  return router;
}

// Plain kube requests (get, list, watch, logs, apply, delete…): checked,
// then sent through the cluster's tunnel as one HTTP/2 stream. Bodies are
// piped both ways as they come, never buffered, so watches and `logs -f`
// stream event by event. A lock ends a request in flight and says why in
// the stream's own terms: a watch gets an ERROR event, a log a last line.
// Every answer ends only once its audit event is stored (held-end.ts).
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { BODILESS_METHODS, copyHeaders, dropHopByHop, kubeStatus } from '@ztsh/protocol';
import { auditAllowed, checkKubeAccess, clusterOffline, liveStreamOf, upstreamHeaders, type KubeAccess, type KubeDeps } from './kube-access.ts';
import { declaredLength, relayHoldingEnd, type BodyRelay } from './held-end.ts';
import { answerSelfReviewBytes, isSelfReview, SELF_REVIEW_BODY_LIMIT } from './self-review.ts';
import { reviewRoles } from './elevation.ts';
import { answerWhoAmI, isWhoAmI } from './whoami.ts';
import { sendRefusal, sendStatus } from './kube-status.ts';
import { whenStored } from './when-stored.ts';
import type { MaybePromise } from '@ztsh/protocol';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** HTTP statuses whose answers carry no body: their headers complete them. */
const NO_BODY = new Set([204, 304]);

/**
 * Ends an allowed request's answer, once, after its audit event is stored;
 * not at all when the client has gone meanwhile.
 */
function answerEnder(deps: KubeDeps, res: Res): (stored: MaybePromise<void>, end: () => void) => void {
  let ending = false;
  let gone = false;
  res.once('close', () => (gone = true));
  return (stored, end) => {
    if (ending) return;
    ending = true;
    whenStored(stored, (err) => deps.log.error({ err }, 'the audit event of an answer was not stored'), () => {
      if (!gone) end();
    });
  };
}

/**
 * The TLS connection a request came on, the same object for every request
 * on it: the certificate check is made once per connection (peer-identity.ts
 * caches by this object). Node's HTTP/2 compatibility API makes `req.socket`
 * anew for each request; the session's socket is one per connection.
 */
function connectionOf(req: Req): TLSSocket {
  return ('stream' in req ? req.stream.session?.socket ?? req.socket : req.socket) as TLSSocket;
}

export function forwardKube(deps: KubeDeps, req: Req, res: Res): void {
  const endedWithHeaders = 'stream' in req ? req.stream.endAfterHeaders : undefined;
  const access = checkKubeAccess(deps, connectionOf(req), req.method ?? 'GET', req.url ?? '/', req.headers, 'plain', endedWithHeaders);
  if (!access.ok) {
    whenStored(access.stored, (err) => deps.log.error({ err }, 'the audit event of a refusal was not stored yet'), () => sendRefusal(res as never, access.code, access.message, req.url ?? '/'));
    return;
  }
  if (isSelfReview(access.info)) return answerSelfReviewHere(deps, access, req, res);
  if (isWhoAmI(access.info)) {
    // The body asks nothing: it is read and dropped.
    req.resume();
    const a = answerWhoAmI(access.info, access.user, access.groups, access.identity.user);
    answerEnder(deps, res)(auditAllowed(deps, access, a.status, { answeredBy: 'proxy' }), () => {
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
    return;
  }
  const endAnswer = answerEnder(deps, res);
  let stream;
  try {
    // Node 20's request() always wraps its connect callback with AsyncResource.bind,
    // which calls deprecate() twice (DEP0172); no option avoids it. Node 22 and
    // later bind without it, so the cost goes with the runtime.
    stream = access.tunnel.session.request({
      ...upstreamHeaders(req.headers, access),
      [constants.HTTP2_HEADER_METHOD]: req.method ?? 'GET',
      [constants.HTTP2_HEADER_PATH]: access.upstreamPath,
    }, { endStream: false }); // Node ends GET and DELETE streams at once by default; the body pipe ends it
  } catch (error) {
    deps.log.warn({ err: error, cluster: access.tunnel.cluster }, 'tunnel request failed');
    endAnswer(auditAllowed(deps, access, 503, { error: 'tunnel unavailable' }), () => sendStatus(res as never, 503, clusterOffline(access.tunnel.cluster)));
    return;
  }
  const streamsLong = access.info.verb === 'watch' || access.info.verb === 'proxy' || access.target.query.get('follow') === 'true';
  let contentType = '';
  /** The body so far ended a line: a JSON watch event or a log line can follow cleanly. */
  let atLineEnd = true;
  /** The audit event of the cluster's answer, once it has answered (undefined may also mean nothing to wait for). */
  let stored: MaybePromise<void>;
  let responded = false;
  let relay: BodyRelay | undefined;
  const untrack = deps.streams.add(
    liveStreamOf(access, (message, reason) => {
      const code = reason === 'locked' ? 403 : reason === 'expired' ? 401 : 503;
      relay?.stop();
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      if (!responded) return endAnswer(auditAllowed(deps, access, code, { error: reason }), () => sendStatus(res as never, code, message));
      endAnswer(stored, () => {
        if (!res.headersSent) return sendStatus(res as never, code, message);
        if (access.info.verb === 'watch' && contentType.startsWith('application/json')) {
          const event = { type: 'ERROR', object: kubeStatus(code, message) };
          res.end((atLineEnd ? '' : '\n') + JSON.stringify(event) + '\n');
        } else if (contentType.startsWith('text/plain')) {
          res.end(`${atLineEnd ? '' : '\n'}ztsh: ${message}\n`);
        } else {
          res.end();
        }
      });
    }),
  );
  // GET and HEAD were let through only without a body: none is sent on.
  if (BODILESS_METHODS.has(req.method ?? 'GET')) {
    req.resume();
    stream.end();
  } else req.pipe(stream);
  stream.on('response', (headers) => {
    const status = Number(headers[constants.HTTP2_HEADER_STATUS] ?? 502);
    const answered = auditAllowed(deps, access, status);
    stored = answered;
    responded = true;
    const out = copyHeaders(headers, dropHopByHop);
    contentType = String(headers['content-type'] ?? '');
    // An answer without a body is complete with its headers: they wait with its end.
    const bodiless = req.method === 'HEAD' || NO_BODY.has(status) || declaredLength(headers['content-length']) === 0;
    if (!bodiless) {
      res.writeHead(status, out);
      // A watch or a followed log may not write its first byte for minutes: send
      // their headers now. Other answers send headers with their first bytes, in
      // one write instead of two.
      if (streamsLong) (res as { flushHeaders?: () => void }).flushHeaders?.();
    }
    const length = bodiless ? 0 : declaredLength(headers['content-length']);
    const trackLineEnd = (chunk: Buffer) => {
      if (chunk.length > 0) atLineEnd = chunk[chunk.length - 1] === 0x0a;
    };
    relay = relayHoldingEnd(stream, res as never, length, trackLineEnd, (held) =>
      endAnswer(answered, () => {
        if (bodiless) {
          res.writeHead(status, out);
          res.end();
        } else if (held.length === 0) res.end();
        else res.end(held.length === 1 ? held[0]! : Buffer.concat(held));
      }),
    );
  });
  stream.on('error', (error) => {
    deps.log.warn({ err: error, cluster: access.tunnel.cluster }, 'tunnel stream failed');
    relay?.stop();
    endAnswer(responded ? stored : auditAllowed(deps, access, 502, { error: 'agent did not answer' }), () =>
      sendStatus(res as never, 502, `the agent of cluster "${access.tunnel.cluster}" did not answer`),
    );
  });
  res.on('close', () => {
    untrack();
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  });
}

/**
 * `kubectl auth can-i`: answered from ztsh's roles (self-review.ts), never
 * forwarded, so the answer is what ztsh will allow, not the cluster's RBAC.
 */
function answerSelfReviewHere(deps: KubeDeps, access: Extract<KubeAccess, { ok: true }>, req: Req, res: Res): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  const endAnswer = answerEnder(deps, res);
  const answer = (status: number, body: unknown) => {
    if (done) return;
    done = true;
    endAnswer(auditAllowed(deps, access, status, { answeredBy: 'proxy' }), () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > SELF_REVIEW_BODY_LIMIT) {
      // Answer now; what else comes is read and dropped, so the answer can go out.
      answer(413, kubeStatus(413, `a review body is at most ${SELF_REVIEW_BODY_LIMIT} bytes`));
      chunks.length = 0;
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (done) return;
    const a = answerSelfReviewBytes(
      {
        identity: access.identity,
        roles: reviewRoles(access.identity, (names) => deps.auth.roles(names)),
        cluster: { name: access.tunnel.cluster, labels: deps.tunnels.labels(access.tunnel.cluster) ?? {} },
        info: access.info,
        asked: { user: access.user, groups: [] },
      },
      Buffer.concat(chunks),
    );
    answer(a.status, a.body);
  });
  req.on('error', () => undefined);
}

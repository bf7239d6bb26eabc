// `?watch=1|true`: a chunked stream of one JSON WatchEvent per line, written (and so flushed)
// the moment the store changes. With no resourceVersion (or "0") it starts with the current
// objects as ADDED; with resourceVersion=N it replays history after N, as a real server does
// for `kubectl get -w` (which lists first, then watches from the list's resourceVersion).
import type { IncludeObject } from './table.ts';
import { toTable } from './table.ts';
import type { ResourceInfo } from './resources.ts';
import { fieldSelector, labelSelector } from './selectors.ts';
import { startStream, type AnyResponse } from './status.ts';
import type { KubeObject, Store, StoreEvent } from './store.ts';

export interface WatchRequest {
  store: Store;
  info: ResourceInfo;
  namespace?: string;
  query: URLSearchParams;
  /** Set when the client asked for Tables (kubectl get -w): each event carries a one-row Table. */
  table?: IncludeObject;
  now: () => Date;
  /** Called when the stream ends, either side. */
  onEnd?: () => void;
}

export function serveWatch(res: AnyResponse, w: WatchRequest): void {
  const byLabel = labelSelector(w.query.get('labelSelector'));
  const byField = fieldSelector(w.query.get('fieldSelector'));
  const wanted = (e: Pick<StoreEvent, 'info' | 'namespace' | 'object'>) =>
    e.info === w.info &&
    (!w.info.namespaced || w.namespace === undefined || e.namespace === w.namespace) &&
    byLabel(e.object) &&
    byField(e.object);

  startStream(res, { 'content-type': 'application/json', 'cache-control': 'no-cache' });

  const send = (type: string, object: KubeObject | object) => {
    const body =
      w.table && type !== 'BOOKMARK'
        ? toTable(w.info, [object as KubeObject], (object as KubeObject).metadata.resourceVersion ?? '', w.table, w.now())
        : object;
    res.write(`${JSON.stringify({ type, object: body })}\n`);
  };

  const rvParam = w.query.get('resourceVersion');
  const initial = w.query.get('sendInitialEvents') === 'true';
  if (!rvParam || rvParam === '0' || initial) {
    const { items, resourceVersion } = w.store.list(w.info, w.info.namespaced ? w.namespace : undefined);
    for (const item of items) {
      if (wanted({ info: w.info, namespace: item.metadata.namespace ?? '', object: item })) send('ADDED', item);
    }
    if (initial) {
      send('BOOKMARK', {
        kind: w.info.kind,
        apiVersion: w.info.group ? `${w.info.group}/${w.info.version}` : w.info.version,
        metadata: { resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
      });
    }
  } else {
    for (const e of w.store.history(Number(rvParam))) if (wanted(e)) send(e.type, e.object);
  }

  const unsubscribe = w.store.onEvent((e) => {
    if (wanted(e)) send(e.type, e.object);
  });
  const timeout = Number(w.query.get('timeoutSeconds') ?? 0);
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
    w.onEnd?.();
  };
  res.on('close', end);
  res.on('finish', end);
}

// The public types of the double and the state its request handlers share.
import type { RequestInfo } from './request-info.ts';
import type { LogBook } from './logs.ts';
import type { PodHttp } from './pod-http.ts';
import type { PodFiles, PodSpecOptions } from './pods.ts';
import type { RbacRule } from './rbac.ts';
import type { PodFs } from './pod-fs.ts';
import type { Store } from './store.ts';

export interface KubeDoubleOptions {
  /** PEM certificate and key: the double serves HTTPS only (HTTP/2 and HTTP/1.1). */
  tls: { cert: string; key: string };
  /** The only bearer token accepted (the agent's service-account token); others → 401 Status. */
  token: string;
  /** Who may do what when impersonated (Impersonate-User/Group); absent = allow all. */
  rbac?: RbacRule[];
  /** Default 127.0.0.1 and 0. */
  host?: string;
  port?: number;
  /** Clock for timestamps and ages; default the system clock. */
  now?: () => Date;
}

export interface SeenRequest {
  method: string;
  /** '2.0' for HTTP/2 (kubectl's normal requests), '1.1' (upgrades always). */
  httpVersion: string;
  path: string;
  query: URLSearchParams;
  /** Lowercased names; repeated headers joined with ", " (see impersonatedGroups for groups). */
  headers: Record<string, string>;
  impersonatedUser?: string;
  impersonatedGroups: string[];
  /** 'websocket', 'SPDY/3.1', … when the request asked to upgrade. */
  upgrade?: string;
  /** What the double's own RequestInfo made of the request (before exec and the like count as create); unset if it could not read it. */
  info?: RequestInfo;
  /** HTTP status answered (101 for an accepted upgrade); unset while a stream is open. */
  status?: number;
  time: Date;
}

export interface KubeDouble {
  /** https://127.0.0.1:PORT */
  url: URL;
  /** Every request seen, in arrival order. */
  requests: SeenRequest[];
  close(): Promise<void>;
  addPod(ns: string, name: string, opts?: PodSpecOptions): void;
  /** Appends a log line; open `logs -f` streams (and attach sessions) get it at once. */
  appendLog(ns: string, pod: string, line: string): void;
  /** How many `logs -f` streams and attach sessions read the pod's logs now. */
  logFollowers(ns: string, pod: string): number;
  /** The pod's in-memory filesystem (what `kubectl cp` reads and writes). */
  podFs(ns: string, pod: string): PodFs;
  /** The TCP echo server that port-forwards reach, on any port the pod does not declare. */
  echoServerPort: number;
}

export interface DoubleState {
  opts: KubeDoubleOptions;
  store: Store;
  logs: LogBook;
  podFiles: PodFiles;
  now: () => Date;
  requests: SeenRequest[];
  /** host:port, for the legacy /api answer. */
  serverAddress: () => string;
  echoServerPort: number;
  /** What answers on the ports pods declare. */
  podHttp: PodHttp;
}

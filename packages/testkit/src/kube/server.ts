// startKubeDouble: one HTTPS listener (HTTP/2 with HTTP/1.1 allowed, like kube-apiserver)
// plus, for port-forward, the pods' HTTP server and a TCP echo server. Plain requests go to routes.ts, upgrades (exec,
// attach, port-forward) to upgrade.ts. close() ends open watches, log streams and sockets.
import { once } from 'node:events';
import { createSecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { DoubleState, KubeDouble, KubeDoubleOptions } from './context.ts';
import { startEchoServer } from './echo-server.ts';
import { CHANNEL_PROTOCOLS } from './exec.ts';
import { createLogBook } from './logs.ts';
import { startPodHttp } from './pod-http.ts';
import { createPodFiles, podObject } from './pods.ts';
import { PORTFORWARD_PROTOCOL } from './portforward.ts';
import { findResource } from './resources.ts';
import { fail, handleRequest } from './routes.ts';
import { createStore } from './store.ts';
import { handleUpgrade, portForwardRequests } from './upgrade.ts';

export async function startKubeDouble(opts: KubeDoubleOptions): Promise<KubeDouble> {
  const now = opts.now ?? (() => new Date());
  const echo = await startEchoServer();
  const store = createStore(now);
  const namespaces = findResource('', 'v1', 'namespaces');
  const pods = findResource('', 'v1', 'pods');
  if (!namespaces || !pods) throw new Error('resource table lacks namespaces or pods');
  for (const name of ['default', 'kube-system', 'kube-public']) store.create(namespaces, '', { metadata: { name } });

  const server = createSecureServer({ cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  let address = '';
  const logs = createLogBook(now);
  const podHttp = await startPodHttp(logs);
  const state: DoubleState = {
    opts,
    store,
    logs,
    podFiles: createPodFiles(now),
    now,
    requests: [],
    serverAddress: () => address,
    echoServerPort: echo.port,
    podHttp,
  };

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: true,
    // Our preference, not the client's order: v5 (which can close stdin), then v4.
    handleProtocols: (offered) => CHANNEL_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  wss.on('headers', (headers, req) => {
    if (portForwardRequests.has(req)) headers.push(`Sec-WebSocket-Protocol: ${PORTFORWARD_PROTOCOL}`);
  });
  server.on('request', (req, res) => {
    handleRequest(state, req, res).catch((err: unknown) => fail(res, err));
  });
  server.on('upgrade', (req, socket, head) => handleUpgrade(state, wss, req, socket, head));

  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port, address: host } = server.address() as AddressInfo;
  address = `${host}:${port}`;

  const ensureNamespace = (ns: string) => {
    if (!store.get(namespaces, '', ns)) store.create(namespaces, '', { metadata: { name: ns } });
  };

  return {
    url: new URL(`https://${host}:${port}`),
    requests: state.requests,
    echoServerPort: echo.port,
    addPod(ns, name, podOpts = {}) {
      ensureNamespace(ns);
      store.create(pods, ns, podObject(ns, name, podOpts));
      for (const line of podOpts.logs ?? []) state.logs.append(ns, name, line);
      if (podOpts.liveLog) state.logs.live(ns, name, podOpts.liveLog);
    },
    appendLog: (ns, pod, line) => state.logs.append(ns, pod, line),
    logFollowers: (ns, pod) => state.logs.followers(ns, pod),
    podFs: (ns, pod) => state.podFiles.get(ns, pod),
    async close() {
      state.logs.closeAll();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await Promise.all([closed, echo.close(), podHttp.close()]);
    },
  };
}

// What listens on a port a pod's containers declare (spec.containers[].ports): a small HTTP
// server that answers every request with 200 and a line naming the pod and port, and writes an
// access-log line to the pod's logs, so `kubectl port-forward` + curl shows a real answer and
// `kubectl logs` shows the request. Ports a pod does not declare reach the echo server.
//
// One listener on 127.0.0.1 serves every pod. port-forward connects with claim(): the pod is
// registered under the connection's local port as the connection opens, before it carries a
// byte, and the request handler finds it by the remote port it sees.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { LogBook } from './logs.ts';

export interface PodPort {
  namespace: string;
  pod: string;
  port: number;
}

export interface PodHttp {
  /** A connection to the pod's HTTP server on `target.port`. */
  connect(target: PodPort): Socket;
  close(): Promise<void>;
}

/** What a log line may show of the request target: printable ASCII, at most 200 characters. */
function printable(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?').slice(0, 200);
}

export async function startPodHttp(logs: LogBook): Promise<PodHttp> {
  const byLocalPort = new Map<number, PodPort>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume(); // a body is read and dropped
    const target = byLocalPort.get(req.socket.remotePort ?? -1);
    if (!target) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('this listener serves port-forwarded connections only\n');
      return;
    }
    const body = `hello from pod ${target.namespace}/${target.pod}, port ${target.port}: you reached it through kubectl port-forward\n`;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    logs.append(target.namespace, target.pod, `${printable(req.method ?? '?')} ${printable(req.url ?? '?')} 200`);
  });
  // Node's own answer to a request it cannot parse destroys the socket at once:
  // with the rest of an oversized request still unread, the client then gets a
  // reset instead of the 431 (Node 24 reads in smaller pieces than 20 and shows
  // it). The answer goes out, the socket half-closes, and what the client
  // still sends is read and dropped until it closes too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.resume();
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    connect(target) {
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      // 'connect' fires before any write queued on the socket goes out, so the server
      // knows the pod before the first request byte reaches it.
      const entry = { ...target };
      socket.once('connect', () => {
        const local = socket.localPort;
        if (local === undefined) return;
        byLocalPort.set(local, entry);
        // A later connection may have the port by now: remove only our own entry.
        socket.once('close', () => byLocalPort.get(local) === entry && byLocalPort.delete(local));
      });
      return socket;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Streams a pod's stdout over the exec WebSocket (v5.channel.k8s.io, as kubectl ≥ 1.30 does)
// and times it: `head -c N /dev/zero` (or a file of the pod) in the apiserver double, read
// either straight from the double or through proxy + tunnel + agent.
import { WebSocket, type ClientOptions } from 'ws';

const STDOUT = 1;
const STATUS = 3;

export interface StreamTarget {
  /** https URL of the apiserver (direct) or of the proxy's /k8s/<cluster>/ prefix. */
  base: URL;
  /** TLS (ca, cert, key) and headers for the WebSocket client. */
  options: ClientOptions;
}

export interface StreamRun {
  bytes: number;
  /** From the first stdout byte to the exit Status. */
  seconds: number;
  mbPerSec: number;
}

export function execStream(target: StreamTarget, namespace: string, pod: string, bytes: number, file = '/dev/zero'): Promise<StreamRun> {
  const query = new URLSearchParams([['command', 'head'], ['command', '-c'], ['command', String(bytes)], ['command', file], ['stdout', 'true']]);
  const url = new URL(`api/v1/namespaces/${namespace}/pods/${pod}/exec?${query}`, target.base);
  url.protocol = 'wss:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['v5.channel.k8s.io'], { perMessageDeflate: false, ...target.options });
    let received = 0;
    let first = 0;
    let status: string | undefined;
    let end = 0;
    ws.on('message', (data: Buffer) => {
      if (data[0] === STDOUT) {
        if (received === 0) first = performance.now();
        received += data.length - 1;
      } else if (data[0] === STATUS) {
        end = performance.now();
        status = data.subarray(1).toString();
      }
    });
    ws.on('error', reject); // a refused upgrade too: "Unexpected server response: 403"
    ws.on('close', () => {
      if (received !== bytes || !status?.includes('"Success"')) {
        return reject(new Error(`exec through ${target.base.href}: got ${received} of ${bytes} bytes, status ${status ?? 'none'}`));
      }
      const seconds = (end - first) / 1000;
      resolve({ bytes, seconds, mbPerSec: bytes / 1e6 / seconds });
    });
  });
}

// GET /version on an apiserver with the credentials an agent would use, with
// a short deadline. The dev stack serves a kubeconfig context only when this
// answers 200.
import { request } from 'node:https';
import { isIP } from 'node:net';
import { kubeAuthorization, kubeTls, type KubeTarget } from '@ztsh/agent';

export type ProbeResult = { ok: true; version?: string | undefined } | { ok: false; reason: string };

export function probeApiserver(kube: KubeTarget, timeoutMs = 2_000): Promise<ProbeResult> {
  const url = new URL('/version', kube.server);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const authorization = kubeAuthorization(kube);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent: false,
        ...kubeTls(kube),
        servername: isIP(host) ? '' : host,
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('error', (error) => resolve({ ok: false, reason: `GET ${url} failed: ${error.message}` }));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ ok: false, reason: `GET ${url} answered ${res.statusCode} with these credentials` });
          resolve({ ok: true, version: gitVersion(body) });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      const late = error.name === 'AbortError' || error.code === 'ABORT_ERR';
      resolve({ ok: false, reason: late ? `GET ${url} got no answer within ${timeoutMs / 1000} s` : `GET ${url} failed: ${error.message}` });
    });
    req.end();
  });
}

function gitVersion(body: string): string | undefined {
  try {
    const version = (JSON.parse(body) as { gitVersion?: unknown }).gitVersion;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

// The localhost listener the browser is sent back to at the end of a login
// (or of a session MFA check with a security key).
// It waits for one /callback carrying a code (or an error), lets the caller
// turn it into a result, and shows the browser a page that says plainly what
// happened and for which machine.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError } from '../cli-error.ts';

export type CallbackOutcome = { code: string } | { error: string; description: string; hint?: string | undefined };

export interface CallbackServer {
  redirect: string;
  /** Resolves with the caller's result once the browser comes back; the page shows `render(result)`. */
  /** `timeoutError`: what to tell the user when the browser never comes back (default: the login's words). */
  wait<T>(handle: (outcome: CallbackOutcome) => Promise<T>, render: (result: T | CliError) => string, timeoutMs: number, timeoutError?: CliError): Promise<T>;
  close(): void;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  let onRequest: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/callback') || !onRequest) {
      res.writeHead(404).end('not found');
      return;
    }
    onRequest(req, res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    redirect: `http://127.0.0.1:${port}/callback`,
    wait(handle, render, timeoutMs, timeoutError) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          onRequest = undefined;
          reject(timeoutError ?? new CliError(`login timed out after ${Math.round(timeoutMs / 1000)}s without an answer from the browser`, 'run ztsh login again and finish signing in within the time; --timeout gives more time'));
        }, timeoutMs);
        onRequest = (req, res) => {
          const params = new URL(req.url!, 'http://127.0.0.1').searchParams;
          const code = params.get('code');
          // Neither a code nor an error: not the browser's answer (a stray or
          // probing request); it must not end the wait the real answer ends.
          if (!code && !params.get('error')) {
            res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('waiting for the answer of the sign-in page');
            return;
          }
          onRequest = undefined;
          clearTimeout(timer);
          const outcome: CallbackOutcome = code
            ? { code }
            : {
                error: params.get('error') ?? 'unknown',
                description: params.get('error_description') ?? 'the login did not complete',
                hint: params.get('error_hint') ?? undefined,
              };
          handle(outcome).then(
            (result) => {
              res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(render(result));
              resolve(result);
            },
            (error: unknown) => {
              const cliError = error instanceof CliError ? error : new CliError(String((error as Error)?.message ?? error));
              res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(render(cliError));
              reject(error);
            },
          );
        };
      });
    },
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

export function callbackPage(title: string, lines: string[], ok: boolean): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · ztsh</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#1d2330}h1{font-size:1.4rem;color:${ok ? '#1b7a3d' : '#b3261e'}}</style>
</head><body><h1 id="result">${escapeHtml(title)}</h1>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</body></html>`;
}

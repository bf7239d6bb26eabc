// What the port-forward tests send through a forwarded port to the apiserver
// double's echo server, and read back.
import type { Socket } from 'node:net';

/** Writes `text` on the socket and resolves with as many bytes as came back; the socket stays open. */
export function echoThrough(socket: Socket, text: string, context: () => string = () => ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) resolve(got);
    });
    socket.on('error', (e) => reject(new Error(`${e.message}${context() ? `; ${context()}` : ''}`)));
    socket.write(text);
  });
}

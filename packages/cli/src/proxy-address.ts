// The one reading of a proxy address given on the command line, shared by the
// full CLI and the credential plugin's fast path (which must answer alike).
import { CliError } from './cli-error.ts';

export function parseProxy(text: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new CliError(`"${text}" is not a proxy address`, 'use the form https://access.example.com', 2);
  }
  if (url.protocol !== 'https:') throw new CliError(`the proxy must be https://, not ${url.protocol}`, undefined, 2);
  return new URL(url.origin);
}

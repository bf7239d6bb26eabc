// A "browser without JavaScript" for tests and benchmarks: GETs pages, submits their HTML
// forms, keeps cookies and follows redirects by hand, so a test can walk a login flow
// (IdP form → redirects → localhost callback) without a real browser.
//
//   get(url) ─┐                        ┌─ 3xx → stopAt(next)? → return the redirect as the page
//             ├─ #navigate ─ fetch ────┤
// submitForm ─┘   (cookies in/out)     └─ else → next hop (303, or 301/302 after POST → GET)
import { Agent, fetch, parseCookie, type Headers } from 'undici';

export interface Page {
  /** Final URL; for a stopped redirect, the (absolute) Location it pointed to. */
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

export interface FormClientOptions {
  /** Extra trusted CA certificate(s), PEM. */
  ca?: string | string[];
  /** Stop before following a redirect to a URL for which this returns true. */
  stopAt?: (url: URL) => boolean;
}

export interface SubmitOptions {
  /** Which form on the page (default 0), among those matching `formAction`. */
  formIndex?: number;
  /** Only consider forms whose action (as written or resolved) contains this string. */
  formAction?: string;
}

export interface ParsedForm {
  action: URL;
  rawAction: string;
  method: 'GET' | 'POST';
  fields: Record<string, string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 20;

export class FormClient {
  readonly #agent: Agent;
  readonly #stopAt: ((url: URL) => boolean) | undefined;
  readonly #jar = new CookieJar();

  constructor(opts: FormClientOptions = {}) {
    this.#agent = opts.ca === undefined ? new Agent() : new Agent({ connect: { ca: opts.ca } });
    this.#stopAt = opts.stopAt;
  }

  async get(url: string | URL): Promise<Page> {
    return this.#navigate('GET', new URL(url), undefined);
  }

  async submitForm(page: Page, fields: Record<string, string>, opts: SubmitOptions = {}): Promise<Page> {
    const forms = parseForms(page.html, page.url).filter(
      (f) => opts.formAction === undefined || f.rawAction.includes(opts.formAction) || f.action.href.includes(opts.formAction),
    );
    const form = forms[opts.formIndex ?? 0];
    if (!form) throw new Error(`no matching <form> on ${page.url} (found ${forms.length})`);
    const body = new URLSearchParams({ ...form.fields, ...fields });
    if (form.method === 'POST') return this.#navigate('POST', form.action, body);
    const target = new URL(form.action);
    target.search = body.toString();
    return this.#navigate('GET', target, undefined);
  }

  /** The Cookie header this client would send to `url`. */
  cookieHeader(url: string | URL): string {
    return this.#jar.header(new URL(url));
  }

  /** Closes the client's connections. */
  close(): Promise<void> {
    return this.#agent.close();
  }

  async #navigate(method: 'GET' | 'POST', start: URL, body: URLSearchParams | undefined): Promise<Page> {
    let url = start;
    for (let hop = 0; hop <= MAX_HOPS; hop++) {
      const headers: Record<string, string> = { accept: 'text/html,*/*;q=0.8' };
      const cookie = this.#jar.header(url);
      if (cookie) headers.cookie = cookie;
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, {
        method,
        headers,
        body: body?.toString(),
        redirect: 'manual',
        dispatcher: this.#agent,
      });
      this.#jar.store(url, res.headers.getSetCookie());
      const html = await res.text();
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || location === null) {
        return { url: url.href, status: res.status, html, headers: res.headers };
      }
      const next = new URL(location, url);
      if (this.#stopAt?.(next)) return { url: next.href, status: res.status, html, headers: res.headers };
      if (res.status === 303 || (method === 'POST' && (res.status === 301 || res.status === 302))) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
    throw new Error(`more than ${MAX_HOPS} redirects starting at ${start.href}`);
  }
}

/** Finds the `<form>`s in `html`, resolving actions against `pageUrl`. Regex-based: test pages only. */
export function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const [, attrText = '', inner = ''] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = parseAttributes(attrText);
    const rawAction = attrs.action ?? '';
    const fields: Record<string, string> = {};
    for (const [, inputAttrs = ''] of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const input = parseAttributes(inputAttrs);
      const type = (input.type ?? 'text').toLowerCase();
      if (input.name === undefined || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && input.checked === undefined) continue;
      fields[input.name] = input.value ?? (type === 'checkbox' || type === 'radio' ? 'on' : '');
    }
    for (const [, areaAttrs = '', text = ''] of inner.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea\s*>/gi)) {
      const name = parseAttributes(areaAttrs).name;
      if (name !== undefined) fields[name] = decodeEntities(text.replace(/^\r?\n/, ''));
    }
    forms.push({
      action: new URL(rawAction || pageUrl, pageUrl),
      rawAction,
      method: attrs.method?.toUpperCase() === 'POST' ? 'POST' : 'GET',
      fields,
    });
  }
  return forms;
}

/** Attributes of one tag (names lower-cased, values entity-decoded; bare attributes map to ''). */
export function parseAttributes(text: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const [, name = '', dq, sq, bare] of text.matchAll(/([^\s"'=<>`/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    attrs[name.toLowerCase()] ??= decodeEntities(dq ?? sq ?? bare ?? '');
  }
  return attrs;
}

const NAMED: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  /** Set when the cookie had a Domain attribute: then it also matches subdomains. */
  domain: boolean;
  path: string;
  secure: boolean;
  expiresAt: number;
}

/** Cookie jar per host (RFC 6265 roughly: Domain, Path, Secure, Max-Age/Expires). */
class CookieJar {
  #cookies: StoredCookie[] = [];

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const parsed = parseCookie(line);
      if (!parsed?.name) continue;
      const domain = parsed.domain?.replace(/^\./, '').toLowerCase();
      if (domain && !domainMatches(url.hostname, domain)) continue;
      const cookie: StoredCookie = {
        name: parsed.name,
        value: parsed.value,
        host: domain ?? url.hostname,
        domain: domain !== undefined,
        path: parsed.path?.startsWith('/') ? parsed.path : defaultPath(url),
        secure: parsed.secure === true,
        expiresAt: expiry(parsed.maxAge, parsed.expires),
      };
      this.#cookies = this.#cookies.filter(
        (c) => !(c.name === cookie.name && c.host === cookie.host && c.path === cookie.path),
      );
      if (cookie.expiresAt > Date.now()) this.#cookies.push(cookie);
    }
  }

  header(url: URL): string {
    const now = Date.now();
    this.#cookies = this.#cookies.filter((c) => c.expiresAt > now);
    return this.#cookies
      .filter((c) => (c.domain ? domainMatches(url.hostname, c.host) : url.hostname === c.host))
      .filter((c) => pathMatches(url.pathname, c.path))
      .filter((c) => !c.secure || url.protocol === 'https:')
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

function expiry(maxAge: number | undefined, expires: Date | number | undefined): number {
  if (maxAge !== undefined) return Date.now() + maxAge * 1000;
  if (expires !== undefined) return new Date(expires).getTime();
  return Number.POSITIVE_INFINITY;
}

function domainMatches(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

function defaultPath(url: URL): string {
  const slash = url.pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : url.pathname.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  return (
    requestPath === cookiePath ||
    (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'))
  );
}

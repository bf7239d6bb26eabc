import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Headers } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient, decodeEntities, parseAttributes, parseForms } from './form-client.ts';
import { createTestTls } from './test-tls.ts';

const FORM_PAGE = `<!doctype html>
<form id=search action='/search'><input name=q value='a&amp;b'></form>
<form class="x" method="POST" action="/login?next=%2Fhome&amp;x=1">
  <input type="hidden" value="tok&#39;en&quot;" name="csrf">
  <input name='username' id="username">
  <input type=password name=password>
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="spam">
  <textarea name="note">
line &lt;1&gt;</textarea>
  <input type="submit" name="go" value="Go">
</form>
<form method="post"><input name="only" value="here"></form>`;

async function readBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

const handler: http.RequestListener = async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const body = await readBody(req);
  const echo = (extra: object = {}) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, path: url.pathname, query: url.search, body, cookie: req.headers.cookie ?? '', ...extra }));
  };
  switch (url.pathname) {
    case '/form':
      if (req.method === 'POST') return echo();
      res.setHeader('set-cookie', ['sid=1; Path=/; HttpOnly', 'scoped=2; Path=/login', 'gone=3; Path=/']);
      res.end(FORM_PAGE);
      return;
    case '/login':
      res.writeHead(303, { location: '/after', 'set-cookie': ['gone=; Max-Age=0; Path=/', 'after=4'] });
      res.end();
      return;
    case '/keep':
      res.writeHead(307, { location: '/echo' });
      res.end();
      return;
    case '/move':
      res.writeHead(302, { location: '/echo' });
      res.end();
      return;
    case '/to-callback':
      res.writeHead(302, { location: 'http://127.0.0.1:9/cb?code=abc&state=s1' });
      res.end('redirecting');
      return;
    case '/loop':
      res.writeHead(302, { location: '/loop' });
      res.end();
      return;
    default:
      echo();
  }
};

describe('parseForms', () => {
  it('reads attributes in any order and quoting, decodes entities, resolves actions', () => {
    const [search, login, bare] = parseForms(FORM_PAGE, 'http://h.test/dir/form');
    expect(search).toMatchObject({ method: 'GET', fields: { q: 'a&b' } });
    expect(search?.action.href).toBe('http://h.test/search');
    expect(login?.method).toBe('POST');
    expect(login?.action.href).toBe('http://h.test/login?next=%2Fhome&x=1');
    expect(login?.fields).toEqual({ csrf: `tok'en"`, username: '', password: '', remember: 'on', note: 'line <1>' });
    expect(bare?.action.href).toBe('http://h.test/dir/form');
  });

  it('decodes the common entities and numeric references', () => {
    expect(decodeEntities('&amp;&quot;&#39;&lt;&gt;&#x41;&#66;&unknown;')).toBe(`&"'<>AB&unknown;`);
    expect(parseAttributes(`a=1 B='two' c="th ree" disabled`)).toEqual({ a: '1', b: 'two', c: 'th ree', disabled: '' });
  });
});

describe('FormClient over HTTP', () => {
  let server: http.Server;
  let base: string;
  let client: FormClient;

  beforeAll(async () => {
    server = http.createServer(handler).listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new FormClient({ stopAt: (u) => u.pathname === '/cb' });
  });

  afterAll(async () => {
    await client.close();
    server.closeAllConnections();
    server.close();
  });

  it('submits a POST form with overlaid fields, follows 303 as GET, and keeps cookies by path and expiry', async () => {
    const page = await client.get(`${base}/form`);
    expect(page.status).toBe(200);
    expect(client.cookieHeader(`${base}/`)).toBe('sid=1; gone=3');

    const after = await client.submitForm(page, { username: 'alice', password: 'p&ss w' }, { formAction: '/login' });
    const echoed = JSON.parse(after.html) as Record<string, string>;
    expect(after.url).toBe(`${base}/after`);
    expect(echoed.method).toBe('GET');
    expect(echoed.cookie).toBe('sid=1; after=4');
    expect(client.cookieHeader(`${base}/login`)).toBe('scoped=2; sid=1; after=4');
  });

  it('posts the form body urlencoded', async () => {
    const page = await client.get(`${base}/form`);
    const forms = parseForms(page.html, page.url);
    expect(forms).toHaveLength(3);
    const echoed = await client.submitForm(page, { only: 'changed', extra: 'x y' }, { formIndex: 2 });
    const body = JSON.parse(echoed.html) as Record<string, string>;
    expect(body.method).toBe('POST');
    expect(new URLSearchParams(body.body).get('only')).toBe('changed');
    expect(new URLSearchParams(body.body).get('extra')).toBe('x y');
  });

  it('submits a GET form as a query string', async () => {
    const page = await client.get(`${base}/form`);
    const res = await client.submitForm(page, { q: 'k8s' });
    expect(JSON.parse(res.html)).toMatchObject({ method: 'GET', path: '/search', query: '?q=k8s' });
  });

  it('keeps the method on 307 and turns a POST into GET on 302', async () => {
    const post = (path: string) => client.submitForm({ url: `${base}${path}`, status: 200, html: '<form method=post><input name=a value=1></form>', headers: new Headers() }, {});
    expect(JSON.parse((await post('/keep')).html)).toMatchObject({ method: 'POST', body: 'a=1' });
    expect(JSON.parse((await post('/move')).html)).toMatchObject({ method: 'GET', body: '' });
  });

  it('stops at a redirect the predicate matches, without fetching it', async () => {
    const page = await client.get(`${base}/to-callback`);
    expect(page.status).toBe(302);
    expect(page.url).toBe('http://127.0.0.1:9/cb?code=abc&state=s1');
    expect(page.html).toBe('redirecting');
  });

  it('gives up after 20 redirects', async () => {
    await expect(client.get(`${base}/loop`)).rejects.toThrow(/more than 20 redirects/);
  });

  it('says so when the page has no matching form', async () => {
    const page = await client.get(`${base}/form`);
    await expect(client.submitForm(page, {}, { formAction: '/nowhere' })).rejects.toThrow(/no matching <form>/);
  });
});

describe('FormClient over HTTPS', () => {
  it('trusts the given CA and only it', async () => {
    const tls = await createTestTls();
    const server = https.createServer({ cert: tls.cert, key: tls.key }, handler).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `https://localhost:${(server.address() as AddressInfo).port}/hello`;
    const trusting = new FormClient({ ca: tls.caCert });
    const plain = new FormClient();
    try {
      const page = await trusting.get(url);
      expect(page.status).toBe(200);
      expect(JSON.parse(page.html)).toMatchObject({ path: '/hello' });
      await expect(plain.get(url)).rejects.toThrow();
    } finally {
      await Promise.all([trusting.close(), plain.close()]);
      server.closeAllConnections();
      server.close();
    }
  });
});

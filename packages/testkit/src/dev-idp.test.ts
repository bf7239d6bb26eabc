import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { Agent, fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from './dev-idp.ts';
import { FormClient, type Page } from './form-client.ts';
import { createTestTls } from './test-tls.ts';

const CLIENT = { clientId: 'ztsh-auth', clientSecret: 'client s3cret/+', redirectUris: ['http://127.0.0.1:9/cb'] };
const ALICE = { username: 'alice', password: 'correct horse', email: 'alice@example.test', name: 'Alice A.', groups: ['DevOps', 'devs'] };

let idp: DevIdp;
let ca: string;
let agent: Agent;
let tamper: ((idToken: string) => string) | undefined;
const clients: FormClient[] = [];

beforeAll(async () => {
  const tls = await createTestTls();
  ca = tls.caCert;
  agent = new Agent({ connect: { ca } });
  idp = await startDevIdp({
    tls,
    users: [ALICE],
    clients: [CLIENT],
    tamperIdToken: (idToken) => (tamper ? tamper(idToken) : idToken),
  });
});

afterEach(async () => {
  tamper = undefined;
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await idp?.close();
  await agent?.close();
});

function browser(): FormClient {
  const client = new FormClient({ ca, stopAt: (url) => url.origin === 'http://127.0.0.1:9' });
  clients.push(client);
  return client;
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(params: Record<string, string>): string {
  const url = new URL('/auth', idp.issuer);
  url.search = new URLSearchParams({
    client_id: CLIENT.clientId,
    redirect_uri: CLIENT.redirectUris[0] ?? '',
    response_type: 'code',
    scope: 'openid email profile groups',
    ...params,
  }).toString();
  return url.href;
}

interface Started {
  loginPage: Page;
  verifier: string;
  state: string;
  nonce: string;
}

async function startLogin(client: FormClient): Promise<Started> {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const loginPage = await client.get(
    authorizeUrl({ state, nonce, code_challenge: challenge, code_challenge_method: 'S256' }),
  );
  return { loginPage, verifier, state, nonce };
}

function callbackParams(page: Page): URLSearchParams {
  expect(page.url.startsWith(`${CLIENT.redirectUris[0]}?`), `redirected to ${page.url}`).toBe(true);
  return new URL(page.url).searchParams;
}

async function token(body: Record<string, string>, auth: 'basic' | 'post' = 'basic') {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: CLIENT.redirectUris[0] ?? '', ...body });
  if (auth === 'basic') {
    const pair = `${encodeURIComponent(CLIENT.clientId)}:${encodeURIComponent(CLIENT.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else {
    form.set('client_id', CLIENT.clientId);
    form.set('client_secret', CLIENT.clientSecret);
  }
  const res = await fetch(new URL('/token', idp.issuer), { method: 'POST', headers, body: form.toString(), dispatcher: agent });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function jwtParts(jwt: string) {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload), signed: `${header}.${payload}`, signature: Buffer.from(signature, 'base64url') };
}

async function signatureValid(jwt: string): Promise<boolean> {
  const res = await fetch(new URL('/jwks', idp.issuer), { dispatcher: agent });
  const { keys } = (await res.json()) as { keys: (JsonWebKey & { kid: string })[] };
  const { header, signed, signature } = jwtParts(jwt);
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== 'RS256') return false;
  return verify('sha256', Buffer.from(signed), createPublicKey({ key: jwk, format: 'jwk' }), signature);
}

async function loginAndGetCode(client: FormClient) {
  const started = await startLogin(client);
  const done = await client.submitForm(started.loginPage, { username: ALICE.username, password: ALICE.password });
  const params = callbackParams(done);
  return { ...started, code: params.get('code') ?? '', returnedState: params.get('state') };
}

describe('dev IdP discovery', () => {
  it('publishes an https issuer on the bound port with PKCE S256 and both secret auth methods', async () => {
    expect(idp.issuer).toBe(`https://localhost:${idp.port}`);
    const res = await fetch(new URL('/.well-known/openid-configuration', idp.issuer), { dispatcher: agent });
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.code_challenge_methods_supported).toContain('S256');
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'groups']));
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'email_verified', 'name', 'preferred_username', 'groups']));
    expect(meta.response_types_supported).toEqual(['code']);
  });
});

describe('dev IdP authorization code flow', () => {
  it('shows the login page, redirects with code and state, and issues a signed ID token with the claims', async () => {
    const client = browser();
    const started = await startLogin(client);
    expect(started.loginPage.status).toBe(200);
    expect(started.loginPage.url).toMatch(/\/interaction\/[\w-]+$/);
    expect(started.loginPage.html).toContain('ztsh dev IdP');
    expect(started.loginPage.html).toMatch(/<input id="password" name="password" type="password"/);
    expect(started.loginPage.html).toContain('<button type="submit">Sign in</button>');

    const done = await client.submitForm(started.loginPage, { username: ALICE.username, password: ALICE.password });
    const params = callbackParams(done);
    expect(params.get('state')).toBe(started.state);
    const code = params.get('code');
    expect(code).toBeTruthy();

    const { status, json } = await token({ code: code ?? '', code_verifier: started.verifier });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(typeof json.id_token).toBe('string');
    const idToken = String(json.id_token);
    const { payload } = jwtParts(idToken);
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: CLIENT.clientId,
      sub: ALICE.username,
      nonce: started.nonce,
      email: ALICE.email,
      email_verified: true,
      name: ALICE.name,
      preferred_username: ALICE.username,
      groups: ALICE.groups,
    });
    expect(await signatureValid(idToken)).toBe(true);
  });

  it('accepts client_secret_post and reuses the session without asking again (no consent screen)', async () => {
    const client = browser();
    await loginAndGetCode(client);
    const { verifier, challenge } = pkce();
    const again = await client.get(authorizeUrl({ state: 's2', nonce: 'n2', code_challenge: challenge, code_challenge_method: 'S256' }));
    const params = callbackParams(again);
    expect(params.get('state')).toBe('s2');
    const { status, json } = await token({ code: params.get('code') ?? '', code_verifier: verifier }, 'post');
    expect(status, JSON.stringify(json)).toBe(200);
    expect(jwtParts(String(json.id_token)).payload).toMatchObject({ sub: ALICE.username, nonce: 'n2' });
  });

  it('approves prompt=consent on its own and asks for the password again on prompt=login', async () => {
    const client = browser();
    await loginAndGetCode(client);
    const { challenge } = pkce();
    const consented = await client.get(
      authorizeUrl({ state: 's4', nonce: 'n4', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    expect(callbackParams(consented).get('code')).toBeTruthy();
    const relogin = await client.get(
      authorizeUrl({ state: 's5', nonce: 'n5', prompt: 'login', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    expect(relogin.status).toBe(200);
    expect(relogin.html).toContain('<button type="submit">Sign in</button>');
  });

  it('re-renders the form with an error on a wrong password, escaping what was typed', async () => {
    const client = browser();
    const { loginPage } = await startLogin(client);
    const failed = await client.submitForm(loginPage, { username: '<b>alice"', password: 'wrong' });
    expect(failed.status).toBe(200);
    expect(failed.url).toMatch(/\/interaction\/[\w-]+\/login$/);
    expect(failed.html).toContain('Invalid username or password');
    expect(failed.html).toContain('value="&#60;b&#62;alice&#34;"');
    expect(failed.html).not.toContain('<b>alice');

    const retried = await client.submitForm(failed, { username: ALICE.username, password: ALICE.password });
    expect(callbackParams(retried).get('code')).toBeTruthy();
  });

  it('refuses a request without PKCE', async () => {
    const page = await browser().get(authorizeUrl({ state: 's3', nonce: 'n3' }));
    const params = callbackParams(page);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('code')).toBeNull();
  });

  it('refuses a code with the wrong verifier, and a code used twice', async () => {
    const { code } = await loginAndGetCode(browser());
    expect((await token({ code, code_verifier: pkce().verifier })).json.error).toBe('invalid_grant');
    const fresh = await loginAndGetCode(browser());
    expect((await token({ code: fresh.code, code_verifier: fresh.verifier })).status).toBe(200);
    expect((await token({ code: fresh.code, code_verifier: fresh.verifier })).json.error).toBe('invalid_grant');
  });

  it('applies tamperIdToken to the token response', async () => {
    const { code, verifier } = await loginAndGetCode(browser());
    tamper = (idToken) => {
      const [header, , signature] = idToken.split('.');
      const payload = Buffer.from(JSON.stringify({ sub: 'mallory', groups: ['admins'] })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    };
    const { status, json } = await token({ code, code_verifier: verifier });
    expect(status).toBe(200);
    const idToken = String(json.id_token);
    expect(jwtParts(idToken).payload).toEqual({ sub: 'mallory', groups: ['admins'] });
    expect(await signatureValid(idToken)).toBe(false);
  });
});

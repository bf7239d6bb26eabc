// Development / test OpenID Provider (oidc-provider v9) with a fixed user list and a plain
// HTML login page. Authorization code + PKCE (S256) only; the ID token carries the profile
// claims (email, name, preferred_username, groups) so a relying party needs no userinfo call.
//
//   /auth ──▶ /interaction/:uid (login form) ──POST /interaction/:uid/login──▶ /auth/:uid
//         ──▶ redirect_uri?code&state          (no consent screen: loadExistingGrant grants all)
import { once } from 'node:events';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Middleware } from 'koa';
import Provider, {
  type Adapter,
  type AdapterFactory,
  type AdapterPayload,
  type Configuration,
  type JWK,
  type KoaContextWithOIDC,
} from 'oidc-provider';

export interface DevIdpUser {
  username: string;
  password: string;
  email: string;
  name?: string;
  groups: string[];
}

export interface DevIdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface DevIdpOptions {
  /** Bind address, default '127.0.0.1'. */
  host?: string;
  /** Default 0: read the real port back from `DevIdp.port`. */
  port?: number;
  /** Host name in the issuer URL, default 'localhost'. */
  publicHost?: string;
  /** PEM; the IdP serves HTTPS only. */
  tls: { cert: string; key: string };
  users: DevIdpUser[];
  clients: DevIdpClient[];
  /** Test hook: rewrite the id_token returned by the token endpoint (to test tampering / wrong signer). */
  tamperIdToken?: (idToken: string) => string | Promise<string>;
}

export interface DevIdp {
  issuer: string;
  port: number;
  provider: Provider;
  close(): Promise<void>;
}

const SCOPE_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};
const MAX_FORM_BYTES = 64 * 1024;

export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const server = https.createServer({ cert: opts.tls.cert, key: opts.tls.key });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `https://${opts.publicHost ?? 'localhost'}:${port}`;

  const users = new Map(opts.users.map((u) => [u.username, u]));
  let provider: Provider;
  try {
    provider = new Provider(issuer, providerConfig(opts, users));
  } catch (err) {
    server.close(); // a bad client or user list must not leave the port open
    throw err;
  }
  provider.use(loginInteraction(provider, users));
  if (opts.tamperIdToken) provider.use(tamperTokenResponse(provider.pathFor('token'), opts.tamperIdToken));
  server.on('request', provider.callback());

  return {
    issuer,
    port,
    provider,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

function providerConfig(opts: DevIdpOptions, users: Map<string, DevIdpUser>): Configuration {
  return {
    adapter: memoryAdapter(),
    clients: opts.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic', // also accepts client_secret_post
    })),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: Object.keys(SCOPE_CLAIMS),
    claims: SCOPE_CLAIMS,
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: user.username,
        claims: () => ({
          sub: user.username,
          email: user.email,
          email_verified: true,
          name: user.name ?? user.username,
          preferred_username: user.username,
          groups: [...user.groups],
        }),
      };
    },
    loadExistingGrant: grantEverythingRequested,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        logoutSource: (ctx, form) => {
          ctx.body = page('Sign out', `<p>Sign out of the ztsh dev IdP?</p>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { Session: 3600, IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Grant: 3600 },
    clientBasedCORS: () => false,
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
    },
  };
}

/** A fresh RS256 key per start (RS256: the algorithm every relying party accepts by default). */
function signingKey(): JWK {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' } as JWK;
}

/**
 * All clients are first-party, so instead of a consent screen the session's grant is extended
 * with whatever OIDC scopes and claims the request asks for (oidc-provider then finds nothing
 * missing and skips the consent prompt).
 */
async function grantEverythingRequested(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const accountId = oidc.session?.accountId;
  const clientId = oidc.client?.clientId;
  if (!accountId || !clientId) return undefined;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
  const found = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  const grant = found?.accountId === accountId ? found : new oidc.provider.Grant({ accountId, clientId });
  grant.addOIDCScope(oidc.requestParamOIDCScopes);
  if (oidc.requestParamClaims.size) grant.addOIDCClaims(oidc.requestParamClaims);
  await grant.save();
  return grant;
}

/** GET /interaction/:uid renders the login form; POST /interaction/:uid/login checks it. */
function loginInteraction(provider: Provider, users: Map<string, DevIdpUser>): Middleware {
  return async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) return next();
    const [, uid = '', login] = match;
    ctx.set('cache-control', 'no-store');
    ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
    ctx.type = 'html';

    const details = await provider.interactionDetails(ctx.req, ctx.res).catch(() => undefined);
    const prompt = details?.uid === uid ? details.prompt.name : undefined;
    if (details && prompt === 'consent' && details.grantId && !login) {
      // Only reached with an explicit prompt=consent: approve it, the grant already covers the request.
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId: details.grantId } });
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }
    if (!details || prompt !== 'login') {
      ctx.status = 400;
      ctx.body = page('Sign-in expired', '<p>This sign-in attempt is unknown or has expired. Start again from the application.</p>');
      return;
    }
    const clientId = String(details.params.client_id ?? '');
    if (!login && ctx.method === 'GET') {
      ctx.body = loginPage(uid, clientId, '', undefined);
      return;
    }
    if (!login || ctx.method !== 'POST') {
      ctx.status = 405;
      return;
    }
    const form = new URLSearchParams(await readBody(ctx.req, MAX_FORM_BYTES));
    const username = form.get('username') ?? '';
    const user = checkPassword(users, username, form.get('password') ?? '');
    if (!user) {
      ctx.body = loginPage(uid, clientId, username, 'Invalid username or password');
      return;
    }
    const returnTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: user.username } },
      { mergeWithLastSubmission: false },
    );
    ctx.status = 303;
    ctx.redirect(returnTo);
  };
}

function checkPassword(users: Map<string, DevIdpUser>, username: string, password: string): DevIdpUser | undefined {
  const user = users.get(username);
  // Compare digests so the time taken does not depend on the password length or whether the user exists.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const ok = timingSafeEqual(digest(user?.password ?? randomUUID()), digest(password));
  return ok ? user : undefined;
}

/** Lets a test change the id_token in the token endpoint's JSON answer. */
function tamperTokenResponse(tokenPath: string, tamper: (idToken: string) => string | Promise<string>): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== tokenPath || ctx.status !== 200) return;
    const body: unknown = ctx.body;
    if (typeof body === 'object' && body !== null && 'id_token' in body && typeof body.id_token === 'string') {
      ctx.body = { ...body, id_token: await tamper(body.id_token) };
    }
  };
}

async function readBody(stream: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('form too large'), { status: 413, expose: true });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function loginPage(uid: string, clientId: string, username: string, error: string | undefined): string {
  return page(
    'Sign in',
    `<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(encodeURIComponent(uid))}/login" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autofocus required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ztsh dev IdP</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.3rem 0}input,button{padding:.5rem}
.error{color:#b00020;font-weight:600}</style></head>
<body><main><h1>ztsh dev IdP</h1>
${body}
</main></body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * In-memory storage for one IdP instance (oidc-provider's own one is shared per process and
 * announces itself with a warning). Expired entries vanish on read and in a sweep every 500 writes.
 */
function memoryAdapter(): AdapterFactory {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const byGrant = new Map<string, Set<string>>();
  let writes = 0;

  const read = (key: string | undefined) => {
    const entry = key === undefined ? undefined : store.get(key);
    if (!entry || entry.expiresAt > Date.now()) return entry?.payload;
    store.delete(key as string);
    return undefined;
  };
  const sweep = () => {
    for (const key of store.keys()) read(key);
    for (const index of [byUid, byUserCode]) for (const [k, v] of index) if (!store.has(v)) index.delete(k);
    for (const [grantId, keys] of byGrant) {
      for (const key of keys) if (!store.has(key)) keys.delete(key);
      if (keys.size === 0) byGrant.delete(grantId);
    }
  };

  return (model: string): Adapter => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyOf(id);
        store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
        if (model === 'Session' && payload.uid) byUid.set(payload.uid, key);
        if (payload.userCode) byUserCode.set(payload.userCode, key);
        if (payload.grantId) byGrant.set(payload.grantId, (byGrant.get(payload.grantId) ?? new Set()).add(key));
        if (++writes % 500 === 0) sweep();
      },
      async find(id) {
        return read(keyOf(id));
      },
      async findByUid(uid) {
        return read(byUid.get(uid));
      },
      async findByUserCode(userCode) {
        return read(byUserCode.get(userCode));
      },
      async consume(id) {
        const payload = read(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(keyOf(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of byGrant.get(grantId) ?? []) store.delete(key);
        byGrant.delete(grantId);
      },
    };
  };
}

// The auditors' web page, server side: the sign-in page, the no-access page
// and the shell that assets/web/web.js fills in from the JSON API. Every page
// is sent with WEB_CSP: scripts and styles from this origin only.
import type { WebAssetName } from '../routes/web-assets.ts';
import { html, type Html } from './html.ts';

/**
 * 'wasm-unsafe-eval': the asciinema player's terminal emulator is Rust
 * compiled to WebAssembly, shipped inside its bundle and compiled with
 * WebAssembly.instantiate, which a CSP without it forbids. It allows
 * compiling WebAssembly only, not eval() of JavaScript.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export type AssetHref = (name: WebAssetName) => string;

export function document(href: AssetHref, title: string, body: Html, scripts: Html | '' = ''): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ztsh audit</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${href('web.css')}">
${scripts}
</head>
<body>
${body}
</body>
</html>`.value;
}

function card(title: string, body: Html): Html {
  return html`<main class="card">
<header><span class="logo">ztsh</span> audit</header>
<h1>${title}</h1>
${body}
</main>`;
}

export interface ConnectorChoice {
  name: string;
  displayName: string;
}

export function signInPage(href: AssetHref, connectors: ConnectorChoice[]): string {
  return document(
    href,
    'Sign in',
    card(
      'Sign in',
      html`<p>Search the audit log and replay recorded sessions. Sign in with your company account; you need a role with the <code>audit</code> permission.</p>
<ul class="connectors">
${connectors.map((c) => html`<li><a class="button" href="/web/login/${encodeURIComponent(c.name)}">Sign in with ${c.displayName}</a></li>`)}
</ul>`,
    ),
  );
}

export interface NoAccessInput {
  user: string;
  roles: string[];
  message: string;
  hint?: string | undefined;
}

export function noAccessPage(href: AssetHref, input: NoAccessInput): string {
  return document(
    href,
    'No access',
    card(
      'No access',
      html`<p class="error" id="no-access">${input.message}</p>
${input.hint ? html`<p class="hint">${input.hint}</p>` : ''}
<p>Signed in as <strong>${input.user}</strong> (roles: ${input.roles.join(', ') || 'none'}).</p>
<form method="post" action="/web/logout"><button type="submit">Sign out</button></form>`,
    ),
  );
}

export interface AuditShellInput {
  user: string;
  roles: string[];
  expiresAt: number;
  /** The user's roles may review access requests: the bar links to /web/requests. */
  mayReview?: boolean;
}

export function auditShellPage(href: AssetHref, input: AuditShellInput): string {
  return document(
    href,
    'Sessions and events',
    html`<header class="bar">
<span class="logo">ztsh</span> <span class="title">audit</span>
<nav><a href="#sessions" id="nav-sessions">Sessions</a><a href="#events" id="nav-events">Events</a>${input.mayReview ? html`<a href="/web/requests" id="nav-requests">Requests</a>` : ''}</nav>
<span class="who">Signed in as <strong id="who">${input.user}</strong> (${input.roles.join(', ')}), until <time datetime="${new Date(input.expiresAt).toISOString()}">${new Date(input.expiresAt).toISOString()}</time></span>
<form method="post" action="/web/logout"><button type="submit">Sign out</button></form>
</header>
<main id="app" aria-live="polite"><noscript>This page needs JavaScript to list and replay sessions; the CLI (ztsh audit, ztsh recordings, ztsh play) works without it.</noscript></main>`,
    html`<link rel="stylesheet" href="${href('asciinema-player.css')}">
<script src="${href('asciinema-player.js')}" defer></script>
<script src="${href('web.js')}" type="module"></script>`,
  );
}

/**
 * After a redirect chain that began at another site (the IdP), the browser
 * holds back SameSite=Strict cookies; a navigation this page starts itself
 * carries them. A meta refresh does that without a script.
 */
export function continuePage(href: AssetHref, to: string): string {
  return document(
    href,
    'Signed in',
    card('Signed in', html`<p><a href="${to}" id="continue">Continue to the audit page</a></p>`),
    html`<meta http-equiv="refresh" content="0;url=${to}">`,
  );
}

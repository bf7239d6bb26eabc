// The reviewers' page, server side: the shell that assets/web/requests.js
// fills in from the access requests API. Same sign-in, stylesheet and CSP as
// the auditors' page (web-pages.ts); shown to users whose roles may review
// requests, whether or not they may also audit.
import { html } from './html.ts';
import { document, type AssetHref } from './web-pages.ts';

export interface RequestsShellInput {
  user: string;
  roles: string[];
  expiresAt: number;
  /** The user may also use the auditors' page: the bar links to it. */
  mayAudit: boolean;
}

export function requestsShellPage(href: AssetHref, input: RequestsShellInput): string {
  const until = new Date(input.expiresAt).toISOString();
  return document(
    href,
    'Access requests',
    html`<header class="bar">
<span class="logo">ztsh</span> <span class="title">access requests</span>
<nav>${input.mayAudit ? html`<a href="/web#sessions" id="nav-sessions">Sessions</a><a href="/web#events" id="nav-events">Events</a>` : ''}<a href="/web/requests" id="nav-requests" class="current">Requests</a></nav>
<button type="button" class="quiet" id="reload">Reload</button>
<span class="who">Signed in as <strong id="who">${input.user}</strong> (${input.roles.join(', ')}), until <time datetime="${until}">${until}</time></span>
<form method="post" action="/web/logout"><button type="submit">Sign out</button></form>
</header>
<main id="app" aria-live="polite"><noscript>This page needs JavaScript to list and review requests; the CLI (ztsh request ls, ztsh request review) works without it.</noscript></main>`,
    html`<script src="${href('requests.js')}" type="module"></script>`,
  );
}

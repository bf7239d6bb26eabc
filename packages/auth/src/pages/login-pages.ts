// The pages a user sees between the IdP and the terminal: the second factor
// (or its enrollment), the device-code pages, and the approval notice. Every
// page names the client and machine the login is for.
import type { LoginRecord } from '../storage/storage.ts';
import { html, page, raw, type Html } from './html.ts';

function clientLine(login: LoginRecord): Html {
  if (login.kind === 'web') {
    return html`<p class="client">Signing in to <strong>the ztsh audit page</strong>
from ${login.clientIp}${login.user ? html` as <strong id="user">${login.user}</strong>` : ''}.</p>`;
  }
  const c = login.client;
  if (login.kind === 'session_mfa') {
    // Says what the touch confirms, so a check someone else started is recognised as not one's own.
    return html`<p class="client" id="session-check">Confirm a session for clusters <strong id="clusters">${(login.sessionMfa?.clusters ?? []).join(', ')}</strong>
 — asked by <strong>${c ? `${c.name} on ${c.hostname}` : 'a ztsh client'}</strong> from ${login.clientIp}, as <strong id="user">${login.user}</strong>.</p>
<p>Continue only if you just ran that command yourself.</p>`;
  }
  return html`<p class="client">Signing in <strong>${c ? `${c.name} on ${c.hostname}` : 'a ztsh client'}</strong>
from ${login.clientIp}${login.user ? html` as <strong id="user">${login.user}</strong>` : ''}.</p>`;
}

export interface MfaPageInput {
  login: LoginRecord;
  methods: ('totp' | 'webauthn')[];
  enroll: boolean;
  totp?: { secret: string; qrSvg: string; uri: string } | undefined;
  error?: string | undefined;
}

export function mfaPage(input: MfaPageInput): string {
  const { login, methods, enroll } = input;
  const base = `/login/${login.id}/mfa`;
  const error = input.error ? html`<p class="error" role="alert">${input.error}</p>` : '';
  const totp = methods.includes('totp')
    ? enroll && input.totp
      ? html`<section id="totp-enroll">
<h2>Set up an authenticator app</h2>
<p>Scan this code with an authenticator app (Google Authenticator, 1Password, FreeOTP…), or type the secret by hand. It is shown on this page only.</p>
<div class="qr">${raw(input.totp.qrSvg)}</div>
<p>Secret: <code id="totp-secret">${input.totp.secret}</code></p>
<form method="post" action="${base}/totp/enroll">
<label for="code">Code from the app</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required autofocus>
<button type="submit">Confirm</button>
</form></section>`
      : html`<section id="totp">
<h2>Authenticator code</h2>
<form method="post" action="${base}/totp">
<label for="code">6-digit code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required autofocus>
<button type="submit">Verify</button>
</form></section>`
    : '';
  const webauthn = methods.includes('webauthn')
    ? html`<section id="webauthn">
<h2>${enroll ? 'Or register a security key or passkey' : 'Security key or passkey'}</h2>
<button type="button" id="${enroll ? 'webauthn-register' : 'webauthn-authenticate'}" data-mode="${enroll ? 'register' : 'authenticate'}">${enroll ? 'Register a security key' : 'Use security key'}</button>
<p class="error" id="webauthn-error" role="alert" hidden></p>
</section>`
    : '';
  return page(
    enroll ? 'Set up a second factor' : 'Second factor',
    html`<h1>${enroll ? 'Set up a second factor' : 'Confirm it is you'}</h1>
${clientLine(login)}
${enroll ? html`<p>Your organisation requires a second factor, and you have none yet.</p>` : ''}
${error}${totp}${webauthn}
<div id="login-root" data-base="${base}"></div>
<script src="/assets/webauthn.js"></script>
<script src="/assets/login.js"></script>`,
  );
}

export function approvedPage(login: LoginRecord): string {
  const c = login.client;
  return page(
    'Login approved',
    html`<h1>Login approved</h1>
<p class="ok" id="approved"><strong>${c ? `${c.name} on ${c.hostname}` : 'The ztsh client'}</strong> is now signed in as <strong>${login.user}</strong>.</p>
<p>Return to your terminal; you can close this tab.</p>`,
  );
}

export function deviceCodePage(csrf: string, error?: string, userCode = ''): string {
  return page(
    'Sign in a device',
    html`<h1>Sign in a device</h1>
<p>Enter the code that <code>ztsh login --headless</code> printed.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/device">
<input type="hidden" name="csrf" value="${csrf}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" value="${userCode}" autocomplete="off" autocapitalize="characters" required autofocus>
<button type="submit">Continue</button>
</form>`,
  );
}

/** Names the machine and address asking before anything is approved; `csrf` binds the form to this page in this browser. */
export function deviceConfirmPage(login: LoginRecord, csrf: string): string {
  return page(
    'Approve this sign-in?',
    html`<h1>Approve this sign-in?</h1>
${clientLine(login)}
<p>Code <code>${login.userCode}</code>, requested ${new Date(login.createdAt).toISOString()} from <strong id="requested-from">${login.clientIp}</strong>.</p>
<p class="warning">Continue only if you started it yourself, on that machine. If someone sent you this link or code, close this page: approving gives them your access.</p>
<form method="post" action="/device/confirm">
<input type="hidden" name="user_code" value="${login.userCode}">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Approve and sign in</button>
</form>`,
  );
}

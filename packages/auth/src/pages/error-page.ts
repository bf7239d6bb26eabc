import type { ZtshError } from '@ztsh/protocol';
import { html, page } from './html.ts';

const TITLES: Partial<Record<string, string>> = {
  no_roles: 'No access granted',
  idp_denied: 'Sign-in refused',
  mfa_failed: 'Wrong code',
  mfa_code_reused: 'Code already used',
  mfa_locked: 'Too many attempts',
  login_expired: 'Login expired',
  state_mismatch: 'Login not recognised',
};

export function errorPage(error: ZtshError): string {
  const message = error.expose ? error.message : 'Something went wrong on the server. The details are in its log.';
  return page(
    TITLES[error.code] ?? 'Sign-in failed',
    html`<h1>${TITLES[error.code] ?? 'Sign-in failed'}</h1>
<p class="error" data-code="${error.code}">${message}</p>
${error.expose && error.hint ? html`<p class="hint">${error.hint}</p>` : ''}`,
  );
}

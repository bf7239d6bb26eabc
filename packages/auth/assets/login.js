// WebAuthn on the second-factor page: asks the auth service for options,
// lets the browser talk to the authenticator, posts the answer back.
(function () {
  const root = document.getElementById('login-root');
  if (!root) return;
  const base = root.dataset.base;
  const errorBox = document.getElementById('webauthn-error');
  const show = (text) => {
    if (!errorBox) return;
    errorBox.textContent = text;
    errorBox.hidden = false;
  };
  const post = async (path, body) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    const json = await res.json();
    // A login that ended (second factor locked) still says where the CLI waits.
    if (!res.ok && json.redirect) window.location.href = json.redirect;
    if (!res.ok) throw new Error((json.error && json.error.message) || 'request failed');
    return json;
  };
  const run = async (mode) => {
    try {
      const options = await post('/webauthn/options', { mode });
      const lib = window.SimpleWebAuthnBrowser;
      const response =
        mode === 'register'
          ? await lib.startRegistration({ optionsJSON: options })
          : await lib.startAuthentication({ optionsJSON: options });
      const result = await post('/webauthn/verify', { mode, response });
      window.location.href = result.redirect;
    } catch (err) {
      show(err && err.message ? err.message : String(err));
    }
  };
  for (const id of ['webauthn-register', 'webauthn-authenticate']) {
    const button = document.getElementById(id);
    if (button) button.addEventListener('click', () => run(button.dataset.mode));
  }
})();

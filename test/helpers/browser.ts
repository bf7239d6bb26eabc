// Debian's Chromium driven by playwright-core: headless, sandbox off (root
// in CI), nothing that phones home. playwright gives every launch a fresh
// temporary profile; each test login gets its own context (no shared IdP
// session cookies).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export type { Browser };

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** A clean, cookie-less context that accepts the dev stack's self-signed certificate. */
export function freshContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true });
}

/** A page in a context that holds a virtual security key (Chromium's DevTools WebAuthn domain). */
export async function pageWithKey(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return page;
}

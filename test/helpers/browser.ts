// Debian's Chromium driven by playwright-core: headless, sandbox off (root
// in CI), nothing that phones home. playwright gives every launch a fresh
// temporary profile; each test login gets its own context (no shared IdP
// session cookies).
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

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

// Static files of the auditors' and reviewers' pages: their scripts and stylesheet, and the
// asciinema player's bundle from node_modules (no CDN). Each is served under a
// hash of its content, so a browser may keep it for a year and still never
// runs a stale copy after an upgrade.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';

const require = createRequire(import.meta.url);
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

const SOURCES = {
  'web.js': { type: JS, file: new URL('../../assets/web/web.js', import.meta.url) },
  'web.css': { type: CSS, file: new URL('../../assets/web/web.css', import.meta.url) },
  'requests.js': { type: JS, file: new URL('../../assets/web/requests.js', import.meta.url) },
  'asciinema-player.js': { type: JS, file: require.resolve('asciinema-player/dist/bundle/asciinema-player.min.js') },
  'asciinema-player.css': { type: CSS, file: require.resolve('asciinema-player/dist/bundle/asciinema-player.css') },
} as const;

export type WebAssetName = keyof typeof SOURCES;

export interface WebAssets {
  router: Router;
  /** The path a page links to. */
  href(name: WebAssetName): string;
}

export function webAssets(): WebAssets {
  const byPath = new Map<string, { type: string; body: Buffer }>();
  const hrefs = {} as Record<WebAssetName, string>;
  for (const [name, source] of Object.entries(SOURCES) as [WebAssetName, (typeof SOURCES)[WebAssetName]][]) {
    const body = readFileSync(source.file);
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
    hrefs[name] = `/web/assets/${hash}/${name}`;
    byPath.set(hrefs[name], { type: source.type, body });
  }
  const router = createRouter();
  router.get('/web/assets/:hash/:name', (ctx) => {
    const file = byPath.get(ctx.path);
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.body = file.body;
  });
  return { router, href: (name) => hrefs[name] };
}

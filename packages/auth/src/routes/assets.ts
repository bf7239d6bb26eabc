// Static files for the login pages, served from this package and from
// @simplewebauthn/browser: no CDN.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';

const require = createRequire(import.meta.url);

export function assetRoutes(): Router {
  const files: Record<string, { type: string; body: Buffer }> = {
    'login.js': { type: 'application/javascript', body: readFileSync(new URL('../../assets/login.js', import.meta.url)) },
    'style.css': { type: 'text/css', body: readFileSync(new URL('../../assets/style.css', import.meta.url)) },
    'webauthn.js': {
      type: 'application/javascript',
      // The package exports only its module entry; the browser bundle sits beside it.
      body: readFileSync(join(dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js')),
    },
  };
  const router = createRouter('/assets');
  router.get('/:name', (ctx) => {
    const file = files[ctx.params.name!];
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  return router;
}

// Every route module makes its router here. Routing is case-sensitive and
// strict about trailing slashes: a path matches one route in one spelling, so
// a check bound to a prefix (a router's middleware, the CSP of the web page)
// can never be stepped around by writing /V1/... or /web/login/ instead. By
// default @koa/router matches routes case-insensitively while its prefix
// middleware matches case-sensitively, which let /V1/internal/watch reach a
// handler without its caller check.
import Router from '@koa/router';

export function createRouter(prefix?: string): Router {
  return new Router({ ...(prefix ? { prefix } : {}), sensitive: true, strict: true });
}

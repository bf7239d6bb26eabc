// The JSON API the CLI speaks to log in: start, exchange, device flow.
import type Router from '@koa/router';
import { createRouter } from '../http/router.ts';
import {
  Certificates,
  ConnectorsResponse,
  DeviceStartRequest,
  DeviceStartResponse,
  DeviceTokenRequest,
  LoginExchangeRequest,
  LoginStartRequest,
  LoginStartResponse,
} from '@ztsh/protocol';
import { parseBody, respond } from '../http/guard.ts';
import { exchangeCode, pollDevice } from '../login/finish.ts';
import type { LoginDeps } from '../login/login-deps.ts';
import { startBrowserLogin, startDeviceLogin } from '../login/start.ts';

export function loginApiRoutes(deps: LoginDeps): Router {
  const router = createRouter('/v1');

  router.get('/connectors', (ctx) =>
    respond(ctx, ConnectorsResponse, {
      connectors: [...deps.connectors.values()].map((c) => ({ name: c.name, displayName: c.displayName, type: 'oidc' as const })),
      defaultConnector: deps.defaultConnector,
    }),
  );

  router.post('/login/start', (ctx) => {
    const body = parseBody(ctx, LoginStartRequest);
    respond(ctx, LoginStartResponse, startBrowserLogin(deps, body, ctx.ip), 201);
  });

  router.post('/login/exchange', (ctx) => {
    const body = parseBody(ctx, LoginExchangeRequest);
    respond(ctx, Certificates, exchangeCode(deps, body.code, body.verifier, ctx.ip));
  });

  router.post('/login/device', (ctx) => {
    const body = parseBody(ctx, DeviceStartRequest);
    respond(ctx, DeviceStartResponse, startDeviceLogin(deps, body, ctx.ip), 201);
  });

  router.post('/login/device/token', (ctx) => {
    const body = parseBody(ctx, DeviceTokenRequest);
    respond(ctx, Certificates, pollDevice(deps, body.deviceCode, body.verifier, ctx.ip));
  });

  return router;
}

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

  router.post('/login/start', async (ctx) => {
    const body = parseBody(ctx, LoginStartRequest);
    respond(ctx, LoginStartResponse, await startBrowserLogin(deps, body, ctx.ip), 201);
  });

  router.post('/login/exchange', async (ctx) => {
    const body = parseBody(ctx, LoginExchangeRequest);
    respond(ctx, Certificates, await exchangeCode(deps, body.code, body.verifier, ctx.ip));
  });

  router.post('/login/device', async (ctx) => {
    const body = parseBody(ctx, DeviceStartRequest);
    respond(ctx, DeviceStartResponse, await startDeviceLogin(deps, body, ctx.ip), 201);
  });

  router.post('/login/device/token', async (ctx) => {
    const body = parseBody(ctx, DeviceTokenRequest);
    respond(ctx, Certificates, await pollDevice(deps, body.deviceCode, body.verifier, ctx.ip));
  });

  return router;
}

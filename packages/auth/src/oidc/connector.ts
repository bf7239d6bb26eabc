// An OIDC connector: discovery, authorization code + PKCE with state and
// nonce, and ID-token checks, all by openid-client. Lower-level errors are
// wrapped into stable codes; the original stays as `cause` for the logs.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { ZtshError } from '@ztsh/protocol';
import type { OidcConnectorConfig } from '../config.ts';

export interface AuthorizationChecks {
  state: string;
  nonce: string;
  pkceVerifier: string;
}

export interface OidcConnector {
  name: string;
  displayName: string;
  config: OidcConnectorConfig;
  authorizationUrl(checks: AuthorizationChecks): Promise<URL>;
  /** Exchanges the code in the callback URL and returns the verified ID-token claims. */
  callback(currentUrl: URL, checks: AuthorizationChecks): Promise<Record<string, unknown>>;
}

export interface ConnectorDeps {
  clientSecret: string;
  redirectUri: string;
  /** Seconds of clock skew tolerated on ID-token times. */
  clockToleranceSec?: number;
}

export function createOidcConnector(config: OidcConnectorConfig, deps: ConnectorDeps): OidcConnector {
  let ca: string | undefined;
  if (config.ca_file) {
    try {
      ca = readFileSync(config.ca_file, 'utf8');
    } catch (cause) {
      throw new ZtshError('invalid_config', `connector ${config.name}: cannot read ca_file ${config.ca_file}`, { cause });
    }
  }
  // The configured CA is trusted in addition to the system's roots.
  const dispatcher = ca ? new Agent({ connect: { ca: [...rootCertificates, ca] } }) : undefined;
  let discovered: Promise<oidc.Configuration> | undefined;

  const configuration = (): Promise<oidc.Configuration> => {
    discovered ??= oidc
      .discovery(
        new URL(config.issuer),
        config.client_id,
        { redirect_uris: [deps.redirectUri], [oidc.clockTolerance]: deps.clockToleranceSec ?? 30 },
        oidc.ClientSecretBasic(deps.clientSecret),
        {
          ...(dispatcher ? { [oidc.customFetch]: customFetch(dispatcher) } : {}),
        },
      )
      .then((c) => {
        if (dispatcher) c[oidc.customFetch] = customFetch(dispatcher);
        // openid-client trusts TLS for ID tokens from the token endpoint
        // (OIDC Core 3.1.3.7) and skips the signature unless told: check it,
        // so a tampering middlebox or a confused IdP cannot pass claims.
        oidc.enableNonRepudiationChecks(c);
        return c;
      })
      .catch((cause: unknown) => {
        discovered = undefined; // try again on the next login
        throw new ZtshError('idp_error', `identity provider "${config.name}" is unreachable or misconfigured`, {
          cause,
          hint: `check that ${config.issuer}/.well-known/openid-configuration answers from the auth server`,
        });
      });
    return discovered;
  };

  return {
    name: config.name,
    displayName: config.display_name ?? config.name,
    config,
    async authorizationUrl(checks) {
      const c = await configuration();
      return oidc.buildAuthorizationUrl(c, {
        redirect_uri: deps.redirectUri,
        scope: config.scopes.join(' '),
        response_type: 'code',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.pkceVerifier),
        code_challenge_method: 'S256',
      });
    },
    async callback(currentUrl, checks) {
      const c = await configuration();
      let tokens;
      try {
        tokens = await oidc.authorizationCodeGrant(c, currentUrl, {
          pkceCodeVerifier: checks.pkceVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
      } catch (cause) {
        throw wrapGrantError(cause, config.name);
      }
      const claims = tokens.claims();
      if (!claims) throw new ZtshError('id_token_invalid', 'the identity provider returned no ID token');
      return claims as Record<string, unknown>;
    },
  };
}

function customFetch(dispatcher: Agent): oidc.CustomFetch {
  // openid-client accepts any fetch-compatible function; undici's own fetch
  // takes the Agent that trusts the configured CA. Its Response is a
  // WHATWG Response, which openid-client accepts.
  return (url, options) =>
    undiciFetch(url, { ...options, dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

function wrapGrantError(cause: unknown, connector: string): ZtshError {
  const code = (cause as { code?: unknown })?.code;
  if (cause instanceof oidc.AuthorizationResponseError) {
    const error = cause.error;
    return new ZtshError(
      'idp_denied',
      error === 'access_denied' ? 'the identity provider denied the login' : `the identity provider refused the login (${error})`,
      { cause },
    );
  }
  if (cause instanceof oidc.ResponseBodyError) {
    return new ZtshError('idp_error', `the identity provider rejected the code exchange (${cause.error})`, { cause });
  }
  if (typeof code === 'string' && code.startsWith('OAUTH_')) {
    return new ZtshError('id_token_invalid', `the ID token from "${connector}" failed verification`, { cause });
  }
  return new ZtshError('idp_error', `the identity provider "${connector}" could not be reached`, { cause });
}

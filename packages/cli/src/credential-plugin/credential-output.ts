// What `ztsh kube credentials` prints, for the fast path and the full command
// line alike. Without --session-mfa: the login's certificate. With it (the
// kubeconfig of a cluster that requires session MFA): the cached session MFA
// certificate while it covers the cluster; else, when kubectl passed a
// terminal through, one second-factor check on it (loaded only then: the
// HTTP client and schemas stay off the common path); else one line saying
// what to run, at once, never a wait for input that cannot come.
import { CliError } from '../cli-error.ts';
import type { ZtshHome } from '../home.ts';
import { execCredentialJson, validLogin } from './exec-credential.ts';
import { execInteractive } from './exec-info.ts';
import { cachedSessionMfa } from './session-mfa-cache.ts';
import { sessionMfaRefusal } from './session-mfa-refusal.ts';

export interface CredentialRequest {
  cluster?: string | undefined;
  sessionMfa?: boolean | undefined;
}

export async function credentialOutput(
  home: ZtshHome,
  proxy: URL,
  request: CredentialRequest,
  env: Record<string, string | undefined>,
  stdinIsTty: boolean,
): Promise<string> {
  const login = validLogin(home, proxy, Date.now());
  if (!request.sessionMfa) return execCredentialJson(login.certPem, login.keyPem, login.validTo);
  const cluster = request.cluster;
  if (!cluster) throw new CliError('--session-mfa needs --cluster: the cluster the certificate must cover', 'run ztsh kube login <cluster> again to rewrite the kubeconfig entry', 2);
  const cached = cachedSessionMfa(home, proxy, login.certPem, cluster, Date.now());
  if (cached) return execCredentialJson(cached.certPem, login.keyPem, cached.expiresAt);
  if (!execInteractive(env, stdinIsTty)) throw sessionMfaRefusal(cluster);
  const { sessionMfaOnTerminal } = await import('./session-mfa-prompt.ts');
  const made = await sessionMfaOnTerminal({ home, proxy, login, cluster, env });
  // undefined: the cluster does not require it (any more); the login's certificate is the answer.
  return made ? execCredentialJson(made.certPem, login.keyPem, made.expiresAt) : execCredentialJson(login.certPem, login.keyPem, login.validTo);
}

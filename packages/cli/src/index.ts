export { ZtshHome, profileName, type ProfileFiles, type ProfileMeta } from './home.ts';
export { CliError } from './cli-error.ts';
export { newClientSecrets, type ClientSecrets } from './login/keys.ts';
export { certificateSha256, readSessionMfaCache, writeSessionMfaCache, SESSION_MFA_MARGIN_MS, type SessionMfaCache } from './credential-plugin/session-mfa-cache.ts';

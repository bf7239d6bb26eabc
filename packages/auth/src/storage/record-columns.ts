// How the records shared by both engines map onto table columns, and back.
// The engines' schemas are the same but for the user column: "user" is a
// reserved word in PostgreSQL, so there it is user_name.
import type { LoginRecord, MfaDevice, SessionRecord } from './storage.ts';

type Row = Record<string, unknown>;

export const LOGIN_COLUMNS: Record<keyof LoginRecord, string> = {
  id: 'id',
  kind: 'kind',
  connector: 'connector',
  publicKey: 'public_key',
  redirect: 'redirect',
  verifierHash: 'verifier_hash',
  ttlMs: 'ttl_ms',
  client: 'client',
  clientIp: 'client_ip',
  status: 'status',
  browserHash: 'browser_hash',
  oidcState: 'oidc_state',
  oidcNonce: 'oidc_nonce',
  pkceVerifier: 'pkce_verifier',
  user: 'user',
  grant: 'grant_json',
  mfaMethod: 'mfa_method',
  mfaPending: 'mfa_pending',
  codeHash: 'code_hash',
  codeExpiresAt: 'code_expires_at',
  userCode: 'user_code',
  deviceCodeHash: 'device_code_hash',
  lastPollAt: 'last_poll_at',
  error: 'error',
  sessionMfa: 'session_mfa',
  createdAt: 'created_at',
  expiresAt: 'expires_at',
};
/** Login fields kept as JSON text. */
export const LOGIN_JSON_FIELDS = new Set<keyof LoginRecord>(['client', 'grant', 'mfaPending', 'sessionMfa']);

export function loginFromRow(row: Row | undefined, columns: Record<keyof LoginRecord, string>): LoginRecord | undefined {
  if (!row) return undefined;
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(columns) as [keyof LoginRecord, string][]) {
    const value = row[column];
    out[field] = LOGIN_JSON_FIELDS.has(field) && typeof value === 'string' ? JSON.parse(value) : value;
  }
  return out as unknown as LoginRecord;
}

export function loginColumnValue(field: keyof LoginRecord, value: unknown): unknown {
  if (LOGIN_JSON_FIELDS.has(field)) return value == null ? null : JSON.stringify(value);
  return value ?? null;
}

export const SESSION_COLUMNS: Record<keyof SessionRecord, string> = {
  id: 'id',
  kind: 'kind',
  user: 'user',
  roles: 'roles',
  cluster: 'cluster',
  namespace: 'namespace',
  pod: 'pod',
  container: 'container',
  command: 'command',
  tty: 'tty',
  kubernetesUser: 'kube_user',
  kubernetesGroups: 'kube_groups',
  clientIp: 'client_ip',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  exitCode: 'exit_code',
  endReason: 'end_reason',
  bytesIn: 'bytes_in',
  bytesOut: 'bytes_out',
  recordingPath: 'recording_path',
  recordingSize: 'recording_size',
};
/** Session fields kept as JSON text. */
export const SESSION_JSON_COLUMNS = new Set<keyof SessionRecord>(['roles', 'command', 'kubernetesGroups']);

/** `userColumn`: the column holding the device's owner ("user" in SQLite, user_name in PostgreSQL). */
export function deviceFromRow(row: Row, userColumn: string): MfaDevice {
  return row.kind === 'totp'
    ? {
        id: row.id as string,
        user: row[userColumn] as string,
        kind: 'totp',
        name: row.name as string,
        secret: row.secret as string,
        lastTimeStep: row.last_time_step as number,
        createdAt: row.created_at as number,
      }
    : {
        id: row.id as string,
        user: row[userColumn] as string,
        kind: 'webauthn',
        name: row.name as string,
        credentialId: row.credential_id as string,
        publicKey: new Uint8Array(row.public_key as Buffer),
        counter: row.counter as number,
        transports: JSON.parse((row.transports as string) || '[]') as string[],
        createdAt: row.created_at as number,
      };
}

// Join tokens: how an agent proves it may serve a cluster, and how a proxy
// that runs apart from auth proves it is one. A token is shown once, stored
// only as its SHA-256, is of one type (agent tokens are bound to one cluster
// name), expires, and may be limited to a number of uses. Redeeming one gets
// the host a certificate for a key it made itself.
import { ZtshError, type Identity, type JoinRequest, type JoinResponse } from '@ztsh/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { CertAuthority } from '../ca/authority.ts';
import { checkPublicKey, issueCertificate } from '../ca/issuer.ts';
import type { Clock, IdSource } from '../clock.ts';
import { sha256 } from '../login/login-deps.ts';
import type { JoinTokenRecord, JoinTokenType, Storage } from '../storage/storage.ts';

export const HOST_CERT_TTL_MS = 30 * 24 * 3_600_000;
const TOKEN_PREFIX = 'ztsh_join_';

export interface JoinDeps {
  storage: Storage;
  clock: Clock;
  ids: IdSource;
  audit: AuditLog;
  hostCa: CertAuthority;
  userCa: CertAuthority;
}

export interface NewToken {
  type: JoinTokenType;
  /** Required for an agent token; a proxy token has none. */
  cluster?: string | undefined;
  ttlMs: number;
  uses: number | null;
}

export async function createJoinToken(deps: Pick<JoinDeps, 'storage' | 'clock' | 'ids' | 'audit'>, request: NewToken): Promise<{ token: string; record: JoinTokenRecord }> {
  if (request.type === 'agent' && !request.cluster) throw new ZtshError('bad_request', 'an agent token is for one cluster: give its name', { hint: 'ztshd tokens add --type agent --cluster NAME' });
  if (request.type === 'proxy' && request.cluster) throw new ZtshError('bad_request', 'a proxy token is for no cluster: leave --cluster out');
  const token = `${TOKEN_PREFIX}${deps.ids.id(32)}`;
  const now = deps.clock.now().getTime();
  const record: JoinTokenRecord = {
    id: deps.ids.id(6),
    hash: sha256(token),
    type: request.type,
    cluster: request.cluster ?? '',
    usesLeft: request.uses,
    createdAt: now,
    expiresAt: now + request.ttlMs,
  };
  await deps.storage.joinTokens.insert(record);
  await deps.audit.emit('join_token.created', true, {
    fields: { tokenId: record.id, type: record.type, cluster: record.cluster || undefined, uses: record.usesLeft, expiresAt: new Date(record.expiresAt).toISOString() },
  });
  await deps.storage.changes.publish('join_tokens');
  return { token, record };
}

export async function removeJoinToken(deps: Pick<JoinDeps, 'storage' | 'audit'>, id: string): Promise<void> {
  if (!(await deps.storage.joinTokens.remove(id))) throw new ZtshError('not_found', `no join token with id ${id}`, { hint: 'ztshd tokens ls lists them' });
  await deps.audit.emit('join_token.removed', true, { fields: { tokenId: id } });
  await deps.storage.changes.publish('join_tokens');
}

const REFUSALS = {
  unknown: 'the join token is unknown',
  wrong_type: 'the join token is for another kind of host',
  expired: 'the join token has expired',
  wrong_cluster: 'the join token is for another cluster',
  used: 'the join token has no uses left',
} as const;

export async function joinCluster(deps: JoinDeps, request: JoinRequest, clientIp: string): Promise<JoinResponse> {
  const publicKey = checkPublicKey(request.publicKey);
  const now = deps.clock.now();
  const role = request.role ?? 'agent';
  const cluster = role === 'agent' ? request.cluster : undefined;
  const event = role === 'agent' ? 'agent.join' : 'proxy.join';
  if (role === 'agent' && !cluster) throw new ZtshError('bad_request', 'an agent must name the cluster it serves');
  if (role === 'proxy' && request.cluster) throw new ZtshError('bad_request', 'a proxy serves no one cluster: send no cluster');
  const result = await deps.storage.joinTokens.redeem(sha256(request.token), role, cluster ?? '', now.getTime());
  if (typeof result === 'string') {
    await deps.audit.emit(event, false, { clientIp, message: REFUSALS[result], fields: { cluster, reason: result } });
    // One answer for every refusal: nothing that helps a guesser.
    throw new ZtshError('token_invalid', role === 'agent' ? 'the join token is not valid for this cluster' : 'the join token is not valid for a proxy', {
      hint: 'make a new one with: ztshd tokens add ' + (role === 'agent' ? `--type agent --cluster ${cluster}` : '--type proxy'),
    });
  }
  const hostId = deps.ids.id(8);
  const issued = issueHostCertificate(deps, publicKey, {
    hostId,
    user: role === 'agent' ? `agent.${cluster}.${hostId}` : `proxy.${hostId}`,
    hostname: request.hostname,
    loginId: result.id,
    clientIp,
    host: role === 'agent' ? { role: 'agent', cluster: cluster! } : { role: 'proxy' },
  });
  await deps.audit.emit(event, true, {
    clientIp,
    fields: { cluster, hostId, tokenId: result.id, serial: issued.serial, hostname: request.hostname },
  });
  return issued.response;
}

interface HostSubject {
  hostId: string;
  user: string;
  hostname: string | undefined;
  loginId: string;
  clientIp: string;
  host: NonNullable<Identity['host']>;
}

/** A host certificate for this key, and the answer that hands it over with the CAs to trust. */
function issueHostCertificate(
  deps: Pick<JoinDeps, 'hostCa' | 'userCa' | 'clock'>,
  publicKey: ReturnType<typeof checkPublicKey>,
  subject: HostSubject,
): { serial: string; response: JoinResponse } {
  const now = deps.clock.now();
  const issued = issueCertificate({
    ca: deps.hostCa,
    publicKey,
    identity: {
      v: 1,
      user: subject.user,
      roles: [],
      kubernetesUsers: [],
      kubernetesGroups: [],
      traits: subject.hostname ? { hostname: [subject.hostname] } : {},
      mfaVerified: false,
      loginId: subject.loginId,
      connector: 'join-token',
      issuedForIp: subject.clientIp,
      host: subject.host,
    },
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + HOST_CERT_TTL_MS),
  });
  return {
    serial: issued.serial,
    response: {
      certificate: issued.pem,
      hostCaCertificates: deps.hostCa.trustBundle,
      userCaCertificates: deps.userCa.trustBundle,
      hostId: subject.hostId,
      validUntil: issued.notAfter.toISOString(),
    },
  };
}

/**
 * A proxy renews its host certificate before it runs out, for a new key,
 * with the certificate it has: same host id, a fresh 30 days. (An agent
 * joins again with a token instead.)
 */
export async function renewProxyCertificate(deps: JoinDeps, current: Identity, publicKeyPem: string, clientIp: string): Promise<JoinResponse> {
  if (current.host?.role !== 'proxy') throw new ZtshError('access_denied', 'only a proxy renews its certificate this way');
  const publicKey = checkPublicKey(publicKeyPem);
  const issued = issueHostCertificate(deps, publicKey, {
    hostId: current.user.slice('proxy.'.length),
    user: current.user,
    hostname: current.traits.hostname?.[0],
    loginId: current.loginId,
    clientIp,
    host: current.host,
  });
  await deps.audit.emit('proxy.renew', true, { user: current.user, clientIp, fields: { serial: issued.serial } });
  return issued.response;
}

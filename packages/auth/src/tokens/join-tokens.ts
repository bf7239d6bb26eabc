// Join tokens: how an agent proves it may serve a cluster. A token is shown
// once, stored only as its SHA-256, bound to one cluster name, expires, and
// may be limited to a number of uses. Redeeming one gets the agent a host
// certificate for a key it made itself.
import { ZtshError, type JoinRequest, type JoinResponse } from '@ztsh/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { CertAuthority } from '../ca/authority.ts';
import { checkPublicKey, issueCertificate } from '../ca/issuer.ts';
import type { Clock, IdSource } from '../clock.ts';
import { sha256 } from '../login/login-deps.ts';
import type { JoinTokenRecord, Storage } from '../storage/storage.ts';

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
  type: 'agent';
  cluster: string;
  ttlMs: number;
  uses: number | null;
}

export function createJoinToken(deps: Pick<JoinDeps, 'storage' | 'clock' | 'ids' | 'audit'>, request: NewToken): { token: string; record: JoinTokenRecord } {
  const token = `${TOKEN_PREFIX}${deps.ids.id(32)}`;
  const now = deps.clock.now().getTime();
  const record: JoinTokenRecord = {
    id: deps.ids.id(6),
    hash: sha256(token),
    type: request.type,
    cluster: request.cluster,
    usesLeft: request.uses,
    createdAt: now,
    expiresAt: now + request.ttlMs,
  };
  deps.storage.joinTokens.insert(record);
  deps.audit.emit('join_token.created', true, {
    fields: { tokenId: record.id, type: record.type, cluster: record.cluster, uses: record.usesLeft, expiresAt: new Date(record.expiresAt).toISOString() },
  });
  return { token, record };
}

export function removeJoinToken(deps: Pick<JoinDeps, 'storage' | 'audit'>, id: string): void {
  if (!deps.storage.joinTokens.remove(id)) throw new ZtshError('not_found', `no join token with id ${id}`, { hint: 'ztshd tokens ls lists them' });
  deps.audit.emit('join_token.removed', true, { fields: { tokenId: id } });
}

const REFUSALS = {
  unknown: 'the join token is unknown',
  expired: 'the join token has expired',
  wrong_cluster: 'the join token is for another cluster',
  used: 'the join token has no uses left',
} as const;

export function joinCluster(deps: JoinDeps, request: JoinRequest, clientIp: string): JoinResponse {
  const publicKey = checkPublicKey(request.publicKey);
  const now = deps.clock.now();
  const result = deps.storage.joinTokens.redeem(sha256(request.token), request.cluster, now.getTime());
  if (typeof result === 'string') {
    deps.audit.emit('agent.join', false, { clientIp, message: REFUSALS[result], fields: { cluster: request.cluster, reason: result } });
    // One answer for every refusal: nothing that helps a guesser.
    throw new ZtshError('token_invalid', 'the join token is not valid for this cluster', {
      hint: 'make a new one with: ztshd tokens add --type agent --cluster ' + request.cluster,
    });
  }
  const hostId = deps.ids.id(8);
  const issued = issueCertificate({
    ca: deps.hostCa,
    publicKey,
    identity: {
      v: 1,
      user: `agent.${request.cluster}.${hostId}`,
      roles: [],
      kubernetesUsers: [],
      kubernetesGroups: [],
      traits: request.hostname ? { hostname: [request.hostname] } : {},
      mfaVerified: false,
      loginId: result.id,
      connector: 'join-token',
      issuedForIp: clientIp,
      host: { role: 'agent', cluster: request.cluster },
    },
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + HOST_CERT_TTL_MS),
  });
  deps.audit.emit('agent.join', true, {
    clientIp,
    fields: { cluster: request.cluster, hostId, tokenId: result.id, serial: issued.serial, hostname: request.hostname },
  });
  return {
    certificate: issued.pem,
    hostCaCertificates: deps.hostCa.trustBundle,
    userCaCertificates: deps.userCa.trustBundle,
    hostId,
    validUntil: issued.notAfter.toISOString(),
  };
}

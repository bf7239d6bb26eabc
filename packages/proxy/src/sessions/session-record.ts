// What the proxy tells auth of a session: its record at the start (who, on
// which cluster and pod, running what, as which Kubernetes user), the patch
// at its end, and the audit events of both. Made from the canonical request
// the decision was made on, never from what the client sent besides.
import { recordingName, type AuditInput, type SessionPatch, type SessionKind, type SessionRecord } from '@ztsh/protocol';
import type { KubeAccess } from '../kube-access.ts';

type Access = Extract<KubeAccess, { ok: true }>;

export function sessionKind(subresource: string, command: string[]): SessionKind {
  if (subresource === 'portforward') return 'portforward';
  if (subresource === 'attach') return 'attach';
  return command[0] === 'tar' ? 'cp' : 'exec';
}

/** The record of a session starting now; `recorded`: its content goes into a recording named after it. */
export function newSessionRecord(access: Access, id: string, startedAt: number, recorded: boolean): SessionRecord {
  // The canonical query: the one the decision was made on and that was forwarded.
  const query = access.target.query;
  const command = query.getAll('command');
  const kind = sessionKind(access.info.subresource, command);
  const day = new Date(startedAt).toISOString().slice(0, 10);
  return {
    id,
    kind,
    user: access.identity.user,
    roles: access.identity.roles,
    cluster: access.tunnel.cluster,
    namespace: access.info.namespace,
    pod: access.info.name,
    container: query.get('container'),
    command,
    tty: query.get('tty') === 'true',
    kubernetesUser: access.user,
    kubernetesGroups: access.groups,
    clientIp: access.clientIp || null,
    startedAt,
    endedAt: null,
    exitCode: null,
    endReason: null,
    bytesIn: 0,
    bytesOut: 0,
    recordingPath: recorded && kind !== 'portforward' ? `${day}/${recordingName(id)}` : null,
    recordingSize: null,
  };
}

/** What a session's start says in the audit log; `accessRequests`: those whose roles let it start (elevation.ts). */
export function sessionStartAudit(session: SessionRecord, accessRequests: readonly string[] = []): AuditInput {
  const { id, kind, namespace, pod, command } = session;
  return {
    user: session.user,
    clientIp: session.clientIp ?? '',
    message: `${kind} ${namespace}/${pod}${command.length ? ': ' + command.join(' ') : ''}`,
    fields: {
      sessionId: id,
      kind,
      cluster: session.cluster,
      namespace,
      pod,
      container: session.container,
      command,
      tty: session.tty,
      roles: session.roles,
      kubernetesUser: session.kubernetesUser,
      kubernetesGroups: session.kubernetesGroups,
      ...(accessRequests.length > 0 ? { accessRequests } : {}),
    },
  };
}

/** How a session ended: the patch that closes its record. */
export interface SessionEnd extends SessionPatch {
  endedAt: number;
  exitCode: number | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  recordingSize: number | null;
}

/** The end of a session, with the bytes it counted. */
export function sessionEndPatch(session: SessionRecord, end: Omit<SessionEnd, 'bytesIn' | 'bytesOut'>): SessionEnd {
  return { ...end, bytesIn: session.bytesIn, bytesOut: session.bytesOut };
}

/** What a session's end says in the audit log; `accessRequests` as at its start. */
export function sessionEndAudit(session: SessionRecord, end: SessionEnd, accessRequests: readonly string[] = []): AuditInput {
  const { id, kind, namespace, pod } = session;
  return {
    user: session.user,
    clientIp: session.clientIp ?? '',
    message: `${kind} ${namespace}/${pod} ended${end.exitCode !== null ? ` with exit code ${end.exitCode}` : ''}${end.endReason ? ` (${end.endReason})` : ''}`,
    fields: {
      sessionId: id,
      kind,
      cluster: session.cluster,
      namespace,
      pod,
      exitCode: end.exitCode,
      bytesIn: end.bytesIn,
      bytesOut: end.bytesOut,
      durationMs: end.endedAt - session.startedAt,
      endReason: end.endReason,
      recordingSize: end.recordingSize,
      ...(accessRequests.length > 0 ? { accessRequests } : {}),
    },
  };
}

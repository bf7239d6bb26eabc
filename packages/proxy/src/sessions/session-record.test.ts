import { describe, expect, it } from 'vitest';
import { SessionRecordSchema, type Identity } from '@ztsh/protocol';
import { checkKubeAccess } from '../kube-access.ts';
import { clientSocket, kubeDeps, MemoryAuthClient, onlineTunnel, testCa } from '../kube-access.fixtures.ts';
import { newSessionRecord, sessionEndAudit, sessionEndPatch, sessionKind, sessionStartAudit } from './session-record.ts';

const ID = '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed';
const NOW = new Date();
const alice: Identity = {
  v: 1,
  user: 'alice',
  roles: ['developer'],
  kubernetesUsers: [],
  kubernetesGroups: ['developers'],
  traits: {},
  mfaVerified: true,
  loginId: 'l1',
  connector: 'dev',
  issuedForIp: '192.0.2.10',
};

/** The access checkKubeAccess grants alice for this request. */
function accessFor(url: string) {
  const ca = testCa();
  const auth = new MemoryAuthClient(ca.pem, () => NOW);
  auth.define({
    kind: 'role',
    version: 'v1',
    metadata: { name: 'developer' },
    spec: { allow: { kubernetes_labels: { '*': '*' }, kubernetes_groups: ['developers'], kubernetes_resources: [{ kind: 'pods', verbs: ['exec', 'attach', 'portforward'] }] } },
  });
  const deps = kubeDeps(auth, () => NOW);
  deps.tunnels.add(onlineTunnel('sandbox', {}, NOW));
  const cert = ca.issue(alice, { notBefore: new Date(NOW.getTime() - 60_000), notAfter: new Date(NOW.getTime() + 60_000) });
  const access = checkKubeAccess(deps, clientSocket(cert), 'GET', url, {}, 'upgrade');
  if (!access.ok) throw new Error(access.message);
  return access;
}

describe('sessionKind', () => {
  it('reads the kind from the subresource, and a cp from its tar command', () => {
    expect(sessionKind('exec', ['sh'])).toBe('exec');
    expect(sessionKind('exec', ['tar', 'cf', '-', '/tmp'])).toBe('cp');
    expect(sessionKind('attach', [])).toBe('attach');
    expect(sessionKind('portforward', ['tar'])).toBe('portforward');
  });
});

describe('the session record', () => {
  it('is made from the canonical request the decision was made on, and fits the shared schema', () => {
    const access = accessFor('/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=id&container=app&stdin=true&tty=true');
    const session = newSessionRecord(access, ID, Date.UTC(2026, 10, 23, 10), true);
    expect(session).toMatchObject({
      id: ID,
      kind: 'exec',
      user: 'alice',
      roles: ['developer'],
      cluster: 'sandbox',
      namespace: 'default',
      pod: 'web-1',
      container: 'app',
      command: ['sh', '-c', 'id'],
      tty: true,
      kubernetesUser: 'alice',
      kubernetesGroups: ['developers'],
      clientIp: '192.0.2.10',
      endedAt: null,
      recordingPath: `2026-11-23/${ID}.ztrec.gz`,
    });
    expect(SessionRecordSchema.parse(session)).toEqual(session);
  });

  it('has no recording for a port-forward, or when recording is off', () => {
    const forward = accessFor('/k8s/sandbox/api/v1/namespaces/default/pods/web-1/portforward?ports=8080');
    expect(newSessionRecord(forward, ID, NOW.getTime(), true)).toMatchObject({ kind: 'portforward', recordingPath: null, command: [] });
    const exec = accessFor('/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=ls&stdout=true');
    expect(newSessionRecord(exec, ID, NOW.getTime(), false).recordingPath).toBeNull();
  });

  it('says in the audit log what ran, and how it ended', () => {
    const access = accessFor('/k8s/sandbox/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true');
    const session = newSessionRecord(access, ID, 1_000, true);
    expect(sessionStartAudit(session)).toMatchObject({ user: 'alice', clientIp: '192.0.2.10', message: 'exec default/web-1: sh', fields: { sessionId: ID, cluster: 'sandbox', command: ['sh'], kubernetesGroups: ['developers'] } });
    session.bytesIn = 3;
    session.bytesOut = 40;
    const end = sessionEndPatch(session, { endedAt: 6_000, exitCode: 2, endReason: null, recordingSize: 512 });
    expect(end).toEqual({ endedAt: 6_000, exitCode: 2, endReason: null, recordingSize: 512, bytesIn: 3, bytesOut: 40 });
    expect(sessionEndAudit(session, end)).toMatchObject({ message: 'exec default/web-1 ended with exit code 2', fields: { durationMs: 5_000, exitCode: 2, bytesOut: 40 } });
    expect(sessionEndAudit(session, { ...end, exitCode: null, endReason: 'locked' }).message).toBe('exec default/web-1 ended (locked)');
  });
});

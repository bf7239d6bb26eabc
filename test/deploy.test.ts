// deploy/: the manifests parse, and the configs inside them load with the
// same checks ztshd and the agent apply at start.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AgentConfigSchema } from '@ztsh/agent';
import { checkAuthConfig, loadRoles } from '@ztsh/auth';
import { loadConfigFile } from '@ztsh/server';
import { describe, expect, it } from 'vitest';

const docs = (file: string) => parseAllDocuments(readFileSync(new URL(`../deploy/kubernetes/${file}`, import.meta.url), 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS() as { kind: string; data?: Record<string, string>; spec?: any };
});

describe('deploy/', () => {
  it('ztshd.yaml: its ztsh.yaml loads and passes the start-up checks; the pod runs non-root on a read-only root', () => {
    const all = docs('ztshd.yaml');
    const config = all.find((d) => d.kind === 'ConfigMap')!.data!['ztsh.yaml']!;
    const dir = mkdtempSync(join(tmpdir(), 'ztsh-deploy-'));
    writeFileSync(join(dir, 'ztsh.yaml'), config);
    const loaded = loadConfigFile(join(dir, 'ztsh.yaml'));
    checkAuthConfig(loaded.config.auth!, loadRoles(loaded.config.auth!, loaded.baseDir));
    const pod = all.find((d) => d.kind === 'StatefulSet')!.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.containers[0].image).not.toMatch(/:latest$|^[^:]+$/);
  });

  it('agent.yaml: its agent config is valid; the role may only impersonate; egress is limited', () => {
    const all = docs('agent.yaml');
    AgentConfigSchema.parse(parseAllDocuments(all.find((d) => d.kind === 'ConfigMap')!.data!['agent.yaml']!)[0]!.toJS());
    const role = all.find((d) => d.kind === 'ClusterRole') as unknown as { rules: { verbs: string[]; resources: string[] }[] };
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] }]);
    const policy = all.find((d) => d.kind === 'NetworkPolicy')!.spec;
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.ingress).toEqual([]);
    const deployment = all.find((d) => d.kind === 'Deployment')!.spec.template.spec;
    expect(deployment.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.containers[0].resources.limits).toBeDefined();
  });
});

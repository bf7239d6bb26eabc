import { KubeVerbs, ZtshError } from '@ztsh/protocol';
import { describe, expect, it } from 'vitest';
import { parseRoles } from './load-roles.ts';

/** The ZtshError parseRoles throws for `text`; fails the test if it does not throw one. */
function parseError(text: string, source = 'roles.yaml'): ZtshError {
  try {
    parseRoles(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ZtshError);
    return error as ZtshError;
  }
  throw new Error('expected parseRoles to throw');
}

const dev = `
kind: role
version: v1
metadata:
  name: dev
spec:
  options:
    max_session_ttl: 4h
    require_mfa: true
  allow:
    kubernetes_groups: [developers]
    kubernetes_resources:
      - kind: pod
        verbs: [get, list, exec]
      - kind: deployment
        api_group: apps
        namespace: dev
        name: web
        verbs: ['*']
  deny:
    kubernetes_groups: [system:masters]
`;

const viewer = `
kind: role
version: v1
metadata: { name: viewer }
spec:
  allow:
    kubernetes_groups: [viewers]
`;

describe('parseRoles', () => {
  it('reads one role document', () => {
    const [role, ...rest] = parseRoles(dev, 'roles.yaml');
    expect(rest).toEqual([]);
    expect(role).toEqual({
      kind: 'role',
      version: 'v1',
      metadata: { name: 'dev' },
      spec: {
        options: { max_session_ttl: '4h', require_mfa: true },
        allow: {
          kubernetes_groups: ['developers'],
          kubernetes_resources: [
            { kind: 'pod', namespace: '*', name: '*', verbs: ['get', 'list', 'exec'] },
            { kind: 'deployment', api_group: 'apps', namespace: 'dev', name: 'web', verbs: ['*'] },
          ],
        },
        deny: { kubernetes_groups: ['system:masters'] },
      },
    });
  });

  it('reads several documents, in order', () => {
    const roles = parseRoles(`${dev}\n---\n${viewer}`, 'roles.yaml');
    expect(roles.map((r) => r.metadata.name)).toEqual(['dev', 'viewer']);
  });

  it('reads a YAML list of roles', () => {
    const text = `
- kind: role
  version: v1
  metadata: { name: a }
  spec: {}
- kind: role
  version: v1
  metadata: { name: b }
  spec: {}
`;
    expect(parseRoles(text, 'roles.yaml').map((r) => r.metadata.name)).toEqual(['a', 'b']);
  });

  it('mixes lists and single roles across documents', () => {
    const text = `${viewer}\n---\n- kind: role\n  version: v1\n  metadata: { name: x }\n  spec: {}\n`;
    expect(parseRoles(text, 'roles.yaml').map((r) => r.metadata.name)).toEqual(['viewer', 'x']);
  });

  it('skips empty documents', () => {
    expect(parseRoles('', 'roles.yaml')).toEqual([]);
    expect(parseRoles(`---\n---\n${viewer}\n---\n`, 'roles.yaml').map((r) => r.metadata.name)).toEqual(['viewer']);
  });

  it('fills the defaults: options and deny {}, resource namespace and name "*"', () => {
    const text = `
kind: role
version: v1
metadata: { name: pods }
spec:
  allow:
    kubernetes_resources:
      - kind: pod
        verbs: [get]
`;
    const [role] = parseRoles(text, 'roles.yaml');
    expect(role!.spec.options).toEqual({});
    expect(role!.spec.deny).toEqual({});
    expect(role!.spec.allow.kubernetes_resources).toEqual([{ kind: 'pod', namespace: '*', name: '*', verbs: ['get'] }]);
  });

  it('fills allow {} when the spec is empty', () => {
    const [role] = parseRoles('kind: role\nversion: v1\nmetadata: { name: empty }\nspec: {}\n', 'roles.yaml');
    expect(role!.spec).toEqual({ options: {}, allow: {}, deny: {} });
  });

  describe('errors', () => {
    it('rejects a role name used twice, across documents', () => {
      const error = parseError(`${viewer}\n---\n${dev}\n---\n${viewer}`);
      expect(error.code).toBe('invalid_config');
      expect(error.message).toContain('roles.yaml: role "viewer" is defined twice');
    });

    it('rejects a role name used twice inside one list', () => {
      const text = '- { kind: role, version: v1, metadata: { name: a }, spec: {} }\n- { kind: role, version: v1, metadata: { name: a }, spec: {} }\n';
      expect(parseError(text).message).toContain('role "a" is defined twice');
    });

    it('names the exact path of an unknown key', () => {
      const error = parseError(viewer.replace('kubernetes_groups', 'kubernetes_resorces'));
      expect(error.code).toBe('invalid_config');
      expect(error.message).toContain('roles.yaml (document 1): ');
      expect(error.message).toContain('spec.allow.kubernetes_resorces: unknown key');
    });

    it('rejects unknown keys at every level', () => {
      expect(parseError(`${viewer}\ncolour: blue\n`).message).toContain('colour: unknown key');
      expect(parseError(viewer.replace('{ name: viewer }', '{ name: viewer, owner: me }')).message).toContain('metadata.owner: unknown key');
      expect(parseError(`${viewer}  options: { max_ttl: 1h }\n`).message).toContain('spec.options.max_ttl: unknown key');
      expect(parseError(dev.replace('api_group: apps', 'apigroup: apps')).message).toContain(
        'spec.allow.kubernetes_resources[1].apigroup: unknown key',
      );
    });

    it('names the document and list item the error is in', () => {
      const text = `${viewer}\n---\n- { kind: role, version: v1, metadata: { name: a }, spec: {} }\n- { kind: role, version: v1, metadata: { name: b }, spec: { allow: { bogus: 1 } } }\n`;
      const error = parseError(text, '/etc/ztsh/roles.yaml');
      expect(error.message).toContain('/etc/ztsh/roles.yaml (document 2 item 2): spec.allow.bogus: unknown key');
    });

    it('lists the allowed verbs for a bad one, naming its index', () => {
      const error = parseError(dev.replace('[get, list, exec]', '[get, fly]'));
      expect(error.code).toBe('invalid_config');
      expect(error.message).toContain('spec.allow.kubernetes_resources[0].verbs[1]: must be one of ');
      for (const verb of KubeVerbs) expect(error.message).toContain(JSON.stringify(verb));
    });

    it('rejects an empty verb list and a rule without a kind', () => {
      expect(parseError(dev.replace('[get, list, exec]', '[]')).message).toContain('spec.allow.kubernetes_resources[0].verbs:');
      expect(parseError(dev.replace('- kind: pod\n', '- namespace: x\n')).message).toContain('spec.allow.kubernetes_resources[0].kind:');
    });

    it('rejects another kind or version', () => {
      expect(parseError(viewer.replace('kind: role', 'kind: user')).message).toContain('kind: must be one of "role"');
      expect(parseError(viewer.replace('version: v1', 'version: v2')).message).toContain('version: must be one of "v1"');
    });

    it('rejects a bad role name and a bad duration', () => {
      expect(parseError(viewer.replace('name: viewer', 'name: Viewer')).message).toContain('metadata.name: must be lowercase');
      expect(parseError(`${viewer}  options: { max_session_ttl: 8 hours }\n`).message).toContain(
        'spec.options.max_session_ttl: must be a duration like 30m or 8h',
      );
    });

    it('reports every problem of a role, not only the first', () => {
      const error = parseError(viewer.replace('version: v1', 'version: v9').replace('kubernetes_groups', 'groups'));
      expect(error.message).toContain('version: must be one of "v1"');
      expect(error.message).toContain('spec.allow.groups: unknown key');
      expect(error.details).toEqual({ problems: expect.arrayContaining(['spec.allow.groups: unknown key']) });
      expect(error.hint).toMatch(/configuration/);
    });

    it('names the document with a YAML syntax error', () => {
      const error = parseError(`${viewer}\n---\n${viewer.replace('{ name: viewer }', '{ name: [oops')}`);
      expect(error.code).toBe('invalid_config');
      expect(error.message).toMatch(/^roles\.yaml: YAML error in document 2: /);
    });

    it('names the first document for a syntax error there, and rejects duplicate YAML keys', () => {
      const error = parseError('kind: role\nversion: v1\nmetadata: { name: a, name: b }\nspec: {}\n');
      expect(error.message).toMatch(/^roles\.yaml: YAML error in document 1: /);
    });
  });
});

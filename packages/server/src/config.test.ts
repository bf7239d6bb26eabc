import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthConfigSchema, checkAuthConfig, loadRoles, type AuthConfigInput } from '@ztsh/auth';
import { ZtshError } from '@ztsh/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'ztsh-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes `text` to a new file in the temp dir and returns its path. */
function file(text: string, name = `ztsh-${++files}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const minimal = `version: v1
proxy:
  public_addr: https://ztsh.example.com
auth:
  connectors:
    - name: corp
      type: oidc
      issuer: https://idp.example.com
      client_id: ztsh
      client_secret: { env: ZTSH_OIDC_SECRET }
      claims_to_roles:
        - { claim: groups, value: eng, roles: [dev] }
`;

/** The ZtshError `fn` throws; fails the test if it throws nothing or something else. */
function errorOf(fn: () => unknown): ZtshError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ZtshError);
    return error as ZtshError;
  }
  throw new Error('expected a ZtshError');
}

describe('loadConfigFile', () => {
  it('loads a minimal config and fills the defaults', () => {
    const path = file(minimal);
    const loaded = loadConfigFile(path);
    expect(loaded.path).toBe(path);
    expect(loaded.baseDir).toBe(dir);
    const { config } = loaded;
    expect(config.version).toBe('v1');
    expect(config.data_dir).toBe('./data');
    expect(config.log_level).toBe('info');
    expect(config.proxy).toEqual({ listen: '0.0.0.0:3080', public_addr: 'https://ztsh.example.com', trust_proxy: false });
    expect(config.auth).toMatchObject({
      cluster_name: 'ztsh',
      default_ttl: '8h',
      mfa: 'required',
      mfa_methods: ['totp', 'webauthn'],
      webauthn: { rp_name: 'ztsh' },
      roles: [],
      roles_files: [],
    });
    expect(config.auth!.connectors[0]).toEqual({
      name: 'corp',
      type: 'oidc',
      issuer: 'https://idp.example.com',
      client_id: 'ztsh',
      client_secret: { env: 'ZTSH_OIDC_SECRET' },
      scopes: ['openid', 'email', 'profile', 'groups'],
      username_claim: 'email',
      claims_to_roles: [{ claim: 'groups', value: 'eng', roles: ['dev'] }],
    });
  });

  it('keeps values that are given', () => {
    const text = minimal
      .replace('proxy:\n', 'data_dir: /var/lib/ztsh\nlog_level: debug\nproxy:\n  listen: "[::]:443"\n  trust_proxy: true\n')
      .replace('auth:\n', 'auth:\n  default_ttl: 1h30m\n  mfa: optional\n');
    const { config } = loadConfigFile(file(text));
    expect(config.data_dir).toBe('/var/lib/ztsh');
    expect(config.log_level).toBe('debug');
    expect(config.proxy!.listen).toBe('[::]:443');
    expect(config.proxy!.trust_proxy).toBe(true);
    expect(config.auth!.default_ttl).toBe('1h30m');
    expect(config.auth!.mfa).toBe('optional');
  });

  it('names the path of an unknown key deep inside', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('client_id', 'cliend_id'))));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('auth.connectors[0].cliend_id: unknown key');
    // The missing key it replaced is named too.
    expect(error.message).toContain('auth.connectors[0].client_id:');
  });

  it('names the file in its errors', () => {
    const path = file(minimal.replace('proxy:', 'prxy:'));
    const error = errorOf(() => loadConfigFile(path));
    expect(error.message.startsWith(`${path}: `)).toBe(true);
    expect(error.message).toContain('prxy: unknown key');
    expect(error.message).toContain('proxy:');
  });

  it('requires version', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('version: v1\n', ''))));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toMatch(/: version: /);
  });

  it.each(['v2', '1', '"v1 "'])('rejects version %s, naming the allowed one', (version) => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('version: v1', `version: ${version}`))));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('version: must be one of "v1"');
  });

  it('rejects an http:// public address', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('https://ztsh.example.com', 'http://ztsh.example.com'))));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('proxy.public_addr: must be an https:// URL');
  });

  it('rejects a public address that is not a URL', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('https://ztsh.example.com', 'ztsh.example.com'))));
    expect(error.message).toContain('proxy.public_addr:');
  });

  it.each(['3080', '0.0.0.0', 'localhost:port', ':3080'])('rejects listen %j', (listen) => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('proxy:\n', `proxy:\n  listen: "${listen}"\n`))));
    expect(error.message).toContain('proxy.listen: must be host:port, e.g. 0.0.0.0:3080');
  });

  // Regression: the host:port pattern took any 1-5 digits, so a port above
  // 65535 passed and ztshd only failed at listen(), not naming proxy.listen.
  it('rejects a listen port above 65535, naming proxy.listen', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('proxy:\n', 'proxy:\n  listen: "0.0.0.0:99999"\n'))));
    expect(error.message).toContain('proxy.listen:');
  });

  it('lists the allowed values of an enum', () => {
    const error = errorOf(() => loadConfigFile(file(minimal.replace('auth:\n', 'auth:\n  mfa: sometimes\n'))));
    expect(error.message).toContain('auth.mfa: must be one of "required", "optional"');
  });

  it('checks the roles inside the config with their full path', () => {
    const text = `${minimal}  roles:\n    - kind: role\n      version: v1\n      metadata: { name: dev }\n      spec: { allow: { kubernetes_grups: [x] } }\n`;
    const error = errorOf(() => loadConfigFile(file(text)));
    expect(error.message).toContain('auth.roles[0].spec.allow.kubernetes_grups: unknown key');
  });

  it('rejects invalid YAML', () => {
    const error = errorOf(() => loadConfigFile(file(`${minimal}  roles: [\n`)));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('not valid YAML');
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('rejects an empty file', () => {
    const error = errorOf(() => loadConfigFile(file('')));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain('(top level)');
  });

  it('fails on a missing file with a hint', () => {
    const path = join(dir, 'does-not-exist.yaml');
    const error = errorOf(() => loadConfigFile(path));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe(`cannot read config file ${path}`);
    expect(error.hint).toContain('--config');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('auth config cross-checks', () => {
  const connector = {
    name: 'corp',
    type: 'oidc' as const,
    issuer: 'https://idp.example.com',
    client_id: 'ztsh',
    client_secret: 'secret',
    claims_to_roles: [{ claim: 'groups', value: 'eng', roles: ['dev'] }],
  };
  const devRole = { kind: 'role' as const, version: 'v1' as const, metadata: { name: 'dev' }, spec: {} };

  function auth(input: Partial<AuthConfigInput>) {
    return AuthConfigSchema.parse({ connectors: [connector], roles: [devRole], ...input });
  }

  /** Runs the same checks as ztshd at start-up. */
  function check(input: Partial<AuthConfigInput>, baseDir = dir): void {
    const config = auth(input);
    checkAuthConfig(config, loadRoles(config, baseDir));
  }

  it('accepts mappings to defined roles', () => {
    expect(() => check({})).not.toThrow();
  });

  it('names the exact mapping that refers to an undefined role', () => {
    const error = errorOf(() =>
      check({ connectors: [{ ...connector, claims_to_roles: [{ claim: 'groups', value: 'eng', roles: ['x'] }] }] }),
    );
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe('auth.connectors[0].claims_to_roles[0].roles[0]: unknown role "x"');
    expect(error.hint).toBe('defined roles: dev');
  });

  it('names the index of the unknown role among several', () => {
    const error = errorOf(() =>
      check({
        connectors: [
          connector,
          {
            ...connector,
            name: 'partner',
            claims_to_roles: [
              { claim: 'groups', value: 'eng', roles: ['dev'] },
              { claim: 'groups', value: 'ops', roles: ['dev', 'ops'] },
            ],
          },
        ],
      }),
    );
    expect(error.message).toBe('auth.connectors[1].claims_to_roles[1].roles[1]: unknown role "ops"');
  });

  it('says there are no roles when none are defined', () => {
    const error = errorOf(() => check({ roles: [] }));
    expect(error.message).toBe('auth.connectors[0].claims_to_roles[0].roles[0]: unknown role "dev"');
    expect(error.hint).toBe('defined roles: (none)');
  });

  it('rejects a connector name used twice', () => {
    const error = errorOf(() => check({ connectors: [connector, { ...connector }] }));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe('auth.connectors[1].name: "corp" is used twice');
  });

  it('rejects a default_connector that does not exist', () => {
    const error = errorOf(() => check({ default_connector: 'okta' }));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe('auth.default_connector: unknown connector "okta"');
    expect(error.hint).toBe('defined connectors: corp');
  });

  it('accepts a default_connector that exists', () => {
    expect(() => check({ connectors: [connector, { ...connector, name: 'partner' }], default_connector: 'partner' })).not.toThrow();
  });

  describe('roles files', () => {
    const opsYaml = 'kind: role\nversion: v1\nmetadata: { name: ops }\nspec: {}\n';

    it('loads roles from files relative to the config file, next to the inline ones', () => {
      file(opsYaml, 'ops-roles.yaml');
      const config = auth({
        roles_files: ['ops-roles.yaml'],
        connectors: [{ ...connector, claims_to_roles: [{ claim: 'groups', value: 'sre', roles: ['dev', 'ops'] }] }],
      });
      const roles = loadRoles(config, dir);
      expect([...roles.keys()]).toEqual(['dev', 'ops']);
      expect(() => checkAuthConfig(config, roles)).not.toThrow();
    });

    it('rejects a role defined both inline and in a file', () => {
      file(opsYaml.replace('ops', 'dev'), 'dup-roles.yaml');
      const error = errorOf(() => loadRoles(auth({ roles_files: ['dup-roles.yaml'] }), dir));
      expect(error.code).toBe('invalid_config');
      expect(error.message).toContain('role "dev" is defined twice');
    });

    it('names a roles file it cannot read', () => {
      const error = errorOf(() => loadRoles(auth({ roles_files: ['missing-roles.yaml'] }), dir));
      expect(error.code).toBe('invalid_config');
      expect(error.message).toBe(`auth.roles_files: cannot read ${join(dir, 'missing-roles.yaml')}`);
    });

    it('passes on the path inside a bad roles file', () => {
      const path = file(opsYaml.replace('spec: {}', 'spec: { allow: { verbs: [get] } }'), 'bad-roles.yaml');
      const error = errorOf(() => loadRoles(auth({ roles_files: ['bad-roles.yaml'] }), dir));
      expect(error.message).toBe(`${path} (document 1): spec.allow.verbs: unknown key`);
    });
  });
});

describe('services: auth and proxy apart', () => {
  const authOnly = minimal.replace('proxy:\n  public_addr: https://ztsh.example.com\n', 'services: [auth]\n').replace('auth:\n', 'auth:\n  listen: 0.0.0.0:3025\n  public_addr: https://ztsh.example.com\n');
  const proxyOnly = `version: v1
services: [proxy]
proxy:
  public_addr: https://ztsh.example.com
  auth_server: https://auth.internal:3025
  auth_ca_file: auth-ca.pem
  join_token: { file: proxy-token }
`;

  it('runs both by default', () => {
    expect(loadConfigFile(file(minimal)).config.services).toEqual(['auth', 'proxy']);
  });

  it('loads auth alone with its listen address and the public address', () => {
    const { config } = loadConfigFile(file(authOnly));
    expect(config.services).toEqual(['auth']);
    expect(config.proxy).toBeUndefined();
    expect(config.auth).toMatchObject({ listen: '0.0.0.0:3025', public_addr: 'https://ztsh.example.com' });
  });

  it('loads a proxy alone with no auth section', () => {
    const { config } = loadConfigFile(file(proxyOnly));
    expect(config.auth).toBeUndefined();
    expect(config.proxy).toMatchObject({ auth_server: 'https://auth.internal:3025', join_token: { file: 'proxy-token' } });
  });

  it('names what each mode needs and what it must not have', () => {
    const cases: [string, string][] = [
      [proxyOnly.replace('  auth_server: https://auth.internal:3025\n', ''), 'proxy.auth_server: required when the proxy runs alone (services: [proxy])'],
      [authOnly.replace('  public_addr: https://ztsh.example.com\n', ''), "auth.public_addr: required when auth runs alone (services: [auth]): the proxies' public address"],
      [authOnly.replace('services: [auth]', 'services: [proxy]'), 'proxy: required when services include proxy'],
      [minimal.replace('auth:\n', 'auth:\n  listen: 0.0.0.0:3025\n'), 'auth.listen: only for auth run alone (services: [auth]); this one uses proxy.listen'],
      [minimal.replace('proxy:\n', 'proxy:\n  auth_server: https://auth.internal\n'), 'proxy.auth_server: only for a proxy run alone (services: [proxy]); this one runs with auth'],
      [minimal.replace('version: v1\n', 'version: v1\nservices: [proxy]\n'), 'auth: this ztshd runs no auth service (services: [proxy]): remove this section'],
      [minimal.replace('version: v1\n', 'version: v1\nservices: []\n'), 'services: name at least one of auth, proxy'],
      [minimal.replace('version: v1\n', 'version: v1\nservices: [proxy, proxy]\n'), 'services: each service once'],
    ];
    for (const [text, message] of cases) expect(errorOf(() => loadConfigFile(file(text))).message).toContain(message);
  });
});

// Files under $ZTSH_HOME (default ~/.ztsh), one profile per proxy:
//   current.json                      which proxy is current
//   profiles/<host>_<port>/key.pem    private key (0600), made on this machine
//   profiles/<host>_<port>/cert.pem   user certificate (0600)
//   profiles/<host>_<port>/user-ca.pem, host-ca.pem, profile.json
//   trust/<host>_<port>.pem           CA that signs the proxy's TLS certificate
// A profile is written whole into a temporary folder and renamed into place,
// so a failed login leaves the previous one untouched.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProfileMeta {
  proxy: string;
  user: string;
  roles: string[];
  kubernetesGroups: string[];
  kubernetesUsers: string[];
  mfaVerified: boolean;
  mfaMethod?: 'totp' | 'webauthn' | undefined;
  validUntil: string;
  loggedInAt: string;
}

export interface ProfileFiles {
  meta: ProfileMeta;
  keyPem: string;
  certPem: string;
  userCaPem: string;
  hostCaPem: string;
}

export function profileName(proxy: URL): string {
  return `${proxy.hostname}_${proxy.port || '443'}`;
}

export class ZtshHome {
  constructor(readonly dir: string) {}

  profileDir(proxy: URL): string {
    return join(this.dir, 'profiles', profileName(proxy));
  }

  trustFile(proxy: URL): string {
    return join(this.dir, 'trust', `${profileName(proxy)}.pem`);
  }

  currentProxy(): URL | undefined {
    const file = join(this.dir, 'current.json');
    if (!existsSync(file)) return undefined;
    try {
      return new URL((JSON.parse(readFileSync(file, 'utf8')) as { proxy: string }).proxy);
    } catch {
      return undefined;
    }
  }

  setCurrent(proxy: URL | undefined): void {
    const file = join(this.dir, 'current.json');
    if (!proxy) {
      rmSync(file, { force: true });
      return;
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify({ proxy: proxy.origin }) + '\n', { mode: 0o600 });
  }

  readTrust(proxy: URL): string | undefined {
    const file = this.trustFile(proxy);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  writeTrust(proxy: URL, pem: string): void {
    mkdirSync(join(this.dir, 'trust'), { recursive: true, mode: 0o700 });
    writeFileSync(this.trustFile(proxy), pem, { mode: 0o644 });
  }

  readProfile(proxy: URL): ProfileFiles | undefined {
    const dir = this.profileDir(proxy);
    if (!existsSync(join(dir, 'profile.json'))) return undefined;
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      meta: JSON.parse(read('profile.json')) as ProfileMeta,
      keyPem: read('key.pem'),
      certPem: read('cert.pem'),
      userCaPem: read('user-ca.pem'),
      hostCaPem: read('host-ca.pem'),
    };
  }

  writeProfile(proxy: URL, files: ProfileFiles): void {
    const parent = join(this.dir, 'profiles');
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const tmp = mkdtempSync(join(parent, '.tmp-'));
    const write = (name: string, content: string, mode: number) => writeFileSync(join(tmp, name), content, { mode });
    write('key.pem', files.keyPem, 0o600);
    write('cert.pem', files.certPem, 0o600);
    write('user-ca.pem', files.userCaPem, 0o644);
    write('host-ca.pem', files.hostCaPem, 0o644);
    write('profile.json', JSON.stringify(files.meta, null, 2) + '\n', 0o600);
    const final = this.profileDir(proxy);
    const old = `${final}.old-${process.pid}`;
    if (existsSync(final)) renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  }

  removeProfile(proxy: URL): boolean {
    const dir = this.profileDir(proxy);
    if (!existsSync(dir)) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  }
}

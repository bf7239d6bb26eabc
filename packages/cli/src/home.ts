// Files under $ZTSH_HOME (default ~/.ztsh), one profile per proxy:
//   current.json                      which proxy is current
//   profiles/<host>_<port>/key.pem    private key (0600), made on this machine
//   profiles/<host>_<port>/cert.pem   user certificate (0600)
//   profiles/<host>_<port>/user-ca.pem, host-ca.pem, profile.json
//   trust/<host>_<port>.pem           CA that signs the proxy's TLS certificate
//   session-mfa/<host>_<port>.json    the last session MFA certificate (0600):
//                                     see credential-plugin/session-mfa-cache.ts
//   kube/<host>_<port>.pem            certificate and key in one file (0600): what
//                                     kubectl reads, named by the kubeconfig
//                                     `ztsh kube login` writes (credentialFile)
// A profile is written whole into a temporary folder and renamed into place,
// so a failed login leaves the previous one untouched.
//
// The kube file is the kubeconfig's client-certificate AND client-key. kubectl
// reads it twice (certificate, then key), so a login that replaced it between
// the two reads could hand kubectl a certificate and a key that do not match,
// whatever the order of writes: the only pair that is always consistent is one
// whose key does not change. So `ztsh login` keeps the key of a certificate
// that is still valid (commands/login.ts), and the file is replaced by one
// rename: a kubectl that reads it while a re-login runs gets the old or the
// new certificate, each with the same key. Its path never changes (the
// profile folder is swapped by rename, and for a moment is not there), and
// after `ztsh logout` it holds a note and no PEM (see removeProfile).
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

/** What the kube file holds after ztsh logout (see removeProfile). */
export function loggedOutNote(proxy: URL): string {
  const type = `ZTSH LOGGED OUT; TO LOG IN, RUN: ztsh login --proxy ${proxy.origin}`;
  // A body line: with none, Go would read the END line (it has a colon) as a PEM header.
  return `-----BEGIN ${type}-----\n${Buffer.from('ztsh logout').toString('base64')}\n-----END ${type}-----\n`;
}

export class ZtshHome {
  constructor(readonly dir: string) {}

  profileDir(proxy: URL): string {
    return join(this.dir, 'profiles', profileName(proxy));
  }

  /** The one file kubectl reads for its client certificate and key. */
  credentialFile(proxy: URL): string {
    return join(this.dir, 'kube', `${profileName(proxy)}.pem`);
  }

  /** Replaces the kube file whole, by rename, so a reader sees the old or the new content. */
  writeCredentialFile(proxy: URL, pair: { keyPem: string; certPem: string }): void {
    this.replaceCredentialFile(proxy, pair.certPem + pair.keyPem);
  }

  private replaceCredentialFile(proxy: URL, content: string): void {
    mkdirSync(join(this.dir, 'kube'), { recursive: true, mode: 0o700 });
    const file = this.credentialFile(proxy);
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** The cached session MFA certificate (ztsh kube mfa); outside the profile folder, which a login swaps whole. */
  sessionMfaFile(proxy: URL): string {
    return join(this.dir, 'session-mfa', `${profileName(proxy)}.json`);
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
    this.writeCredentialFile(proxy, files);
  }

  removeProfile(proxy: URL): boolean {
    // A kubeconfig still names the kube file. Were it gone, kubectl would stop
    // at its own check of the kubeconfig ("unable to read client-cert …: no
    // such file or directory"). Instead it keeps one empty PEM block whose type
    // is the hint, and Go's TLS names the types it skipped: kubectl prints
    // "Unable to connect to the server: tls: failed to find "CERTIFICATE" PEM
    // block in certificate input after skipping PEM blocks of the following
    // types: [ZTSH LOGGED OUT; TO LOG IN, RUN: ztsh login --proxy …]".
    // Nothing in it can be used to sign in.
    if (existsSync(this.credentialFile(proxy))) this.replaceCredentialFile(proxy, loggedOutNote(proxy));
    rmSync(this.sessionMfaFile(proxy), { force: true });
    const dir = this.profileDir(proxy);
    if (!existsSync(dir)) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  }
}

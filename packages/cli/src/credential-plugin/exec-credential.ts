// The ExecCredential (client.authentication.k8s.io/v1) that `ztsh kube
// credentials` prints for kubectl: the certificate and key of the last
// `ztsh login`, read from disk, with the certificate's own expiry so kubectl
// asks again when it ends. Errors are one line each: kubectl shows the
// plugin's stderr above its own "getting credentials" message.
import { X509Certificate } from 'node:crypto';
import { CliError } from '../cli-error.ts';
import type { ZtshHome } from '../home.ts';
import { readKeyPair, type KeyPair } from './read-key-pair.ts';

/** The stored login for this proxy while its certificate is valid, with its end. */
export function validLogin(home: ZtshHome, proxy: URL, now: number): KeyPair & { validTo: Date } {
  const login = `run ztsh login --proxy ${proxy.origin}`;
  const pair = readKeyPair(home.profileDir(proxy));
  if (!pair) throw new CliError(`not logged in to ${proxy.origin}: ${login}`);
  let validTo: Date;
  try {
    validTo = new Date(new X509Certificate(pair.certPem).validTo);
  } catch {
    throw new CliError(`the stored certificate for ${proxy.host} cannot be read: ${login}`);
  }
  if (!(validTo.getTime() > now)) throw new CliError(`your ztsh certificate for ${proxy.host} has expired: ${login}`);
  return { ...pair, validTo };
}

export function execCredentialJson(certPem: string, keyPem: string, expiresAt: Date): string {
  return (
    JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: certPem, clientKeyData: keyPem, expirationTimestamp: expiresAt.toISOString() },
    }) + '\n'
  );
}

export function execCredential(home: ZtshHome, proxy: URL, now: number): string {
  const login = validLogin(home, proxy, now);
  return execCredentialJson(login.certPem, login.keyPem, login.validTo);
}

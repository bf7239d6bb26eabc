// The client's key pair and verifier. The private key and the verifier stay
// in this process until the profile is written; only the public key and the
// verifier's hash are sent. A re-login may keep the key it already has
// (keptKey in commands/login.ts); the verifier is new every time.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface ClientSecrets {
  publicKeyPem: string;
  privateKeyPem: string;
  verifier: string;
  verifierHash: string;
}

/** `keep`: the PEM of a private key to ask a new certificate for, instead of making one. */
export function newClientSecrets(keep?: string): ClientSecrets {
  const { publicKey, privateKey } = keep ? { privateKey: createPrivateKey(keep), publicKey: createPublicKey(keep) } : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ...newVerifier(),
  };
}

/** A fresh verifier and the hash sent in its place: each browser step (a login, a session MFA check) makes its own. */
export function newVerifier(): { verifier: string; verifierHash: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, verifierHash: createHash('sha256').update(verifier).digest('base64url') };
}

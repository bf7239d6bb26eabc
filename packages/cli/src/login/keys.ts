// The client's key pair and verifier. The private key and the verifier stay
// in this process until the profile is written; only the public key and the
// verifier's hash are sent.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface ClientSecrets {
  publicKeyPem: string;
  privateKeyPem: string;
  verifier: string;
  verifierHash: string;
}

export function newClientSecrets(): ClientSecrets {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const verifier = randomBytes(32).toString('base64url');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    verifier,
    verifierHash: createHash('sha256').update(verifier).digest('base64url'),
  };
}

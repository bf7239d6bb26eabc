// Encryption at rest for CA private keys: AES-256-GCM under a key derived with
// scrypt from an operator secret (a file or an environment variable). The
// file holds JSON, so a plaintext PKCS#8 PEM and an envelope are told apart
// by their first character.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

interface Envelope {
  v: 1;
  alg: 'aes-256-gcm';
  kdf: 'scrypt';
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

export function isEnvelope(text: string): boolean {
  return text.trimStart().startsWith('{');
}

export function sealKey(plaintext: string, secret: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', scryptSync(secret, salt, 32), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const envelope: Envelope = {
    v: 1,
    alg: 'aes-256-gcm',
    kdf: 'scrypt',
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
  return JSON.stringify(envelope) + '\n';
}

export function openKey(text: string, secret: string): string {
  const envelope = JSON.parse(text) as Envelope;
  if (envelope.v !== 1 || envelope.alg !== 'aes-256-gcm') throw new Error('unknown key envelope format');
  const key = scryptSync(secret, Buffer.from(envelope.salt, 'base64'), 32);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]).toString('utf8');
}

// WebAuthn second factor (security keys, passkeys) through @simplewebauthn/server.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { ZtshError } from '@ztsh/protocol';
import type { WebauthnDevice } from '../storage/storage.ts';

export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export function registrationOptions(
  rp: RelyingParty,
  user: string,
  existing: WebauthnDevice[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user,
    userID: new TextEncoder().encode(user),
    attestationType: 'none',
    excludeCredentials: existing.map((d) => ({ id: d.credentialId, transports: d.transports as AuthenticatorTransportFuture[] })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
}

export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
): Promise<{ credentialId: string; publicKey: Uint8Array; counter: number; transports: string[] }> {
  let result;
  try {
    result = await verifyRegistrationResponse({ response, expectedChallenge, expectedOrigin: rp.origin, expectedRPID: rp.id });
  } catch (cause) {
    throw new ZtshError('mfa_failed', 'the security key registration could not be verified', { cause });
  }
  if (!result.verified) throw new ZtshError('mfa_failed', 'the security key registration could not be verified');
  const { credential } = result.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: credential.publicKey,
    counter: credential.counter,
    transports: credential.transports ?? [],
  };
}

export function authenticationOptions(rp: RelyingParty, devices: WebauthnDevice[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: devices.map((d) => ({ id: d.credentialId, transports: d.transports as AuthenticatorTransportFuture[] })),
    userVerification: 'preferred',
  });
}

export async function verifyAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  devices: WebauthnDevice[],
): Promise<{ device: WebauthnDevice; newCounter: number }> {
  const device = devices.find((d) => d.credentialId === response.id);
  if (!device) throw new ZtshError('mfa_failed', 'this security key is not registered for the user');
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: device.credentialId,
        publicKey: device.publicKey as Uint8Array<ArrayBuffer>,
        counter: device.counter,
        transports: device.transports as AuthenticatorTransportFuture[],
      },
    });
  } catch (cause) {
    throw new ZtshError('mfa_failed', 'the security key assertion could not be verified', { cause });
  }
  if (!result.verified) throw new ZtshError('mfa_failed', 'the security key assertion could not be verified');
  return { device, newCounter: result.authenticationInfo.newCounter };
}
